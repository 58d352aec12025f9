"""``ModelConfig``: everything needed to rebuild a model, so a model = config + weights.

The config travels as JSON next to the safetensors weights of a saved model. Model
folders may come from anywhere, so :meth:`ModelConfig.from_dict` trusts nothing:
an unknown key, a value of the wrong type or an impossible value is a ``ValueError``
whose one-line message names the field.

Example::

    >>> cfg = ModelConfig(task="tag", vocab_size=5000, num_labels=17, char_vocab_size=80)
    >>> cfg.bidirectional, cfg.char_features
    (True, 'cnn')
    >>> ModelConfig.from_dict(cfg.to_dict()) == cfg
    True
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

TASKS = ("classify", "tag", "lm")
CELLS = ("rnn", "lstm", "gru")
POOLINGS = ("last", "mean", "max")
CHAR_FEATURES = ("none", "cnn", "lstm")
IMPLEMENTATIONS = ("auto", "packed", "padded")

# Sanity bounds. A value above these is not a model anyone trains here; from an
# untrusted folder it would only make the constructor allocate without end.
_MAX_VOCAB = 1 << 24  # 16.7M ids
_MAX_WIDTH = 1 << 14  # 16384 units
_MAX_LAYERS = 32
_MAX_KERNEL = 31


@dataclass
class ModelConfig:
    """Complete description of a classifier, tagger or language model.

    Fields left at ``None`` take the task's default in ``__post_init__`` (so a saved
    config always holds concrete values): ``bidirectional`` is True for classify and
    tag, False for lm; ``char_features`` is ``"cnn"`` for a tagger given a character
    vocabulary, ``"none"`` otherwise.
    """

    # What the model predicts: "classify" (one label per sequence), "tag" (one label
    # per step) or "lm" (the next unit at every step; a unidirectional tagger).
    task: str
    # Number of input token ids, padding id 0 included (ids are in [0, vocab_size)).
    vocab_size: int
    # Number of output classes: labels (classify), tags (tag), output units (lm).
    num_labels: int
    # Number of character ids, padding id 0 included; 0 = the model reads no characters.
    char_vocab_size: int = 0
    # Recurrent cell: "rnn" (Elman, tanh), "lstm" or "gru".
    cell: str = "lstm"
    # Size E of the word embedding.
    embedding_dim: int = 100
    # Hidden units per direction; the encoder outputs hidden * directions features.
    hidden: int = 128
    # Stacked recurrent layers.
    layers: int = 1
    # Read each sequence in both directions (None = task default; lm must be False).
    bidirectional: bool | None = None
    # Dropout probability on the embeddings, between layers and before the output layer.
    dropout: float = 0.25
    # Classifier only: how the per-step outputs become one vector ("last", "mean", "max").
    pooling: str = "max"
    # Per-word character features concatenated to the word embedding: "none", "cnn"
    # (conv + max over characters) or "lstm" (final states of a char BiLSTM);
    # None = task default. Needs char_vocab_size > 0.
    char_features: str | None = None
    # Size of the character embedding.
    char_dim: int = 30
    # Size F of the per-word character feature vector (CNN filters; BiLSTM: F // 2 per
    # direction, so even for "lstm").
    char_hidden: int = 50
    # Width of the character CNN's window (odd, so each output is centred on a character).
    char_kernel: int = 3
    # lm only: the output layer reuses the input embedding matrix; needs
    # num_labels == vocab_size and hidden == embedding_dim.
    tie_embeddings: bool = False
    # How the encoder runs on padded batches: "packed" (packed sequences, padding costs
    # nothing), "padded" (one kernel call over the padded batch) or "auto" (the faster
    # one for the device). Both give the same numbers; weights do not depend on it.
    implementation: str = "auto"
    # Word dropout: while training, each real word id becomes <unk> (id 1, the word
    # vocabulary's second special) with this probability, so the <unk> embedding is
    # learned and the model leans on context and characters for rare words (Iyyer et
    # al. 2015; Lample et al. 2016 replace singletons). No effect in eval mode.
    word_dropout: float = 0.0
    # Mixed precision while training: matrix products in bfloat16 under autocast,
    # parameters, loss and gradients in float32 (see rnnseq.models.precision). Eval
    # mode (evaluation, prediction) always computes in float32.
    bf16: bool = False

    def __post_init__(self) -> None:
        if self.bidirectional is None and self.task in TASKS:
            self.bidirectional = self.task != "lm"
        if self.char_features is None and isinstance(self.char_vocab_size, int):
            with_chars = self.task == "tag" and self.char_vocab_size > 0
            self.char_features = "cnn" if with_chars else "none"
        self.validate()

    @property
    def directions(self) -> int:
        """1 or 2: how many directions the encoder reads."""
        return 2 if self.bidirectional else 1

    @property
    def encoder_output_size(self) -> int:
        """H_out = hidden * directions, the size of each per-step output."""
        return self.hidden * self.directions

    @property
    def char_output_size(self) -> int:
        """F, the size of the per-word character features (0 without them)."""
        return 0 if self.char_features == "none" else self.char_hidden

    def validate(self) -> None:
        """Raise ``ValueError`` naming the first field whose value is impossible."""
        _choice("task", self.task, TASKS)
        _int("vocab_size", self.vocab_size, 2, _MAX_VOCAB)
        _int("num_labels", self.num_labels, 1, _MAX_VOCAB)
        _int("char_vocab_size", self.char_vocab_size, 0, _MAX_VOCAB)
        _choice("cell", self.cell, CELLS)
        _int("embedding_dim", self.embedding_dim, 1, _MAX_WIDTH)
        _int("hidden", self.hidden, 1, _MAX_WIDTH)
        _int("layers", self.layers, 1, _MAX_LAYERS)
        _bool("bidirectional", self.bidirectional)
        _probability("dropout", self.dropout)
        _choice("pooling", self.pooling, POOLINGS)
        _choice("char_features", self.char_features, CHAR_FEATURES)
        _int("char_dim", self.char_dim, 1, _MAX_WIDTH)
        _int("char_hidden", self.char_hidden, 1, _MAX_WIDTH)
        _int("char_kernel", self.char_kernel, 1, _MAX_KERNEL)
        _bool("tie_embeddings", self.tie_embeddings)
        _choice("implementation", self.implementation, IMPLEMENTATIONS)
        _probability("word_dropout", self.word_dropout)
        _bool("bf16", self.bf16)
        if self.task == "lm" and self.bidirectional:
            raise ValueError(
                "ModelConfig.bidirectional must be False for task 'lm' "
                "(a bidirectional model would see the unit it predicts)"
            )
        if self.char_kernel % 2 == 0:
            raise ValueError(f"ModelConfig.char_kernel must be odd, got {self.char_kernel}")
        if self.char_features != "none":
            if self.char_vocab_size < 2:
                raise ValueError(
                    f"ModelConfig.char_vocab_size must be >= 2 with char_features="
                    f"{self.char_features!r}, got {self.char_vocab_size}"
                )
            if self.char_features == "lstm" and self.char_hidden % 2:
                raise ValueError(
                    f"ModelConfig.char_hidden must be even for char_features='lstm' "
                    f"(half per direction), got {self.char_hidden}"
                )
        if self.tie_embeddings:
            if self.task != "lm":
                raise ValueError(
                    f"ModelConfig.tie_embeddings needs task 'lm', got task {self.task!r}"
                )
            if self.num_labels != self.vocab_size:
                raise ValueError(
                    f"ModelConfig.tie_embeddings needs num_labels == vocab_size, got "
                    f"{self.num_labels} != {self.vocab_size}"
                )
            if self.embedding_dim != self.encoder_output_size:
                raise ValueError(
                    f"ModelConfig.tie_embeddings needs embedding_dim == hidden, got "
                    f"embedding_dim={self.embedding_dim}, hidden={self.hidden}"
                )

    def to_dict(self) -> dict[str, Any]:
        """All fields as JSON-ready plain values."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> ModelConfig:
        """Rebuild and validate a config from :meth:`to_dict` output (e.g. parsed JSON).

        Raises:
            ValueError: ``d`` is not a mapping, holds an unknown key, misses a required
                field, or a value has the wrong type or is impossible (names the field).
        """
        if not isinstance(d, dict):
            raise ValueError(f"ModelConfig.from_dict expects a dict, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        for key in d:
            if key not in names:
                raise ValueError(f"ModelConfig has no field {key!r}")
        for f in dataclasses.fields(cls):
            if f.default is dataclasses.MISSING and f.name not in d:
                raise ValueError(f"ModelConfig.{f.name} is missing")
        return cls(**d)


def _int(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"ModelConfig.{name} must be an int, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"ModelConfig.{name} must be in [{low}, {high}], got {value}")


def _probability(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"ModelConfig.{name} must be a number, got {value!r}")
    if not (math.isfinite(value) and 0.0 <= value < 1.0):
        raise ValueError(f"ModelConfig.{name} must be in [0, 1), got {value!r}")


def _bool(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise ValueError(f"ModelConfig.{name} must be true or false, got {value!r}")


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"ModelConfig.{name} must be one of {', '.join(choices)}; got {value!r}")
