"""Fixtures for tests/training: the tiny data files (tests/conftest.py) as ``data``, and a
tiny-model argument list."""

from __future__ import annotations

import pytest

TINY = ["--hidden", "8", "--embedding-dim", "8", "--no-progress", "--threads", "1"]
# The loop's tests count epochs: 10, not the epoch limit chosen from the data (a later
# --epochs wins).
TINY += ["--epochs", "10"]


@pytest.fixture(scope="session")
def data(tiny_data):
    """tags.jsonl (120 tagged sentences), reviews.tsv (120 reviews), text.txt (lm)."""
    return tiny_data


def train_argv(task: str, data, out, *extra) -> list[str]:
    """``rnnseq train`` on the tiny data with a tiny model."""
    files = {"tag": "tags.jsonl", "classify": "reviews.tsv", "lm": "text.txt"}
    argv = ["train", "--task", task, "--train", str(data / files[task]), "--out", str(out)]
    if task != "lm":
        argv += ["--dev", str(data / files[task])]
    else:
        argv += ["--bptt", "16"]
    return argv + TINY + ["--batch-size", "8"] + [str(a) for a in extra]
