"""Training defaults chosen from the data, for the options a user did not set.

``rnnseq train --task tag --train T --dev D --out O`` should give a good model on data
nobody tuned for. What works differs between tag sets, and the training file says
which kind it is: span tags (IOB1, IOB2, IOBES: named entities, chunks) want a CRF on
top, part-of-speech-like tags do not; a small file needs many more passes than a large
one to take the same number of optimizer steps. :func:`choose_defaults` maps a
:class:`DataSummary` of the training data (made by the task object,
:meth:`rnnseq.tasks.base.Task.data_summary`; None for a task without such rules) to
option values and one line that says what was chosen and why.
:meth:`rnnseq.training.config.TrainConfig.resolved` applies them to the options left
unset (:data:`FROM_DATA`), and only to those.

The rules (docs/DEFAULTS.md has the runs behind them, and what was not measured):

- all tags: words lowercased and every training word kept (``min_freq`` 1), with
  word dropout so that the ``<unk>`` vector is learned; the character CNN reads the
  original case. Adam with its learning rate halved whenever dev does not improve
  (the ``plateau`` schedule, already the fixed default), the best dev epoch kept.
  Batches hold ``batch_size`` sentences: a token budget (``--batch-tokens``,
  :func:`token_budget`) matched random batches in a small tagger, but with these
  defaults it trailed batches of sentences on EWT and CoNLL-2003 (docs/DEFAULTS.md),
  so it is not chosen.
- span tags: linear-chain CRF learned in IOBES (predictions are written back in
  the file's scheme), BiLSTM 200, dropout 0.5, word dropout 0.1, lr 1e-3, batch 16.
- other tags (POS): cross-entropy, BiLSTM 128, dropout 0.25, word dropout 0.25,
  lr 2e-3, batch 32.
- how long: at most ``max(MIN_EPOCHS, ceil(STEP_BUDGET / steps per epoch))``
  epochs, at most ``MAX_EPOCHS``, stopping after ``PATIENCE`` epochs without a
  better dev score. Without dev data there is nothing to stop on and the learning
  rate never decays, so the run takes ``MIN_EPOCHS`` epochs.

Around the user's own choices: a value the user set is never replaced; the learning
rate is chosen only for Adam; the epoch limit follows the batch size in use (the
user's or the chosen one). A chosen value that an option the user set cannot go with
(a CRF with ``--label-smoothing``) is left out by the config, which knows the options'
declarations.

Pure Python, no torch.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rnnseq.options import flag
from rnnseq.tag_schemes import detect_scheme

__all__ = [
    "DataSummary",
    "AutoDefaults",
    "FROM_DATA",
    "summarize_tags",
    "choose_defaults",
    "describe_choice",
    "epoch_limit",
    "token_budget",
    "from_data",
    "HELP",
]

STEP_BUDGET = 20_000  # optimizer steps the epoch limit allows at least (a cap, not a target)
MIN_EPOCHS = 20  # ... and never fewer epochs than this
MAX_EPOCHS = 100  # ... nor more than this
PATIENCE = 4  # epochs without a better dev score before stopping

_SPAN = {  # span tags: named entities, chunks
    "loss": "crf",
    "tag_scheme": "iobes",
    "lowercase": True,
    "min_freq": 1,
    "word_dropout": 0.1,
    "hidden": 200,
    "dropout": 0.5,
    "lr": 1e-3,
    "batch_size": 16,
}
_OTHER_TAGS = {  # one tag per token, no spans: part of speech and the like
    "loss": "ce",
    "lowercase": True,
    "min_freq": 1,
    "word_dropout": 0.25,
    "hidden": 128,
    "dropout": 0.25,
    "lr": 2e-3,
    "batch_size": 32,
}

# The options whose default may come from the data: each is declared with a Python
# default of None, so a value the user set is told apart from one left unset.
FROM_DATA = (
    *_SPAN,
    "epochs",
    "patience",
)


# What ``rnnseq train --help`` says about the options of FROM_DATA.
HELP = (
    "Options whose default says 'tag: from the data' are chosen, for --task tag, from the "
    "training data when not given: whether its tags are span tags (IOB1/IOB2/IOBES: a CRF) "
    "or not (part of speech: cross-entropy), and its size (how many epochs). train prints "
    "one line with the values it chose; an option you give is always kept. "
    "docs/DEFAULTS.md has the measurements behind the choice."
)


def from_data(fixed: str) -> str:
    """The end of the help line of an option of :data:`FROM_DATA`: its fixed default and
    that the tag task chooses it from the data."""
    return f" (default {fixed}; tag: from the data)"


@dataclass(frozen=True)
class DataSummary:
    """What the defaults depend on, counted on the training data (after any holdout).

    examples: sentences in the training data.
    tokens: words in all of them.
    labels: distinct tags.
    tag_scheme: "IOB1", "IOB2" or "IOBES" when the tags are span tags, else None.
    has_dev: whether there is dev data (a file or a holdout) to stop on.
    """

    examples: int
    tokens: int
    labels: int = 0
    tag_scheme: str | None = None
    has_dev: bool = True


@dataclass(frozen=True)
class AutoDefaults:
    """The chosen option values (option name -> value) and one line saying why."""

    options: dict[str, Any]
    description: str


def summarize_tags(
    sentences: Iterable[tuple[Sequence[str], Sequence[str]]], *, has_dev: bool = True
) -> DataSummary:
    """A :class:`DataSummary` of tag data given as (tokens, tags) pairs."""
    pairs = [(list(tokens), list(tags)) for tokens, tags in sentences]
    return DataSummary(
        examples=len(pairs),
        tokens=sum(len(tokens) for tokens, _ in pairs),
        labels=len({t for _, tags in pairs for t in tags}),
        tag_scheme=detect_scheme(tags for _, tags in pairs),
        has_dev=has_dev,
    )


def epoch_limit(examples: int, batch_size: int) -> int:
    """The most epochs a run takes: enough for STEP_BUDGET steps, within
    [MIN_EPOCHS, MAX_EPOCHS].

        steps per epoch = ceil(examples / batch_size)
        limit = min(MAX_EPOCHS, max(MIN_EPOCHS, ceil(STEP_BUDGET / steps per epoch)))
    """
    if examples < 1 or batch_size < 1:
        raise ValueError(f"examples and batch_size must be >= 1, got {examples}, {batch_size}")
    steps = math.ceil(examples / batch_size)
    return min(MAX_EPOCHS, max(MIN_EPOCHS, math.ceil(STEP_BUDGET / steps)))


def token_budget(summary: DataSummary, batch_size: int) -> int:
    """Padded tokens per batch (``--batch-tokens``): as many as ``batch_size`` sentences
    of the training data's mean length hold, ``round(batch_size · tokens / examples)``
    (522 on UD English EWT with batch 32).

    Batches cut by this budget from length-sorted pools matched random batches' dev
    accuracy in a small tagger where batches of ``batch_size`` sentences lost 0.76
    points; with the full defaults they trailed batches of sentences (docs/DEFAULTS.md,
    "Bucketing"), so :func:`choose_defaults` does not set it.
    """
    if summary.examples < 1 or batch_size < 1:
        raise ValueError(
            f"examples and batch_size must be >= 1, got {summary.examples}, {batch_size}"
        )
    return max(1, round(batch_size * summary.tokens / summary.examples))


def choose_defaults(summary: DataSummary, given: Mapping[str, Any] | None = None) -> AutoDefaults:
    """Values for the options of :data:`FROM_DATA` that ``given`` (the options the user
    set, by name) leaves unset, and one line saying what was chosen and why.

    Example:
        >>> s = DataSummary(examples=1000, tokens=14000, labels=9, tag_scheme="IOB1")
        >>> chosen = choose_defaults(s, {"hidden": 64})
        >>> chosen.options["loss"], "hidden" in chosen.options, chosen.options["epochs"]
        ('crf', False, 100)
    """
    given = dict(given or {})
    if summary.examples < 1:
        raise ValueError("the training data holds no sentences")
    rules = dict(_SPAN if summary.tag_scheme else _OTHER_TAGS)
    if given.get("optimizer", "adam") != "adam":
        del rules["lr"]  # the rates were measured with Adam
    batch_size = given.get("batch_size") or rules["batch_size"]
    if summary.has_dev:
        rules["epochs"] = epoch_limit(summary.examples, batch_size)
        rules["patience"] = PATIENCE
    else:
        rules["epochs"] = MIN_EPOCHS
    chosen = {k: v for k, v in rules.items() if given.get(k) is None}
    return AutoDefaults(chosen, describe_choice(summary, chosen))


def describe_choice(summary: DataSummary, chosen: Mapping[str, Any]) -> str:
    """The line ``rnnseq train`` prints: what the data is, and the options chosen for it,
    as flags."""
    what = (
        f"span tags ({summary.tag_scheme} found"
        if summary.tag_scheme
        else f"tags that are not span tags ({summary.labels} found"
    )
    dev = "" if summary.has_dev else "; no dev data"
    head = f"defaults for {what}, {summary.examples:,} sentences{dev})"
    if not chosen:
        return f"{head}: every such option was set"
    flags = " ".join(_flag(name, value) for name, value in chosen.items())
    return f"{head}: {flags}; set any of them to override"


def _flag(name: str, value: Any) -> str:
    if value is True:
        return flag(name)
    if value is False:
        return "--no-" + flag(name)[2:]
    return f"{flag(name)} {value:g}" if isinstance(value, float) else f"{flag(name)} {value}"
