"""Which examples go together in a batch: length buckets, seeded, shardable.

Padding wastes work, so a batch should hold sequences of similar length; but a
fully sorted order would give the same batches every epoch. The middle way
(the pooling of torchtext's BucketIterator): shuffle, sort by length within
pools of ``pool_batches`` batches, cut each pool into batches, shuffle the
batches. Pure Python; no torch.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

__all__ = ["bucket_batches", "shard_batches"]


def bucket_batches(
    lengths: Sequence[int],
    batch_size: int,
    *,
    shuffle: bool,
    seed: int = 0,
    epoch: int = 0,
    pool_batches: int = 100,
) -> list[list[int]]:
    """Cut ``range(len(lengths))`` into batches of similar lengths.

    Args:
        lengths: the length of each example.
        batch_size: examples per batch (only the last batch of the last pool
            may hold fewer).
        shuffle: False: all examples sorted by length (stable, shortest first)
            and cut in order, the same every call (evaluation). True: seeded
            shuffle, sort inside pools, shuffled batch order (training).
        seed, epoch: the shuffle depends on both and nothing else, so every
            process of a distributed run computes the same list.
        pool_batches: pool size in batches; larger pools pad less but vary less.

    Returns:
        Batches of example indices; every index appears exactly once.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if pool_batches < 1:
        raise ValueError(f"pool_batches must be >= 1, got {pool_batches}")
    order = list(range(len(lengths)))
    if not shuffle:
        order.sort(key=lambda i: lengths[i])
        return [order[s : s + batch_size] for s in range(0, len(order), batch_size)]

    rng = random.Random(f"rnnseq.bucket_batches:{seed}:{epoch}")  # str seeds are hash-stable
    rng.shuffle(order)
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: lengths[i])  # stable: ties random
        batches.extend(chunk[s : s + batch_size] for s in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def shard_batches(
    batches: Sequence[list[int]], rank: int, world_size: int, *, drop_uneven: bool = True
) -> list[list[int]]:
    """This process's share of ``batches``: ``batches[rank::world_size]``.

    Every process must pass the same list (same seed and epoch); the shares are
    then disjoint and together cover all batches. With ``drop_uneven`` (for
    training) the last ``len(batches) % world_size`` batches are left out so
    every process runs the same number of steps, as DistributedDataParallel
    needs; they differ from epoch to epoch, as the order is reshuffled. Without
    it (for evaluation, summing losses and counts across processes at the
    end), nothing is left out and the shares may differ by one batch.
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1, got {world_size}")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    usable = len(batches) - len(batches) % world_size if drop_uneven else len(batches)
    return list(batches[rank:usable:world_size])
