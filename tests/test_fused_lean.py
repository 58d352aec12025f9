"""The fused kernel's lean mode (short rows, a scalar loss, no class weights, no
smoothing): F.cross_entropy's per-step losses dotted with the weights a_m, with
autograd's native backward, instead of the autograd Function.

It computes rows that do not count along and relies on their log-probabilities
being finite; these tests check that it equals the plain path, that it is the
mode actually taken for clean input, and that garbage at uncounted steps sends
the call to the Function instead (same loss, exact zero gradient there).
The last test is the Function's: its slice buffer borrows the gradient cache.
Losses with lengths (or no mask) and time_reduction="sum" take the small-batch path
before the kernel (tests/test_small_labeling.py); the labeling tests here give the
same steps as a bool mask, which that path leaves to the kernel.
"""

import pytest
import torch

from rnnseq.kernels import cross_entropy, use_plan
from rnnseq.losses import sequence_classification_loss, sequence_labeling_loss


@pytest.fixture
def lean_calls(monkeypatch):
    """The sums the lean mode returned (it returns None where it hands over)."""
    calls = []
    real = cross_entropy._lean_total

    def spy(*args):
        total = real(*args)
        if total is not None:
            calls.append(total)
        return total

    monkeypatch.setattr(cross_entropy, "_lean_total", spy)
    return calls


def value_and_grad(logits, fn, path):
    z = logits.detach().clone().requires_grad_(True)
    with use_plan(path=path):
        loss = fn(z)
        loss.backward()
    return loss.detach(), z.grad


def batch(dtype=torch.float64, seed=0):
    """Logits, targets and the real steps as a bool mask (rows of 6, 3, 0 and 5 steps)."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(4, 6, 17, generator=g, dtype=torch.float64).to(dtype)
    targets = torch.randint(0, 17, (4, 6), generator=g)
    real = torch.arange(6) < torch.tensor([6, 3, 0, 5])[:, None]  # (4, 6)
    targets[0, 2] = -100  # an ignored step inside a row
    return logits, targets, real


@pytest.mark.parametrize(
    ("time_reduction", "reduction"),
    [("sum", "mean"), ("sum", "sum"), ("sum", "token_mean"), ("mean", "mean"), ("mean", "sum")],
)
def test_lean_mode_equals_the_plain_path_for_every_scalar_reduction(
    lean_calls, time_reduction, reduction
):
    logits, targets, real = batch()

    def loss(z):
        return sequence_labeling_loss(
            z, targets, mask=real, time_reduction=time_reduction, reduction=reduction
        )

    ours = value_and_grad(logits, loss, "fused")
    plain = value_and_grad(logits, loss, "plain")
    assert len(lean_calls) == 1
    torch.testing.assert_close(ours, plain, rtol=1e-12, atol=1e-12)
    assert torch.equal(ours[1][2], torch.zeros(6, 17, dtype=torch.float64))  # empty row
    assert torch.equal(ours[1][0, 2], torch.zeros(17, dtype=torch.float64))  # ignored step


def test_lean_mode_takes_float_mask_weights_and_upstream_gradients(lean_calls):
    logits, targets, _ = batch(seed=1)
    mask = torch.rand(4, 6, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    mask[1, 4:] = 0.0

    def loss(z):
        return 3.5 * sequence_labeling_loss(z, targets, mask=mask, reduction="token_mean")

    ours = value_and_grad(logits, loss, "fused")
    plain = value_and_grad(logits, loss, "plain")
    assert len(lean_calls) == 1
    torch.testing.assert_close(ours, plain, rtol=1e-12, atol=1e-12)


def test_lean_mode_computes_half_precision_in_float32(lean_calls):
    logits, targets, real = batch(dtype=torch.float16, seed=3)

    def loss(z):
        return sequence_labeling_loss(z, targets, mask=real)

    ours = value_and_grad(logits, loss, "fused")
    plain = value_and_grad(logits, loss, "plain")
    assert len(lean_calls) == 1 and ours[0].dtype == ours[1].dtype == torch.float16
    torch.testing.assert_close(ours, plain, rtol=1e-3, atol=1e-3)


def test_lean_mode_serves_the_classification_mean(lean_calls):
    logits = torch.randn(7, 5, dtype=torch.float64)
    targets = torch.randint(0, 5, (7,))
    ours = value_and_grad(logits, lambda z: sequence_classification_loss(z, targets), "fused")
    plain = value_and_grad(logits, lambda z: sequence_classification_loss(z, targets), "plain")
    assert len(lean_calls) == 1
    torch.testing.assert_close(ours, plain, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_garbage_at_uncounted_steps_leaves_the_lean_mode_and_stays_inert(lean_calls, value):
    logits, targets, real = batch(seed=4)
    dirty = logits.clone()
    dirty[1, 3:] = value  # padding of row 1
    dirty[2] = value  # an empty row
    dirty[0, 2, 5] = value  # the ignored step

    def loss(z):
        return sequence_labeling_loss(z, targets, mask=real)

    clean = value_and_grad(logits, loss, "fused")
    assert len(lean_calls) == 1
    ours = value_and_grad(dirty, loss, "fused")
    assert len(lean_calls) == 1  # the Function took the dirty batch
    torch.testing.assert_close(ours, clean, rtol=1e-12, atol=1e-12)  # the modes round apart
    assert torch.count_nonzero(ours[1][2]) == 0 and torch.count_nonzero(ours[1][1, 3:]) == 0


def test_an_infinite_loss_at_a_counted_step_is_the_plain_paths_infinity(lean_calls):
    logits, targets, real = batch(seed=5)
    logits[0, 0, targets[0, 0]] = -float("inf")  # the target's probability is 0

    def loss(z):
        return sequence_labeling_loss(z, targets, mask=real)

    ours = value_and_grad(logits, loss, "fused")
    plain = value_and_grad(logits, loss, "plain")
    assert not lean_calls and ours[0] == plain[0] == float("inf")
    torch.testing.assert_close(ours[1], plain[1], rtol=1e-12, atol=1e-12, equal_nan=True)


def test_dense_slices_borrow_the_cached_gradient_but_never_one_that_is_held(monkeypatch):
    """The forward pass's slice buffer comes from the gradient cache: a gradient the
    caller still holds is never written, and one let go is reused (no fresh pages)."""
    from rnnseq.kernels import clear_gradient_cache

    torch.manual_seed(6)
    logits = torch.randn(4, 50, 2000, requires_grad=True)  # 4 slices of 400 kB, 1.6 MB gradient
    targets = torch.randint(0, 2000, (4, 50))
    lengths = torch.tensor([50, 31, 7, 0])
    plan = {
        "path": "fused", "chunk_elements": 1, "dense_chunks": True,
        "cached_gradient_bytes": 1 << 18,
    }  # fmt: skip
    borrowed = []
    real = cross_entropy.new_gradient

    def spy(rows, cols, *args):
        buffer = real(rows, cols, *args)
        borrowed.append((rows, buffer.data_ptr()))
        return buffer

    def gradient():
        logits.grad = None
        with use_plan(plan):
            sequence_labeling_loss(logits, targets, lengths).backward()
        return logits.grad

    monkeypatch.setattr(cross_entropy, "new_gradient", spy)
    clear_gradient_cache()
    kept = gradient()
    expected = kept.clone()
    second = gradient()  # `kept` is held: neither the slices nor the gradient may use it
    assert torch.equal(kept, expected) and torch.equal(second, expected)
    ptr = second.data_ptr()
    del second
    borrowed.clear()
    third = gradient()  # the last gradient was let go: its memory serves both again
    assert borrowed == [(50, ptr), (200, ptr)]  # the slice buffer, then the gradient
    assert third.data_ptr() == ptr and torch.equal(third, expected)
    assert torch.equal(kept, expected)
    clear_gradient_cache()


def test_losses_over_more_logits_than_the_plan_allows_keep_the_function(lean_calls):
    logits, targets, real = batch(seed=7)  # 4 · 6 · 17 = 408 logits

    def loss(z):
        return sequence_labeling_loss(z, targets, mask=real)

    with use_plan(lean_max_elements=407):
        ours = value_and_grad(logits, loss, "fused")
    assert not lean_calls
    with use_plan(lean_max_elements=408):
        lean = value_and_grad(logits, loss, "fused")
    assert len(lean_calls) == 1
    torch.testing.assert_close(ours, lean, rtol=1e-12, atol=1e-12)
