"""``TrainConfig``: one typed description of a training run, mapped one-to-one to the
options of ``rnnseq train``.

A field left at ``None`` takes the task's default (``resolved()`` fills them in),
so a saved run always records concrete values.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

TASKS = ("classify", "tag", "lm")
LOSSES = ("ce", "crf")
OPTIMIZERS = ("adam", "sgd")
SCHEDULES = ("plateau", "exponential", "none")
TAG_SCHEMES = ("keep", "iob2", "iobes")

# Options that belong to one session of a run, not to the run: a resumed run may
# change them (more --epochs, another --device, ...); every other option must be
# as the run was started.
SESSION_OPTIONS = (
    "train",
    "dev",
    "out",
    "epochs",
    "max_steps",
    "patience",
    "device",
    "threads",
    "checkpoint_every",
    "resume",
    "overwrite",
    "detect_anomaly",
    "progress",
)


@dataclass
class TrainConfig:
    """Everything ``rnnseq train`` needs; see ``rnnseq train --help`` for each option."""

    # ---- data ------------------------------------------------------------------
    # What to learn: "classify" (one label per sequence), "tag" (one per token) or
    # "lm" (the next character or word at every step).
    task: str
    # Training file.
    train: str
    # Model folder to write (weights, config, vocabularies, metrics, loss curve).
    out: str
    # Development file: model selection, early stopping, learning-rate schedule.
    dev: str | None = None
    # Hold out this last fraction of --train as the dev set when --dev is not given.
    holdout: float = 0.0
    # Input format (conllu, conll, tsv, csv, jsonl, text); None = from name/content.
    format: str | None = None
    # CoNLL-U field holding the tags (default upos), or the label column of a header.
    column: str | None = None
    # Language-model units: "char" (characters) or "word" (whitespace words + <eos>).
    unit: str = "char"
    # Lowercase words before the vocabulary lookup (characters keep their case).
    lowercase: bool = False
    # Words seen fewer times in training become <unk> (None: 2 for classify/tag, 1 for lm).
    min_freq: int | None = None
    # Longest sequence kept, in tokens (None = no limit).
    max_length: int | None = None
    # What to do with a longer one: "truncate" (with a warning) or "error".
    on_long: str = "truncate"
    # Span tags (IOB1/IOB2/IOBES) are learned in this scheme: "keep" as written, or
    # converted to "iob2" or "iobes"; predictions are written in the file's own scheme.
    tag_scheme: str = "iobes"

    # ---- model -----------------------------------------------------------------
    # Recurrent cell: "rnn" (Elman), "lstm" or "gru".
    cell: str = "lstm"
    # Word embedding size.
    embedding_dim: int = 100
    # Hidden units per direction.
    hidden: int = 128
    # Stacked recurrent layers.
    layers: int = 1
    # Read both directions (None: yes for classify/tag; lm is always one direction).
    bidirectional: bool | None = None
    # Dropout on embeddings, between layers and before the output layer.
    dropout: float = 0.25
    # Classifier: how per-step outputs become one vector ("last", "mean", "max").
    pooling: str = "max"
    # Character-level word features: "none", "cnn", "lstm" (None: "cnn" for tag, else none).
    char_features: str | None = None
    # lm: share the input embedding and the output layer (needs hidden == embedding_dim).
    tie_embeddings: bool = False

    # ---- loss ------------------------------------------------------------------
    # "ce" (cross-entropy per step) or "crf" (linear-chain CRF; tag only).
    loss: str = "ce"
    # Over the steps of a sequence: "sum" (the default) or "mean".
    time_reduction: str = "sum"
    # Over the batch: "mean" (over sequences), "token_mean" (over steps) or "sum".
    reduction: str = "mean"
    # Label smoothing ε in [0, 1).
    label_smoothing: float = 0.0
    # Class weights: None, "balanced" (inverse frequency) or "LABEL=W,LABEL=W,...".
    class_weights: str | None = None

    # ---- optimisation ----------------------------------------------------------
    # "adam" or "sgd".
    optimizer: str = "adam"
    # Learning rate (None: 1e-3 for adam, 1.0 for sgd).
    lr: float | None = None
    # L2 weight decay.
    weight_decay: float = 0.0
    # Passes over the training data.
    epochs: int = 10
    # Sequences per batch (lm: parallel rows of the text stream).
    batch_size: int = 32
    # classify/tag: batches are cut from pools of this many batches sorted by length, so
    # a batch holds sequences of similar length and pads little; 1 = random batches
    # (more padding computed, batches of mixed lengths).
    bucket_pool: int = 100
    # lm: steps per window of truncated backpropagation through time.
    bptt: int = 64
    # Clip the gradient norm at this value (0 = no clipping).
    clip: float = 5.0
    # Learning-rate schedule: "plateau" (halve when dev stops improving),
    # "exponential" (multiply by --lr-decay every epoch from --decay-start), "none".
    schedule: str = "plateau"
    # Factor of the schedule.
    lr_decay: float = 0.5
    # exponential: first epoch (1-based) whose learning rate is decayed.
    decay_start: int = 1
    # Stop after this many epochs without a better dev score (0 = never stop early).
    patience: int = 3
    # Stop after this many optimizer steps in all (None = run all epochs).
    max_steps: int | None = None
    # Random seed: initialisation, dropout, data order.
    seed: int = 1
    # "auto" (cuda when available), "cpu" or "cuda".
    device: str = "auto"
    # CPU threads for torch (None: torch's default).
    threads: int | None = None
    # Also save a resumable checkpoint every this many steps (0 = at epoch ends only).
    checkpoint_every: int = 0
    # Continue the run whose checkpoint is in --out.
    resume: bool = False
    # Replace an existing model folder at --out.
    overwrite: bool = False
    # Run autograd's anomaly detection (slow; finds the op that made a NaN).
    detect_anomaly: bool = False
    # Show a progress bar (None: when stderr is a terminal).
    progress: bool | None = None

    # ---- more model options ------------------------------------------------------
    # Word dropout: while training, replace each word by <unk> with this probability.
    word_dropout: float = 0.0
    # Train with bfloat16 matrix products (autocast); parameters, loss and evaluation
    # stay float32. Several times faster on CPUs with AMX / AVX-512-BF16.
    bf16: bool = False

    def resolved(self) -> TrainConfig:
        """A copy with every task default filled in, validated."""
        c = dataclasses.replace(self)
        if c.min_freq is None:
            c.min_freq = 1 if c.task == "lm" else 2
        if c.bidirectional is None:
            c.bidirectional = c.task != "lm"
        if c.char_features is None:
            c.char_features = "cnn" if c.task == "tag" else "none"
        if c.lr is None:
            c.lr = 1e-3 if c.optimizer == "adam" else 1.0
        c.validate()
        return c

    def validate(self) -> None:
        """Raise ValueError naming the first option whose value is impossible."""
        _choice("task", self.task, TASKS)
        for name in ("train", "out"):
            if not isinstance(getattr(self, name), str) or not getattr(self, name):
                raise ValueError(f"--{name} must name a path")
        _choice("unit", self.unit, ("char", "word"))
        _choice("on_long", self.on_long, ("truncate", "error"))
        _choice("tag_scheme", self.tag_scheme, TAG_SCHEMES)
        _choice("loss", self.loss, LOSSES)
        _choice("time_reduction", self.time_reduction, ("sum", "mean"))
        _choice("reduction", self.reduction, ("mean", "sum", "token_mean"))
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("device", self.device, ("auto", "cpu", "cuda"))
        _number("holdout", self.holdout, 0.0, 0.5, high_open=True)
        _number("label_smoothing", self.label_smoothing, 0.0, 1.0, high_open=True)
        _number("dropout", self.dropout, 0.0, 1.0, high_open=True)
        _number("word_dropout", self.word_dropout, 0.0, 1.0, high_open=True)
        _number("weight_decay", self.weight_decay, 0.0, math.inf)
        _number("clip", self.clip, 0.0, math.inf)
        _number("lr_decay", self.lr_decay, 0.0, 1.0)
        if self.lr is not None:
            _number("lr", self.lr, 0.0, math.inf, low_open=True)
        for name in (
            "epochs",
            "batch_size",
            "bucket_pool",
            "bptt",
            "embedding_dim",
            "hidden",
            "layers",
        ):
            _integer(name, getattr(self, name), 1)
        for name in ("patience", "seed", "checkpoint_every", "decay_start"):
            _integer(name, getattr(self, name), 0)
        for name in ("min_freq", "max_length", "max_steps", "threads"):
            if getattr(self, name) is not None:
                _integer(name, getattr(self, name), 1)
        if self.loss == "crf" and self.task != "tag":
            raise ValueError(f"--loss crf needs --task tag, got --task {self.task}")
        if self.reduction == "token_mean" and self.time_reduction != "sum":
            raise ValueError("--reduction token_mean needs --time-reduction sum")
        if self.loss == "crf" and (self.label_smoothing or self.class_weights):
            raise ValueError("--label-smoothing and --class-weights apply to --loss ce only")
        if self.task == "lm" and self.bidirectional:
            raise ValueError("--bidirectional is not possible for --task lm")
        if self.resume and self.overwrite:
            raise ValueError("--resume keeps the folder and --overwrite replaces it: give one")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        if not isinstance(d, dict):
            raise ValueError(f"training config must be a JSON object, got {type(d).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"training config has unknown options: {', '.join(unknown)}")
        return cls(**d)


def resumed_config(given: TrainConfig, saved: dict[str, Any]) -> TrainConfig:
    """The config of a resumed run: the saved run's options, with this session's
    (:data:`SESSION_OPTIONS`) taken from ``given``.

    Raises:
        ValueError: another option of ``given`` differs from the saved run's,
            naming each one (a resumed run continues the same computation).
    """
    before = TrainConfig.from_dict(saved).resolved()
    now = given.resolved()
    changed = [
        f"{_option(f.name)} {getattr(now, f.name)!r} (the run has {getattr(before, f.name)!r})"
        for f in dataclasses.fields(TrainConfig)
        if f.name not in SESSION_OPTIONS and getattr(now, f.name) != getattr(before, f.name)
    ]
    if changed:
        free = [_option(n) for n in SESSION_OPTIONS if n not in ("out", "resume", "overwrite")]
        raise ValueError(
            f"--resume continues the run in {given.out} as it was started, but "
            f"{'; '.join(changed)}: give the run's options again (only "
            f"{', '.join(free)} may change)"
        )
    return dataclasses.replace(before, **{n: getattr(now, n) for n in SESSION_OPTIONS})


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _choice(name: str, value: Any, allowed: tuple) -> None:
    if value not in allowed:
        raise ValueError(f"{_option(name)} must be one of {', '.join(allowed)}; got {value!r}")


def _integer(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{_option(name)} must be an integer >= {low}; got {value!r}")


def _number(
    name: str, value: Any, low: float, high: float, *, low_open=False, high_open=False
) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok:
        ok = (value > low if low_open else value >= low) and (
            value < high if high_open else value <= high
        )
    if not ok:
        lo, hi = "(" if low_open else "[", ")" if high_open else "]"
        raise ValueError(f"{_option(name)} must be in {lo}{low}, {high}{hi}; got {value!r}")
