"""rnnseq._small_labeling: the small-batch path of the labeling loss (log_softmax + nll_loss,
native backward) equals the general path, is taken where it should be, and keeps the
contract's exact cases: padding and ignored steps inert, nothing counted is 0, bad input
is refused with the general path's message.

The general path (the fused kernel, or plain log_softmax + gather) is the oracle: the
same call with the plan's small_max_elements just below the batch's logits takes it.
"""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograd_nodes import graph_nodes
from rnnseq import _small_labeling, reference
from rnnseq.kernels import current_plan, use_plan
from rnnseq.losses import sequence_labeling_loss, sequence_labeling_loss_terms

SCALAR = ("mean", "sum", "token_mean")


def took_small_path(loss: torch.Tensor) -> bool:
    """log_softmax + nll_loss and nothing of the kernel (no Function, no lean-mode dot)."""
    names = graph_nodes(loss)
    return (
        {"LogSoftmaxBackward0", "NllLossBackward0"} <= names
        and "DotBackward0" not in names
        and "_CrossEntropyPerStepBackward" not in names
    )


def batch(n=4, t=6, c=17, dtype=torch.float64, seed=0):
    """Logits, targets (garbage at padding) and lengths with an empty row."""
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(n, t, c, generator=g, dtype=torch.float64) * 3).to(dtype)
    lengths = torch.randint(0, t + 1, (n,), generator=g)
    lengths[0], lengths[-1] = t, 0
    targets = torch.randint(0, c, (n, t), generator=g)
    real = torch.arange(t) < lengths[:, None]
    targets = targets.masked_fill(~real, 999)  # out of range, but never read
    return logits, targets, lengths


def value_and_grad(logits, fn, upstream=1.0, **plan):
    z = logits.detach().clone().requires_grad_(True)
    with use_plan(**plan):
        loss = fn(z)
        (loss * upstream).backward()
    return loss, z.grad


def both_sides(logits, fn, upstream=1.0):
    """(small path, general path): the same call with small_max_elements at and just
    below the logits' count."""
    size = logits.numel()
    small = value_and_grad(logits, fn, upstream, small_max_elements=size)
    general = value_and_grad(logits, fn, upstream, small_max_elements=max(1, size - 1))
    assert took_small_path(small[0]) and (size == 1 or not took_small_path(general[0]))
    return small, general


def assert_same(a, b, dtype):
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    torch.testing.assert_close(a[0].detach(), b[0].detach(), rtol=tol, atol=tol)
    torch.testing.assert_close(a[1], b[1], rtol=tol, atol=tol)


# ------------------------------------------------------------ which calls take it


def test_the_default_tagging_loss_takes_the_small_path():
    logits, targets, lengths = batch(32, 50, 17, torch.float32)
    assert logits.numel() <= current_plan().small_max_elements
    for reduction in SCALAR:
        z = logits.clone().requires_grad_(True)
        assert took_small_path(sequence_labeling_loss(z, targets, lengths, reduction=reduction))
        terms = sequence_labeling_loss_terms(z, targets, lengths, reduction=reduction)
        assert took_small_path(terms.total)
    assert took_small_path(sequence_labeling_loss(z, targets.clamp(0, 16)))  # no lengths


@pytest.mark.parametrize(
    "change",
    ["mask", "weight", "smoothing", "time_mean", "none", "float16", "int32_targets", "plain",
     "large", "long_rows", "lengths_list"],
)  # fmt: skip
def test_other_calls_keep_the_general_path(change):
    logits, targets, lengths = batch(c=17, dtype=torch.float32)
    kw, plan, args = {}, {}, (lengths,)
    if change == "mask":
        args, kw["mask"] = (), torch.arange(6) < lengths[:, None]
    elif change == "weight":
        kw["weight"] = torch.ones(17)
    elif change == "smoothing":
        kw["label_smoothing"] = 0.1
    elif change == "time_mean":
        kw["time_reduction"] = "mean"
    elif change == "none":
        kw["reduction"] = "none"
    elif change == "float16":
        logits = logits.half()
    elif change == "int32_targets":
        targets = targets.int()
    elif change == "plain":
        plan["path"] = "plain"
    elif change == "large":
        plan["small_max_elements"] = logits.numel() - 1
    elif change == "long_rows":
        plan["chunked_min_classes"] = 17
    elif change == "lengths_list":
        args = (lengths.tolist(),)
    with use_plan(**plan):
        loss = sequence_labeling_loss(logits.requires_grad_(True), targets, *args, **kw)
    assert not took_small_path(loss)


# ------------------------------------------------------------ same numbers


@pytest.mark.parametrize("reduction", SCALAR)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("case", ["lengths", "no_lengths", "ignored_inside", "all_ignored_row"])
def test_both_sides_of_the_threshold_agree_in_value_and_gradient(reduction, dtype, case):
    logits, targets, lengths = batch(dtype=dtype, seed=1)
    if case == "no_lengths":
        lengths, targets = None, targets.clamp(0, 16)
    elif case == "ignored_inside":
        targets[0, 2] = targets[1, 0] = -100
    elif case == "all_ignored_row":
        targets[0] = -100  # a full row, every step ignored: not in N'

    def loss(z):
        return sequence_labeling_loss(z, targets, lengths, reduction=reduction)

    small, general = both_sides(logits, loss, upstream=3.5)
    assert_same(small, general, dtype)
    assert small[0].dtype == dtype
    plain = value_and_grad(logits, loss, 3.5, path="plain")
    assert_same(small, plain, dtype)


@pytest.mark.parametrize("reduction", SCALAR)
def test_loss_terms_agree_on_both_sides(reduction):
    logits, targets, lengths = batch(seed=2)
    targets[2, 0] = -100
    size = logits.numel()
    out = []
    for limit in (size, size - 1):
        with use_plan(small_max_elements=limit):
            out.append(sequence_labeling_loss_terms(logits, targets, lengths, reduction=reduction))
    (small, general) = out
    torch.testing.assert_close(small.total, general.total, rtol=1e-12, atol=1e-12)
    if reduction == "sum":
        assert small.count is None and general.count is None
    else:
        assert small.count.dtype == general.count.dtype == torch.float64
        assert small.count.item() == general.count.item()


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 5),
    t=st.integers(1, 7),
    c=st.sampled_from([1, 2, 5, 17, 40]),
    reduction=st.sampled_from(SCALAR),
    ignore_share=st.sampled_from([0.0, 0.3, 1.0]),
    seed=st.integers(0, 2**31 - 1),
)
def test_small_path_equals_the_general_path_for_any_batch(n, t, c, reduction, ignore_share, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, t, c, generator=g, dtype=torch.float64) * 4
    targets = torch.randint(0, c, (n, t), generator=g)
    targets = targets.masked_fill(torch.rand(n, t, generator=g) < ignore_share, -100)
    lengths = torch.randint(0, t + 1, (n,), generator=g)

    def loss(z):
        return sequence_labeling_loss(z, targets, lengths, reduction=reduction)

    small, general = both_sides(logits, loss)
    assert_same(small, general, torch.float64)


def test_rows_longer_than_the_cached_masks_agree():
    t = _small_labeling._CACHED_MASK_STEPS + 7
    logits, targets, lengths = batch(3, t, 5, seed=3)

    def loss(z):
        return sequence_labeling_loss(z, targets, lengths)

    small, general = both_sides(logits, loss)
    assert_same(small, general, torch.float64)


def test_int32_lengths_take_the_small_path_with_the_same_result():
    logits, targets, lengths = batch(seed=4)

    def loss(z):
        return sequence_labeling_loss(z, targets, lengths.int())

    small, general = both_sides(logits, loss)
    assert_same(small, general, torch.float64)


@pytest.mark.parametrize("time_reduction", ["sum"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_small_path_agrees_with_the_numpy_reference(time_reduction, reduction):
    logits, targets, lengths = batch(seed=5)
    loss = sequence_labeling_loss(logits, targets, lengths, reduction=reduction)
    probs = reference.softmax(logits.numpy())
    safe = np.where(np.arange(6)[None, :] < lengths.numpy()[:, None], targets.numpy(), 0)
    expected = reference.labeling_loss(
        probs, safe, lengths.numpy(), time_reduction=time_reduction, reduction=reduction
    )
    assert abs(loss.item() - expected) < 1e-6


# ------------------------------------------------------------ the contract's edge cases


@pytest.mark.parametrize("reduction", SCALAR)
@pytest.mark.parametrize("empty", ["all_lengths_0", "all_ignored"])
def test_nothing_counted_is_zero_with_a_zero_gradient(reduction, empty):
    logits, targets, lengths = batch(seed=6)
    if empty == "all_lengths_0":
        lengths = torch.zeros_like(lengths)
    else:
        targets = torch.full_like(targets, -100)
    z = logits.clone().requires_grad_(True)
    loss = sequence_labeling_loss(z, targets, lengths, reduction=reduction)
    assert took_small_path(loss)
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(z.grad, torch.zeros_like(z))
    terms = sequence_labeling_loss_terms(logits, targets, lengths, reduction=reduction)
    assert terms.total.item() == 0.0 and (terms.count is None or terms.count.item() == 0.0)


def test_finite_garbage_at_uncounted_steps_stays_on_the_path_and_is_exactly_inert():
    logits, targets, lengths = batch(seed=7)
    targets[0, 1] = -100
    real = (torch.arange(6) < lengths[:, None]) & (targets != -100)
    dirty = logits.clone()
    dirty[~real] = 1e30

    def loss(z):
        return sequence_labeling_loss(z, targets, lengths)

    clean = value_and_grad(logits, loss)
    ours = value_and_grad(dirty, loss)
    assert took_small_path(ours[0])
    assert torch.equal(ours[0], clean[0]) and torch.equal(ours[1], clean[1])
    assert torch.count_nonzero(ours[1][~real]) == 0


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_nan_or_inf_at_uncounted_steps_goes_to_the_general_path_and_stays_inert(value):
    logits, targets, lengths = batch(seed=8)
    targets[0, 1] = -100
    real = (torch.arange(6) < lengths[:, None]) & (targets != -100)
    dirty = logits.clone()
    dirty[~real] = value

    def loss(z):
        return sequence_labeling_loss(z, targets, lengths)

    clean = value_and_grad(logits, loss)
    ours = value_and_grad(dirty, loss)
    assert not took_small_path(ours[0])
    torch.testing.assert_close(ours[0].detach(), clean[0].detach(), rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(ours[1], clean[1], rtol=1e-12, atol=1e-12)
    assert torch.count_nonzero(ours[1][~real]) == 0


def test_nan_at_a_counted_step_propagates():
    logits, targets, lengths = batch(seed=9)
    logits[0, 0, 3] = float("nan")
    assert torch.isnan(sequence_labeling_loss(logits, targets, lengths))


@pytest.mark.parametrize("bad", [17, -1, -99])
def test_a_counted_target_out_of_range_is_the_general_paths_error(bad):
    logits, targets, lengths = batch(seed=10)
    targets[0, 0] = bad
    with pytest.raises(ValueError, match=rf"targets must be in \[0, 17\).*got {bad}"):
        sequence_labeling_loss(logits, targets, lengths)


def test_a_custom_ignore_index_leaves_minus_100_an_error():
    logits, targets, lengths = batch(seed=11)
    targets[0, 0] = -100
    targets[0, 1] = 5
    with pytest.raises(ValueError, match="targets"):
        sequence_labeling_loss(logits, targets, lengths, ignore_index=5)


@pytest.mark.parametrize("bad", [[7, 0, 0, 0], [-1, 0, 0, 0]])
def test_lengths_out_of_range_are_the_general_paths_error(bad):
    logits, targets, _ = batch(seed=12)
    with pytest.raises(ValueError, match=r"lengths must be in \[0, 6\]"):
        sequence_labeling_loss(logits, targets, torch.tensor(bad))
