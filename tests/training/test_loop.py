"""rnnseq.training.loop through ``rnnseq.cli.main``, in this process: numerical faults
stop with one line and keep the last checkpoint; --resume continues exactly; the
folder rules (no partial folder, no silent option changes)."""

from __future__ import annotations

import json

import pytest
import torch
from runs import assert_same_run

from conftest import train_argv
from rnnseq.cli import main
from rnnseq.model_folder import load_model_folder
from rnnseq.task_model import TaskModel
from rnnseq.tasks import get_task
from rnnseq.training.checkpoint import load_resume
from rnnseq.training.config import TrainConfig

STEPS_PER_EPOCH = 15  # 120 tagged sentences in batches of 8


def run(capsys, argv):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def poison_step(monkeypatch, at: int, how: str = "loss") -> None:
    """Make the training forward of step ``at`` give a NaN loss ("loss"), or a finite
    loss whose gradient is NaN ("gradient")."""
    real = TaskModel.forward
    calls = {"n": 0}

    def forward(self, batch, opts, state=None):
        total, count, state = real(self, batch, opts, state)
        calls["n"] += 1
        if calls["n"] == at:
            if how == "loss":
                total = total * float("nan")
            else:  # d sqrt(x)/dx at 0 is inf; times 0 it is NaN
                total = total + 0.0 * (0.0 * next(self.parameters()).sum()).sqrt()
        return total, count, state

    monkeypatch.setattr(TaskModel, "forward", forward)


def test_nan_loss_exits_1_with_one_line_and_keeps_the_last_checkpoint(
    data, tmp_path, capsys, monkeypatch
):
    out = tmp_path / "m"
    poison_step(monkeypatch, STEPS_PER_EPOCH + 5)
    code, stdout, err = run(capsys, train_argv("tag", data, out, "--epochs", 3))
    assert code == 1 and stdout == ""
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("rnnseq train: the loss became nan at step 20 (epoch 2);")
    assert f"{out} keeps the last good checkpoint (step 15)" in last
    assert "--lr" in last and "--clip" in last and "--detect-anomaly" in last
    assert sum("nan" in line for line in err.splitlines()) == 1
    # The folder holds the checkpoint of the end of epoch 1, whole and usable.
    resumed = load_resume(out / "resume.safetensors")
    assert (resumed.progress.epoch, resumed.progress.global_step) == (2, STEPS_PER_EPOCH)
    assert len(json.loads((out / "metrics.json").read_text())["epochs"]) == 1
    loaded = load_model_folder(out)
    assert all(torch.isfinite(p).all() for p in loaded.model.parameters())


def test_a_huge_learning_rate_stops_before_any_folder_exists(data, tmp_path, capsys):
    out = tmp_path / "m"
    argv = train_argv("tag", data, out, "--optimizer", "sgd", "--lr", "1e30", "--clip", "0")
    code, _, err = run(capsys, argv)
    assert code == 1 and "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert "the loss became nan at step 2 (epoch 1)" in last
    assert "no checkpoint was written yet, so there is no model folder" in last
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("anomaly", [False, True])
def test_a_nan_gradient_stops_too_and_detect_anomaly_names_the_operation(
    data, tmp_path, capsys, monkeypatch, anomaly
):
    poison_step(monkeypatch, 3, how="gradient")
    extra = ["--detect-anomaly"] if anomaly else []
    code, _, err = run(capsys, train_argv("tag", data, tmp_path / "m", *extra))
    assert code == 1 and "Traceback (most recent call last)" not in err
    last = err.strip().splitlines()[-1]
    assert "rnnseq train: the gradient became nan at step 3 (epoch 1)" in last
    if anomaly:  # the backward function that made it
        assert "Backward0' returned nan values" in last


@pytest.mark.parametrize("task", ["tag", "lm"])
def test_resuming_a_stopped_run_with_more_epochs_equals_the_uninterrupted_run(
    data, tmp_path, capsys, task
):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert run(capsys, train_argv(task, data, whole, "--epochs", 2))[0] == 0
    assert run(capsys, train_argv(task, data, parts, "--epochs", 1))[0] == 0
    code, _, err = run(capsys, train_argv(task, data, parts, "--epochs", 2, "--resume"))
    assert code == 0, err
    assert_same_run(whole, parts)


@pytest.mark.parametrize("task", ["tag", "lm"])
def test_resume_continues_from_a_mid_epoch_checkpoint(data, tmp_path, capsys, monkeypatch, task):
    """A run stopped by a NaN at step 13 resumes from its checkpoint at step 10 (lm:
    with the hidden state carried into window 11) and, the fault gone, ends as the
    uninterrupted run does."""
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    extra = ("--epochs", 2, "--checkpoint-every", 5)
    assert run(capsys, train_argv(task, data, whole, *extra))[0] == 0
    with monkeypatch.context() as m:
        poison_step(m, 13)
        assert run(capsys, train_argv(task, data, parts, *extra))[0] == 1
    resumed = load_resume(parts / "resume.safetensors")
    assert (resumed.progress.epoch, resumed.progress.step_in_epoch) == (1, 10)
    assert (resumed.lm_states is not None) == (task == "lm")
    assert run(capsys, train_argv(task, data, parts, *extra, "--resume"))[0] == 0
    assert_same_run(whole, parts)


def test_resume_refuses_changed_options_naming_them(data, tmp_path, capsys):
    out = tmp_path / "m"
    assert run(capsys, train_argv("tag", data, out, "--epochs", 1))[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    argv = train_argv("tag", data, out, "--epochs", 2, "--resume", "--lr", "0.01")
    code, _, err = run(capsys, argv)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "--lr 0.01 (the run has 0.002)" in err  # the rate chosen for POS-like tags
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_resume_and_overwrite_together_are_bad_usage(data, tmp_path, capsys):
    argv = train_argv("tag", data, tmp_path / "m", "--resume", "--overwrite")
    code, _, err = run(capsys, argv)
    assert code == 2 and "--resume" in err and "--overwrite" in err
    assert list(tmp_path.iterdir()) == []


def test_resuming_a_finished_run_changes_nothing(data, tmp_path, capsys):
    out = tmp_path / "m"
    assert run(capsys, train_argv("classify", data, out, "--epochs", 1))[0] == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    code, stdout, _ = run(capsys, train_argv("classify", data, out, "--epochs", 1, "--resume"))
    assert code == 0 and json.loads(stdout)["out"] == str(out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_max_steps_ends_the_run_mid_epoch(data, tmp_path, capsys):
    out = tmp_path / "m"
    assert run(capsys, train_argv("tag", data, out, "--max-steps", 4))[0] == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["steps"] == 4 and len(metrics["epochs"]) == 1


def test_early_stopping_after_patience_epochs_without_improvement(data, tmp_path, capsys):
    out = tmp_path / "m"
    argv = train_argv("classify", data, out, "--epochs", 6, "--patience", 1, "--lr", "1e-12")
    code, _, err = run(capsys, argv)
    assert code == 0 and "early stopping" in err
    assert len(json.loads((out / "metrics.json").read_text())["epochs"]) == 2


def test_an_existing_folder_is_not_touched_without_overwrite(data, tmp_path, capsys):
    out = tmp_path / "m"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code, _, err = run(capsys, train_argv("tag", data, out))
    assert code == 2 and "already exists" in err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_a_dead_runs_staging_folder_is_cleaned_up(data, tmp_path, capsys):
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    stale = tmp_path / f".m.partial-{p.pid}"
    stale.mkdir()
    (stale / "config.json").write_text("{}")
    assert run(capsys, train_argv("tag", data, tmp_path / "m", "--max-steps", 1))[0] == 0
    assert [q.name for q in tmp_path.iterdir()] == ["m"]


@pytest.mark.parametrize(
    ("options", "label"),
    [
        ({"task": "tag"}, "ce, time sum, batch mean"),
        (
            {"task": "lm", "time_reduction": "mean", "reduction": "sum"},
            "ce, time mean, batch sum",
        ),
        ({"task": "tag", "loss": "crf"}, "crf per sequence, batch mean"),
        ({"task": "classify"}, "ce, batch mean"),
    ],
)
def test_loss_label_names_only_the_reductions_that_apply(options, label):
    cfg = TrainConfig(train="t.conllu", out="o", **options).resolved()
    assert cfg.objective.label(get_task(cfg.task).per_step) == label


def test_bucket_pool_reaches_the_batches_and_the_saved_config(capsys, data, tmp_path):
    code, _, err = run(capsys, train_argv("tag", data, tmp_path / "m", "--bucket-pool", "1"))
    assert code == 0, err
    saved = json.loads((tmp_path / "m" / "config.json").read_text())
    assert saved["training"]["training"]["bucket_pool"] == 1
    code, _, err = run(capsys, train_argv("tag", data, tmp_path / "n", "--bucket-pool", "0"))
    assert code == 2 and "--bucket-pool must be an integer >= 1" in err and "Traceback" not in err
