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
