"""A language model's windows read lazily from an id array (a token file's memory map).

The same batches as :func:`rnnseq.training.sharding.lm_batches` (and, for one
process, :func:`rnnseq.data.lm_stream.lm_stream_batches`), tensor for tensor,
without building them up front: those functions copy the whole stream into
(rows, windows · bptt) tensors; here window k of this process's rows is cut
from the ids when it is asked for (one contiguous slice per row), so memory is
one batch, whatever the length of the corpus, and the ids may be read from a
token file shared by all processes.

The layout (see :mod:`rnnseq.data.lm_stream`): the n - 1 targets of the stream
x_0 … x_{n-1} are split into R = batch_size · world_size rows whose lengths
differ by at most one, L_r = q + [r < e] with (q, e) = divmod(n - 1, R), row r
starting at a_r = r·q + min(r, e). Batch k of process p holds rows
r ∈ [p·batch_size, (p+1)·batch_size) of window k:

    tokens[r, t]  = x[a_r + k·bptt + t]        for t < ℓ_r, else 0
    targets[r, t] = x[a_r + k·bptt + t + 1]    for t < ℓ_r, else -100
    ℓ_r = clamp(L_r - k·bptt, 0, bptt)          (lengths; T = ℓ_0, the global longest)

for k = 0 … ⌈L_0 / bptt⌉ - 1. A process whose rows have all run out in the last
window still gets that window (lengths 0), as every process must take a step.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch

from rnnseq.data.batching import IGNORE_INDEX, PAD_ID, Batch

__all__ = ["LMWindows"]


class LMWindows(Sequence[Batch]):
    """This process's rows of every window of the unit stream ``ids``, made on demand.

    Args:
        ids: (n,) unit ids of any integer dtype: anything with ``len`` and contiguous
            slices, e.g. an array, or a token file's
            :meth:`~rnnseq.data.token_file.TokenFile.reader` (which, unlike its
            memory map, keeps no page it read in the process's resident memory).
        batch_size: rows per process.
        bptt: steps per window.
        rank, world_size: this process and how many train together.

    Example::

        >>> windows = LMWindows(np.arange(23), batch_size=2, bptt=4)
        >>> len(windows), windows[0].tokens.tolist()
        (3, [[0, 1, 2, 3], [11, 12, 13, 14]])

    Shape:
        each batch: tokens and targets (batch_size, T) int64 with T <= bptt,
        lengths (batch_size,) int64.
    """

    def __init__(
        self, ids: np.ndarray, batch_size: int, bptt: int, *, rank: int = 0, world_size: int = 1
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if bptt < 1:
            raise ValueError(f"bptt must be >= 1, got {bptt}")
        if world_size < 1:
            raise ValueError(f"world_size must be >= 1, got {world_size}")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
        if isinstance(ids, np.ndarray) and ids.ndim != 1:
            raise ValueError(f"ids must be one-dimensional, got shape {ids.shape}")
        if len(ids) < 2:
            raise ValueError(f"ids must hold at least 2 units, got {len(ids)}")
        self.ids, self.bptt = ids, bptt
        rows = batch_size * world_size
        q, extra = divmod(len(ids) - 1, rows)
        r = np.arange(rows)
        lengths = q + (r < extra)  # (R,) L_r
        starts = r * q + np.minimum(r, extra)  # (R,) a_r
        lo, hi = rank * batch_size, (rank + 1) * batch_size
        self.longest = int(lengths[0])
        self.lengths, self.starts = lengths[lo:hi], starts[lo:hi]  # (batch_size,)
        self.rows = list(range(lo, hi))

    def __len__(self) -> int:
        return -(-self.longest // self.bptt)

    def __getitem__(self, k: int) -> Batch:  # type: ignore[override]
        k = int(k)
        if k < 0:
            k += len(self)
        if not 0 <= k < len(self):
            raise IndexError(f"window {k} of {len(self)}")
        offset = k * self.bptt
        T = min(self.bptt, self.longest - offset)
        lengths = np.clip(self.lengths - offset, 0, self.bptt)  # (N,)
        values = np.zeros((len(lengths), T + 1), dtype=np.int64)  # (N, T + 1)
        for row, (start, n) in enumerate(zip(self.starts.tolist(), lengths.tolist(), strict=True)):
            if n:  # inputs x[s : s + n] and targets x[s + 1 : s + n + 1], s = a_r + k·bptt
                values[row, : n + 1] = self.ids[start + offset : start + offset + n + 1]
        padding = np.arange(T) >= lengths[:, None]  # (N, T)
        tokens = values[:, :T].copy()  # (N, T)
        targets = values[:, 1:].copy()  # (N, T)
        tokens[padding] = PAD_ID
        targets[padding] = IGNORE_INDEX
        return Batch(
            tokens=torch.from_numpy(tokens),
            lengths=torch.from_numpy(lengths.astype(np.int64)),
            targets=torch.from_numpy(targets),
            chars=None,
            indices=list(self.rows),
        )

    def __iter__(self) -> Iterator[Batch]:
        return (self[k] for k in range(len(self)))
