"""rnnseq.data.lm_stream: rows, windows, continuity, every target exactly once."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnseq.data import IGNORE_INDEX, lm_stream_batches


def _rows(batches):
    """Each row's inputs and targets, windows concatenated in order."""
    n_rows = batches[0].n_examples
    inputs, targets = [[] for _ in range(n_rows)], [[] for _ in range(n_rows)]
    for b in batches:
        for r in range(n_rows):
            n = int(b.lengths[r])
            inputs[r] += b.tokens[r, :n].tolist()
            targets[r] += b.targets[r, :n].tolist()
            assert (b.targets[r, n:] == IGNORE_INDEX).all()
    return inputs, targets


@settings(max_examples=80, deadline=None)
@given(n=st.integers(2, 300), batch_size=st.integers(1, 12), bptt=st.integers(1, 20))
def test_every_unit_but_the_first_is_a_target_exactly_once(n, batch_size, bptt):
    stream = list(range(100, 100 + n))  # distinct ids show where each one went
    batches = lm_stream_batches(stream, batch_size, bptt)
    inputs, targets = _rows(batches)
    assert [t for row in targets for t in row] == stream[1:]
    assert [x for row in inputs for x in row] == stream[:-1]
    sizes = [len(row) for row in targets]
    assert max(sizes) - min(sizes) <= 1
    for b in batches:
        assert b.tokens.shape == b.targets.shape == (batch_size, int(b.lengths.max()))
        assert b.tokens.shape[1] <= bptt and b.indices == list(range(batch_size))


def test_next_batch_continues_each_row_and_targets_are_next_inputs():
    stream = torch.arange(1, 24)  # 23 units, 22 targets -> rows of 11
    b0, b1, b2 = lm_stream_batches(stream, 2, 4)
    assert b0.tokens.tolist() == [[1, 2, 3, 4], [12, 13, 14, 15]]
    assert b0.targets.tolist() == [[2, 3, 4, 5], [13, 14, 15, 16]]
    assert b1.tokens[:, 0].tolist() == [5, 16]  # row 0 goes on at 5, row 1 at 16
    assert b2.lengths.tolist() == [3, 3] and b2.targets.tolist() == [[10, 11, 12], [21, 22, 23]]


def test_rows_may_be_empty_when_the_stream_is_shorter_than_the_batch():
    (batch,) = lm_stream_batches([7, 8, 9], 4, 5)
    assert batch.lengths.tolist() == [1, 1, 0, 0] and batch.n_tokens == 2
    assert batch.targets.tolist() == [[8], [9], [IGNORE_INDEX], [IGNORE_INDEX]]


@pytest.mark.parametrize(
    "ids, batch_size, bptt, match",
    [([1], 1, 1, "ids"), ([1, 2], 0, 1, "batch_size"), ([1, 2], 1, 0, "bptt")],
)
def test_bad_arguments_are_value_errors_naming_them(ids, batch_size, bptt, match):
    with pytest.raises(ValueError, match=match):
        lm_stream_batches(ids, batch_size, bptt)
