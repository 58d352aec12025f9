"""Padded mini-batches: what the model and the loss receive.

A :class:`Batch` is built by :func:`collate` from an :class:`EncodedDataset`
and a list of example indices (from :func:`rnnseq.data.buckets.bucket_batches`),
or by :func:`rnnseq.data.lm_stream.lm_stream_batches` for a language model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

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


def _tensor(nested: list, *shape: int) -> torch.Tensor:
    """An int64 tensor of ``shape`` from nested lists (also when a dimension is 0)."""
    return torch.tensor(nested, dtype=torch.long).reshape(shape)


def collate(dataset: EncodedDataset, indices: Sequence[int]) -> Batch:
    """Pad the examples at ``indices`` into one :class:`Batch`, rows in the given order.

    Shape:
        tokens (N, T) with T the longest example; targets (N,) or (N, T);
        chars (N, T, W) with W the longest (already truncated) word.
    """
    indices = [int(i) for i in indices]
    if not indices:
        raise ValueError("indices must name at least one example")
    if min(indices) < 0 or max(indices) >= len(dataset):
        raise ValueError(
            f"indices must be in [0, {len(dataset)}), got {min(indices)}..{max(indices)}"
        )
    rows = [dataset.tokens[i] for i in indices]
    lengths = [len(r) for r in rows]
    T = max(lengths)
    N = len(rows)
    tokens = _tensor([r + [PAD_ID] * (T - len(r)) for r in rows], N, T)  # (N, T)

    targets = None
    if dataset.targets is not None:
        if not dataset.per_step:
            targets = torch.tensor([dataset.targets[i] for i in indices], dtype=torch.long)  # (N,)
        else:
            targets = _tensor(
                [
                    dataset.targets[i] + [IGNORE_INDEX] * (T - n)
                    for i, n in zip(indices, lengths, strict=True)
                ],
                N,
                T,
            )  # (N, T)

    chars = None
    if dataset.chars is not None:
        words = [dataset.chars[i] for i in indices]
        W = max((len(w) for sentence in words for w in sentence), default=1) or 1
        empty = [PAD_ID] * W
        chars = _tensor(
            [
                [w + [PAD_ID] * (W - len(w)) for w in sentence] + [empty] * (T - len(sentence))
                for sentence in words
            ],
            N,
            T,
            W,
        )  # (N, T, W)
    return Batch(
        tokens=tokens,
        lengths=torch.tensor(lengths, dtype=torch.long),  # (N,)
        targets=targets,
        chars=chars,
        indices=indices,
    )
