"""``TrainConfig``: one typed description of a training run.

It composes four sections, each a dataclass whose fields declare their help, choices,
default, command-line group and the tasks they apply to (:mod:`rnnseq.options`):

- :class:`DataOptions` — how the files are read ("data");
- :class:`~rnnseq.models.config.ModelOptions` — the network ("model");
- :class:`~rnnseq.objective.LossOptions` — the loss (attribute ``objective``, "loss");
- :class:`TrainingOptions` — optimisation and the run itself ("training").

``rnnseq train``'s options are generated from these fields (:func:`add_train_arguments`),
so an option is declared once. Option names are unique across sections, so a config
is also built from flat keyword arguments, as the command line and
``rnnseq.train(epochs=5, hidden=64, ...)`` give them:

    >>> cfg = TrainConfig(task="tag", train="train.conllu", out="runs/pos", hidden=64)
    >>> cfg.model.hidden, cfg.training.epochs    # epochs not given
    (64, None)
    >>> cfg.resolved().model.char_features, cfg.resolved().training.epochs   # task defaults
    ('cnn', 10)
    >>> span = DataSummary(examples=1000, tokens=14000, labels=9, tag_scheme="IOB1")
    >>> r = cfg.resolved(span)                  # defaults chosen from the training data
    >>> r.objective.loss, r.model.hidden, r.training.epochs
    ('crf', 64, 100)
    >>> r.chosen.description  # doctest: +ELLIPSIS
    'defaults for span tags (IOB1 found, 1,000 sentences): --loss crf ...; set any of them...'
    >>> TrainConfig(task="classify", train="t.tsv", out="m", time_reduction="mean").resolved()
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    rnnseq.options.OptionError: time_reduction does not apply to task='classify' (only ...)

A field left at ``None`` takes its task's default in :meth:`TrainConfig.resolved` (for
the options of :data:`~rnnseq.training.auto_defaults.FROM_DATA`, given a summary of the
training data, the value chosen from it), so a saved run records concrete values; an
option that does not apply to the task is refused unless it is at its default there.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from dataclasses import dataclass
from typing import Any

from rnnseq.data.formats import FORMATS
from rnnseq.data.word_vectors import word_vector_dim
from rnnseq.models.config import ModelOptions
from rnnseq.objective import LossOptions
from rnnseq.options import (
    OptionError,
    Per,
    add_arguments,
    applies,
    check_section,
    default_value,
    integer,
    number,
    option,
    quoted,
    spec_of,
)
from rnnseq.tasks import TASK_NAMES, describe, get_task
from rnnseq.training.auto_defaults import (
    FROM_DATA,
    HELP,
    AutoDefaults,
    DataSummary,
    choose_defaults,
    describe_choice,
    from_data,
)

__all__ = [
    "DataOptions",
    "TrainingOptions",
    "TrainConfig",
    "SECTIONS",
    "MAX_LENGTH",
    "resumed_config",
    "option_applies",
    "add_train_arguments",
]


def _path(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value:
        raise OptionError("{0} must name a path", name)


@dataclass(kw_only=True)
class RunFiles:
    """What to learn, from which files, into which folder."""

    task: str = option(None, describe(), choices=TASK_NAMES, required=True)
    train: str = option(
        None, "training data", metavar="FILE", check=_path, required=True, session=True
    )
    dev: str | None = option(
        None,
        "dev data for model selection and early stopping",
        metavar="FILE",
        check=_path,
        session=True,
    )
    out: str = option(
        None,
        "model folder to write (weights, config, vocabularies, metrics, loss curve)",
        metavar="DIR",
        check=_path,
        required=True,
        session=True,
    )


# The default --max-length per task (see DataOptions.max_length).
MAX_LENGTH = {"classify": 1024, "tag": 512}


@dataclass(kw_only=True)
class DataOptions:
    """How the training and dev files are read (the "data" options)."""

    # Hold out this last fraction of the training file as dev when no dev file is given.
    holdout: float = option(
        0.0,
        "without --dev, hold out this last fraction of --train as dev (e.g. 0.1)",
        check=number(0.0, 0.5, high_open=True),
        metavar="FRACTION",
    )
    # None: from the file name, else the content.
    format: str | None = option(
        None, "input format (default: from the file name, else the content)", choices=tuple(FORMATS)
    )
    # The field or column holding the labels.
    column: str | None = option(
        None,
        "CoNLL-U field with the tags (default upos, e.g. xpos), or the label column named "
        "in a TSV/CSV header",
        metavar="C",
        tasks=("classify", "tag"),
    )
    # Language-model units.
    unit: str = option(
        "char",
        "lm units: characters, or whitespace words with <eos> per line",
        choices=("char", "word"),
        tasks=("lm",),
    )
    # Lowercase words before the vocabulary lookup (characters keep their case).
    lowercase: bool | None = option(
        None,
        "lowercase words (characters keep their case)" + from_data("no"),
        tasks=("classify", "tag"),
        default=False,
    )
    # Words seen fewer times in training become <unk>.
    min_freq: int | None = option(
        None,
        "words seen fewer than N times become <unk>" + from_data("2; lm 1"),
        check=integer(1),
        default=Per("task", {"lm": 1}, otherwise=2),
    )
    # Longest sequence kept, in tokens. The task defaults are several times the longest
    # sentence or text of EWT, CoNLL-2003 and SST-2, and bound the memory of a batch
    # (docs/RELIABILITY.md has the measurements); a language model reads windows.
    max_length: int | None = option(
        None,
        "longest sequence in tokens; longer ones are cut, with one warning that counts them "
        "(a batch's memory grows with it)",
        check=integer(1),
        tasks=("classify", "tag"),
        default=Per("task", MAX_LENGTH),
    )
    # What to do with a longer one.
    on_long: str = option(
        "truncate",
        "what to do with a sequence longer than --max-length",
        choices=("truncate", "error"),
        tasks=("classify", "tag"),
    )
    # With --embeddings: the vocabulary also takes the file's first N words that training
    # never saw, so they keep their pretrained vector at prediction time (a language
    # model's vocabulary is its output layer: none are added).
    max_vectors: int | None = option(
        None,
        "with --embeddings, also keep the vectors of the file's first N words (the most "
        "frequent) for words training never saw; 0 keeps only the training vocabulary",
        check=integer(0),
        tasks=("classify", "tag"),
        default=Per("task", {"lm": 0}, otherwise=100_000),
    )
    # Span tags (IOB1/IOB2/IOBES) are learned in this scheme ("keep": as written);
    # predictions are written in the file's own scheme.
    tag_scheme: str | None = option(
        None,
        "learn span tags (IOB1/IOB2/IOBES) in this scheme; output keeps the file's scheme"
        + from_data("iobes"),
        choices=("keep", "iob2", "iobes"),
        tasks=("tag",),
        default="iobes",
    )
    # Where texts are kept encoded (lm: every training text; classify, tag: a training file
    # over 64 MiB, streamed; docs/TOKEN_FILES.md). None: $RNNSEQ_CACHE_DIR, else
    # ~/.cache/rnnseq/tokens.
    token_cache: str | None = option(
        None,
        "folder of the encoded files training reads: lm's token files, and a classify or "
        "tag training file over 64 MiB (read in passes, never whole, and mapped) "
        "(default $RNNSEQ_CACHE_DIR, else ~/.cache/rnnseq/tokens); under torchrun on "
        "several machines, a shared folder",
        metavar="DIR",
        session=True,
    )


@dataclass(kw_only=True)
class TrainingOptions:
    """Optimisation and the run itself (the "training" options)."""

    optimizer: str = option("adam", "optimizer", choices=("adam", "sgd"))
    lr: float | None = option(
        None,
        "learning rate" + from_data("0.001 for adam, 1 for sgd"),
        check=number(0.0, low_open=True),
        metavar="LR",
        default=Per("optimizer", {"adam": 1e-3, "sgd": 1.0}),
    )
    weight_decay: float = option(0.0, "L2 weight decay", check=number(0.0), metavar="W")
    epochs: int | None = option(
        None,
        "passes over the training data" + from_data("10"),
        check=integer(1),
        session=True,
        default=10,
    )
    batch_size: int | None = option(
        None,
        "sequences per batch; lm: parallel rows of the text" + from_data("32"),
        check=integer(1),
        default=32,
    )
    # classify/tag: cut the sorted pools by padded tokens instead of by sequences, so
    # every step sees about the same number of tokens (docs/DEFAULTS.md, "Bucketing").
    batch_tokens: int = option(
        0,
        "cut batches by size: at most N padded tokens each (sequences x longest), "
        "whatever their length; --batch-size then sets only the pool size; 0 = batches of "
        "--batch-size sequences",
        check=integer(0),
        tasks=("classify", "tag"),
    )
    # classify/tag: batches are cut from pools of this many batches sorted by length.
    bucket_pool: int = option(
        100,
        "sort pools of N batches by length and cut them into batches, so each batch pads "
        "little; 1 = random batches, which pad more but mix lengths",
        check=integer(1),
        tasks=("classify", "tag"),
    )
    bptt: int = option(
        64, "steps per backpropagation window", check=integer(1), tasks=("lm",)
    )
    clip: float = option(5.0, "clip the gradient norm (0 = off)", check=number(0.0),
                         metavar="NORM")  # fmt: skip
    schedule: str = option(
        "plateau",
        "learning rate: plateau (× --lr-decay when dev stops improving), exponential "
        "(× --lr-decay every epoch from --decay-start), none",
        choices=("plateau", "exponential", "none"),
    )
    lr_decay: float = option(0.5, "factor of the schedule", check=number(0.0, 1.0), metavar="F")
    decay_start: int = option(
        1,
        "exponential schedule: first epoch whose end decays the rate",
        check=integer(0),
        metavar="EPOCH",
    )
    patience: int | None = option(
        None,
        "stop after N epochs without a better dev score (0 = never)" + from_data("3"),
        check=integer(0),
        session=True,
        default=3,
    )
    max_steps: int | None = option(
        None, "stop after N optimizer steps", check=integer(1), session=True
    )
    seed: int = option(
        1, "random seed for initialisation, dropout and data order", check=integer(0)
    )
    device: str = option(
        "auto", "auto (cuda when available), cpu or cuda", choices=("auto", "cpu", "cuda"),
        session=True,
    )  # fmt: skip
    threads: int | None = option(None, "CPU threads for torch", check=integer(1), session=True)
    checkpoint_every: int = option(
        0,
        "also checkpoint every STEPS steps (0: at epoch ends only)",
        check=integer(0),
        metavar="STEPS",
        session=True,
    )
    resume: bool = option(
        False, "continue the interrupted run whose checkpoint is in --out", session=True
    )
    overwrite: bool = option(False, "replace an existing --out folder", session=True)
    detect_anomaly: bool = option(
        False, "find the operation that produced a NaN (slow)", session=True
    )
    progress: bool | None = option(
        None,
        "progress bar (default: a bar at a terminal, else a progress line every 30 seconds; "
        "--no-progress: neither)",
        session=True,
    )
    bf16: bool = option(
        False,
        "train with bfloat16 matrix products (autocast), several times faster on CPUs with "
        "AMX or AVX-512-BF16; weights, loss and evaluation stay float32",
    )


# Attribute of TrainConfig -> (section class, command-line group).
SECTIONS: dict[str, tuple[type, str]] = {
    "data": (DataOptions, "data"),
    "model": (ModelOptions, "model"),
    "objective": (LossOptions, "loss"),
    "training": (TrainingOptions, "training"),
}
_FILES = tuple(f.name for f in dataclasses.fields(RunFiles))
# Every option name -> the section holding it (None: TrainConfig itself).
_OWNER: dict[str, str | None] = {name: None for name in _FILES}
for _section, (_cls, _) in SECTIONS.items():
    for _f in dataclasses.fields(_cls):
        if _f.name in _OWNER:
            raise TypeError(f"option {_f.name!r} is declared twice")
        _OWNER[_f.name] = _section


_FIELDS = {f.name: f for cls, _ in SECTIONS.values() for f in dataclasses.fields(cls)}
_ALL_FIELDS = {**{f.name: f for f in dataclasses.fields(RunFiles)}, **_FIELDS}


class TrainConfig:
    """Everything ``rnnseq train`` needs; see ``rnnseq train --help`` for each option.

    Build it from flat options (``TrainConfig(task=..., train=..., out=..., epochs=5)``)
    or from sections (``TrainConfig(task=..., ..., model=ModelOptions(hidden=64))``);
    flat options override the sections' fields.

    Attributes:
        task, train, dev, out: what to learn, from which files, into which folder.
        data, model, objective, training: the four option sections ("data", "model",
            "loss" and "training" on the command line).
    """

    def __init__(
        self,
        task: str | None = None,
        train: str | None = None,
        out: str | None = None,
        dev: str | None = None,
        *,
        data: DataOptions | None = None,
        model: ModelOptions | None = None,
        objective: LossOptions | None = None,
        training: TrainingOptions | None = None,
        **options: Any,
    ):
        self.task, self.train, self.out, self.dev = task, train, out, dev
        # What resolved() chose from the data (None: nothing, or not resolved from data).
        self.chosen: AutoDefaults | None = None
        given = {"data": data, "model": model, "objective": objective, "training": training}
        for name, (cls, _) in SECTIONS.items():
            section = given[name]
            if section is None:
                section = cls()
            elif not isinstance(section, cls):
                raise TypeError(f"{name} must be a {cls.__name__}, got {type(section).__name__}")
            setattr(self, name, copy.copy(section))
        self.set(**options)

    # ------------------------------------------------------------------ access

    def set(self, **options: Any) -> TrainConfig:
        """Set options by name, in place; returns self.

        Raises:
            OptionError: an unknown option name.
        """
        for name, value in options.items():
            if name not in _OWNER:
                raise OptionError("{0} is not an option of rnnseq train", name)
            owner = _OWNER[name]
            setattr(self if owner is None else getattr(self, owner), name, value)
        return self

    def options(self) -> dict[str, Any]:
        """Every option by name, flat: what ``rnnseq.train(**options)`` takes."""
        out = {name: getattr(self, name) for name in _FILES}
        for section in SECTIONS:
            part = getattr(self, section)
            out.update({f.name: getattr(part, f.name) for f in dataclasses.fields(part)})
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the files, then one object per section."""
        out: dict[str, Any] = {name: getattr(self, name) for name in _FILES}
        for section in SECTIONS:
            out[section] = dataclasses.asdict(getattr(self, section))
        return out

    @classmethod
    def from_dict(cls, d: Any) -> TrainConfig:
        """From :meth:`to_dict` (sections as objects) or from flat options.

        Raises:
            ValueError: not a JSON object, or an unknown option.
        """
        if not isinstance(d, dict):
            raise ValueError(f"training config must be a JSON object, got {type(d).__name__}")
        flat = {k: v for k, v in d.items() if k not in SECTIONS}
        for section in SECTIONS:
            part = d.get(section)
            if part is None:
                continue
            if not isinstance(part, dict):
                raise ValueError(f"training config: {section} must be a JSON object")
            flat.update(part)
        return cls(**flat)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, TrainConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        given = ", ".join(f"{k}={v!r}" for k, v in self.options().items() if v is not None)
        return f"TrainConfig({given})"

    # -------------------------------------------------------------- defaults

    def resolved(self, data: DataSummary | None = None) -> TrainConfig:
        """A copy with every task default filled in, validated.

        ``data`` summarises the training data (:meth:`rnnseq.tasks.base.Task.data_summary`;
        None where the task has no data-driven defaults, or before the data is read): the
        options of :data:`~rnnseq.training.auto_defaults.FROM_DATA` the user left unset
        (None) then take the values chosen for it, recorded with the line that says so
        in the copy's ``chosen``; the other unset options take their fixed defaults.

        Raises:
            OptionError: an impossible value, or an option given for a task it does
                not apply to (naming the option).
        """
        c = copy.deepcopy(self)
        if c.task not in TASK_NAMES:
            raise OptionError(
                f"{{0}} must be one of {', '.join(TASK_NAMES)}, got {quoted(c.task)}", "task"
            )
        if c.model.embeddings is not None and c.model.embedding_dim is None:
            # The file decides; a value given by the user is checked against the vectors
            # when they are read (rnnseq.tasks.word_vectors).
            c.model.embedding_dim = word_vector_dim(c.model.embeddings)
        if data is not None:
            c.chosen = c._choose(data)
            c.set(**c.chosen.options)
        values = c.options()
        for section in SECTIONS:
            part = getattr(c, section)
            for f in dataclasses.fields(part):
                if getattr(part, f.name) is None:
                    value = default_value(spec_of(f), None, c.task, values)
                    setattr(part, f.name, value)
                    values[f.name] = value
        c.validate()
        return c

    def _choose(self, data: DataSummary) -> AutoDefaults:
        """The data's defaults for the options left unset, less any that an option the
        user set cannot go with (a chosen ``loss='crf'`` beside ``label_smoothing=0.1``,
        which needs ``loss='ce'``: the option's ``requires`` says so)."""
        given = {k: v for k, v in self.options().items() if v is not None}
        auto = choose_defaults(data, given)
        kept = {k: v for k, v in auto.options.items() if not self._excluded(k, v, given)}
        if kept == auto.options:
            return auto
        return AutoDefaults(kept, describe_choice(data, kept))

    def _excluded(self, name: str, value: Any, given: dict[str, Any]) -> bool:
        """Whether an option set away from its default needs ``name`` to be another value."""
        for f in _ALL_FIELDS.values():
            spec = spec_of(f)
            allowed = spec.requires.get(name)
            if allowed is None or value in allowed or given.get(f.name) is None:
                continue
            if given[f.name] != default_value(spec, f.default, self.task, given):
                return True
        return False

    def at_task_defaults(self) -> TrainConfig:
        """A copy where every option that does not apply to the task holds the task's
        default (for records that stored every option, whatever the task)."""
        c = copy.deepcopy(self)
        values = c.options()
        for section in SECTIONS:
            part = getattr(c, section)
            for f in dataclasses.fields(part):
                spec = spec_of(f)
                if not applies(spec, c.task):
                    setattr(part, f.name, default_value(spec, f.default, c.task, values))
        return c

    def validate(self) -> None:
        """Raise OptionError naming the first option whose value is impossible here."""
        files = RunFiles(task=self.task, train=self.train, dev=self.dev, out=self.out)
        values = self.options()
        check_section(files, self.task, values)
        for section in SECTIONS:
            check_section(getattr(self, section), self.task, values)
        self.objective.check_combination()
        m = self.model
        if m.tie_embeddings and m.embedding_dim != m.hidden:
            raise OptionError(
                f"{{0}} needs {{1}} == {{2}}, got {m.hidden} and {m.embedding_dim}",
                "tie_embeddings",
                "hidden",
                "embedding_dim",
            )
        if m.embeddings is None:
            default_cap = default_value(
                spec_of(_FIELDS["max_vectors"]), None, self.task, values
            )
            for name, value, default in (
                ("freeze_embeddings", m.freeze_embeddings, False),
                ("max_vectors", self.data.max_vectors, default_cap),
            ):
                if value is not None and value != default:
                    raise OptionError(
                        "{0} applies only with {1} (pretrained word vectors)", name, "embeddings"
                    )
        get_task(self.task).check_config(self)
        if self.training.resume and self.training.overwrite:
            raise OptionError(
                "{0} keeps the folder and {1} replaces it: give one", "resume", "overwrite"
            )


def option_applies(name: str, task: str) -> bool:
    """Whether option ``name`` (of any section) applies to ``task``."""
    owner = _OWNER[name]
    cls = RunFiles if owner is None else SECTIONS[owner][0]
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    return applies(spec_of(field), task)


def _session_names() -> tuple[str, ...]:
    names = [f.name for f in dataclasses.fields(RunFiles) if spec_of(f).session]
    for cls, _ in SECTIONS.values():
        names += [f.name for f in dataclasses.fields(cls) if spec_of(f).session]
    return tuple(names)


_SESSION = _session_names()


def resumed_config(given: TrainConfig, saved: TrainConfig) -> TrainConfig:
    """The config of a resumed run: the saved run's options, with this session's
    (those declared ``session=True``) taken from ``given``.

    An option whose default comes from the data (``FROM_DATA``) and that ``given``
    leaves unset keeps the saved run's value: the data chose it once, for the run.

    Raises:
        OptionError: another option of ``given`` differs from the saved run's, naming
            each one (a resumed run continues the same computation).
    """
    before = saved.resolved()
    old = before.options()
    unset = {n: old[n] for n in FROM_DATA if given.options()[n] is None}
    now = copy.deepcopy(given).set(**unset).resolved()
    new = now.options()
    changed = [name for name in new if name not in _SESSION and new[name] != old[name]]
    if changed:
        free = [n for n in _SESSION if n not in ("out", "resume", "overwrite")]
        refs = ["resume", *changed, *free]
        parts = "; ".join(
            f"{{{i}}} {quoted(new[n])} (the run has {quoted(old[n])})"
            for i, n in enumerate(changed, 1)
        )
        first_free = 1 + len(changed)
        frees = ", ".join(f"{{{first_free + i}}}" for i in range(len(free)))
        raise OptionError(
            f"{{0}} continues the run in {given.out} as it was started, but {parts}: give "
            f"the run's options again (only {frees} may change)",
            *refs,
        )
    return before.set(**{n: new[n] for n in _SESSION})


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``rnnseq train``, generated from the sections' fields, by group."""
    parser.epilog = HELP if parser.epilog is None else f"{parser.epilog}\n\n{HELP}"
    data = parser.add_argument_group("data")
    add_arguments(data, RunFiles)
    add_arguments(data, DataOptions)
    for cls, title in list(SECTIONS.values())[1:]:
        add_arguments(parser.add_argument_group(title), cls)
