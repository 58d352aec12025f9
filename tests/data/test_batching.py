"""rnnseq.data.batching: padding values, shapes, lengths on the CPU."""

import pytest
import torch

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
