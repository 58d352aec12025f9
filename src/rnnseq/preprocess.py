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
from collections.abc import Sequence
from dataclasses import dataclass, replace

from rnnseq.data import (
    IGNORE_INDEX,
    DataError,
    TagExample,
    Vocab,
)
from rnnseq.tag_schemes import convert, detect_scheme

__all__ = [
    "Vocabularies",
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

    def to_dict(self) -> dict:
        return {
            "words": self.words.to_dict(),
            "labels": self.labels.to_dict(),
            "chars": None if self.chars is None else self.chars.to_dict(),
        }

    @classmethod
    def from_dict(cls, d: object) -> Vocabularies:
        if not isinstance(d, dict) or not {"words", "labels", "chars"} <= set(d):
            raise ValueError("vocabularies must be a JSON object with words, labels and chars")
        chars = None if d["chars"] is None else Vocab.from_dict(d["chars"])
        return cls(Vocab.from_dict(d["words"]), Vocab.from_dict(d["labels"]), chars)


def limit_lengths(examples: list, max_length: int | None, on_long: str, path: str) -> list:
    """Truncate (warning once) or reject (DataError) examples longer than ``max_length``."""
    if max_length is None:
        return examples
    out, cut = [], 0
    for e in examples:
        if len(e.tokens) <= max_length:
            out.append(e)
            continue
        if on_long == "error":
            raise DataError(
                path,
                e.line,
                f"sequence of {len(e.tokens)} tokens is longer than --max-length {max_length}",
            )
        cut += 1
        if isinstance(e, TagExample):
            out.append(replace(e, tokens=e.tokens[:max_length], tags=e.tags[:max_length]))
        else:
            out.append(replace(e, tokens=e.tokens[:max_length]))
    if cut:
        warnings.warn(
            f"{path}: {cut} sequence(s) longer than --max-length {max_length} were truncated",
            stacklevel=2,
        )
    return out


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
        source = detect_scheme(e.tags for e in train)
        if source is None or tag_scheme == "keep":
            return cls(source, source)
        return cls(source, tag_scheme.upper())

    def to_learned(self, examples: Sequence[TagExample]) -> list[TagExample]:
        """Examples with their tags rewritten into the learned scheme."""
        if self.source is None or self.source == self.learned:
            return list(examples)
        scheme = detect_scheme(e.tags for e in examples) or self.source
        return [replace(e, tags=convert(e.tags, scheme, self.learned)) for e in examples]

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
        flat = [t for row in targets for t in (row if isinstance(row, list) else [row])]
        counts = Counter(t for t in flat if t != IGNORE_INDEX)
        total = sum(counts.values())
        return [total / (num * counts[c]) if counts[c] else 1.0 for c in range(num)]
    weights = [1.0] * num
    for item in spec.split(","):
        label, sep, value = item.strip().rpartition("=")
        if not sep or label not in labels:
            raise ValueError(
                f"--class-weights must be 'balanced' or LABEL=WEIGHT pairs with labels from the "
                f"training data; got {item.strip()!r}"
            )
        try:
            weight = float(value)
        except ValueError:
            raise ValueError(f"--class-weights: {value!r} is not a number") from None
        if not weight >= 0:
            raise ValueError(f"--class-weights: weights must be >= 0, got {weight}")
        weights[labels.encode([label])[0]] = weight
    return weights
