"""Batches for a language model: one long stream of units, read in windows.

The stream x_0 ... x_{n-1} has n - 1 prediction targets (x_1 ... x_{n-1}). These
targets are split into ``batch_size`` contiguous rows whose lengths differ by at
most one, and row r reads inputs x[a_r : a_r + L_r] against targets
x[a_r + 1 : a_r + L_r + 1]. Batch k holds window k (``bptt`` steps) of every row::

    row 0:  x0  x1  x2 | x3  x4  x5 | x6          inputs   (targets: one step later)
    row 1:  x7  x8  x9 | x10 x11 x12 |
            batch 0      batch 1      batch 2

so batch k + 1 continues each row where batch k stopped, and a model may carry
its hidden state from one batch to the next (truncated backpropagation through
time). Nothing is dropped: every unit but the first is a target exactly once.
Windows past a row's end are padding, told by ``lengths`` (which may be 0).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rnnseq.data.batching import IGNORE_INDEX, PAD_ID, Batch

__all__ = ["lm_stream_batches"]


def lm_stream_batches(ids: Sequence[int] | torch.Tensor, batch_size: int, bptt: int) -> list[Batch]:
    """Cut the stream ``ids`` into ``batch_size`` rows and windows of ``bptt`` steps.

    Shape:
        each batch: tokens (N, T), targets (N, T) padded with -100, lengths (N,),
        with N = batch_size and T <= bptt (the last window may be shorter).
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if bptt < 1:
        raise ValueError(f"bptt must be >= 1, got {bptt}")
    stream = torch.as_tensor(ids, dtype=torch.long).reshape(-1)  # (n,)
    n_targets = stream.numel() - 1
    if n_targets < 1:
        raise ValueError(f"ids must hold at least 2 units, got {stream.numel()}")

    q, extra = divmod(n_targets, batch_size)
    row_len = torch.tensor([q + (r < extra) for r in range(batch_size)])  # (N,)
    n_windows = -(-int(row_len[0]) // bptt)
    width = n_windows * bptt
    inputs = torch.full((batch_size, width), PAD_ID, dtype=torch.long)  # (N, K·bptt)
    targets = torch.full((batch_size, width), IGNORE_INDEX, dtype=torch.long)  # (N, K·bptt)
    start = 0
    for r in range(batch_size):
        n = int(row_len[r])
        inputs[r, :n] = stream[start : start + n]
        targets[r, :n] = stream[start + 1 : start + n + 1]
        start += n

    batches = []
    for k in range(n_windows):
        lengths = (row_len - k * bptt).clamp(0, bptt)  # (N,)
        T = int(lengths.max())
        window = slice(k * bptt, k * bptt + T)
        batches.append(
            Batch(
                tokens=inputs[:, window].contiguous(),  # (N, T)
                lengths=lengths,
                targets=targets[:, window].contiguous(),  # (N, T)
                chars=None,
                indices=list(range(batch_size)),
            )
        )
    return batches
