"""rnnseq.losses: reductions by hand, edge cases, inert padding, dtypes and errors."""

import math

import pytest
import torch

from rnnseq.losses import (
    SequenceClassificationLoss,
    SequenceLabelingLoss,
    sequence_classification_loss,
    sequence_labeling_loss,
)

LN2, LN3 = math.log(2.0), math.log(3.0)


def uniform_logits(n, t, c, dtype=torch.float64):
    """All-zero logits: every step's loss is exactly ln C."""
    return torch.zeros(n, t, c, dtype=dtype, requires_grad=True)


# ----------------------------------------------------------------- values by hand


def test_labeling_reductions_by_hand():
    # Row 0: 3 real steps, row 1: 1 real step, row 2: empty. Every step costs ln 3.
    logits = uniform_logits(3, 3, 3)
    targets = torch.tensor([[0, 1, 2], [1, -1, -1], [-1, -1, -1]])
    lengths = torch.tensor([3, 1, 0])

    def loss(**kw):
        return sequence_labeling_loss(logits, targets, lengths, **kw)

    per_step = loss(time_reduction="none", reduction="none")
    expected_steps = torch.tensor([[LN3] * 3, [LN3, 0, 0], [0, 0, 0]], dtype=torch.float64)
    torch.testing.assert_close(per_step, expected_steps)
    torch.testing.assert_close(
        loss(reduction="none"), torch.tensor([3 * LN3, LN3, 0.0], dtype=torch.float64)
    )
    torch.testing.assert_close(
        loss(time_reduction="mean", reduction="none"),
        torch.tensor([LN3, LN3, 0.0], dtype=torch.float64),
    )
    assert loss().item() == pytest.approx(4 * LN3 / 2)  # the empty row is not in N'
    assert loss(reduction="sum").item() == pytest.approx(4 * LN3)
    assert loss(reduction="token_mean").item() == pytest.approx(LN3)
    assert loss(time_reduction="mean").item() == pytest.approx(LN3)
    assert loss(time_reduction="mean", reduction="sum").item() == pytest.approx(2 * LN3)


def test_labeling_loss_of_worked_three_step_example():
    probs = torch.tensor([[[0.7, 0.3], [0.4, 0.6], [0.9, 0.1]]], dtype=torch.float64)
    targets = torch.tensor([[0, 1, 0]])
    steps = [-math.log(0.7), -math.log(0.6), -math.log(0.9)]
    logits = probs.log()
    assert sequence_labeling_loss(logits, targets).item() == pytest.approx(sum(steps))
    assert sequence_labeling_loss(logits, targets, time_reduction="mean").item() == pytest.approx(
        sum(steps) / 3
    )


def test_labeling_float_mask_weights_steps_and_divisions():
    logits = uniform_logits(1, 3, 2)
    targets = torch.zeros(1, 3, dtype=torch.long)
    mask = torch.tensor([[0.5, 2.0, 0.0]], dtype=torch.float64)
    assert sequence_labeling_loss(logits, targets, mask=mask).item() == pytest.approx(2.5 * LN2)
    token_mean = sequence_labeling_loss(logits, targets, mask=mask, reduction="token_mean")
    assert token_mean.item() == pytest.approx(LN2)


def test_labeling_bool_mask_equals_lengths():
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 5, dtype=torch.float64)
    targets = torch.randint(0, 5, (3, 4))
    lengths = torch.tensor([4, 2, 0])
    mask = torch.arange(4)[None, :] < lengths[:, None]
    for kw in [{}, {"time_reduction": "mean"}, {"reduction": "token_mean"}]:
        torch.testing.assert_close(
            sequence_labeling_loss(logits, targets, lengths, **kw),
            sequence_labeling_loss(logits, targets, mask=mask, **kw),
        )


def test_labeling_ignore_index_is_never_counted():
    logits = uniform_logits(1, 3, 2)
    targets = torch.tensor([[0, 7, 1]])
    value = sequence_labeling_loss(logits, targets, ignore_index=7, time_reduction="mean")
    assert value.item() == pytest.approx(LN2)
    all_ignored = sequence_labeling_loss(logits, torch.full((1, 3), -100))
    assert all_ignored.item() == 0.0


def test_labeling_class_weights_divide_by_summed_weights():
    logits = uniform_logits(1, 2, 2)
    targets = torch.tensor([[0, 1]])
    w = torch.tensor([3.0, 1.0], dtype=torch.float64)
    mean = sequence_labeling_loss(logits, targets, weight=w, time_reduction="mean")
    assert mean.item() == pytest.approx((3 * LN2 + LN2) / 4)
    total = sequence_labeling_loss(logits, targets, weight=w)
    assert total.item() == pytest.approx(4 * LN2)


def test_classification_reductions_by_hand():
    probs = torch.tensor([[0.7, 0.3], [0.2, 0.8]], dtype=torch.float64)
    targets = torch.tensor([0, 1])
    per = torch.tensor([-math.log(0.7), -math.log(0.8)], dtype=torch.float64)
    logits = probs.log()
    torch.testing.assert_close(sequence_classification_loss(logits, targets, reduction="none"), per)
    assert sequence_classification_loss(logits, targets, reduction="sum").item() == pytest.approx(
        per.sum().item()
    )
    assert sequence_classification_loss(logits, targets).item() == pytest.approx(per.mean().item())
    assert sequence_classification_loss(logits[:1], targets[:1]).item() == pytest.approx(
        0.357, 1e-3
    )


def test_classification_weighted_smoothed_mean_by_hand():
    logits = torch.zeros(2, 2, dtype=torch.float64)
    w = torch.tensor([2.0, 0.5], dtype=torch.float64)
    # Uniform predictions: ℓ_k = ln 2 for every k, so L_i = (1-ε) w_c ln2 + ε/2 (w0+w1) ln2.
    eps = 0.2
    l0 = (1 - eps) * 2.0 * LN2 + eps / 2 * 2.5 * LN2
    l1 = (1 - eps) * 0.5 * LN2 + eps / 2 * 2.5 * LN2
    got = sequence_classification_loss(logits, torch.tensor([0, 1]), weight=w, label_smoothing=eps)
    assert got.item() == pytest.approx((l0 + l1) / 2.5)


# ------------------------------------------------------------------ empty batches


@pytest.mark.parametrize("time_reduction", ["sum", "mean"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "token_mean"])
def test_labeling_batch_with_nothing_counted_is_zero_with_zero_gradient(time_reduction, reduction):
    if reduction == "token_mean" and time_reduction == "mean":
        pytest.skip("token_mean needs time_reduction='sum'")
    logits = torch.randn(2, 3, 4, requires_grad=True)
    loss = sequence_labeling_loss(
        logits,
        torch.zeros(2, 3, dtype=torch.long),
        torch.tensor([0, 0]),
        time_reduction=time_reduction,
        reduction=reduction,
        weight=torch.ones(4),
        label_smoothing=0.1,
    )
    loss.backward()
    assert loss.item() == 0.0 and not torch.isnan(loss)
    assert torch.equal(logits.grad, torch.zeros_like(logits))


def test_empty_batches_of_zero_rows_give_zero():
    logits = torch.zeros(0, 5, 3, requires_grad=True)
    loss = sequence_labeling_loss(logits, torch.zeros(0, 5, dtype=torch.long))
    loss.backward()
    assert loss.item() == 0.0
    c_logits = torch.zeros(0, 3, requires_grad=True)
    c_loss = sequence_classification_loss(c_logits, torch.zeros(0, dtype=torch.long))
    c_loss.backward()
    assert c_loss.item() == 0.0


def test_classification_with_zero_total_weight_is_zero_not_nan():
    logits = torch.randn(2, 3, requires_grad=True)
    loss = sequence_classification_loss(
        logits, torch.tensor([1, 1]), weight=torch.tensor([1.0, 0.0, 1.0])
    )
    loss.backward()
    assert loss.item() == 0.0
    assert torch.equal(logits.grad, torch.zeros_like(logits))


# ------------------------------------------------------------------- inert steps


def garbage_at(logits, uncounted, value):
    out = logits.detach().clone()
    out[uncounted] = value
    return out.requires_grad_(True)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e30])
@pytest.mark.parametrize("how", ["lengths", "mask", "float_mask", "ignore_index"])
def test_uncounted_steps_are_fully_inert(value, how):
    torch.manual_seed(1)
    n, t, c = 3, 5, 4
    clean = torch.randn(n, t, c, dtype=torch.float64)
    targets = torch.randint(0, c, (n, t))
    lengths = torch.tensor([5, 2, 0])
    real = torch.arange(t)[None, :] < lengths[:, None]  # (N, T)
    kw = {"weight": torch.rand(c, dtype=torch.float64) + 0.5, "label_smoothing": 0.1}
    if how == "lengths":
        args, bad_targets = (lengths,), targets.masked_fill(~real, -1)
    elif how == "mask":
        args, bad_targets = (), targets.masked_fill(~real, 12345)
        kw["mask"] = real
    elif how == "float_mask":
        args, bad_targets = (), targets.masked_fill(~real, -7)
        kw["mask"] = real.double() * 0.5
    else:
        args, bad_targets = (), targets.masked_fill(~real, -100)

    results = []
    for logits, tgt in [(clean.clone().requires_grad_(True), targets), (None, bad_targets)]:
        if logits is None:
            logits = garbage_at(clean, ~real, value)
        if how == "ignore_index":
            tgt = tgt if tgt is bad_targets else tgt.masked_fill(~real, -100)
        loss = sequence_labeling_loss(logits, tgt, *args, **kw)
        loss.backward()
        results.append((loss.detach(), logits.grad))
    (loss_a, grad_a), (loss_b, grad_b) = results
    assert torch.isfinite(loss_b)
    torch.testing.assert_close(loss_a, loss_b, rtol=0, atol=0)
    torch.testing.assert_close(grad_a, grad_b, rtol=0, atol=0)
    assert torch.count_nonzero(grad_b[~real]) == 0


def test_probability_targets_at_uncounted_steps_are_inert():
    clean = torch.randn(2, 3, 4, dtype=torch.float64)
    y = torch.softmax(torch.randn(2, 3, 4, dtype=torch.float64), -1)
    lengths = torch.tensor([3, 1])
    garbage_y = y.clone()
    garbage_y[1, 1:] = float("nan")
    logits_a = clean.clone().requires_grad_(True)
    logits_b = clean.clone()
    logits_b[1, 1:] = float("inf")
    logits_b.requires_grad_(True)
    loss_a = sequence_labeling_loss(logits_a, y, lengths)
    loss_b = sequence_labeling_loss(logits_b, garbage_y, lengths)
    loss_a.backward()
    loss_b.backward()
    torch.testing.assert_close(loss_a, loss_b, rtol=0, atol=0)
    torch.testing.assert_close(logits_a.grad, logits_b.grad, rtol=0, atol=0)


def test_nan_at_a_counted_step_propagates():
    logits = torch.zeros(1, 2, 3)
    logits[0, 0, 1] = float("nan")
    assert torch.isnan(sequence_labeling_loss(logits, torch.tensor([[0, 1]])))
    c_logits = torch.tensor([[float("inf"), 0.0]])
    assert not torch.isfinite(sequence_classification_loss(c_logits, torch.tensor([1])))


# ------------------------------------------------------------------------ dtypes


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16, torch.float32])
def test_low_precision_is_computed_in_float32_and_returned_in_input_dtype(dtype):
    torch.manual_seed(2)
    base = torch.randn(4, 6, 50) * 8
    logits = base.to(dtype).requires_grad_(True)
    targets = torch.randint(0, 50, (4, 6))
    lengths = torch.tensor([6, 3, 1, 0])
    loss = sequence_labeling_loss(logits, targets, lengths, label_smoothing=0.1)
    assert loss.dtype == dtype
    expected = sequence_labeling_loss(
        logits.detach().float(), targets, lengths, label_smoothing=0.1
    )
    # Only the final rounding to `dtype` may differ from the float32 computation.
    assert loss.float().item() == pytest.approx(expected.item(), rel=1e-2)
    assert loss.float().item() == expected.to(dtype).float().item()
    loss.backward()
    assert logits.grad.dtype == dtype and torch.isfinite(logits.grad.float()).all()
    c_loss = sequence_classification_loss(logits[:, 0], targets[:, 0])
    assert c_loss.dtype == dtype


def test_float64_stays_float64():
    logits = torch.zeros(2, 3, 4, dtype=torch.float64)
    assert sequence_labeling_loss(logits, torch.zeros(2, 3, dtype=torch.long)).dtype == (
        torch.float64
    )


def test_half_logits_with_huge_values_stay_finite():
    logits = torch.full((1, 2, 3), 60000.0, dtype=torch.float16)
    logits[0, :, 0] = -60000.0
    loss = sequence_labeling_loss(logits, torch.tensor([[1, 2]]))
    assert torch.isfinite(loss) and loss.item() == pytest.approx(2 * math.log(2), rel=1e-3)


# ----------------------------------------------------------------------- modules


def test_modules_equal_functions():
    torch.manual_seed(3)
    logits = torch.randn(3, 4, 5)
    targets = torch.randint(0, 5, (3, 4))
    lengths = torch.tensor([4, 1, 0])
    w = torch.rand(5) + 0.1
    kw = {"weight": w, "label_smoothing": 0.2, "time_reduction": "mean", "reduction": "sum"}
    module = SequenceLabelingLoss(**kw)
    torch.testing.assert_close(
        module(logits, targets, lengths=lengths),
        sequence_labeling_loss(logits, targets, lengths, **kw),
    )
    mask = torch.rand(3, 4)
    torch.testing.assert_close(
        module(logits, targets, mask=mask), sequence_labeling_loss(logits, targets, mask=mask, **kw)
    )
    assert "weight" in dict(module.named_buffers())
    c_module = SequenceClassificationLoss(weight=w, reduction="none")
    torch.testing.assert_close(
        c_module(logits[:, 0], targets[:, 0]),
        sequence_classification_loss(logits[:, 0], targets[:, 0], weight=w, reduction="none"),
    )


def test_modules_validate_options_on_construction():
    with pytest.raises(ValueError, match="reduction"):
        SequenceLabelingLoss(time_reduction="none")
    with pytest.raises(ValueError, match="label_smoothing"):
        SequenceClassificationLoss(label_smoothing=-0.1)


# ------------------------------------------------------------------------ errors

LOGITS = torch.zeros(2, 3, 4)
TARGETS = torch.zeros(2, 3, dtype=torch.long)


@pytest.mark.parametrize(
    ("call", "error", "name"),
    [
        (lambda: sequence_labeling_loss(torch.zeros(2, 4), TARGETS), ValueError, "logits"),
        (
            lambda: sequence_labeling_loss(LOGITS, torch.zeros(2, 4, dtype=torch.long)),
            ValueError,
            "targets",
        ),
        (
            lambda: sequence_labeling_loss(LOGITS, torch.zeros(3, dtype=torch.long)),
            ValueError,
            "targets",
        ),
        (lambda: sequence_labeling_loss(LOGITS, torch.full((2, 3), 4)), ValueError, "targets"),
        (lambda: sequence_labeling_loss(LOGITS, torch.full((2, 3), -1)), ValueError, "targets"),
        (
            lambda: sequence_labeling_loss(LOGITS, TARGETS, torch.tensor([1, 4])),
            ValueError,
            "lengths",
        ),
        (
            lambda: sequence_labeling_loss(LOGITS, TARGETS, torch.tensor([-1, 2])),
            ValueError,
            "lengths",
        ),
        (
            lambda: sequence_labeling_loss(LOGITS, TARGETS, torch.tensor([1, 2, 3])),
            ValueError,
            "lengths",
        ),
        (
            lambda: sequence_labeling_loss(
                LOGITS, TARGETS, torch.tensor([1, 2]), mask=torch.ones(2, 3, dtype=torch.bool)
            ),
            ValueError,
            "lengths",
        ),
        (
            lambda: sequence_labeling_loss(
                LOGITS, TARGETS, mask=torch.ones(3, 2, dtype=torch.bool)
            ),
            ValueError,
            "mask",
        ),
        (
            lambda: sequence_labeling_loss(LOGITS, TARGETS, mask=-torch.ones(2, 3)),
            ValueError,
            "mask",
        ),
        (
            lambda: sequence_labeling_loss(LOGITS, TARGETS, label_smoothing=1.0),
            ValueError,
            "label_smoothing",
        ),
        (
            lambda: sequence_labeling_loss(LOGITS, TARGETS, label_smoothing=-0.5),
            ValueError,
            "label_smoothing",
        ),
        (
            lambda: sequence_labeling_loss(LOGITS, TARGETS, reduction="average"),
            ValueError,
            "reduction",
        ),
        (
            lambda: sequence_labeling_loss(LOGITS, TARGETS, time_reduction="max"),
            ValueError,
            "time_reduction",
        ),
        (
            lambda: sequence_labeling_loss(LOGITS, TARGETS, time_reduction="none"),
            ValueError,
            "reduction",
        ),
        (
            lambda: sequence_labeling_loss(
                LOGITS, TARGETS, time_reduction="mean", reduction="token_mean"
            ),
            ValueError,
            "time_reduction",
        ),
        (
            lambda: sequence_labeling_loss(LOGITS, TARGETS, weight=torch.ones(3)),
            ValueError,
            "weight",
        ),
        (lambda: sequence_labeling_loss(LOGITS.long(), TARGETS), TypeError, "logits"),
        (lambda: sequence_labeling_loss(LOGITS, TARGETS.float()), TypeError, "targets"),
        (lambda: sequence_labeling_loss(LOGITS, LOGITS.long()), TypeError, "targets"),
        (
            lambda: sequence_labeling_loss(LOGITS, TARGETS, torch.tensor([1.0, 2.0])),
            TypeError,
            "lengths",
        ),
        (
            lambda: sequence_labeling_loss(
                LOGITS, TARGETS, mask=torch.ones(2, 3, dtype=torch.long)
            ),
            TypeError,
            "mask",
        ),
        (lambda: sequence_classification_loss(LOGITS, TARGETS), ValueError, "logits"),
        (
            lambda: sequence_classification_loss(LOGITS[:, 0], torch.tensor([0, 4])),
            ValueError,
            "targets",
        ),
        (
            lambda: sequence_classification_loss(LOGITS[:, 0], torch.tensor([0])),
            ValueError,
            "targets",
        ),
        (
            lambda: sequence_classification_loss(
                LOGITS[:, 0], TARGETS[:, 0], reduction="token_mean"
            ),
            ValueError,
            "reduction",
        ),
        (
            lambda: sequence_classification_loss(LOGITS[:, 0], TARGETS[:, 0], weight=torch.ones(5)),
            ValueError,
            "weight",
        ),
        (
            lambda: sequence_classification_loss(LOGITS[:, 0], TARGETS[:, 0], label_smoothing=2),
            ValueError,
            "label_smoothing",
        ),
        (
            lambda: sequence_classification_loss(LOGITS[:, 0], torch.zeros(2, 5)),
            ValueError,
            "targets",
        ),
    ],
)
def test_bad_input_raises_and_names_the_argument(call, error, name):
    with pytest.raises(error, match=name):
        call()


def test_targets_at_padding_may_hold_any_integer():
    targets = torch.tensor([[0, -1, 99], [5000, -3, -100]])
    loss = sequence_labeling_loss(LOGITS, targets, torch.tensor([1, 0]))
    assert loss.item() == pytest.approx(math.log(4))
