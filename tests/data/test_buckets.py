"""rnnseq.data.buckets: length buckets, every index once, seeded, shardable."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnseq.data import bucket_batches, shard_batches

_rng = random.Random(0)
LENGTHS = [_rng.randint(1, 60) for _ in range(3000)]


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 50), max_size=300),
    batch_size=st.integers(1, 40),
    shuffle=st.booleans(),
    seed=st.integers(0, 2**32),
    epoch=st.integers(0, 5),
)
def test_every_index_appears_exactly_once(lengths, batch_size, shuffle, seed, epoch):
    batches = bucket_batches(lengths, batch_size, shuffle=shuffle, seed=seed, epoch=epoch)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(1 <= len(b) <= batch_size for b in batches)
    assert sum(len(b) < batch_size for b in batches) <= 1


def test_shuffle_is_determined_by_seed_and_epoch():
    a = bucket_batches(LENGTHS, 32, shuffle=True, seed=1, epoch=0)
    assert a == bucket_batches(LENGTHS, 32, shuffle=True, seed=1, epoch=0)
    assert a != bucket_batches(LENGTHS, 32, shuffle=True, seed=1, epoch=1)
    assert a != bucket_batches(LENGTHS, 32, shuffle=True, seed=2, epoch=0)


def test_without_shuffle_batches_are_sorted_by_length():
    batches = bucket_batches(LENGTHS, 32, shuffle=False)
    order = [i for b in batches for i in b]
    assert [LENGTHS[i] for i in order] == sorted(LENGTHS)
    assert batches == bucket_batches(LENGTHS, 32, shuffle=False, seed=9, epoch=3)


def test_buckets_pad_far_less_than_random_batches():
    def padded(batches):
        return sum(len(b) * max(LENGTHS[i] for i in b) for b in batches) / len(LENGTHS)

    real = sum(LENGTHS) / len(LENGTHS)
    bucketed = padded(bucket_batches(LENGTHS, 32, shuffle=True, seed=0))
    order = list(range(len(LENGTHS)))
    random.Random(0).shuffle(order)
    unsorted = padded([order[s : s + 32] for s in range(0, len(order), 32)])
    assert bucketed < 1.05 * real < unsorted


def _padded(batches):
    return sum(len(b) * max(LENGTHS[i] for i in b) for b in batches) / sum(LENGTHS)


def _lengths_per_batch(batches):
    return sum(len({LENGTHS[i] for i in b}) for b in batches) / len(batches)


def test_length_noise_zero_gives_the_batches_of_exact_sorting():
    exact = bucket_batches(LENGTHS, 32, shuffle=True, seed=3, epoch=2)
    assert bucket_batches(LENGTHS, 32, shuffle=True, seed=3, epoch=2, length_noise=0.0) == exact


def test_length_noise_mixes_lengths_in_a_batch_at_a_bounded_padding_cost():
    exact = bucket_batches(LENGTHS, 32, shuffle=True, seed=3, pool_batches=100)
    noisy = bucket_batches(LENGTHS, 32, shuffle=True, seed=3, pool_batches=100, length_noise=0.2)
    assert sorted(i for b in noisy for i in b) == list(range(len(LENGTHS)))
    assert _lengths_per_batch(noisy) > 2 * _lengths_per_batch(exact)
    # keys within ±20 % of the lengths: neighbours mix, far lengths do not
    assert _padded(exact) < _padded(noisy) < 1.3


def test_length_noise_is_seeded_and_changes_every_epoch():
    a = bucket_batches(LENGTHS, 32, shuffle=True, seed=1, epoch=0, length_noise=0.1)
    assert a == bucket_batches(LENGTHS, 32, shuffle=True, seed=1, epoch=0, length_noise=0.1)
    assert a != bucket_batches(LENGTHS, 32, shuffle=True, seed=1, epoch=1, length_noise=0.1)


def test_length_noise_does_not_change_evaluation_order():
    assert bucket_batches(LENGTHS, 32, shuffle=False, length_noise=0.5) == bucket_batches(
        LENGTHS, 32, shuffle=False
    )


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(0, 50), max_size=300),
    max_tokens=st.integers(1, 400),
    noise=st.sampled_from([0.0, 0.2]),
    seed=st.integers(0, 2**32),
)
def test_token_budget_batches_cover_every_index_and_keep_the_budget(
    lengths, max_tokens, noise, seed
):
    batches = bucket_batches(
        lengths, 8, shuffle=True, seed=seed, length_noise=noise, max_tokens=max_tokens
    )
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for b in batches:
        assert b
        assert len(b) == 1 or len(b) * max(max(lengths[i] for i in b), 1) <= max_tokens


def test_token_budget_gives_every_step_about_the_same_tokens():
    def spread(batches):  # coefficient of variation of the real tokens per batch
        sizes = [sum(LENGTHS[i] for i in b) for b in batches[:-1]]
        mean = sum(sizes) / len(sizes)
        return (sum((x - mean) ** 2 for x in sizes) / len(sizes)) ** 0.5 / mean

    by_count = bucket_batches(LENGTHS, 32, shuffle=True, seed=0)
    budget = 32 * sum(LENGTHS) // len(LENGTHS)
    by_tokens = bucket_batches(LENGTHS, 32, shuffle=True, seed=0, max_tokens=budget)
    assert spread(by_tokens) < 0.15 < 0.4 < spread(by_count)  # last batch of a pool: smaller
    assert abs(len(by_tokens) - len(by_count)) < 0.1 * len(by_count)
    assert _padded(by_tokens) < 1.05


def test_shards_are_disjoint_cover_everything_and_have_equal_sizes():
    batches = bucket_batches(LENGTHS, 32, shuffle=True, seed=0)  # 94 batches
    shards = [shard_batches(batches, r, 4) for r in range(4)]
    assert {len(s) for s in shards} == {len(batches) // 4}
    seen = [tuple(b) for s in shards for b in s]
    assert len(seen) == len(set(seen)) == len(batches) - len(batches) % 4
    uneven = [shard_batches(batches, r, 4, drop_uneven=False) for r in range(4)]
    assert sorted(tuple(b) for s in uneven for b in s) == sorted(tuple(b) for b in batches)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: bucket_batches([1], 0, shuffle=False), "batch_size"),
        (lambda: bucket_batches([1], 1, shuffle=True, pool_batches=0), "pool_batches"),
        (lambda: bucket_batches([1], 1, shuffle=True, length_noise=-0.1), "length_noise"),
        (lambda: bucket_batches([1], 1, shuffle=True, max_tokens=0), "max_tokens"),
        (lambda: bucket_batches([1], 1, shuffle=True, length_noise=float("nan")), "length_noise"),
        (lambda: shard_batches([[0]], 2, 2), "rank"),
        (lambda: shard_batches([[0]], 0, 0), "world_size"),
    ],
)
def test_bad_arguments_are_value_errors_naming_them(call, match):
    with pytest.raises(ValueError, match=match):
        call()
