"""Shared model-test material: every model variant, ragged batches, a masked loss.

``VARIANTS`` spans cell x bidirectional x pooling x char features (the classifier),
cell x bidirectional x char features (the tagger) and cell x tied embeddings (the
tagger as a unidirectional language model); the ``variant`` fixture of conftest.py runs
a test once per variant.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from rnnseq.models import ModelConfig, SequenceClassifier, SequenceTagger

VOCAB, LABELS, CHARS = 23, 5, 11
CELLS = ("rnn", "lstm", "gru")


def _small(**kw) -> ModelConfig:
    sizes = dict(embedding_dim=6, hidden=5, layers=2, char_dim=4, char_hidden=6)
    sizes.update(kw)
    return ModelConfig(vocab_size=VOCAB, num_labels=LABELS, **sizes)


@dataclass
class Variant:
    """A network class and its config."""

    net: type
    config: ModelConfig

    @property
    def per_sequence(self) -> bool:
        """True for the classifier: one output per sequence, not per step."""
        return self.net is SequenceClassifier

    def build(self):
        return self.net(self.config)


def _variants() -> list[tuple[str, Variant]]:
    out = []
    for cell, bi, pooling, chars in itertools.product(
        CELLS, (False, True), ("last", "mean", "max"), ("none", "cnn", "lstm")
    ):
        cfg = _small(
            cell=cell,
            bidirectional=bi,
            pooling=pooling,
            char_features=chars,
            char_vocab_size=0 if chars == "none" else CHARS,
        )
        name = f"classify-{cell}-{'bi' if bi else 'uni'}-{pooling}-chars_{chars}"
        out.append((name, Variant(SequenceClassifier, cfg)))
    for cell, bi, chars in itertools.product(CELLS, (False, True), ("none", "cnn", "lstm")):
        cfg = _small(
            cell=cell,
            bidirectional=bi,
            char_features=chars,
            char_vocab_size=0 if chars == "none" else CHARS,
        )
        name = f"tag-{cell}-{'bi' if bi else 'uni'}-chars_{chars}"
        out.append((name, Variant(SequenceTagger, cfg)))
    for cell, tie in itertools.product(CELLS, (False, True)):
        cfg = ModelConfig(
            vocab_size=VOCAB,
            num_labels=VOCAB,
            cell=cell,
            embedding_dim=5,
            hidden=5,
            layers=2,
            bidirectional=False,
            tie_embeddings=tie,
        )
        out.append((f"lm-{cell}-{'tied' if tie else 'untied'}", Variant(SequenceTagger, cfg)))
    return out


VARIANTS = _variants()


@dataclass
class Batch:
    """A ragged batch: real ids on the first lengths[i] steps of each row, 0 elsewhere."""

    tokens: torch.Tensor  # (N, T)
    lengths: torch.Tensor  # (N,)
    chars: torch.Tensor | None  # (N, T, W)
    targets: torch.Tensor  # (N, T) for tag/lm (-100 at padding), (N,) for classify

    @property
    def real(self) -> torch.Tensor:  # (N, T) bool
        t = self.tokens.shape[1]
        return torch.arange(t).unsqueeze(0) < self.lengths.unsqueeze(1)

    def with_garbage(self, seed: int = 1) -> Batch:
        """The same batch with random ids (valid or not) at every padded step."""
        g = torch.Generator().manual_seed(seed)
        pad = ~self.real
        noise = torch.randint(-3, VOCAB + 3, self.tokens.shape, generator=g)
        tokens = torch.where(pad, noise, self.tokens)
        chars = self.chars
        if chars is not None:
            noise = torch.randint(-3, CHARS + 3, chars.shape, generator=g)
            chars = torch.where(pad.unsqueeze(2), noise, chars)
        return Batch(tokens, self.lengths, chars, self.targets)


def make_batch(
    config: ModelConfig,
    lengths: list[int],
    t: int | None = None,
    seed: int = 0,
    *,
    per_sequence: bool = False,
):
    """Random ids for ``config`` with the given row lengths; words of 0..W characters;
    one target per row (``per_sequence``) or per step."""
    g = torch.Generator().manual_seed(seed)
    lengths_t = torch.tensor(lengths)
    n, t = len(lengths), max(lengths + [0]) if t is None else t
    real = torch.arange(t).unsqueeze(0) < lengths_t.unsqueeze(1)  # (N, T)
    tokens = torch.randint(1, config.vocab_size, (n, t), generator=g) * real
    chars = None
    if config.char_features != "none":
        w = 5
        word_len = torch.randint(0, w + 1, (n, t), generator=g)  # some real words: 0 chars
        char_real = (torch.arange(w) < word_len.unsqueeze(2)) & real.unsqueeze(2)
        chars = torch.randint(1, config.char_vocab_size, (n, t, w), generator=g) * char_real
    if per_sequence:
        targets = torch.randint(0, config.num_labels, (n,), generator=g)
    else:
        targets = torch.randint(0, config.num_labels, (n, t), generator=g).masked_fill(~real, -100)
    return Batch(tokens, lengths_t, chars, targets)


RAGGED = [6, 0, 3, 1, 5, 2, 4, 0, 6]  # lengths 0..T with T = 6, two empty rows


def masked_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Summed cross-entropy over counted steps (-100 = not counted); 0 if none."""
    c = logits.shape[-1]
    return F.cross_entropy(
        logits.reshape(-1, c), targets.reshape(-1), ignore_index=-100, reduction="sum"
    )


def run(model, batch: Batch) -> torch.Tensor:
    """Logits of ``model`` on ``batch``."""
    return model(batch.tokens, batch.lengths, batch.chars)
