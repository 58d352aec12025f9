"""The network's configuration: a model = config + weights.

:class:`ModelOptions` are the architecture options a user chooses (the "model" group of
``rnnseq train``); each field declares its help line, choices and the tasks it applies
to (:mod:`rnnseq.options`), so the command line and the validation follow from it.
:class:`ModelConfig` is those options plus the sizes that come from the vocabularies:
everything needed to rebuild a network. Which network (a classifier, or a tagger that
is also the language model) is the task's choice (:mod:`rnnseq.tasks`).

The config travels as JSON next to the safetensors weights of a saved model. Model
folders may come from anywhere, so :meth:`ModelConfig.from_dict` trusts nothing:
an unknown key, a value of the wrong type or an impossible value is a ``ValueError``
whose one-line message names the field.

Example::

    >>> cfg = ModelConfig(vocab_size=5000, num_labels=17, char_vocab_size=80, char_features="cnn")
    >>> cfg.bidirectional, cfg.encoder_output_size
    (True, 256)
    >>> ModelConfig.from_dict(cfg.to_dict()) == cfg
    True
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

from rnnseq.options import OptionError, Per, integer, option
from rnnseq.training.auto_defaults import from_data

__all__ = ["ModelOptions", "ModelConfig", "CELLS", "POOLINGS", "CHAR_FEATURES"]

CELLS = ("rnn", "lstm", "gru")
POOLINGS = ("last", "mean", "max")
CHAR_FEATURES = ("none", "cnn", "lstm")

# Sanity bounds. A value above these is not a model anyone trains here; from an
# untrusted folder it would only make the constructor allocate without end.
_MAX_VOCAB = 1 << 24  # 16.7M ids
_MAX_WIDTH = 1 << 14  # 16384 units
_MAX_LAYERS = 32
_MAX_KERNEL = 31
_EMBEDDING_DIM = 100  # the word embedding size without pretrained vectors
_HIDDEN = 128  # hidden units per direction, unless given or chosen from the data
_DROPOUT = 0.25


def _probability(name: str, value: Any) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not (ok and math.isfinite(value) and 0.0 <= value < 1.0):
        raise OptionError(f"{{0}} must be a number in [0, 1), got {value!r}", name)


def _odd(name: str, value: Any) -> None:
    integer(1, _MAX_KERNEL)(name, value)
    if value % 2 == 0:
        raise OptionError(f"{{0}} must be odd, got {value}", name)


def _path_or_none(name: str, value: Any) -> None:
    if value is not None and (not isinstance(value, str) or not value):
        raise OptionError("{0} must name a file", name)


def _boolean(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise OptionError(f"{{0}} must be true or false, got {value!r}", name)


@dataclass(kw_only=True)
class ModelOptions:
    """The architecture of a recurrent sequence model (the "model" options).

    Fields left at ``None`` take their task's default when a training config is
    resolved (:meth:`rnnseq.training.config.TrainConfig.resolved`).
    """

    # Recurrent cell: "rnn" (Elman, tanh), "lstm" or "gru".
    cell: str = option("lstm", "recurrent cell", choices=CELLS)
    # Pretrained word vectors (GloVe / word2vec text / fastText .vec, optionally gzipped)
    # that initialise the word embedding; read once at training time, never again (the
    # model folder holds the rows it needs).
    embeddings: str | None = option(
        None,
        "pretrained word vectors initialising the word embedding: GloVe or word2vec text, "
        "fastText .vec, optionally gzipped; the file gives --embedding-dim, and its first "
        "--max-vectors words are kept for words training never saw",
        check=_path_or_none,
        metavar="FILE",
    )
    # Keep the pretrained rows as the file gives them (no gradient). See
    # docs/EMBEDDINGS.md for the measurement behind the default.
    freeze_embeddings: bool = option(
        False,
        "keep the --embeddings vectors fixed instead of fine-tuning them "
        "(default: fine-tune; docs/EMBEDDINGS.md compares the two)",
        check=_boolean,
    )
    # Size E of the word embedding: 100 by default; the file's dimension with embeddings.
    embedding_dim: int | None = option(
        None,
        "word embedding size (default 100; with --embeddings, the file's dimension)",
        check=integer(1, _MAX_WIDTH),
        default=_EMBEDDING_DIM,
    )
    # Hidden units per direction; the encoder outputs hidden * directions features.
    hidden: int | None = option(
        None,
        "hidden units per direction" + from_data("128"),
        check=integer(1, _MAX_WIDTH),
        default=_HIDDEN,
    )
    # Stacked recurrent layers.
    layers: int = option(1, "stacked recurrent layers", check=integer(1, _MAX_LAYERS))
    # Read each sequence in both directions (a language model never does: it would see
    # the unit it predicts).
    bidirectional: bool | None = option(
        None,
        "read both directions (default: yes; a language model never)",
        check=_boolean,
        tasks=("classify", "tag"),
        default=Per("task", {"lm": False}, otherwise=True),
    )
    # Dropout probability on the embeddings, between layers and before the output layer.
    dropout: float | None = option(
        None,
        "dropout on embeddings, between layers and before the output" + from_data("0.25"),
        check=_probability,
        metavar="P",
        default=_DROPOUT,
    )
    # Classifier: how the per-step outputs become one vector.
    pooling: str = option(
        "max", "how step outputs become one vector", choices=POOLINGS, tasks=("classify",)
    )
    # Per-word character features concatenated to the word embedding: "none", "cnn"
    # (conv + max over characters) or "lstm" (final states of a char BiLSTM).
    char_features: str | None = option(
        None,
        "character-level word features, so unseen words are read from their spelling",
        choices=CHAR_FEATURES,
        tasks=("classify", "tag"),
        default=Per("task", {"tag": "cnn"}, otherwise="none"),
    )
    # Size of the character embedding.
    char_dim: int = option(30, "character embedding size", check=integer(1, _MAX_WIDTH), cli=False)
    # Size F of the per-word character feature vector (CNN filters; BiLSTM: F // 2 per
    # direction, so even for "lstm").
    char_hidden: int = option(
        50, "character feature size", check=integer(1, _MAX_WIDTH), cli=False
    )
    # Width of the character CNN's window (odd, so each output is centred on a character).
    char_kernel: int = option(3, "character CNN window", check=_odd, cli=False)
    # Language model: the output layer reuses the input embedding matrix.
    tie_embeddings: bool = option(
        False,
        "share the input embedding and the output layer (needs --hidden = --embedding-dim)",
        check=_boolean,
        tasks=("lm",),
    )
    # Word dropout: while training, each real word id becomes <unk> with this
    # probability, so the <unk> embedding is learned and the model leans on context and
    # characters for rare words (Iyyer et al. 2015; Lample et al. 2016 replace singletons).
    word_dropout: float | None = option(
        None,
        "while training, replace each word by <unk> with probability P, so rare and unseen "
        "words are read from characters and context" + from_data("0"),
        check=_probability,
        metavar="P",
        default=0.0,
    )

    def options(self) -> dict[str, Any]:
        """The architecture options as a dict (the fields of this class only)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(ModelOptions)}


@dataclass(kw_only=True)
class ModelConfig(ModelOptions):
    """Complete description of a network: its :class:`ModelOptions` and its sizes.

    ``bidirectional`` None means True, ``char_features`` None means "none",
    ``embedding_dim`` None means 100, and ``hidden``, ``dropout``, ``word_dropout`` None
    their fixed defaults (128, 0.25, 0) here (a training config resolves them per task,
    and the embedding size from the ``embeddings`` file, before a network is built).
    """

    # Number of input token ids, padding id 0 included (ids are in [0, vocab_size)).
    vocab_size: int
    # Number of output classes: labels (classify), tags (tag), output units (lm).
    num_labels: int
    # Number of character ids, padding id 0 included; 0 = the model reads no characters.
    char_vocab_size: int = 0
    # The last added_words word ids hold a vectors file's words that training never saw:
    # their rows are the file's vectors, kept fixed (a buffer, not a parameter).
    added_words: int = 0

    def __post_init__(self) -> None:
        if self.bidirectional is None:
            self.bidirectional = True
        if self.char_features is None:
            self.char_features = "none"
        if self.embedding_dim is None:
            self.embedding_dim = _EMBEDDING_DIM
        if self.hidden is None:
            self.hidden = _HIDDEN
        if self.dropout is None:
            self.dropout = _DROPOUT
        if self.word_dropout is None:
            self.word_dropout = 0.0
        self.validate()

    @classmethod
    def of(cls, options: ModelOptions, **sizes: int) -> ModelConfig:
        """The network of ``options`` with the vocabularies' sizes."""
        return cls(**options.options(), **sizes)

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
        for name, low in (("vocab_size", 2), ("num_labels", 1), ("char_vocab_size", 0)):
            integer(low, _MAX_VOCAB)(name, getattr(self, name))
        integer(0, self.vocab_size - 2)("added_words", self.added_words)  # <pad>, <unk> trained
        # Every architecture option is checked as for a task where it applies; which
        # options a task may set is the training config's business.
        _check_all(self)
        if self.char_features != "none":
            if self.char_vocab_size < 2:
                raise OptionError(
                    f"{{0}} must be >= 2 with char_features={self.char_features!r}, got "
                    f"{self.char_vocab_size}",
                    "char_vocab_size",
                )
            if self.char_features == "lstm" and self.char_hidden % 2:
                raise OptionError(
                    f"{{0}} must be even for char_features='lstm' (half per direction), got "
                    f"{self.char_hidden}",
                    "char_hidden",
                )
        if self.tie_embeddings:
            if self.num_labels != self.vocab_size:
                raise OptionError(
                    f"tie_embeddings needs {{0}} == vocab_size, got {self.num_labels} != "
                    f"{self.vocab_size}",
                    "num_labels",
                )
            if self.embedding_dim != self.encoder_output_size:
                raise OptionError(
                    f"tie_embeddings needs {{0}} == {{1}}, got {self.embedding_dim} and "
                    f"{self.hidden}",
                    "embedding_dim",
                    "hidden",
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


def _check_all(config: ModelConfig) -> None:
    """Choices and ranges of every architecture field, whatever the task."""
    for f in dataclasses.fields(ModelOptions):
        spec = f.metadata["spec"]
        value = getattr(config, f.name)
        if spec.choices is not None and value not in spec.choices:
            allowed = ", ".join(spec.choices)
            raise OptionError(f"{{0}} must be one of {allowed}, got {value!r}", f.name)
        if spec.check is not None:
            spec.check(f.name, value)
