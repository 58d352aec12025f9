"""Fixtures for tests/training: tiny generated data files, a tiny-model argument list,
and one torch thread (restored after each test, as the CLI's --threads changes it)."""

from __future__ import annotations

import json

import pytest
import torch

from rnnseq.data.demo import demo_sentiment, demo_tagging

TINY = ["--hidden", "8", "--embedding-dim", "8", "--no-progress", "--threads", "1"]


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def data(tmp_path_factory):
    """tags.jsonl (120 tagged sentences), reviews.tsv (120 reviews), text.txt (lm)."""
    d = tmp_path_factory.mktemp("training_data")
    tags = demo_tagging(120, seed=5)
    (d / "tags.jsonl").write_text(
        "".join(json.dumps({"tokens": e.tokens, "tags": e.tags}) + "\n" for e in tags)
    )
    reviews = demo_sentiment(120, seed=5)
    (d / "reviews.tsv").write_text("".join(f"{' '.join(e.tokens)}\t{e.label}\n" for e in reviews))
    (d / "text.txt").write_text(
        "".join(f"{' '.join(e.tokens)}\n" for e in demo_tagging(60, seed=6))
    )
    return d


def train_argv(task: str, data, out, *extra) -> list[str]:
    """``rnnseq train`` on the tiny data with a tiny model."""
    files = {"tag": "tags.jsonl", "classify": "reviews.tsv", "lm": "text.txt"}
    argv = ["train", "--task", task, "--train", str(data / files[task]), "--out", str(out)]
    if task != "lm":
        argv += ["--dev", str(data / files[task])]
    return argv + TINY + ["--batch-size", "8", "--bptt", "16"] + [str(a) for a in extra]
