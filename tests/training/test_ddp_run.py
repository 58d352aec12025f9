"""Whole distributed runs on two CPU processes (gloo, loopback): torchrun trains one
model that the ordinary single-process evaluate/predict use; all ranks stop early
together; a two-process run stopped or killed and resumed with two processes ends
bit-for-bit as the uninterrupted two-process run."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest
from procs import env, rank_env, run_ranks, start_ranks, wait_ranks
from runs import assert_same_run

from conftest import train_argv
from rnnseq.cli import main

RNNSEQ = [sys.executable, "-m", "rnnseq"]


def _ok(results) -> None:
    for rank, (code, output) in enumerate(results):
        assert code == 0, f"rank {rank} exited {code}:\n{output}"


@pytest.mark.slow
def test_torchrun_trains_one_model_that_one_process_evaluates_and_predicts(data, tmp_path, capsys):
    out = tmp_path / "m"
    # Learning rate ~0: dev never improves after epoch 1, so with --patience 1 rank 0
    # decides to stop after epoch 2, and rank 1 must stop with it (else it would hang).
    argv = train_argv("tag", data, out, "--epochs", 5, "--patience", 1, "--lr", "1e-12")
    extra = {k: v for k, v in rank_env(0, 2, 0).items() if k == "GLOO_SOCKET_IFNAME"}
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    proc = subprocess.run(
        [*torchrun, "--nproc-per-node", "2", "-m", "rnnseq", *argv],
        env=env(**extra),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("epoch 1/5 |") == 1  # only rank 0 logs
    assert "early stopping" in proc.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert [e["epoch"] for e in metrics["epochs"]] == [1, 2] and metrics["processes"] == 2

    assert (
        main(["evaluate", "--model", str(out), "--data", str(data / "tags.jsonl"), "--json"]) == 0
    )
    scores = json.loads(capsys.readouterr().out)
    assert scores["n_examples"] == 120 and 0 <= scores["accuracy"] <= 1
    (tmp_path / "in.txt").write_text("the dog runs .\n")
    assert main(["predict", "--model", str(out), str(tmp_path / "in.txt")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[0] for line in lines if line] == ["the", "dog", "runs", "."]


@pytest.mark.slow
def test_two_processes_stopped_after_epoch_1_resume_to_the_uninterrupted_run(
    data, tmp_path, capsys
):
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    _ok(run_ranks([*RNNSEQ, *train_argv("classify", data, whole, "--epochs", 2)], 2))
    _ok(run_ranks([*RNNSEQ, *train_argv("classify", data, parts, "--epochs", 1)], 2))
    resume = train_argv("classify", data, parts, "--epochs", 2, "--resume")
    _ok(run_ranks([*RNNSEQ, *resume], 2))
    assert_same_run(whole, parts)

    # The same checkpoint cannot continue with another number of processes.
    assert main(train_argv("classify", data, parts, "--epochs", 3, "--resume")) == 2
    assert "resume it with the same number, not 1" in capsys.readouterr().err


@pytest.mark.slow
def test_two_processes_killed_mid_epoch_resume_to_the_uninterrupted_run(data, tmp_path):
    """lm: each rank's hidden state and RNG state are in the checkpoint."""
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    extra = ("--epochs", 3, "--checkpoint-every", 2)
    _ok(run_ranks([*RNNSEQ, *train_argv("lm", data, whole, *extra)], 2))

    procs = start_ranks([*RNNSEQ, *train_argv("lm", data, parts, *extra)], 2)
    try:
        deadline = time.monotonic() + 240
        while not (parts / "resume.safetensors").exists():
            assert all(p.poll() is None for p in procs), "a rank ended before the checkpoint"
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(0.1)
        for p in procs:
            p.send_signal(signal.SIGKILL)
    finally:
        results = wait_ranks(procs)
    assert [code for code, _ in results] == [-signal.SIGKILL] * 2, results

    _ok(run_ranks([*RNNSEQ, *train_argv("lm", data, parts, *extra, "--resume")], 2))
    assert_same_run(whole, parts)
