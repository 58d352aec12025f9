"""Crash safety: a training process killed with SIGKILL at a random moment leaves a
usable folder with its last complete checkpoint, and --resume ends bit-for-bit where
an uninterrupted run ends (one thread, CPU). Killed before its first checkpoint, a
run leaves no folder at all."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time

import pytest
from procs import env
from runs import assert_same_run

from conftest import train_argv
from rnnseq.cli import main
from rnnseq.data.demo import demo_tagging
from rnnseq.model_folder import load_model_folder
from rnnseq.training.checkpoint import load_resume


def _start(argv, **kw) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "rnnseq", *argv], env=env(), **kw)


def _wait_for(path, proc, limit=120.0) -> None:
    deadline = time.monotonic() + limit
    while not path.exists():
        assert proc.poll() is None, "the run ended before its first checkpoint"
        assert time.monotonic() < deadline, f"no {path.name} after {limit} s"
        time.sleep(0.005)


@pytest.mark.slow
@pytest.mark.parametrize("task", ["tag", "lm"])
def test_a_run_killed_at_a_random_moment_resumes_to_the_same_weights(data, tmp_path, capsys, task):
    seed = random.randrange(10**6)
    print(f"kill moment seed {seed}")  # shown when the test fails
    extra = ("--epochs", 5, "--checkpoint-every", 3)
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert main(train_argv(task, data, whole, *extra)) == 0

    proc = _start(train_argv(task, data, parts, *extra), stdout=subprocess.DEVNULL)
    try:
        _wait_for(parts / "resume.safetensors", proc)
        time.sleep(random.Random(seed).uniform(0.0, 0.25))
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"

    # What the kill left: a whole folder with a checkpoint of an unfinished run.
    load_model_folder(parts)
    progress = load_resume(parts / "resume.safetensors").progress
    print(f"killed after step {progress.global_step} (epoch {progress.epoch})")
    assert progress.epoch <= 5  # unfinished
    assert progress.global_step % 3 == 0 or progress.step_in_epoch == 0
    code = main(train_argv(task, data, parts, *extra, "--resume"))
    assert code == 0, capsys.readouterr().err
    assert_same_run(whole, parts)
    assert not [p for p in parts.iterdir() if p.name.startswith(".")]  # no temporary files


@pytest.mark.slow
def test_a_run_killed_before_its_first_checkpoint_leaves_no_folder(tmp_path):
    big = tmp_path / "big.jsonl"
    big.write_text(
        "".join(
            json.dumps({"tokens": e.tokens, "tags": e.tags}) + "\n"
            for e in demo_tagging(3000, seed=1)
        )
    )
    out = tmp_path / "m"
    argv = ["train", "--task", "tag", "--train", str(big), "--out", str(out), "--progress"]
    proc = _start(argv + ["--threads", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seen = b""
    try:
        while b"epoch 1/" not in seen:  # the progress bar: training has begun
            chunk = os.read(proc.stderr.fileno(), 4096)
            assert chunk, f"the run ended early: {seen.decode(errors='replace')}"
            seen += chunk
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.jsonl"]
