from __future__ import annotations

import pytest
import torch

from rnnseq.models import ModelConfig, TokenEmbedder
from rnnseq.models.embedding import UNK_ID


def _embedder(word_dropout: float, chars: int = 0) -> TokenEmbedder:
    cfg = ModelConfig(
        vocab_size=50,
        num_labels=3,
        char_vocab_size=chars,
        char_features="cnn" if chars else "none",
        embedding_dim=4,
        char_hidden=6,
        word_dropout=word_dropout,
    )
    return TokenEmbedder(cfg)


def _which_rows(out: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """The embedding row each step's word vector came from: (N, T)."""
    return (out[..., None, :] == table).all(dim=-1).float().argmax(dim=-1)


def test_word_dropout_replaces_about_p_of_the_real_words_by_unk_while_training():
    torch.manual_seed(0)
    emb = _embedder(0.3).train()
    tokens = torch.randint(2, 50, (64, 50))  # (N, T), no <pad> or <unk>
    lengths = torch.full((64,), 50)
    rows = _which_rows(emb(tokens, lengths), emb.word.weight)  # (N, T)
    dropped = rows == UNK_ID
    assert 0.27 < dropped.float().mean() < 0.33
    assert (rows[~dropped] == tokens[~dropped]).all()


def test_word_dropout_leaves_padding_and_eval_mode_alone():
    torch.manual_seed(0)
    emb = _embedder(0.9).train()
    tokens = torch.randint(2, 50, (8, 10))
    lengths = torch.tensor([10, 7, 3, 0, 10, 1, 5, 9])
    out = emb(tokens, lengths)  # (N, T, E)
    real = torch.arange(10)[None, :] < lengths[:, None]
    assert (out[~real] == 0).all()
    emb.eval()
    torch.testing.assert_close(emb(tokens, lengths), emb.word(tokens.masked_fill(~real, 0)))


def test_word_dropout_keeps_the_characters_of_a_dropped_word():
    torch.manual_seed(0)
    emb = _embedder(0.99, chars=12).train()
    tokens = torch.randint(2, 50, (2, 5))
    lengths = torch.tensor([5, 5])
    chars = torch.randint(1, 12, (2, 5, 4))
    out = emb(tokens, lengths, chars)  # (N, T, E + F)
    torch.testing.assert_close(out[..., 4:], emb.chars(chars))


@pytest.mark.parametrize("bad", [-0.1, 1.0, float("nan"), True, "0.2"])
def test_word_dropout_outside_zero_one_is_rejected_naming_the_field(bad):
    with pytest.raises(ValueError, match="word_dropout"):
        _embedder(bad)


# ------------------------------------------------------------- pretrained vectors


def _pretrained(added: int, freeze: bool = False) -> TokenEmbedder:
    cfg = ModelConfig(vocab_size=10, num_labels=3, embedding_dim=3, embeddings="v.txt",
                      added_words=added, freeze_embeddings=freeze)  # fmt: skip
    return TokenEmbedder(cfg)


def test_pretrained_rows_load_with_pad_zero_and_added_rows_in_a_buffer():
    emb = _pretrained(added=4)
    weight = torch.arange(30.0).reshape(10, 3)  # (V, E)
    emb.load_word_vectors(weight.numpy())
    assert emb.word.weight.shape == (6, 3) and emb.added_vectors.shape == (4, 3)
    assert "added_vectors" in dict(emb.named_buffers())
    assert all(p is not emb.added_vectors for p in emb.parameters())
    tokens = torch.tensor([[0, 1, 5, 6, 9]])  # <pad>, <unk>, last trained, first and last added
    out = emb(tokens, torch.tensor([5]))[0]  # (T, E)
    assert torch.equal(out[0], torch.zeros(3))
    assert torch.equal(out[1:], weight[[1, 5, 6, 9]])


def test_gradients_reach_the_trained_rows_only_and_none_when_frozen():
    emb = _pretrained(added=4)
    emb.load_word_vectors(torch.randn(10, 3))
    emb(torch.tensor([[2, 7]]), torch.tensor([2])).sum().backward()
    grad = emb.word.weight.grad  # (6, E): row 2 only
    assert grad[2].abs().sum() > 0 and grad[[0, 1, 3, 4, 5]].abs().sum() == 0
    frozen = _pretrained(added=4, freeze=True)
    assert not frozen.word.weight.requires_grad
    assert not frozen(torch.tensor([[2, 7]]), torch.tensor([2])).requires_grad


def test_pretrained_vectors_of_the_wrong_shape_are_refused():
    with pytest.raises(ValueError, match=r"shape \(10, 3\), got \(9, 3\)"):
        _pretrained(added=0).load_word_vectors(torch.zeros(9, 3))


def test_added_words_must_leave_pad_and_unk_among_the_trained_rows():
    with pytest.raises(ValueError, match="added_words must be an integer in"):
        _pretrained(added=9)
