"""A language model's vocabulary, counted in one streaming pass over its text.

The in-memory path reads the whole unit stream and calls
``Vocab.build([units], min_freq=m, specials=(PAD, UNK))``
(:func:`rnnseq.preprocess.build_vocabularies`). Here the same counts are taken
piece by piece (:func:`rnnseq.data.unit_stream.stream_units`) and handed to
:meth:`Vocab.from_counts`, so the two vocabularies are equal entry for entry and
id for id: ranked by count, ties broken by first appearance in the text.

Characters are counted with NumPy: each piece's code points are histogrammed
(``np.bincount``) into one table of all 0x110000 code points, and a code point
seen for the first time is placed by its first position in the piece. Words are
counted with a ``Counter``, whose insertion order is their first appearance.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from rnnseq.data.textfile import CHUNK_BYTES
from rnnseq.data.unit_stream import codepoints, stream_units
from rnnseq.data.vocab import PAD, UNK, Vocab

__all__ = ["UnitCounts", "count_units", "count_ids", "lm_vocab"]

N_CODEPOINTS = 0x110000


@dataclass
class UnitCounts:
    """What a counting pass found.

    counts: each unit's count, in order of first appearance.
    n_units: the units counted (all of the file's, or the first ``limit``).
    """

    counts: dict[str, int]
    n_units: int


def count_units(
    path: str | os.PathLike[str],
    unit: str,
    *,
    limit: int | None = None,
    chunk_bytes: int = CHUNK_BYTES,
    on_bytes: Callable[[bytes], object] | None = None,
) -> UnitCounts:
    """Count the units of ``path`` (the stream of ``read_units(path, unit=unit)``).

    Args:
        unit: "char" or "word".
        limit: count only the first ``limit`` units and stop reading there
            (a vocabulary built from the training part of a held-out split);
            None: the whole file.
        chunk_bytes, on_bytes: as in :func:`rnnseq.data.textfile.stream_text`.

    Raises:
        DataError: invalid UTF-8, or a file without units (as :func:`read_units`).
    """
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0 or None, got {limit}")
    counter = _CharCounter() if unit == "char" else _WordCounter()
    left = limit
    pieces = stream_units(path, unit, chunk_bytes=chunk_bytes, on_bytes=on_bytes)
    try:
        for piece in pieces:
            if left is not None:
                if left == 0:
                    break
                piece = piece[:left]
                left -= len(piece)
            counter.add(piece)
    finally:
        pieces.close()  # stopped early: close the file now
    return UnitCounts(counter.ordered(), counter.n_units)


def count_ids(
    chunks: Iterable[np.ndarray], units: list[str], *, limit: int | None = None
) -> UnitCounts:
    """The counts of units already numbered by first appearance
    (:func:`rnnseq.data.unit_ids.first_appearance_ids`): ``units[k]`` is unit id k.

    Args:
        chunks: the ids, in order, a chunk at a time (e.g. :func:`rnnseq.data.id_file.read_chunks`).
        limit: count the first ``limit`` ids only (None: all).
    """
    found = np.zeros(len(units), dtype=np.int64)  # (V,)
    n = 0
    for ids in chunks:
        if limit is not None:
            ids = ids[: limit - n]
        found += np.bincount(ids, minlength=len(units))
        n += len(ids)
        if n == limit:
            break
    # Ids number units by first appearance, so this order is theirs in the first n ids too.
    counts = {u: int(c) for u, c in zip(units, found.tolist(), strict=True) if c}
    return UnitCounts(counts, n)


def lm_vocab(counts: UnitCounts, *, min_freq: int = 1) -> Vocab:
    """The language-model vocabulary of :func:`rnnseq.preprocess.build_vocabularies`:
    ``<pad>`` = 0, ``<unk>`` = 1 (also the output of a unit never seen), then the
    units seen at least ``min_freq`` times."""
    return Vocab.from_counts(counts.counts, min_freq=min_freq, specials=(PAD, UNK))


class _CharCounter:
    def __init__(self) -> None:
        self.table = np.zeros(N_CODEPOINTS, dtype=np.int64)  # count per code point
        self.order: list[int] = []  # code points, in order of first appearance
        self.n_units = 0

    def add(self, piece: str) -> None:
        cp = codepoints(piece)  # (n,)
        found = np.bincount(cp)  # (max + 1,)
        seen = self.table[: len(found)]
        new = np.flatnonzero((found > 0) & (seen == 0))
        if len(new) > 16:  # many first appearances (the first pieces): one sort
            values, first = np.unique(cp, return_index=True)
            is_new = np.isin(values, new)
            new = values[is_new][np.argsort(first[is_new])]
        elif len(new) > 1:
            new = sorted(new, key=lambda c: int(np.argmax(cp == c)))
        self.order.extend(int(c) for c in new)
        seen += found
        self.n_units += len(cp)

    def ordered(self) -> dict[str, int]:
        return {chr(c): int(self.table[c]) for c in self.order}


class _WordCounter:
    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.n_units = 0

    def add(self, words: list[str]) -> None:
        self.counts.update(words)
        self.n_units += len(words)

    def ordered(self) -> dict[str, int]:
        return dict(self.counts)
