"""rnnseq.data.lm_windows: lazy windows over ids (an array, or a token file's reader)
equal the in-memory windows tensor for tensor, and train identically."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_in_memory import lm_in_memory
from rnnseq.data import lm_stream_batches
from rnnseq.data.lm_windows import LMWindows
from rnnseq.data.token_cache import token_file
from rnnseq.models import ModelConfig
from rnnseq.objective import LossOptions
from rnnseq.task_model import Objective, TaskModel
from rnnseq.tasks import get_task
from rnnseq.training.distributed import Context
from rnnseq.training.sharding import lm_batches
from rnnseq.training.step import train_step


def assert_same_batches(ours, theirs):
    ours = list(ours)
    assert len(ours) == len(theirs)
    for a, b in zip(ours, theirs, strict=True):
        for name in ("tokens", "lengths", "targets"):
            x, y = getattr(a, name), getattr(b, name)
            assert x.dtype == y.dtype == torch.long and x.shape == y.shape, name
            assert torch.equal(x, y), name
            assert x.is_contiguous()
        assert a.chars is b.chars is None and a.indices == b.indices


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(2, 400),
    batch_size=st.integers(1, 6),
    bptt=st.integers(1, 25),
    world_size=st.integers(1, 4),
    dtype=st.sampled_from(["u1", "<u2", "<u4", "int64"]),
    data=st.data(),
)
def test_windows_equal_lm_batches_for_every_process(n, batch_size, bptt, world_size, dtype, data):
    """Lengths with and without remainders, rows that run out, a last window where some
    processes count nothing, and streams shorter than the rows."""
    rank = data.draw(st.integers(0, world_size - 1))
    ids = np.random.default_rng(n).integers(0, 200, n).astype(dtype)
    expected = lm_batches(ids.tolist(), batch_size, bptt, rank=rank, world_size=world_size)
    assert_same_batches(
        LMWindows(ids, batch_size, bptt, rank=rank, world_size=world_size), expected
    )


def test_one_process_equals_lm_stream_batches_on_a_memory_map(tmp_path):
    path = tmp_path / "ids.bin"
    ids = np.random.default_rng(0).integers(0, 60000, 1001).astype("<u2")
    ids.tofile(path)
    mapped = np.memmap(path, dtype="<u2", mode="r")
    assert_same_batches(LMWindows(mapped, 7, 13), lm_stream_batches(ids.tolist(), 7, 13))


def test_windows_read_from_a_token_file_reader_equal_lm_batches(tmp_path):
    source = tmp_path / "corpus.txt"
    source.write_text("abcdefgh" * 50 + "z", encoding="utf-8")
    tokens = token_file(source, cache_dir=tmp_path / "cache")
    ids = tokens.ids.tolist()
    assert_same_batches(LMWindows(tokens.reader(), 3, 7), lm_batches(ids, 3, 7))
    train = tokens.reader(0, 300)  # a held-out split: the first 300 units train
    assert_same_batches(
        LMWindows(train, 2, 5, rank=1, world_size=2),
        lm_batches(ids[:300], 2, 5, rank=1, world_size=2),
    )


def test_windows_are_random_access_in_any_order():
    windows = LMWindows(np.arange(100), 3, 8, rank=1, world_size=2)
    in_order = list(windows)
    assert torch.equal(windows[-1].tokens, in_order[-1].tokens)
    for k in (2, 0, 1):
        assert torch.equal(windows[k].targets, in_order[k].targets)
    with pytest.raises(IndexError):
        windows[len(windows)]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"ids": np.arange(1)}, "at least 2 units"),
        ({"ids": np.zeros((2, 2))}, "one-dimensional"),
        ({"batch_size": 0}, "batch_size"),
        ({"bptt": 0}, "bptt"),
        ({"world_size": 0}, "world_size"),
        ({"rank": 2}, "rank"),
    ],
)
def test_bad_arguments_are_value_errors_naming_them(kwargs, match):
    args = {"ids": np.arange(10), "batch_size": 2, "bptt": 3, "rank": 0, "world_size": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        LMWindows(args.pop("ids"), args.pop("batch_size"), args.pop("bptt"), **args)


def _train(windows, vocab_size: int) -> tuple[list[float], dict]:
    """A few steps of a small LSTM LM with dropout, carrying the state, on CPU."""
    torch.manual_seed(11)
    config = ModelConfig(
        vocab_size=vocab_size, num_labels=vocab_size, embedding_dim=8, hidden=12,
        bidirectional=False, dropout=0.2,
    )  # fmt: skip
    model = TaskModel(get_task("lm"), config)
    objective = Objective(LossOptions(loss="ce", time_reduction="sum", reduction="mean"))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    losses, state = [], None
    for _epoch in range(2):
        state = None
        for k in range(len(windows)):
            result = train_step(
                model, windows[k], objective, optimizer, Context(), clip=1.0, state=state
            )
            losses.append(result.loss)
            state = result.state
    return losses, model.state_dict()


@pytest.mark.parametrize("unit", ["char", "word"])
def test_training_from_the_token_file_equals_training_in_memory(tmp_path, unit):
    """The in-memory path as the lm task runs it (read_run_data, then its epoch plan)."""
    text = "".join(f"line {i} of the {'odd ' * (i % 3)}text é\n" for i in range(24))
    source = tmp_path / "corpus.txt"
    source.write_text(text, encoding="utf-8")
    vocab, ids, _ = lm_in_memory(source, unit)
    in_memory = lm_batches(ids, 4, 16)

    tokens = token_file(source, unit=unit, cache_dir=tmp_path / "cache")
    assert tokens.vocab == vocab
    losses, weights = _train(in_memory, len(vocab))
    mapped_losses, mapped_weights = _train(LMWindows(tokens.reader(), 4, 16), len(tokens.vocab))
    assert mapped_losses == losses  # to the last digit
    assert all(torch.equal(weights[k], mapped_weights[k]) for k in weights)
