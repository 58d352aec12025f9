"""A tagger's predictions as users read them: tags in the file's scheme, entities with
character offsets and scores, written as TSV or JSON Lines.

The tagger hands over each input's predictions in blocks (a long input comes in
many, one per window; see :mod:`rnnseq.windows`), in the scheme the model learned.
:class:`TagOutput` turns them into :class:`TaggedToken` records whose tag is in the
training file's scheme and, for span tags, into :class:`Entity` records:

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
from collections.abc import Sequence
from typing import NamedTuple

from rnnseq.tag_schemes import convert

__all__ = ["TaggedToken", "Entity", "TagOutput", "format_tsv", "JsonWriter", "rounded"]


class TaggedToken(NamedTuple):
    text: str
    start: int  # character offsets into the input text
    end: int
    tag: str  # in the training file's scheme
    probability: float | None  # of the tag the model learned (None: not computed)
    top: list[tuple[str, float]] | None  # the K most probable learned tags


class Entity(NamedTuple):
    text: str
    label: str  # the entity type (PER, LOC, ...)
    start: int  # character offsets into the input text
    end: int
    score: float | None  # product of the tokens' probabilities (None: not computed)

    def to_dict(self) -> dict:
        return {**self._asdict(), "score": rounded(self.score)}


class TagOutput:
    """One input's predictions, block by block, as :class:`TaggedToken` records and
    entities.

    Args:
        source: the training file's span scheme (None: tags are not span tags).
        learned: the scheme the model predicts in.
    """

    def __init__(self, source: str | None, learned: str | None):
        self.source, self.learned = source, learned
        self.spans = source is not None and learned is not None
        self._prev: str | None = None  # learned tag of the last token given out
        self._pending: list[Pending] = []
        self.entities: list[Entity] = []
        self._open: list | None = None  # [label, start, end, score] of the open entity

    def add(self, block: Sequence[Pending], text: str) -> list[TaggedToken]:
        """The records of ``block`` (one record may wait for the next block)."""
        if not self.spans:
            return [_record(p, p[LEARNED]) for p in block]
        items = self._pending + list(block)
        if not items:
            return []
        self._pending = items[-1:]
        return self._rewrite(items[:-1], items, text)

    def finish(self, text: str) -> list[TaggedToken]:
        """The records still waiting; closes the last entity."""
        out = self._rewrite(self._pending, self._pending, text) if self.spans else []
        self._pending = []
        self._close(text)
        return out

    def _rewrite(self, emit: list[Pending], items: list[Pending], text: str
                 ) -> list[TaggedToken]:  # fmt: skip
        """Records for ``emit`` (a prefix of ``items``), rewritten with their neighbours
        in ``items`` and the previous token's tag as context."""
        if not emit:
            return []
        tags = [p[LEARNED] for p in items]
        before = [self._prev] if self._prev is not None else []
        shown = convert(before + tags, self.learned, self.source)[len(before):]
        iob2 = convert(before + tags, self.learned, "IOB2")[len(before):]
        out = []
        for k, p in enumerate(emit):
            out.append(_record(p, shown[k]))
            self._entity(p, iob2[k], text)
        self._prev = emit[-1][LEARNED]
        return out

    def _entity(self, p: Pending, iob2: str, text: str) -> None:
        token, probability = p[TOKEN], p[PROBABILITY]
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


# A token's prediction in the learned scheme, as TagOutput.add takes it: a plain tuple
# (token (text, start, end), learned tag, probability or None, top or None), made
# once per token, so kept cheaper than a NamedTuple.
Pending = tuple
TOKEN, LEARNED, PROBABILITY, TOP = range(4)


def _record(p: Pending, tag: str) -> TaggedToken:
    text, start, end = p[TOKEN]
    return TaggedToken._make((text, start, end, tag, p[PROBABILITY], p[TOP]))


# ---------------------------------------------------------------------------- writers


def format_tsv(records: Sequence[TaggedToken]) -> str:
    """``token<TAB>tag`` lines (the input's closing blank line is the caller's)."""
    return "".join(f"{r.text}\t{r.tag}\n" for r in records)


class JsonWriter:
    """One JSON object per input, written as its blocks come::

        {"text": "Obama visited Paris.", "tokens": [{"text": "Obama", "start": 0,
         "end": 5, "tag": "B-PER", "probability": 0.98}, ...],
         "entities": [{"text": "Obama", "label": "PER", "start": 0, "end": 5,
         "score": 0.97}, ...]}

    ``entities`` only for span tags; a token's ``top`` only with ``--top-k``.
    """

    def __init__(self, spans: bool):
        self.spans = spans
        self._first = True

    def begin(self, text: str) -> str:
        self._first = True
        return '{"text": ' + json.dumps(text, ensure_ascii=False) + ', "tokens": ['

    def tokens(self, records: Sequence[TaggedToken]) -> str:
        if not records:
            return ""
        parts = [json.dumps(_token_dict(r), ensure_ascii=False) for r in records]
        lead = "" if self._first else ", "
        self._first = False
        return lead + ", ".join(parts)

    def end(self, entities: Sequence[Entity]) -> str:
        if not self.spans:
            return "]}\n"
        found = ", ".join(json.dumps(e.to_dict(), ensure_ascii=False) for e in entities)
        return '], "entities": [' + found + "]}\n"


def _token_dict(r: TaggedToken) -> dict:
    d = {"text": r.text, "start": r.start, "end": r.end, "tag": r.tag}
    if r.probability is not None:
        d["probability"] = rounded(r.probability)
    if r.top is not None:
        d["top_k"] = [{"tag": t, "probability": rounded(p)} for t, p in r.top]
    return d


def rounded(p: float | None) -> float | None:
    """A probability to 6 significant digits, as written in JSON Lines output."""
    return None if p is None else float(f"{p:.6g}")

