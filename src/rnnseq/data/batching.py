"""Padded mini-batches: what the model and the loss receive.

A :class:`Batch` is built by :func:`collate` from an :class:`EncodedDataset`
and a list of example indices (from :func:`rnnseq.data.buckets.bucket_batches`),
or by :func:`rnnseq.data.lm_stream.lm_stream_batches` for a language model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch

from rnnseq.data.encoded import EncodedDataset

__all__ = ["Batch", "collate", "IGNORE_INDEX", "PAD_ID"]

PAD_ID = 0  # token and character padding
IGNORE_INDEX = -100  # target padding; the losses' default ignore_index


@dataclass
class Batch:
    """One mini-batch of N sequences padded to T steps.

    Fields:
        tokens: (N, T) int64 token ids, padded with 0.
        lengths: (N,) int64 real steps per row, always on the CPU
            (``pack_padded_sequence`` wants it there); 0 is possible for a
            language-model row that has run out.
        targets: (N,) int64 label ids (classify), or (N, T) int64 tag / next
            unit ids (tag, lm) padded with -100; None for unlabelled input.
        chars: (N, T, W) int64 character ids of each word, padded with 0, or None.
        indices: the dataset position of each row, so that predictions can be
            put back in order (language model: the stream row numbers).
    """

    tokens: torch.Tensor
    lengths: torch.Tensor
    targets: torch.Tensor | None
    chars: torch.Tensor | None
    indices: list[int]

    @property
    def n_examples(self) -> int:
        """N, the rows of the batch."""
        return self.tokens.shape[0]

    @property
    def n_tokens(self) -> int:
        """Real (unpadded) steps in the batch: the sum of ``lengths``."""
        return int(self.lengths.sum())

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        """A copy with tokens, targets and chars on ``device``; lengths stay on the CPU."""

        def move(t: torch.Tensor | None) -> torch.Tensor | None:
            return None if t is None else t.to(device, non_blocking=non_blocking)

        return replace(
            self, tokens=move(self.tokens), targets=move(self.targets), chars=move(self.chars)
        )


def collate(dataset: EncodedDataset, indices: Sequence[int]) -> Batch:
    """Pad the examples at ``indices`` into one :class:`Batch`, rows in the given order.

    Read straight from the dataset's flat arrays: with ``real`` the (N, T) mask
    of real steps and ``flat`` the dataset positions of those steps (row-major),
    ``tokens[real] = values[flat]``; each real step's characters are cut the same
    way into an (M, W) grid, which fills ``chars[real]``. A set mapped from disk
    (``EncodedDataset.load``) has the chosen rows read with ``pread`` first
    (:mod:`rnnseq.data.encoded_rows`): the same batch, and no mapped page left resident.

    Shape:
        tokens (N, T) with T the longest example; targets (N,) or (N, T);
        chars (N, T, W) with W the longest (already truncated) word (1 if none).
    """
    indices = [int(i) for i in indices]
    if not indices:
        raise ValueError("indices must name at least one example")
    if min(indices) < 0 or max(indices) >= len(dataset):
        raise ValueError(
            f"indices must be in [0, {len(dataset)}), got {min(indices)}..{max(indices)}"
        )
    if getattr(dataset, "file_rows", None) is not None:  # on disk: read these rows, map nothing
        batch = collate(dataset.file_rows.take(indices), range(len(indices)))
        return replace(batch, indices=indices)
    rows = np.asarray(indices, dtype=np.int64)  # (N,)
    real, flat = _steps(dataset.tokens.offsets, rows)  # (N, T), (M,)
    N, T = real.shape
    tokens = np.full((N, T), PAD_ID, dtype=np.int64)  # (N, T)
    tokens[real] = dataset.tokens.values[flat]

    targets = None
    if dataset.targets is not None:
        if not dataset.per_step:
            targets = np.asarray(dataset.targets[rows], dtype=np.int64)  # (N,)
        else:
            targets = np.full((N, T), IGNORE_INDEX, dtype=np.int64)  # (N, T)
            targets[real] = dataset.targets.values[flat]

    chars = None
    if dataset.chars is not None:
        word_real, word_flat = _steps(dataset.chars.words.offsets, flat)  # (M, W), (K,)
        W = max(word_real.shape[1], 1)
        grid = np.full((len(flat), W), PAD_ID, dtype=np.int64)  # (M, W)
        grid[:, : word_real.shape[1]][word_real] = dataset.chars.words.values[word_flat]
        chars = np.full((N, T, W), PAD_ID, dtype=np.int64)  # (N, T, W)
        chars[real] = grid
    return Batch(
        tokens=torch.from_numpy(tokens),
        lengths=torch.from_numpy(real.sum(axis=1, dtype=np.int64)),  # (N,)
        targets=None if targets is None else torch.from_numpy(targets),
        chars=None if chars is None else torch.from_numpy(chars),
        indices=indices,
    )


def _steps(offsets: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For ragged rows with these offsets: the (N, T) mask of each chosen row's real
    steps (T its longest) and the flat positions of those steps, row-major (M,)."""
    starts = offsets[rows].astype(np.int64)  # (N,)
    lengths = offsets[rows + 1].astype(np.int64) - starts  # (N,)
    T = int(lengths.max()) if len(rows) else 0
    steps = np.arange(T)  # (T,)
    real = steps < lengths[:, None]  # (N, T)
    return real, (starts[:, None] + steps)[real]
