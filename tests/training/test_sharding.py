"""rnnseq.training.sharding: each process's batches — disjoint, covering, the same number
on every process, reshuffled per epoch, a function of (seed, epoch) only."""

from __future__ import annotations

import pytest
import torch

from rnnseq.data import lm_stream_batches
from rnnseq.training.sharding import epoch_batches, lm_batches

LENGTHS = [(i * 7) % 13 + 1 for i in range(203)]


def _shares(world: int, epoch: int, seed: int = 1) -> list[list[list[int]]]:
    return [
        epoch_batches(LENGTHS, 8, seed=seed, epoch=epoch, rank=r, world_size=world)
        for r in range(world)
    ]


@pytest.mark.parametrize("world", [1, 2, 3, 4])
def test_processes_get_disjoint_equal_shares_of_the_epoch(world):
    shares = _shares(world, epoch=1)
    assert len({len(s) for s in shares}) == 1  # the same number of steps everywhere
    seen = [i for share in shares for batch in share for i in batch]
    assert len(seen) == len(set(seen))  # no example twice
    n_batches = len(epoch_batches(LENGTHS, 8, seed=1, epoch=1))
    assert sum(len(s) for s in shares) == n_batches - n_batches % world  # only the remainder left


def test_step_k_of_all_processes_is_k_consecutive_batches_of_one_process():
    single = epoch_batches(LENGTHS, 8, seed=1, epoch=2)
    shares = _shares(2, epoch=2)
    for k in range(len(shares[0])):
        assert [shares[0][k], shares[1][k]] == single[2 * k : 2 * k + 2]


def test_shares_are_reshuffled_every_epoch_and_repeat_for_the_same_seed():
    assert _shares(2, epoch=1) != _shares(2, epoch=2)
    assert _shares(2, epoch=3) == _shares(2, epoch=3)
    assert _shares(2, epoch=3, seed=2) != _shares(2, epoch=3, seed=1)


def test_the_examples_left_out_change_from_epoch_to_epoch():
    left_out = []
    for epoch in (1, 2, 3):
        used = {i for share in _shares(3, epoch) for batch in share for i in batch}
        left_out.append(frozenset(range(len(LENGTHS))) - used)
    assert all(left_out) and len(set(left_out)) == 3


def test_fewer_batches_than_processes_is_a_value_error_naming_batch_size():
    with pytest.raises(ValueError, match="batch_size=8 makes 2 batch"):
        epoch_batches([3] * 10, 8, seed=1, epoch=1, rank=0, world_size=3)


def test_lm_processes_take_consecutive_row_blocks_of_the_same_windows():
    ids = list(range(100))
    whole = lm_stream_batches(ids, 6, 5)  # one process with 6 rows
    parts = [lm_batches(ids, 3, 5, rank=r, world_size=2) for r in (0, 1)]
    assert len(parts[0]) == len(parts[1]) == len(whole)
    for w, a, b in zip(whole, parts[0], parts[1], strict=True):
        assert torch.equal(torch.cat([a.tokens, b.tokens]), w.tokens)
        assert torch.equal(torch.cat([a.targets, b.targets]), w.targets)
        assert torch.equal(torch.cat([a.lengths, b.lengths]), w.lengths)
        assert a.indices == [0, 1, 2] and b.indices == [3, 4, 5]


def test_a_pool_of_one_batch_gives_random_batches_of_mixed_lengths():
    """--bucket-pool 1: each batch is a random draw (its rows merely sorted), so batches
    mix lengths; the default pools of 100 batches give batches of one length here."""
    pooled = epoch_batches(LENGTHS, 8, seed=1, epoch=1)
    random_batches = epoch_batches(LENGTHS, 8, seed=1, epoch=1, pool_batches=1)
    spread = [max(LENGTHS[i] for i in b) - min(LENGTHS[i] for i in b) for b in pooled]
    assert max(spread) <= 1
    spread = [max(LENGTHS[i] for i in b) - min(LENGTHS[i] for i in b) for b in random_batches]
    assert sum(spread) / len(spread) > 5
    assert sorted(i for b in random_batches for i in b) == list(range(len(LENGTHS)))
    assert random_batches == epoch_batches(LENGTHS, 8, seed=1, epoch=1, pool_batches=1)
