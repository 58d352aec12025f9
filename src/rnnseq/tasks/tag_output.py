"""A tagger's predictions as users read them: tags in the file's scheme, entities with
character offsets and scores, written as TSV or JSON Lines.

The tagger hands over each input's predictions in blocks (a long input comes in
many, one per window; see :mod:`rnnseq.windows`), in the scheme the model learned.
A :class:`TagBlock` holds a block column by column (tokens, tags, probabilities,
top-k), so a block of part-of-speech tags passes through without a Python object
per token. :class:`TagOutput` rewrites the tags into the training file's scheme and
finds the entities (:class:`Entity`):

- a token's ``probability`` is the model's probability of the tag it predicted, in
  the scheme it learned (a CRF's: the marginal p(y_t | x)); the tag shown may be
  written in the file's scheme (IOB2 ``B-PER`` for a learned ``S-PER``), and
  ``top`` lists the K most probable learned tags;
- an entity's ``score`` is the product of its tokens' probabilities: for a softmax
  tagger, whose tags are independent given the text, the probability of exactly
  this span's tags; for a CRF an approximation that ignores the tags' correlation.
  Its ``start``/``end`` are character offsets into the input text, so
  ``text[start:end]`` is the entity's text.

Rewriting span tags between schemes depends only on each tag's neighbours, so a
block's tags are rewritten with the last tag of the previous block before them and
the first of the next one after (the last token of a block waits for the next).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import NamedTuple

from rnnseq.tag_schemes import convert

__all__ = ["TagBlock", "Entity", "TagOutput", "format_tsv", "JsonWriter", "rounded"]


@dataclass(frozen=True, slots=True)
class TagBlock:
    """Consecutive tokens of one input and their predictions, column by column."""

    tokens: list  # (text, start, end) per token, offsets into the input text
    tags: list[str]  # one per token
    probabilities: list[float] | None  # of each learned tag (None: not computed)
    top: list[list[tuple[str, float]]] | None  # the K most probable learned tags

    def __len__(self) -> int:
        return len(self.tags)

    def cut(self, start: int, end: int | None = None) -> TagBlock:
        """The tokens [start:end] of the block."""
        part = slice(start, end)
        p, top = self.probabilities, self.top
        return TagBlock(self.tokens[part], self.tags[part], None if p is None else p[part],
                        None if top is None else top[part])  # fmt: skip

    def then(self, other: TagBlock) -> TagBlock:
        """This block followed by ``other``."""
        p = None if self.probabilities is None else self.probabilities + other.probabilities
        top = None if self.top is None else self.top + other.top
        return TagBlock(self.tokens + other.tokens, self.tags + other.tags, p, top)

    def answers(self, probs: bool, top_k: bool) -> list:
        """The Python API's answer per token: the tag; (tag, p); or the top (tag, p)."""
        if top_k:
            return list(self.top)
        if probs:
            return list(zip(self.tags, self.probabilities, strict=True))
        return list(self.tags)


class Entity(NamedTuple):
    text: str
    label: str  # the entity type (PER, LOC, ...)
    start: int  # character offsets into the input text
    end: int
    score: float | None  # product of the tokens' probabilities (None: not computed)

    def to_dict(self) -> dict:
        return {**self._asdict(), "score": rounded(self.score)}


class TagOutput:
    """One input's predictions, block by block, with tags in the file's scheme, and
    its entities.

    Args:
        source: the training file's span scheme (None: tags are not span tags).
        learned: the scheme the model predicts in.
    """

    def __init__(self, source: str | None, learned: str | None):
        self.source, self.learned = source, learned
        self.spans = source is not None and learned is not None
        self._prev: str | None = None  # learned tag of the last token given out
        self._pending: TagBlock | None = None  # the token waiting for its next one
        self.entities: list[Entity] = []
        self._open: list | None = None  # [label, start, end, score] of the open entity

    def add(self, block: TagBlock, text: str) -> TagBlock:
        """``block`` with its tags in the file's scheme (the last token of what has come
        may wait for the next block)."""
        if not self.spans:
            return block
        items = block if self._pending is None else self._pending.then(block)
        if not len(items):
            return items
        self._pending = items.cut(len(items) - 1)
        return self._rewrite(items, len(items) - 1, text)

    def finish(self, text: str) -> TagBlock:
        """The tokens still waiting; closes the last entity."""
        out = TagBlock([], [], [], [])
        if self._pending is not None:
            out = self._rewrite(self._pending, len(self._pending), text)
            self._pending = None
        self._close(text)
        return out

    def _rewrite(self, items: TagBlock, emit: int, text: str) -> TagBlock:
        """The first ``emit`` tokens of ``items``, their tags rewritten with their
        neighbours in ``items`` and the previous token's tag as context."""
        if not emit:
            return items.cut(0, 0)
        before = [self._prev] if self._prev is not None else []
        shown = convert(before + items.tags, self.learned, self.source)[len(before):]
        iob2 = convert(before + items.tags, self.learned, "IOB2")[len(before):]
        p = items.probabilities
        for k in range(emit):
            self._entity(items.tokens[k], iob2[k], None if p is None else p[k], text)
        self._prev = items.tags[emit - 1]
        return replace(items.cut(0, emit), tags=shown[:emit])

    def _entity(self, token: tuple, iob2: str, probability: float | None, text: str) -> None:
        if iob2.startswith("I-") and self._open is not None:
            self._open[2] = token[2]
            if self._open[3] is not None and probability is not None:
                self._open[3] *= probability
            return
        self._close(text)
        if iob2.startswith(("B-", "I-")):
            self._open = [iob2[2:], token[1], token[2], probability]

    def _close(self, text: str) -> None:
        if self._open is not None:
            label, start, end, score = self._open
            self.entities.append(Entity(text[start:end], label, start, end, score))
            self._open = None


# ---------------------------------------------------------------------------- writers


def format_tsv(block: TagBlock) -> str:
    """``token<TAB>tag`` lines (the input's closing blank line is the caller's)."""
    return "".join(f"{t[0]}\t{tag}\n" for t, tag in zip(block.tokens, block.tags, strict=True))


class JsonWriter:
    """One JSON object per input, written as its blocks come::

        {"text": "Obama visited Paris.", "tokens": [{"text": "Obama", "start": 0,
         "end": 5, "tag": "B-PER", "probability": 0.98}, ...],
         "entities": [{"text": "Obama", "label": "PER", "start": 0, "end": 5,
         "score": 0.97}, ...]}

    ``entities`` only for span tags; a token's ``top_k`` only with ``--top-k``.
    """

    def __init__(self, spans: bool):
        self.spans = spans
        self._first = True

    def begin(self, text: str) -> str:
        self._first = True
        return '{"text": ' + json.dumps(text, ensure_ascii=False) + ', "tokens": ['

    def tokens(self, block: TagBlock) -> str:
        if not len(block):
            return ""
        parts = [json.dumps(_token_dict(block, k), ensure_ascii=False)
                 for k in range(len(block))]  # fmt: skip
        lead = "" if self._first else ", "
        self._first = False
        return lead + ", ".join(parts)

    def end(self, entities: list[Entity]) -> str:
        if not self.spans:
            return "]}\n"
        found = ", ".join(json.dumps(e.to_dict(), ensure_ascii=False) for e in entities)
        return '], "entities": [' + found + "]}\n"


def _token_dict(block: TagBlock, k: int) -> dict:
    text, start, end = block.tokens[k]
    d = {"text": text, "start": start, "end": end, "tag": block.tags[k]}
    if block.probabilities is not None:
        d["probability"] = rounded(block.probabilities[k])
    if block.top is not None:
        d["top_k"] = [{"tag": t, "probability": rounded(p)} for t, p in block.top[k]]
    return d


def rounded(p: float | None) -> float | None:
    """A probability to 6 significant digits, as written in JSON Lines output."""
    return None if p is None else float(f"{p:.6g}")
