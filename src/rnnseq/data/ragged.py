"""Rows of integers of different lengths, stored flat: one values array plus offsets.

A list of lists costs a Python list per row and 8 bytes per item (more for ids
above 256, each its own int object when not shared); a :class:`Ragged` costs 1 to
8 bytes per item and 4 or 8 per row, and its arrays can be memory-mapped::

    row i = values[offsets[i] : offsets[i + 1]]      offsets (n + 1,), offsets[0] = 0

Values take the smallest integer type that holds them (unsigned when none is
negative); offsets the smallest unsigned type that holds their last value.
Indexing a row gives a list of ints, so code written for lists of lists keeps
working; fast paths (:func:`rnnseq.data.batching.collate`) use the arrays.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from itertools import chain

import numpy as np

__all__ = ["Ragged", "compact", "dtype_for"]


def dtype_for(low: int, high: int) -> np.dtype:
    """The smallest integer type holding [low, high]: unsigned when low >= 0."""
    kinds = ("u1", "u2", "u4", "u8") if low >= 0 else ("i1", "i2", "i4", "i8")
    for kind in kinds:
        info = np.iinfo(kind)
        if info.min <= low and high <= info.max:
            return np.dtype(kind)
    raise ValueError(f"values in [{low}, {high}] fit no 64-bit integer type")


def compact(values: np.ndarray) -> np.ndarray:
    """``values`` in the smallest integer type that holds them all (:func:`dtype_for`;
    a copy unless they already have it)."""
    values = np.asarray(values)
    if values.dtype.kind not in "iu":
        raise ValueError(f"values must be integers, got {values.dtype}")
    if values.size == 0:
        return values.astype(np.uint8)
    return values.astype(dtype_for(int(values.min()), int(values.max())), copy=False)


class Ragged(Sequence[list[int]]):
    """Integer rows of different lengths as ``values`` + ``offsets``.

    Args:
        values: (M,) every row's items, one row after another.
        offsets: (n + 1,) where each row starts, then M; non-decreasing from 0.

    Example::

        >>> r = Ragged.from_rows([[5, 6, 7], [], [8]])
        >>> len(r), r[0], r.lengths.tolist(), r.values.dtype.name
        (3, [5, 6, 7], [3, 0, 1], 'uint8')
    """

    __slots__ = ("values", "offsets")

    def __init__(self, values: np.ndarray, offsets: np.ndarray, *, check: bool = True) -> None:
        """``check=False`` skips the pass over every offset (arrays mapped from disk that
        this library wrote: the pass would read them all); their ends are still checked."""
        values, offsets = np.asanyarray(values), np.asanyarray(offsets)
        if values.ndim != 1 or offsets.ndim != 1 or len(offsets) < 1:
            raise ValueError("values and offsets must be one-dimensional, offsets non-empty")
        if values.dtype.kind not in "iu" or offsets.dtype.kind not in "iu":
            raise ValueError("values and offsets must be integers")
        rising = not check or not np.any(offsets[1:] < offsets[:-1])
        if offsets[0] != 0 or offsets[-1] != len(values) or not rising:
            raise ValueError(
                f"offsets must rise from 0 to len(values) = {len(values)}, "
                f"got {int(offsets[0])} .. {int(offsets[-1])}"
            )
        self.values, self.offsets = values, offsets

    @classmethod
    def from_rows(cls, rows: Iterable[Sequence[int]]) -> Ragged:
        """From rows of ints (lists, tuples, arrays)."""
        rows = rows if isinstance(rows, Sequence) else list(rows)
        lengths = np.fromiter(map(len, rows), np.int64, len(rows))  # (n,)
        return cls.from_lengths(
            np.fromiter(chain.from_iterable(rows), np.int64, int(lengths.sum())), lengths
        )

    @classmethod
    def from_lengths(cls, values: np.ndarray, lengths: np.ndarray) -> Ragged:
        """From the flat values and each row's length; both are stored compactly."""
        lengths = np.asarray(lengths)
        dtype = dtype_for(0, int(lengths.sum()))
        offsets = np.zeros(len(lengths) + 1, dtype=dtype)  # (n + 1,)
        np.cumsum(lengths, dtype=dtype, out=offsets[1:])
        return cls(compact(values), offsets)

    @classmethod
    def concat(cls, parts: Sequence[Ragged]) -> Ragged:
        """The rows of ``parts``, one part after another (the offsets are joined in
        place: no length per item is materialised)."""
        if not parts:
            return cls.from_rows([])
        n_values = sum(len(p.values) for p in parts)
        offsets = np.zeros(sum(len(p) for p in parts) + 1, dtype=dtype_for(0, n_values))
        row = filled = 0
        for p in parts:
            ends = offsets[row + 1 : row + len(p) + 1]  # (rows of p,)
            ends[:] = p.offsets[1:]
            ends += filled
            row, filled = row + len(p), filled + len(p.values)
        return cls(compact(np.concatenate([p.values for p in parts])), offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> list[int]:  # type: ignore[override]
        if not isinstance(i, (int, np.integer)):
            raise TypeError(f"rows are indexed by one integer, got {type(i).__name__}")
        n = len(self)
        i = int(i) + n if i < 0 else int(i)
        if not 0 <= i < n:
            raise IndexError(f"row {i} of {n}")
        return self.values[int(self.offsets[i]) : int(self.offsets[i + 1])].tolist()

    @property
    def lengths(self) -> np.ndarray:
        """(n,) int64: the length of each row."""
        return np.diff(self.offsets.astype(np.int64))

    @property
    def nbytes(self) -> int:
        """Bytes held by the two arrays."""
        return self.values.nbytes + self.offsets.nbytes

    def tolist(self) -> list[list[int]]:
        """The rows as lists."""
        return [self[i] for i in range(len(self))]

    def __eq__(self, other: object) -> bool:
        """Equal to another Ragged, or to the lists of lists it stands for."""
        if isinstance(other, Ragged):
            return np.array_equal(self.offsets, other.offsets) and np.array_equal(
                self.values, other.values
            )
        if not isinstance(other, Sequence) or isinstance(other, (str, bytes)):
            return NotImplemented
        try:
            return self.tolist() == [list(row) for row in other]
        except TypeError:  # rows that are not sequences
            return False

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Ragged({len(self)} rows, {len(self.values)} values of {self.values.dtype})"
