"""Which examples go together in a batch: length buckets, seeded, shardable.

Padding wastes work, so a batch should hold sequences of similar length; but a
fully sorted order would give the same batches every epoch. The middle way
(the pooling of torchtext's BucketIterator): shuffle, sort by length within
pools of ``pool_batches`` batches, cut each pool into batches, shuffle the
batches. Pure Python; no torch.

A batch cut from a sorted pool holds sequences of one length (or two), so
batches differ from each other more than random ones do. ``length_noise`` ε
(AllenNLP's ``BucketBatchSampler(padding_noise=...)``) sorts by a noisy key
instead, drawn afresh every epoch,

    key_i = len_i · (1 + u_i),    u_i ~ Uniform(-ε, ε),

so neighbouring lengths mix in a batch at the price of a little more padding.

A batch of 32 one-word sentences holds 32 tokens, one of 32 long sentences over a
thousand, yet Adam moves the weights about as far on either: with sorted batches a
share of the steps carries little signal. ``max_tokens`` B cuts a sorted pool into
batches by size instead (fairseq's ``--max-tokens``): each batch takes the next
sequences while its padded size stays within B,

    n_b · max_{i in b} len_i <= B      (one sequence at least),

so every step sees about B tokens: many short sentences or a few long ones.
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
    length_noise: float = 0.0,
    max_tokens: int | None = None,
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
        length_noise: ε >= 0, the relative noise on each length when sorting a
            pool (training only); 0 = sort by the exact length.
        max_tokens: training: cut each sorted pool into batches of at most this
            many padded tokens (one sequence at least) instead of ``batch_size``
            sequences; ``batch_size`` then only sets the pool size
            (``batch_size · pool_batches`` sequences). Evaluation (no shuffle):
            batches of at most ``batch_size`` sequences *and* at most this many
            padded tokens, so one very long sequence is not padded with a batch of
            others. None = by count.

    Returns:
        Batches of example indices; every index appears exactly once.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    if pool_batches < 1:
        raise ValueError(f"pool_batches must be >= 1, got {pool_batches}")
    if not length_noise >= 0:
        raise ValueError(f"length_noise must be >= 0, got {length_noise}")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens must be >= 1, got {max_tokens}")
    order = list(range(len(lengths)))
    if not shuffle:
        order.sort(key=lambda i: lengths[i])
        parts = [order] if max_tokens is None else _cut_by_tokens(order, lengths, max_tokens)
        return [part[s : s + batch_size] for part in parts for s in range(0, len(part), batch_size)]

    rng = random.Random(f"rnnseq.bucket_batches:{seed}:{epoch}")  # str seeds are hash-stable
    rng.shuffle(order)
    key = lengths
    if length_noise > 0:  # drawn only when asked: ε = 0 keeps the batches of before
        key = {i: lengths[i] * (1.0 + rng.uniform(-length_noise, length_noise)) for i in order}
    pool = batch_size * pool_batches
    batches = []
    for start in range(0, len(order), pool):
        chunk = sorted(order[start : start + pool], key=lambda i: key[i])  # stable: ties random
        if max_tokens is None:
            batches.extend(chunk[s : s + batch_size] for s in range(0, len(chunk), batch_size))
        else:
            batches.extend(_cut_by_tokens(chunk, lengths, max_tokens))
    rng.shuffle(batches)
    return batches


def _cut_by_tokens(chunk: list[int], lengths: Sequence[int], max_tokens: int) -> list[list[int]]:
    """``chunk`` in order, cut where the next sequence would make the batch's padded
    size (sequences x longest) exceed ``max_tokens``."""
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for i in chunk:
        grown = max(longest, lengths[i], 1)
        if current and (len(current) + 1) * grown > max_tokens:
            batches.append(current)
            current, grown = [], max(lengths[i], 1)
        current.append(i)
        longest = grown
    if current:
        batches.append(current)
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
