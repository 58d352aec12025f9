"""``rnnseq train --task lm`` trains from token files: the same run, bit for bit, as the
in-memory path it replaced (the text read as units, windows cut by ``lm_batches``), on
one process or on two torchrun "machines" sharing one token-file folder."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
import torch
from procs import env, run_nodes
from runs import assert_same_run

from conftest import train_argv
from rnnseq.cli import main
from rnnseq.serialization import load_tensors
from rnnseq.tasks.lm import LanguageModelTask
from rnnseq.training.checkpoint import load_resume
from rnnseq.training.sharding import lm_batches


def _in_memory(monkeypatch) -> None:
    """The lm task as it was before token files: the text read into memory
    (``read``/``prepare``), every window cut up front by ``lm_batches``."""

    def epoch_plan(self, data, cfg, epoch, rank, world_size):
        t = cfg.training
        return lm_batches(data.train, t.batch_size, t.bptt, rank=rank, world_size=world_size)

    monkeypatch.setattr(LanguageModelTask, "stream_run_data", lambda self, *a, **k: None)
    monkeypatch.setattr(LanguageModelTask, "epoch_plan", epoch_plan)


@pytest.mark.parametrize(
    "extra",
    [
        ["--holdout", "0.2"],
        ["--unit", "word", "--holdout", "0.2", "--min-freq", "2"],
        ["--dev", "DEV"],
    ],
    ids=["char-holdout", "word-holdout", "char-dev"],
)
def test_a_run_from_token_files_equals_the_in_memory_run(data, tmp_path, monkeypatch, extra):
    dev = tmp_path / "dev.txt"  # with characters training never saw: <unk>
    dev.write_text("".join(data.joinpath("text.txt").read_text().splitlines(True)[:5]) + "§€\n")
    extra = [str(dev) if a == "DEV" else a for a in extra]
    cache = tmp_path / "cache"
    streamed, in_memory = tmp_path / "streamed", tmp_path / "in_memory"
    common = ("--epochs", 2, *extra, "--token-cache", cache)
    assert main(train_argv("lm", data, streamed, *common)) == 0
    assert len(list(cache.glob("text.txt.*.tokens"))) == 1
    # --dev: its own token file, encoded with the training vocabulary
    assert len(list(cache.glob("dev.txt.*.tokens"))) == ("--dev" in extra)
    with monkeypatch.context() as m:
        _in_memory(m)
        assert main(train_argv("lm", data, in_memory, *common)) == 0
    assert_same_run(streamed, in_memory)
    history = json.loads((streamed / "metrics.json").read_text())["epochs"]
    assert len(history) == 2 and all("dev_loss" in h and h["dev_n_examples"] for h in history)


def test_a_run_killed_mid_epoch_resumes_bit_identically_from_the_same_token_file(
    data, tmp_path, capsys
):
    cache = tmp_path / "cache"
    common = ("--epochs", 2, "--holdout", "0.2", "--checkpoint-every", 2, "--token-cache", cache)
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert main(train_argv("lm", data, whole, *common)) == 0
    (entry,) = cache.glob("*.tokens")
    before = entry.stat()

    argv = [sys.executable, "-m", "rnnseq", *train_argv("lm", data, parts, *common)]
    proc = subprocess.Popen(argv, env=env(), stdout=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (parts / "resume.safetensors").exists():
            assert proc.poll() is None, "the run ended before its first checkpoint"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
    assert load_resume(parts / "resume.safetensors").progress.epoch <= 2  # unfinished

    code = main(train_argv("lm", data, parts, *common, "--resume"))
    assert code == 0, capsys.readouterr().err
    assert_same_run(whole, parts)
    after = entry.stat()  # mapped, never encoded again
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert list(cache.glob("*.tokens")) == [entry]


@pytest.mark.slow
def test_two_torchrun_nodes_train_through_the_cli_like_one_process_on_the_union(data, tmp_path):
    """Two machines (--nnodes 2), 4 rows each, with one shared token-file folder: the
    first to arrive encodes, the other maps; the model equals one process of 8 rows."""
    cache = tmp_path / "shared-cache"
    common = ("--epochs", 1, "--max-steps", 6, "--dropout", 0, "--holdout", "0.2",
              "--token-cache", cache)  # fmt: skip
    nodes_out, one_out = tmp_path / "nodes", tmp_path / "one"
    argv = train_argv("lm", data, nodes_out, *common)
    argv[argv.index("--batch-size") + 1] = "4"
    for returncode, output in run_nodes(["-m", "rnnseq", *argv], "lm-token-files", timeout=600):
        assert returncode == 0, output
    assert len(list(cache.glob("*.tokens"))) == 1

    argv = train_argv("lm", data, one_out, *common)
    argv[argv.index("--batch-size") + 1] = "8"
    assert main(argv) == 0
    a = json.loads((nodes_out / "metrics.json").read_text())
    b = json.loads((one_out / "metrics.json").read_text())
    assert a["processes"] == 2 and b["processes"] == 1
    assert a["steps"] == b["steps"] == 6
    for key in ("train_loss", "dev_loss"):
        assert a["epochs"][0][key] == pytest.approx(b["epochs"][0][key], rel=1e-5), key
    wa, _ = load_tensors(nodes_out / "model.safetensors")
    wb, _ = load_tensors(one_out / "model.safetensors")
    assert sorted(wa) == sorted(wb)
    for name in wa:
        assert torch.allclose(wa[name], wb[name], rtol=0, atol=1e-5), name
