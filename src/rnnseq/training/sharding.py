"""Which batches each process trains on, epoch by epoch.

classify / tag: the epoch's length-bucketed batches come from (seed, epoch)
alone (:func:`rnnseq.data.bucket_batches`), so every process computes the same
list; process r takes batches r, r + W, r + 2W, ... (:func:`rnnseq.data.shard_batches`).
The last ``len % W`` batches are left out so all processes take the same number
of steps — which ones changes every epoch, as the order is reshuffled. A step of
W processes thus trains on W batches: ``--batch-size`` is per process.

lm: the text stream is cut into ``batch_size · W`` rows read in windows of
``bptt`` steps (:func:`rnnseq.data.lm_stream_batches`), and process r takes rows
[r · batch_size, (r + 1) · batch_size) of every window, carrying its rows'
hidden state from window to window — the union of the processes is one process
with ``batch_size · W`` rows. The windows are the same every epoch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from rnnseq.data import Batch, bucket_batches, lm_stream_batches, shard_batches
from rnnseq.options import OptionError

__all__ = ["epoch_batches", "lm_batches"]


def epoch_batches(
    lengths: Sequence[int],
    batch_size: int,
    *,
    seed: int,
    epoch: int,
    rank: int = 0,
    world_size: int = 1,
    pool_batches: int = 100,
    max_tokens: int | None = None,
) -> list[list[int]]:
    """This process's batches of one epoch, as lists of example indices, in order;
    ``pool_batches`` (1 = random batches) and ``max_tokens`` (batches cut by padded
    tokens, ``--batch-tokens``) as in :func:`rnnseq.data.bucket_batches`.

    Raises:
        ValueError: fewer batches than processes (some would have nothing to do).
    """
    order = bucket_batches(
        lengths,
        batch_size,
        shuffle=True,
        seed=seed,
        epoch=epoch,
        pool_batches=pool_batches,
        max_tokens=max_tokens,
    )
    if len(order) < world_size:
        size = ("batch_size", batch_size) if max_tokens is None else ("batch_tokens", max_tokens)
        raise OptionError(
            f"{{0}} makes {len(order)} batch(es) of the training data, fewer than the "
            f"{world_size} processes; use a smaller {{1}}",
            size,
            size[0],
        )
    return shard_batches(order, rank, world_size)


def lm_batches(
    ids: Sequence[int], batch_size: int, bptt: int, *, rank: int = 0, world_size: int = 1
) -> list[Batch]:
    """This process's rows of every window of the unit stream ``ids``.

    Shape:
        each batch: tokens and targets (batch_size, T) with T <= bptt, lengths (batch_size,).
    """
    lo, hi = rank * batch_size, (rank + 1) * batch_size
    windows = lm_stream_batches(ids, batch_size * world_size, bptt)
    return [_rows(b, lo, hi) for b in windows]


def _rows(batch: Batch, lo: int, hi: int) -> Batch:
    """Rows lo..hi of a batch, as a batch of its own."""
    return replace(
        batch,
        tokens=batch.tokens[lo:hi].contiguous(),  # (n, T)
        lengths=batch.lengths[lo:hi].contiguous(),  # (n,)
        targets=None if batch.targets is None else batch.targets[lo:hi].contiguous(),
        chars=None if batch.chars is None else batch.chars[lo:hi].contiguous(),
        indices=batch.indices[lo:hi],
    )
