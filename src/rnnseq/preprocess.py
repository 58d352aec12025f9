"""From read examples to model inputs: vocabularies, tag schemes, lengths, ids.

The step between the readers (:mod:`rnnseq.data`) and the batches:

    examples --(build_vocabularies)--> Vocabularies
    examples + Vocabularies --(encode_examples)--> EncodedDataset --> batches

Training and prediction share these functions, so a saved model reads new input
exactly as it read its training data.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from rnnseq.data import (
    IGNORE_INDEX,
    MAX_WORD_LEN,
    ClassifyExample,
    DataError,
    EncodedDataset,
    TagExample,
    Vocab,
)
from rnnseq.data.ragged import Ragged
from rnnseq.data.vocab import PAD, UNK
from rnnseq.tag_schemes import convert, detect_scheme

__all__ = [
    "Vocabularies",
    "build_vocabularies",
    "encode_examples",
    "encode_texts",
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


def build_vocabularies(
    train: Sequence[ClassifyExample] | Sequence[TagExample] | Sequence[str],
    task: str,
    *,
    min_freq: int,
    lowercase: bool,
    char_features: bool,
) -> Vocabularies:
    """Vocabularies from the training data alone (labels of dev are never added)."""
    if task == "lm":
        units = Vocab.build([train], min_freq=min_freq, specials=(PAD, UNK))
        return Vocabularies(words=units, labels=units)
    words = Vocab.build((e.tokens for e in train), min_freq=min_freq, lowercase=lowercase)
    if task == "classify":
        labels = Vocab.build([[e.label for e in train]], specials=())
    else:
        labels = Vocab.build((e.tags for e in train), specials=())
    chars = None
    if char_features:
        chars = Vocab.build(w for e in train for w in e.tokens)
    return Vocabularies(words=words, labels=labels, chars=chars)


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


def encode_texts(
    sentences: Sequence[Sequence[str]], vocabs: Vocabularies, task: str
) -> EncodedDataset:
    """Unlabelled token lists -> ids (``targets`` is None)."""
    return EncodedDataset.from_tokens(
        sentences, vocabs.words, task=task, char_vocab=vocabs.chars, max_word_len=MAX_WORD_LEN
    )


def encode_examples(
    examples: Sequence[ClassifyExample] | Sequence[TagExample],
    vocabs: Vocabularies,
    task: str,
    *,
    path: str,
) -> EncodedDataset:
    """Labelled examples -> ids with targets.

    A class never seen in training is a DataError naming the file and line
    (classification cannot score it). A tag never seen in training is counted
    as a step the model gets wrong: its target is ignored by the loss, the
    accuracy still counts it, and one warning says so.
    """
    encoded = encode_texts([e.tokens for e in examples], vocabs, task)
    known = vocabs.labels
    if task == "classify":
        targets = []
        for e in examples:
            if e.label not in known:
                raise DataError(
                    path,
                    e.line,
                    f"label {e.label!r} never occurs in the training data "
                    f"(known: {', '.join(known.tokens[:20])})",
                )
            targets.append(known.encode([e.label])[0])
        encoded.targets = targets
        return encoded
    unseen: Counter[str] = Counter()
    ids = []  # every tag of every example, flat (no list per example)
    for e in examples:
        for tag in e.tags:
            if tag in known:
                ids.append(known.encode([tag])[0])
            else:
                unseen[tag] += 1
                ids.append(IGNORE_INDEX)
    if unseen:
        names = ", ".join(f"{t} ({n})" for t, n in unseen.most_common(5))
        warnings.warn(
            f"{path}: {sum(unseen.values())} token(s) carry tags never seen in training "
            f"({names}); they are counted as errors",
            stacklevel=2,
        )
    lengths = np.fromiter((len(e.tags) for e in examples), np.int64, len(examples))
    encoded.targets = Ragged.from_lengths(np.asarray(ids, dtype=np.int64), lengths)
    return encoded


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
