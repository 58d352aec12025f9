"""rnnseq.training.folder: the model folder appears whole at the first checkpoint or not
at all, --overwrite swaps folders, and what killed runs leave behind is cleaned up."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rnnseq.model_folder import (
    FILES,
    FolderMeta,
    build_task_model,
    load_model_folder,
    network_config,
)
from rnnseq.serialization import ModelFolderError, atomic_write_bytes
from rnnseq.tasks import get_task
from rnnseq.training.config import TrainConfig
from rnnseq.training.folder import RunFolder, remove_leftovers
from rnnseq.training.setup import read_run_data

ALL = {"config.json", "vocab.json", "model.safetensors", "metrics.json", "loss_curve.png"}


@pytest.fixture
def run(data, tmp_path):
    cfg = TrainConfig(task="tag", train=str(data / "tags.jsonl"), out=str(tmp_path / "m"))
    cfg = cfg.resolved()
    d = read_run_data(cfg)
    meta = FolderMeta(get_task("tag"), cfg, d.schemes)
    model = build_task_model(network_config(meta, d.vocabs), meta, d.vocabs)
    return tmp_path / "m", d.vocabs, meta, model


def _resume_writer(path):
    atomic_write_bytes(path, b"checkpoint")


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_the_first_checkpoint_creates_the_whole_folder_at_once(run):
    out, vocabs, meta, model = run
    folder = RunFolder(out, vocabs, meta)
    assert not out.exists()
    folder.checkpoint(model, _resume_writer)
    assert {p.name for p in out.iterdir()} == ALL | {"resume.safetensors"}
    assert load_model_folder(out).meta.task.name == "tag"
    assert [p.name for p in out.parent.iterdir()] == ["m"]  # no staging left


def test_a_failure_while_creating_leaves_no_folder_and_no_staging(run):
    out, vocabs, meta, model = run

    def crash(path):
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        RunFolder(out, vocabs, meta).checkpoint(model, crash)
    assert list(out.parent.iterdir()) == []


def test_later_checkpoints_replace_only_what_they_are_given(run):
    out, vocabs, meta, model = run
    folder = RunFolder(out, vocabs, meta)
    folder.checkpoint(model, _resume_writer)
    weights = (out / FILES["weights"]).read_bytes()
    metrics = (out / FILES["metrics"]).read_text()
    folder.checkpoint(model, lambda p: atomic_write_bytes(p, b"second"))
    assert (out / FILES["resume"]).read_bytes() == b"second"
    assert (out / FILES["weights"]).read_bytes() == weights
    assert (out / FILES["metrics"]).read_text() == metrics
    folder.checkpoint(model, _resume_writer, metrics={"epochs": [{"epoch": 1, "train_loss": 2}]})
    assert (out / FILES["metrics"]).read_text() != metrics


def test_an_existing_folder_is_refused_or_replaced_with_overwrite(run):
    out, vocabs, meta, model = run
    out.mkdir()
    (out / "old.txt").write_text("old")
    with pytest.raises(ModelFolderError, match="already exists; use --overwrite"):
        RunFolder(out, vocabs, meta).checkpoint(model, _resume_writer)
    assert (out / "old.txt").exists()
    RunFolder(out, vocabs, meta, overwrite=True).checkpoint(model, _resume_writer)
    assert not (out / "old.txt").exists() and (out / "config.json").exists()
    assert [p.name for p in out.parent.iterdir()] == ["m"]


def test_leftovers_of_dead_processes_are_removed_and_live_ones_kept(tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    dead, live = _dead_pid(), os.getppid()
    stale = [
        tmp_path / f".m.partial-{dead}",
        tmp_path / f"..m.partial-{dead}.partial-{dead}",
        tmp_path / f".m.old-{dead}",
        out / f".resume.safetensors.tmp-{dead}",
    ]
    kept = [
        tmp_path / f".m.partial-{live}",
        out / f".metrics.json.tmp-{live}",
        tmp_path / f".other.partial-{dead}",
        out / "model.safetensors",
    ]
    for p in stale + kept:
        p.mkdir() if "partial" in p.name or "old" in p.name else p.write_text("x")
    removed = remove_leftovers(out)
    assert sorted(removed) == sorted(stale)
    assert all(p.exists() for p in kept) and not any(p.exists() for p in stale)


def test_an_unwritable_out_is_refused_before_training(tmp_path):
    import os

    import pytest

    from rnnseq.serialization import ModelFolderError
    from rnnseq.training.folder import check_writable

    locked = tmp_path / "locked"
    locked.mkdir()
    check_writable(locked / "a" / "b")  # missing folders are fine while an ancestor is writable
    (tmp_path / "file").write_text("x")
    with pytest.raises(ModelFolderError, match="not a folder"):
        check_writable(tmp_path / "file" / "model")
    if os.geteuid() != 0:  # root may write anywhere
        locked.chmod(0o500)
        with pytest.raises(ModelFolderError, match="not writable"):
            check_writable(locked / "model")
