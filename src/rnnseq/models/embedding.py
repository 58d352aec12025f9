"""``TokenEmbedder``: the input of every model, x_t = [WordEmbedding(w_t); CharFeatures(w_t)].

With word dropout p (training only), w_t is first replaced by ``<unk>`` with
probability p, independently at each real step; the characters of w_t stay, so
the model learns to read an unseen word from its spelling and its context.

With pretrained vectors (``config.embeddings``), the word embedding's rows are copied
from the file's vectors by :meth:`TokenEmbedder.load_word_vectors` after the network is
built; ``freeze_embeddings`` keeps them fixed (no gradient), and weight decay never
applies to them. The last ``config.added_words`` ids are words of the file that the
training vocabulary lacks: their rows are a buffer (``added_vectors``), not a parameter,
so they keep the file's vectors and cost the optimizer nothing, however many there are:

    E(w) = word.weight[w]                   w <  V - A   (trained, or frozen)
         = added_vectors[w - (V - A)]       w >= V - A   (the file's vector, fixed)

It is also the models' boundary: it checks tokens, lengths and chars, and clears the
padded steps (token and character ids set to 0) so whatever a batcher leaves there,
-1, garbage or real ids, never reaches the network.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnseq.models.char_features import build_char_features
from rnnseq.models.config import ModelConfig

# The word vocabulary's specials come first: <pad> = 0, <unk> = 1 (rnnseq.data.vocab).
UNK_ID = 1
# Attribute set (True) on parameters that the optimizer must not weight-decay.
NO_WEIGHT_DECAY = "_rnnseq_no_weight_decay"


class TokenEmbedder(nn.Module):
    """Word embedding (padding id 0 -> zero vector) plus optional character features.

    Shape:
        - tokens: (N, T) integer ids in [0, vocab_size) at real steps; anything at padding.
        - lengths: (N,) integers in [0, T].
        - chars: (N, T, W) integer ids in [0, char_vocab_size), 0 = padding; required when
          the config has character features, ignored otherwise.
        - output: (N, T, E + F), zero at padded steps. ``output_size`` = E + F.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.vocab_size = config.vocab_size
        self.char_vocab_size = config.char_vocab_size
        self.pretrained = config.embeddings is not None
        trained = config.vocab_size - config.added_words  # rows of the training vocabulary
        if self.pretrained:
            # Zeros until load_word_vectors (no random init to draw, so the rest of the
            # network starts the same whatever the vocabulary's size).
            weight = torch.zeros(trained, config.embedding_dim)
            self.word = nn.Embedding.from_pretrained(
                weight, freeze=config.freeze_embeddings, padding_idx=0
            )
            setattr(self.word.weight, NO_WEIGHT_DECAY, True)
        else:
            self.word = nn.Embedding(trained, config.embedding_dim, padding_idx=0)
        added = None
        if config.added_words:
            added = torch.zeros(config.added_words, config.embedding_dim)  # (A, E)
        self.register_buffer("added_vectors", added)
        self.chars = build_char_features(
            config.char_features,
            config.char_vocab_size,
            config.char_dim,
            config.char_hidden,
            config.char_kernel,
        )
        self.output_size = config.embedding_dim + config.char_output_size
        self.word_dropout = config.word_dropout

    def load_word_vectors(self, weight) -> None:
        """Copy a (vocab_size, E) matrix (NumPy or tensor) into the word embedding (its
        last ``added_words`` rows into ``added_vectors``); the row of ``<pad>`` (id 0)
        stays zero.

        Raises:
            ValueError: ``weight`` has another shape.
        """
        weight = torch.as_tensor(weight, dtype=self.word.weight.dtype)
        trained, dim = self.word.weight.shape
        want = (self.vocab_size, dim)
        if tuple(weight.shape) != want:
            raise ValueError(f"word vectors must have shape {want}, got {tuple(weight.shape)}")
        with torch.no_grad():
            self.word.weight.copy_(weight[:trained])
            self.word.weight[0].zero_()
            if self.added_vectors is not None:
                self.added_vectors.copy_(weight[trained:])

    def word_vectors(self, tokens: Tensor) -> Tensor:
        """E(w) for ids in [0, vocab_size): (N, T) -> (N, T, E)."""
        if self.added_vectors is None:
            return self.word(tokens)  # (N, T, E)
        trained = self.word.num_embeddings
        added = tokens >= trained  # (N, T)
        x = self.word(tokens.masked_fill(added, 0))  # (N, T, E); 0 there, filled below
        if bool(added.any()):
            rows = nn.functional.embedding((tokens - trained).clamp(min=0), self.added_vectors)
            x = torch.where(added.unsqueeze(-1), rows.to(x.dtype), x)  # (N, T, E)
        return x

    def forward(self, tokens: Tensor, lengths: Tensor, chars: Tensor | None = None) -> Tensor:
        tokens, lengths, chars = self.check(tokens, lengths, chars)
        return self.embed(tokens, chars)  # (N, T, E + F)

    def embed(self, tokens: Tensor, chars: Tensor | None) -> Tensor:
        """Embed a batch already returned by :meth:`check` (no validation here)."""
        if self.training and self.word_dropout > 0:
            drop = torch.rand(tokens.shape, device=tokens.device) < self.word_dropout  # (N, T)
            tokens = tokens.masked_fill(drop & (tokens != 0), UNK_ID)  # (N, T); padding stays 0
        x = self.word_vectors(tokens)  # (N, T, E)
        if self.chars is not None:
            x = torch.cat([x, self.chars(chars)], dim=2)  # (N, T, E + F)
        return x

    def check(
        self, tokens: Tensor, lengths: Tensor, chars: Tensor | None
    ) -> tuple[Tensor, Tensor, Tensor | None]:
        """Validate the batch; return it with ids at padded steps set to 0."""
        if tokens.dim() != 2:
            raise ValueError(f"tokens must have shape (N, T), got {tuple(tokens.shape)}")
        if tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
            raise TypeError(f"tokens must be integer ids, got {tokens.dtype}")
        n, t = tokens.shape
        lengths = torch.as_tensor(lengths)
        if lengths.shape != (n,):
            raise ValueError(f"lengths must have shape ({n},), got {tuple(lengths.shape)}")
        if lengths.dtype.is_floating_point or lengths.dtype == torch.bool:
            raise TypeError(f"lengths must be integers, got {lengths.dtype}")
        low, high = _range(lengths)
        if low < 0 or high > t:
            raise ValueError(f"lengths must be in [0, {t}], got min {low} max {high}")
        lengths = lengths.to(tokens.device)
        real = torch.arange(t, device=tokens.device).unsqueeze(0) < lengths.unsqueeze(1)
        tokens = tokens.masked_fill(~real, 0)  # (N, T)
        low, high = _range(tokens)
        if low < 0 or high >= self.vocab_size:
            raise ValueError(
                f"tokens must be in [0, {self.vocab_size}) at real steps, got min {low} max {high}"
            )
        if self.chars is None:
            return tokens, lengths, None
        if chars is None:
            raise ValueError("chars must be given: this model reads character features")
        if chars.dim() != 3 or chars.shape[:2] != (n, t):
            raise ValueError(f"chars must have shape ({n}, {t}, W), got {tuple(chars.shape)}")
        if chars.dtype.is_floating_point or chars.dtype == torch.bool:
            raise TypeError(f"chars must be integer ids, got {chars.dtype}")
        chars = chars.masked_fill(~real.unsqueeze(2), 0)  # (N, T, W)
        low, high = _range(chars)
        if low < 0 or high >= self.char_vocab_size:
            raise ValueError(
                f"chars must be in [0, {self.char_vocab_size}) at real steps, got min {low} "
                f"max {high}"
            )
        return tokens, lengths, chars


def _range(x: Tensor) -> tuple[int, int]:
    """(min, max) of an integer tensor with one device sync; (0, 0) when empty."""
    if x.numel() == 0:
        return 0, 0
    low, high = torch.stack(torch.aminmax(x)).tolist()
    return low, high
