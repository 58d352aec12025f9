from __future__ import annotations

import pytest
import torch

from rnnseq.models import pool

OUTPUTS = torch.tensor(
    [
        [[1.0, -1.0], [3.0, -5.0], [9.0, 9.0]],  # length 2: step 3 is padding
        [[2.0, 4.0], [-6.0, 0.0], [4.0, -2.0]],  # length 3
        [[7.0, 7.0], [7.0, 7.0], [7.0, 7.0]],  # length 0
    ]
)
LENGTHS = torch.tensor([2, 3, 0])


def test_mean_pools_real_steps_only():
    want = torch.tensor([[2.0, -3.0], [0.0, 2.0 / 3.0], [0.0, 0.0]])
    torch.testing.assert_close(pool(OUTPUTS, LENGTHS, "mean"), want)


def test_max_pools_real_steps_only():
    want = torch.tensor([[3.0, -1.0], [4.0, 4.0], [0.0, 0.0]])
    torch.testing.assert_close(pool(OUTPUTS, LENGTHS, "max"), want)


def test_last_takes_the_last_real_step_of_a_unidirectional_encoder():
    want = torch.tensor([[3.0, -5.0], [4.0, -2.0], [0.0, 0.0]])
    torch.testing.assert_close(pool(OUTPUTS, LENGTHS, "last", directions=1), want)


def test_last_takes_step_one_of_the_backward_direction():
    # feature 0 reads forward (last real step), feature 1 backward (its final state is step 1)
    want = torch.tensor([[3.0, -1.0], [4.0, 4.0], [0.0, 0.0]])
    torch.testing.assert_close(pool(OUTPUTS, LENGTHS, "last", directions=2), want)


@pytest.mark.parametrize("mode", ["last", "mean", "max"])
def test_empty_rows_pool_to_zero_with_finite_gradients(mode):
    x = torch.randn(3, 4, 6, requires_grad=True)
    lengths = torch.tensor([0, 4, 0])
    v = pool(x, lengths, mode, directions=2)
    assert (v[[0, 2]] == 0).all()
    v.sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad[[0, 2]] == 0).all()


@pytest.mark.parametrize("mode", ["last", "mean", "max"])
def test_zero_step_batch_pools_to_zero(mode):
    assert (pool(torch.zeros(2, 0, 4), torch.zeros(2, dtype=torch.long), mode) == 0).all()


def test_bad_mode_or_directions_raise():
    with pytest.raises(ValueError, match="mode"):
        pool(OUTPUTS, LENGTHS, "sum")
    with pytest.raises(ValueError, match="directions"):
        pool(torch.zeros(1, 2, 3), torch.tensor([1]), "last", directions=2)
