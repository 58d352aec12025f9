"""--embeddings under torchrun: two gloo processes each read the vectors file and build
the same weight; rank 0 alone prints the coverage line; a two-process run stopped after
epoch 1 and resumed (from its folder, without reading the file again) ends bit for bit
as the uninterrupted two-process run; the folder then works in one process."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch
from procs import run_ranks
from runs import assert_same_run

from conftest import train_argv
from rnnseq.data import read_dataset
from rnnseq.serialization import load_tensors

RNNSEQ = [sys.executable, "-m", "rnnseq"]


def _ok(results) -> None:
    for rank, (code, output) in enumerate(results):
        assert code == 0, f"rank {rank} exited {code}:\n{output}"


def _write_vectors(path, words) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(3)
    table = {w: rng.normal(size=6).astype(np.float32) for w in words}
    path.write_text("".join(f"{w} {' '.join(repr(float(x)) for x in v)}\n"
                            for w, v in table.items()))  # fmt: skip
    return table


def _argv(data, out, vectors, *extra):
    argv = train_argv("tag", data, out, "--embeddings", vectors, "--embedding-dim", 6, *extra)
    return [*RNNSEQ, *argv]


@pytest.mark.slow
def test_two_processes_train_with_vectors_and_resume_to_the_uninterrupted_run(data, tmp_path):
    words = sorted({w for e in read_dataset(str(data / "tags.jsonl"), "tag") for w in e.tokens})
    vectors = tmp_path / "v.txt"
    table = _write_vectors(vectors, ["zebra", *words[::2]])  # half the words, and one unseen
    whole, parts = tmp_path / "whole", tmp_path / "parts"
    results = run_ranks(_argv(data, whole, vectors, "--epochs", 2), 2)
    _ok(results)
    printed = [out.count("word vectors ") for _, out in results]
    assert printed == [1, 0], printed  # rank 0 alone reports the coverage

    _ok(run_ranks(_argv(data, parts, vectors, "--epochs", 1), 2))
    _ok(run_ranks(_argv(data, parts, vectors, "--epochs", 2, "--resume"), 2))
    assert_same_run(whole, parts)

    tokens = json.loads((whole / "vocab.json").read_text())["words"]["tokens"]
    tensors = load_tensors(whole / "model.safetensors")[0]
    # The one added word's row: the file's vector, as every process read it.
    assert tokens[-1] == "zebra"
    assert torch.equal(tensors["net.embedder.added_vectors"][0], torch.from_numpy(table["zebra"]))
    assert json.loads((whole / "metrics.json").read_text())["processes"] == 2
