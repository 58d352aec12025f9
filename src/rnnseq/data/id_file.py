"""Reading a raw id array file by position or in chunks, without memory-mapping it.

A memory map is the simplest way to read a token file, but every page it
touches stays in the process's resident set (RssFile) until unmapped: a
training epoch over a 2 GB map ends with 2 GB "resident", and so does every
torchrun process, although the pages are the kernel's shared page cache. (nanoGPT
re-creates its ``np.memmap`` every batch for this reason.) These readers use
``os.pread`` / ``readinto`` instead, so a process holds only what it asked
for; the page cache still serves repeated reads from memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = ["IdReader", "read_chunks"]


class IdReader:
    """Ids ``[start, stop)`` of a raw little-endian array file, read on demand.

    ``reader[a:b]`` is an ndarray of ``dtype`` (contiguous slices only);
    ``len(reader)`` the number of ids. Enough of an array for
    :class:`rnnseq.data.lm_windows.LMWindows`.

    Args:
        path: the array file (no header).
        dtype: its element type, e.g. ``np.dtype("<u2")``.
        start, stop: the part of the file's ids to expose (None: to the end).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        dtype: np.dtype,
        *,
        start: int = 0,
        stop: int | None = None,
    ) -> None:
        self.path, self.dtype = Path(path), np.dtype(dtype)
        total = os.stat(self.path).st_size // self.dtype.itemsize
        stop = total if stop is None else stop
        if not 0 <= start <= stop <= total:
            raise ValueError(f"start and stop must satisfy 0 <= {start} <= {stop} <= {total}")
        self.start, self.stop = start, stop
        self._file = open(self.path, "rb")  # closed by close(), or when collected

    def __len__(self) -> int:
        return self.stop - self.start

    def __getitem__(self, key: slice) -> np.ndarray:
        if not isinstance(key, slice):
            raise TypeError(f"an IdReader is read by contiguous slices, got {type(key).__name__}")
        a, b, step = key.indices(len(self))
        if step != 1:
            raise TypeError("an IdReader is read by contiguous slices (step 1)")
        n = max(b - a, 0)
        size = self.dtype.itemsize
        data = _pread(self._file, n * size, (self.start + a) * size)
        return np.frombuffer(data, dtype=self.dtype, count=n)

    def close(self) -> None:
        self._file.close()

    def __del__(self) -> None:
        file = getattr(self, "_file", None)
        if file is not None:
            file.close()

    def __repr__(self) -> str:
        return f"IdReader({self.path.name}, ids {self.start}..{self.stop} of {self.dtype})"


def read_chunks(
    path: str | os.PathLike[str], dtype: np.dtype, *, chunk: int = 1 << 22
) -> Iterator[np.ndarray]:
    """The ids of a raw array file, ``chunk`` at a time, read sequentially."""
    dtype = np.dtype(dtype)
    with open(path, "rb") as f:
        while data := f.read(chunk * dtype.itemsize):
            yield np.frombuffer(data, dtype=dtype)


def _pread(file, n: int, offset: int) -> bytes:
    if hasattr(os, "pread"):
        data = os.pread(file.fileno(), n, offset)
    else:  # no pread (Windows): one reader per process, so seek + read is safe
        file.seek(offset)
        data = file.read(n)
    if len(data) != n:
        raise OSError(
            f"{file.name}: the id file is shorter than expected (read {len(data)} of {n})"
        )
    return data
