"""From read examples to model inputs: the vocabularies, tag schemes, lengths and
class weights that every task uses.

The step between the readers (:mod:`rnnseq.data`) and the batches; each task object
(:mod:`rnnseq.tasks`) builds its vocabularies and encodes its examples with these, and
training and prediction share them, so a saved model reads new input exactly as it
read its training data.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from rnnseq.data import (
    IGNORE_INDEX,
    ClassifyExample,
    DataError,
    TagExample,
    Vocab,
)
from rnnseq.data.ragged import Ragged
from rnnseq.options import OptionError, OptionWarning, literal, quoted
from rnnseq.tag_schemes import convert, detect_scheme, is_span_tag, span_types

__all__ = [
    "Vocabularies",
    "encode_classes",
    "encode_tags",
    "limit_lengths",
    "class_weight_values",
    "SchemeMap",
]


@dataclass
class Vocabularies:
    """The three maps a model needs.

    words: input ids (words for classify/tag; characters or words for lm), with
        ``<pad>`` = 0 and ``<unk>`` = 1.
    labels: output ids (classes, tags; for lm the same units as ``words``).
    chars: characters of words for character features, ``<pad>`` = 0, or None.
    """

    words: Vocab
    labels: Vocab
    chars: Vocab | None = None
    # The last ``added_words`` word ids are a vectors file's words that the training
    # vocabulary lacks (``--embeddings``, :func:`rnnseq.data.extend_vocab`); their rows
    # keep the file's vectors.
    added_words: int = 0

    def to_dict(self) -> dict:
        d = {
            "words": self.words.to_dict(),
            "labels": self.labels.to_dict(),
            "chars": None if self.chars is None else self.chars.to_dict(),
        }
        if self.added_words:  # written only when set, so other folders stay as they were
            d["added_words"] = self.added_words
        return d

    @classmethod
    def from_dict(cls, d: object) -> Vocabularies:
        if not isinstance(d, dict) or not {"words", "labels", "chars"} <= set(d):
            raise ValueError("vocabularies must be a JSON object with words, labels and chars")
        chars = None if d["chars"] is None else Vocab.from_dict(d["chars"])
        words = Vocab.from_dict(d["words"])
        added = d.get("added_words", 0)
        specials = len(words.specials)
        if isinstance(added, bool) or not isinstance(added, int) or not (
            0 <= added <= len(words) - specials
        ):
            raise ValueError(
                f"added_words must be an integer in [0, {len(words) - specials}], got {added!r}"
            )
        return cls(words, Vocab.from_dict(d["labels"]), chars, added)


def limit_lengths(examples: list, max_length: int | None, on_long: str, path: str) -> list:
    """Cut examples longer than ``max_length`` to their first ``max_length`` tokens (one
    warning with their count and the longest length) or, with ``on_long="error"``,
    reject the first one (a DataError naming its line). None: no limit."""
    if max_length is None:
        return examples
    tally = LongTally()
    out = list(cut_long(examples, max_length, on_long, path, tally))
    tally.warn(max_length, path)
    return out


@dataclass
class LongTally:
    """What :func:`cut_long` cut: ``seen`` examples, ``cut`` of them, the ``longest``."""

    seen: int = 0
    cut: int = 0
    longest: int = 0

    def warn(self, max_length: int, path: str) -> None:
        """The one warning of :func:`limit_lengths`, if anything was cut."""
        if not self.cut:
            return
        verb = "is" if self.cut == 1 else "are"
        warnings.warn(
            OptionWarning(
                f"{literal(path)}: {self.cut:,} of {self.seen:,} sequences {verb} longer than "
                f"{{0}} tokens (the longest has {self.longest:,}) and cut to {max_length:,}; a "
                "larger {1} keeps more (a batch's memory grows with it), {2} refuses them",
                ("max_length", max_length),
                "max_length",
                ("on_long", "error"),
            ),
            stacklevel=3,
        )


def cut_long(examples: Iterable, max_length: int | None, on_long: str, path: str,
             tally: LongTally) -> Iterator:  # fmt: skip
    """:func:`limit_lengths` one example at a time (examples streamed from a file): the
    same examples and error; what was cut is counted in ``tally``, not warned about."""
    for e in examples:
        tally.seen += 1
        if max_length is None or len(e.tokens) <= max_length:
            yield e
            continue
        if on_long == "error":
            raise DataError(
                path,
                e.line,
                f"sequence of {len(e.tokens):,} tokens is longer than {{0}} (with {{1}}; the "
                "default cuts it instead)",
                ("max_length", max_length),
                ("on_long", "error"),
            )
        tally.cut += 1
        tally.longest = max(tally.longest, len(e.tokens))
        if isinstance(e, TagExample):
            yield replace(e, tokens=e.tokens[:max_length], tags=e.tags[:max_length])
        else:
            yield replace(e, tokens=e.tokens[:max_length])


def encode_tags(examples: Sequence[TagExample], known: Vocab, path: str) -> list[list[int]]:
    """Tag ids of labelled examples, one list per example.

    A tag never seen in training is counted as a step the model gets wrong: its
    target is ignored by the loss (IGNORE_INDEX), the accuracy still counts it, and
    one warning names such tags as the file wrote them (``source_tags``, when
    :meth:`SchemeMap.to_learned` rewrote them). A file none of whose tags the model
    knows leaves nothing to score: a DataError naming the file, the model's tags and
    the file's (a wrong file or column).
    """
    ids = _label_ids({t for e in examples for t in e.tags}, known)
    unseen: Counter[str] = Counter()
    tag_targets = []
    for e in examples:
        row = [ids.get(tag, IGNORE_INDEX) for tag in e.tags]
        if IGNORE_INDEX in row:
            shown = e.tags if e.source_tags is None else e.source_tags
            unseen.update(t for t, i in zip(shown, row, strict=True) if i == IGNORE_INDEX)
        tag_targets.append(row)
    n_tags = sum(len(row) for row in tag_targets)
    if n_tags and sum(unseen.values()) == n_tags:
        theirs = [t for t, _ in unseen.most_common()]
        raise DataError(
            path,
            None,
            f"the model knows none of the file's tags, so nothing can be scored: it knows "
            f"{_describe(known.tokens)}; the file has {_describe(theirs)}; is it the right "
            "file, and the right column?",
        )
    if unseen:
        names = ", ".join(f"{t} ({n})" for t, n in unseen.most_common(5))
        warnings.warn(
            f"{path}: {sum(unseen.values())} token(s) carry tags never seen in training "
            f"({names}); they are counted as errors",
            stacklevel=2,
        )
    return tag_targets


def encode_classes(examples: Sequence[ClassifyExample], known: Vocab, path: str) -> list[int]:
    """Class ids of labelled examples; the first class never seen in training is a
    DataError at its line (classification cannot score it)."""
    ids = _label_ids({e.label for e in examples}, known)
    targets = [ids.get(e.label, IGNORE_INDEX) for e in examples]
    if IGNORE_INDEX not in targets:
        return targets
    first = examples[targets.index(IGNORE_INDEX)]
    reason = (
        f"label {first.label!r} never occurs in the training data "
        f"(known: {', '.join(known.tokens[:20])})"
    )
    if all(t == IGNORE_INDEX for t in targets):
        theirs = [label for label, _ in Counter(e.label for e in examples).most_common()]
        reason += (
            f"; the model knows none of the file's labels ({_listed(theirs)}): is it the "
            "right file, and the right column?"
        )
    raise DataError(path, first.line, reason)


def _label_ids(labels: set[str], known: Vocab) -> dict[str, int]:
    """{label: id} for the labels ``known`` has (looked up once per distinct label)."""
    found = sorted(t for t in labels if t in known)
    return dict(zip(found, known.encode(found), strict=True))


def _describe(tags: Sequence[str]) -> str:
    """Tags for a message, in the order given: span tags by their types ("the span
    types LOC, PER"), others quoted, as a tag may be a comma ("the tags 'ADJ', ',', ...
    (17 in all)")."""
    types = span_types(tags)
    if types and all(is_span_tag(t) for t in tags):
        return f"the span types {_listed(types)}"
    return f"the tags {_listed([repr(t) for t in tags])}"


def _listed(items: Sequence[str], limit: int = 12) -> str:
    more = f", ... ({len(items)} in all)" if len(items) > limit else ""
    return ", ".join(items[:limit]) + more


@dataclass(frozen=True)
class SchemeMap:
    """How span tags are rewritten for learning and back for output.

    source: the scheme of the training file ("IOB1", "IOB2", "IOBES"), or None
        when the tags are not span tags (e.g. part-of-speech tags).
    learned: the scheme the model predicts in (the same as ``source`` for "keep").
    """

    source: str | None
    learned: str | None

    @classmethod
    def choose(cls, train: Sequence[TagExample], tag_scheme: str) -> SchemeMap:
        return cls.from_source(detect_scheme(e.tags for e in train), tag_scheme)

    @classmethod
    def from_source(cls, source: str | None, tag_scheme: str) -> SchemeMap:
        """The map for training tags in the scheme ``source`` (detected; None: not span
        tags) and the ``--tag-scheme`` option."""
        if source is None or tag_scheme == "keep":
            return cls(source, source)
        return cls(source, tag_scheme.upper())

    def to_learned(
        self, examples: Sequence[TagExample], *, path: str | None = None
    ) -> list[TagExample]:
        """Examples with their tags rewritten from the file's span scheme (detected
        over all of ``examples``) into the learned one; a rewritten example keeps the
        file's tags in ``source_tags``, so messages can name them as the user wrote
        them.

        A file without span tags (say part-of-speech tags, for a model of named
        entities) is returned as it is: :func:`encode_tags` then finds that the
        model knows none of its tags and says so. A file mixing span tags with other
        tags is a DataError naming ``path`` and the line of the first sentence with a
        tag that is not a span tag (a ValueError naming the example when ``path`` is
        None).
        """
        if self.learned is None:
            return list(examples)
        scheme = detect_scheme(e.tags for e in examples)
        if scheme is None:
            self._check_span_tags(examples, path)
            return list(examples)  # all O, or no span tags at all
        if scheme == self.learned:
            return list(examples)
        return [
            replace(e, tags=convert(e.tags, scheme, self.learned), source_tags=e.tags)
            for e in examples
        ]

    def _check_span_tags(self, examples: Sequence[TagExample], path: str | None) -> None:
        """A DataError at the first sentence with a non-span tag, if some other tag of
        ``examples`` is a span tag other than O."""
        if not any(t != "O" and is_span_tag(t) for e in examples for t in e.tags):
            return
        for n, e in enumerate(examples):
            bad = next((t for t in e.tags if not is_span_tag(t)), None)
            if bad is None:
                continue
            reason = (
                f"expected span tags (O, B-X, I-X, ...) as in the rest of the file and in "
                f"the model's {self.source} training data, got {bad!r}"
            )
            if path is None:
                raise ValueError(f"examples[{n}].tags: {reason}")
            raise DataError(path, e.line, reason)

    def predicted_to(self, tags: list[str], scheme: str | None) -> list[str]:
        """Predicted tags (learned scheme) rewritten into ``scheme`` (None = source)."""
        target = scheme or self.source
        if self.learned is None or target is None or target == self.learned:
            return tags
        return convert(tags, self.learned, target)

    def to_dict(self) -> dict:
        return {"source": self.source, "learned": self.learned}

    @classmethod
    def from_dict(cls, d: object) -> SchemeMap:
        allowed = (None, "IOB1", "IOB2", "IOBES")
        if (
            not isinstance(d, dict)
            or d.get("source") not in allowed
            or d.get("learned") not in allowed
        ):
            raise ValueError(f"tag scheme must name IOB1, IOB2, IOBES or null, got {d!r}")
        return cls(d["source"], d["learned"])


def class_weight_values(spec: str | None, labels: Vocab, targets: Sequence) -> list[float] | None:
    """Class weights from ``--class-weights``: None, "balanced" or "LABEL=W,...".

    "balanced" gives w_c = n / (C · n_c) over the training targets (n_c its count),
    as scikit-learn does; a class absent from training gets weight 1.
    """
    if spec is None:
        return None
    num = len(labels)
    if spec == "balanced":
        if isinstance(targets, Ragged):  # tag targets of an EncodedDataset
            flat = targets.values
        elif isinstance(targets, np.ndarray):  # classify targets of an EncodedDataset
            flat = targets
        else:
            flat = [t for row in targets for t in (row if isinstance(row, list) else [row])]
        flat = np.asarray(flat, dtype=np.int64).reshape(-1)  # (M,)
        counts = np.bincount(flat[flat != IGNORE_INDEX], minlength=num).tolist()  # (C,)
        total = sum(counts)
        return [total / (num * counts[c]) if counts[c] else 1.0 for c in range(num)]
    weights = [1.0] * num
    for item in spec.split(","):
        label, sep, value = item.strip().rpartition("=")
        if not sep or label not in labels:
            raise OptionError(
                "{0} must be 'balanced' or LABEL=WEIGHT pairs with labels from the "
                f"training data; got {quoted(item.strip())}",
                "class_weights",
            )
        try:
            weight = float(value)
        except ValueError:
            raise OptionError(f"{{0}}: {quoted(value)} is not a number", "class_weights") from None
        if not weight >= 0:
            raise OptionError(f"{{0}}: weights must be >= 0, got {weight}", "class_weights")
        weights[labels.encode([label])[0]] = weight
    return weights
