from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from model_checks import RAGGED, make_batch, masked_loss

from rnnseq.models import ModelConfig, SequenceTagger

TAG = ModelConfig(
    vocab_size=30,
    num_labels=6,
    char_vocab_size=15,
    char_features="cnn",
    embedding_dim=6,
    hidden=5,
)
LM = ModelConfig(
    bidirectional=False,
    vocab_size=30,
    num_labels=30,
    embedding_dim=7,
    hidden=7,
    layers=2,
    tie_embeddings=True,
)


def test_logits_are_the_output_layer_of_the_features():
    torch.manual_seed(0)
    model = SequenceTagger(TAG).eval()
    batch = make_batch(TAG, RAGGED)
    hidden, state = model.features(batch.tokens, batch.lengths, batch.chars)
    assert hidden.shape == (len(RAGGED), 6, 10)
    assert (hidden[~batch.real] == 0).all()
    assert state[0].shape == (2, len(RAGGED), 5)
    logits = model(batch.tokens, batch.lengths, batch.chars)
    torch.testing.assert_close(logits, F.linear(hidden, model.output.weight, model.output.bias))
    _, none = model.features(batch.tokens, batch.lengths, batch.chars, return_state=False)
    assert none is None


def test_a_chunked_loss_on_features_equals_the_loss_on_logits():
    torch.manual_seed(0)
    model = SequenceTagger(TAG).eval()
    batch = make_batch(TAG, RAGGED)
    full = masked_loss(model(batch.tokens, batch.lengths, batch.chars), batch.targets)
    hidden, _ = model.features(batch.tokens, batch.lengths, batch.chars)
    flat, targets = hidden.reshape(-1, hidden.shape[2]), batch.targets.reshape(-1)
    chunked = sum(
        masked_loss(
            F.linear(flat[i : i + 7], model.output.weight, model.output.bias), targets[i : i + 7]
        )
        for i in range(0, flat.shape[0], 7)
    )
    torch.testing.assert_close(chunked, full)


def test_character_features_tell_unknown_words_apart():
    torch.manual_seed(0)
    model = SequenceTagger(TAG).eval()
    assert model.config.char_features == "cnn"  # the tagger's default
    tokens = torch.tensor([[1, 1]])  # the same unknown-word id twice
    chars = torch.tensor([[[3, 4, 5], [9, 2, 0]]])  # spelled differently
    logits = model(tokens, torch.tensor([2]), chars)
    assert not torch.allclose(logits[0, 0], logits[0, 1])


def test_a_tagger_with_characters_requires_them():
    model = SequenceTagger(TAG)
    with pytest.raises(ValueError, match="chars"):
        model(torch.tensor([[1, 2]]), torch.tensor([2]))
    with pytest.raises(ValueError, match="chars"):
        model(torch.tensor([[1, 2]]), torch.tensor([2]), torch.tensor([[[1, 15]]]).repeat(1, 2, 1))


def test_tied_language_model_shares_one_matrix():
    model = SequenceTagger(LM)
    assert model.output.weight is model.embedder.word.weight
    assert (model.embedder.word.weight[0] == 0).all()
    n_params = sum(p.numel() for p in model.parameters())
    untied = SequenceTagger(ModelConfig(**{**LM.to_dict(), "tie_embeddings": False}))
    assert sum(p.numel() for p in untied.parameters()) == n_params + 30 * 7


def test_language_model_carries_state_across_stream_windows():
    """Windows 1 and 2 with the carried state give the logits of the whole stream."""
    torch.manual_seed(0)
    model = SequenceTagger(LM).eval()
    stream = torch.randint(1, 30, (3, 12))
    whole, _ = model.features(stream, torch.full((3,), 12))
    first, state = model.features(stream[:, :8], torch.full((3,), 8))
    second, _ = model.features(stream[:, 8:], torch.full((3,), 4), state=state)
    torch.testing.assert_close(torch.cat([first, second], dim=1), whole)
