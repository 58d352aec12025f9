"""Rows of an encoded dataset on disk, read with ``pread``: a batch's examples without a map.

Pages a process reads through a memory map count in its resident set until they are
unmapped, and the kernel maps the cached pages around each one it faults in (64 KiB
by default): batches of random sentences from a mapped set made the whole set
"resident" within a few hundred steps (1M sentences: 430 MB of mapped pages after
100 steps). Reading each chosen row with ``os.pread`` instead costs five calls a row
(token offsets, word ids, tag ids, character offsets, character ids) and keeps
nothing: the resident set is the batch.

For row r of a set saved by :meth:`EncodedDataset.save` or
:class:`~rnnseq.data.encoded_file.EncodedWriter`::

    start, end = token_offsets[r], token_offsets[r + 1]
    word ids   = tokens[start:end]          tag ids = targets[start:end] (per step)
    characters = chars[char_offsets[start] : char_offsets[end]], cut at char_offsets[start:end+1]
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rnnseq.data.ragged import Ragged

__all__ = ["FileRows"]


class FileRows:
    """``take(rows)``: those examples of the dataset saved in ``folder``, read from its files.

    Args:
        folder: the dataset's folder.
        arrays: ``dataset.json``'s {name: {"dtype", "length"}}.
        per_step: the dataset's field.
    """

    def __init__(self, folder: str | os.PathLike[str], arrays: dict, per_step: bool) -> None:
        self.folder, self.per_step = Path(folder), per_step
        self.dtypes = {name: np.dtype(d["dtype"]) for name, d in arrays.items()}
        self._fds: dict[str, int] = {}
        self._pid = os.getpid()

    def take(self, rows: Sequence[int]):
        """An in-memory :class:`EncodedDataset` of the examples ``rows``, in that order."""
        from rnnseq.data.encoded import CharRows, EncodedDataset

        ends = [self._read("token_offsets", r, r + 2) for r in rows]  # each (2,)
        spans = [(int(e[0]), int(e[1])) for e in ends]
        lengths = np.array([b - a for a, b in spans], dtype=np.int64)  # (N,)
        tokens = np.concatenate([self._read("tokens", a, b) for a, b in spans])
        data = EncodedDataset(self.per_step, Ragged.from_lengths(tokens, lengths))
        if "targets" in self.dtypes:
            if self.per_step:
                tags = np.concatenate([self._read("targets", a, b) for a, b in spans])
                data.targets = Ragged.from_lengths(tags.astype(np.int64), lengths)
            else:
                data.targets = np.concatenate([self._read("targets", r, r + 1) for r in rows])
        if "chars" in self.dtypes:
            values, word_lengths = [], []
            for a, b in spans:
                cuts = self._read("char_offsets", a, b + 1).astype(np.int64)  # (words + 1,)
                values.append(self._read("chars", int(cuts[0]), int(cuts[-1])))
                word_lengths.append(np.diff(cuts))
            words = Ragged.from_lengths(np.concatenate(values), np.concatenate(word_lengths))
            data.chars = CharRows(words, data.tokens.offsets)
        return data

    def _read(self, name: str, start: int, stop: int) -> np.ndarray:
        """Items [start, stop) of array ``name``."""
        dtype = self.dtypes[name]
        if stop <= start:
            return np.zeros(0, dtype)
        n = (stop - start) * dtype.itemsize
        data = os.pread(self._fd(name), n, start * dtype.itemsize)
        if len(data) != n:
            raise OSError(f"{self.folder / name}.bin: {len(data)} bytes where {n} were expected")
        return np.frombuffer(data, dtype=dtype)

    def _fd(self, name: str) -> int:
        if self._pid != os.getpid():  # a forked child opens its own
            self._fds, self._pid = {}, os.getpid()
        fd = self._fds.get(name)
        if fd is None:
            fd = self._fds[name] = os.open(self.folder / f"{name}.bin", os.O_RDONLY)
        return fd

    def __del__(self) -> None:
        for fd in getattr(self, "_fds", {}).values():
            try:
                os.close(fd)
            except OSError:
                pass
