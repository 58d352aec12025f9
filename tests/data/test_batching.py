"""rnnseq.data.batching: padding values, shapes, lengths on the CPU; the flat collate
equals the list-of-lists one bit for bit."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnseq.data import IGNORE_INDEX, EncodedDataset, collate

TAGGED = EncodedDataset(
    per_step=True,
    tokens=[[5, 6, 7], [8], [9, 10]],
    targets=[[0, 1, 2], [1], [2, 0]],
    chars=[[[3, 4], [5], [6, 7, 8]], [[3]], [[4, 4], [5]]],
)


def test_collate_pads_tokens_with_zero_and_targets_with_minus_100():
    batch = collate(TAGGED, [1, 0])
    assert batch.tokens.tolist() == [[8, 0, 0], [5, 6, 7]]
    assert batch.targets.tolist() == [[1, IGNORE_INDEX, IGNORE_INDEX], [0, 1, 2]]
    assert batch.lengths.tolist() == [1, 3] and batch.indices == [1, 0]
    assert batch.tokens.dtype == batch.targets.dtype == batch.lengths.dtype == torch.long
    assert (batch.n_examples, batch.n_tokens) == (2, 4)


def test_chars_are_padded_per_word_and_per_sentence():
    chars = collate(TAGGED, [1, 2]).chars
    assert chars.shape == (2, 2, 2)  # (N, T, W)
    assert chars.tolist() == [[[3, 0], [0, 0]], [[4, 4], [5, 0]]]


def test_classification_targets_have_one_entry_per_row():
    data = EncodedDataset(per_step=False, tokens=[[2, 3], [4]], targets=[1, 0])
    batch = collate(data, [0, 1])
    assert batch.targets.tolist() == [1, 0] and batch.targets.shape == (2,) and batch.chars is None


def test_unlabelled_data_has_no_targets():
    data = EncodedDataset(per_step=True, tokens=[[2, 3]])
    assert collate(data, [0]).targets is None


def test_empty_sentences_give_zero_width_tensors():
    data = EncodedDataset(per_step=True, tokens=[[], []], targets=[[], []], chars=[[], []])
    batch = collate(data, [0, 1])
    assert batch.tokens.shape == (2, 0) and batch.targets.shape == (2, 0)
    assert batch.chars.shape == (2, 0, 1) and batch.n_tokens == 0


def test_to_moves_tensors_but_keeps_lengths_on_cpu():
    batch = collate(TAGGED, [0, 1, 2]).to("meta")
    assert (
        batch.tokens.device.type == batch.targets.device.type == batch.chars.device.type == "meta"
    )
    assert batch.lengths.device.type == "cpu" and batch.indices == [0, 1, 2]


@pytest.mark.parametrize("indices", [[], [3], [-1]])
def test_bad_indices_are_value_errors(indices):
    with pytest.raises(ValueError, match="indices"):
        collate(TAGGED, indices)


# ------------------------------------------------- the flat collate against lists


def _padded(rows, width, fill):
    """Each row (a list) padded with ``fill`` to ``width``."""
    return [r + [fill] * (width - len(r)) for r in rows]


def collate_lists(tokens, targets, chars, task, indices):
    """The list-of-lists collate that came before the flat arrays: the oracle."""
    rows = [tokens[i] for i in indices]
    lengths = [len(r) for r in rows]
    T, N = max(lengths), len(rows)
    out = {"tokens": torch.tensor(_padded(rows, T, 0), dtype=torch.long).reshape(N, T)}
    out["lengths"] = torch.tensor(lengths, dtype=torch.long)
    if targets is not None and task == "classify":
        out["targets"] = torch.tensor([targets[i] for i in indices], dtype=torch.long)
    elif targets is not None:
        tags = _padded([targets[i] for i in indices], T, IGNORE_INDEX)
        out["targets"] = torch.tensor(tags, dtype=torch.long).reshape(N, T)
    if chars is not None:
        words = [chars[i] for i in indices]
        W = max((len(w) for s in words for w in s), default=1) or 1
        grid = [_padded(s, W, 0) + [[0] * W] * (T - len(s)) for s in words]
        out["chars"] = torch.tensor(grid, dtype=torch.long).reshape(N, T, W)
    return out


@st.composite
def datasets(draw):
    task = draw(st.sampled_from(["classify", "tag"]))
    n = draw(st.integers(1, 8))
    big = draw(st.booleans())  # ids beyond uint8 too
    ids = st.integers(0, 70000 if big else 40)
    tokens = [draw(st.lists(ids, max_size=7)) for _ in range(n)]
    if draw(st.booleans()):
        targets = None
    elif task == "classify":
        targets = draw(st.lists(st.integers(0, 300), min_size=n, max_size=n))
    else:
        tag = st.one_of(st.integers(0, 30), st.just(IGNORE_INDEX))
        targets = [draw(st.lists(tag, min_size=len(r), max_size=len(r))) for r in tokens]
    chars = None
    if draw(st.booleans()):
        chars = [[draw(st.lists(ids, max_size=5)) for _ in r] for r in tokens]
    indices = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=10))
    return task, tokens, targets, chars, indices


@settings(max_examples=300, deadline=None)
@given(datasets())
def test_flat_collate_equals_the_list_collate_bit_for_bit(case):
    """Empty sentences, empty words, repeated indices, ids above 255 and 65535, -100 tags."""
    task, tokens, targets, chars, indices = case
    batch = collate(EncodedDataset(task == "tag", tokens, targets, chars), indices)
    expected = collate_lists(tokens, targets, chars, task, indices)
    got = {"tokens": batch.tokens, "lengths": batch.lengths}
    if batch.targets is not None:
        got["targets"] = batch.targets
    if batch.chars is not None:
        got["chars"] = batch.chars
    assert got.keys() == expected.keys()
    for name, tensor in expected.items():
        assert got[name].dtype == tensor.dtype and got[name].shape == tensor.shape, name
        assert torch.equal(got[name], tensor), name
    assert batch.indices == indices


def test_collate_reads_a_memory_mapped_dataset(tmp_path):
    TAGGED.save(tmp_path / "d")
    mapped = EncodedDataset.load(tmp_path / "d")
    a, b = collate(mapped, [2, 0]), collate(TAGGED, [2, 0])
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.chars, b.chars)
    assert torch.equal(a.targets, b.targets)
