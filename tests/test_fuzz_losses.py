"""rnnseq.losses fed random shapes, dtypes and extreme values (hypothesis).

Valid input: the loss and its gradient are finite wherever the exact result fits the
dtype, agree with a float64 oracle (``F.cross_entropy`` per step, the contract's
divisions on top), and steps that are not counted get a gradient of exactly 0.
Invalid input: a ValueError (TypeError for a wrong dtype) whose message names the
argument -- never another exception.
"""

from __future__ import annotations

import math
import os

import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnseq.losses import sequence_classification_loss, sequence_labeling_loss

_HUNT = os.environ.get("RNNSEQ_FUZZ_EXAMPLES")  # set it (e.g. 5000) to hunt with fresh seeds
FUZZ = settings(
    max_examples=int(_HUNT or 150),
    derandomize=_HUNT is None,  # the same examples on every CI run
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64]
SUBNORMAL = {  # a subnormal number of each dtype
    torch.float16: 3e-6,
    torch.bfloat16: 1e-39,
    torch.float32: 1e-40,
    torch.float64: 5e-320,
}
# (rtol, atol) of the loss and the gradient against the float64 oracle: half
# precision is computed in float32 and rounded once at the end.
TOLERANCE = {
    torch.float16: (2e-3, 2e-2),
    torch.bfloat16: (1.6e-2, 5e-2),
    torch.float32: (1e-4, 2e-2),
    torch.float64: (1e-9, 1e-7),
}
IGNORE = -100


# --------------------------------------------------------------------------
# Strategies
# --------------------------------------------------------------------------


@st.composite
def logits_of(draw, shape, dtype):
    extreme = st.sampled_from([0.0, 1e4, -1e4, SUBNORMAL[dtype], -SUBNORMAL[dtype], 1.0])
    value = st.one_of(extreme, st.floats(-30, 30, allow_nan=False, allow_subnormal=False))
    flat = draw(st.lists(value, min_size=math.prod(shape), max_size=math.prod(shape)))
    return torch.tensor(flat, dtype=torch.float64).reshape(shape).to(dtype)


@st.composite
def targets_of(draw, shape, num_classes, dtype, index: bool, ignore: bool):
    if index:
        choices = st.integers(0, num_classes - 1)
        if ignore:
            choices = st.one_of(choices, st.just(IGNORE))
        flat = draw(st.lists(choices, min_size=math.prod(shape), max_size=math.prod(shape)))
        return torch.tensor(flat, dtype=torch.long).reshape(shape)
    raw = draw(logits_of((*shape, num_classes), torch.float64)).clamp(-30, 30)
    return torch.softmax(raw, dim=-1).to(dtype)  # a true distribution per step


@st.composite
def weights_of(draw, num_classes):
    if draw(st.booleans()):
        return None
    value = st.one_of(st.just(0.0), st.floats(0.1, 3.0))
    return torch.tensor(draw(st.lists(value, min_size=num_classes, max_size=num_classes)))


@st.composite
def labeling_case(draw):
    n, t, c = draw(st.integers(0, 4)), draw(st.integers(0, 5)), draw(st.integers(1, 5))
    dtype = draw(st.sampled_from(DTYPES))
    index = draw(st.booleans())
    time_reduction = draw(st.sampled_from(["sum", "mean", "none"]))
    reductions = ["none"] if time_reduction == "none" else ["mean", "sum", "none"]
    reductions += ["token_mean"] if time_reduction == "sum" else []
    kw = {
        "time_reduction": time_reduction,
        "reduction": draw(st.sampled_from(reductions)),
        "weight": draw(weights_of(c)),
        "label_smoothing": draw(st.sampled_from([0.0, 0.1, 0.5, 0.999])),
    }
    steps = draw(st.sampled_from(["all", "lengths", "bool mask", "float mask", "no step"]))
    if steps in ("lengths", "no step"):
        high = 0 if steps == "no step" else t
        lengths = draw(st.lists(st.integers(0, high), min_size=n, max_size=n))
        kw["lengths"] = torch.tensor(lengths, dtype=torch.long)
    elif steps == "bool mask":
        mask = draw(st.lists(st.booleans(), min_size=n * t, max_size=n * t))
        kw["mask"] = torch.tensor(mask, dtype=torch.bool).reshape(n, t)
    elif steps == "float mask":
        weight = st.one_of(st.just(0.0), st.floats(0.1, 2.0))
        kw["mask"] = torch.tensor(
            draw(st.lists(weight, min_size=n * t, max_size=n * t)), dtype=torch.float64
        ).reshape(n, t)
    logits = draw(logits_of((n, t, c), dtype))
    targets = draw(targets_of((n, t), c, dtype, index, ignore=True))
    return logits, targets, kw


@st.composite
def classification_case(draw):
    n, c = draw(st.integers(0, 5)), draw(st.integers(1, 5))
    dtype = draw(st.sampled_from(DTYPES))
    index = draw(st.booleans())
    kw = {
        "reduction": draw(st.sampled_from(["mean", "sum", "none"])),
        "weight": draw(weights_of(c)),
        "label_smoothing": draw(st.sampled_from([0.0, 0.1, 0.5, 0.999])),
    }
    logits = draw(logits_of((n, c), dtype))
    return logits, draw(targets_of((n,), c, dtype, index, ignore=False)), kw


# --------------------------------------------------------------------------
# The float64 oracle: F.cross_entropy per step, the contract's divisions on top.
# --------------------------------------------------------------------------


def _divide(total, count):
    return torch.where(count != 0, total / torch.where(count != 0, count, 1.0), 0.0)


def oracle_labeling(z, targets, kw):
    """z: float64 logits (N, T, C) -> the loss as the contract writes it."""
    n, t, c = z.shape
    index = targets.dim() == 2
    if "lengths" in kw:
        m = (torch.arange(t)[None, :] < kw["lengths"][:, None]).double()  # (N, T)
    elif "mask" in kw:
        m = kw["mask"].double()  # (N, T)
    else:
        m = torch.ones(n, t, dtype=torch.float64)
    w = kw["weight"].double() if kw["weight"] is not None else None
    if index:
        m = torch.where(targets == IGNORE, 0.0, m)
        y = torch.where(m != 0, targets, 0)  # (N, T)
        flat_y = y.reshape(-1)
    else:
        y = targets.double()
        flat_y = y.reshape(-1, c)
    per_step = F.cross_entropy(
        z.reshape(-1, c),
        flat_y,
        weight=w,
        label_smoothing=kw["label_smoothing"],
        reduction="none",
    ).reshape(n, t)
    per_step = torch.where(m != 0, per_step, 0.0)  # (N, T) L_ij, uncounted steps inert
    losses = per_step * m  # (N, T)
    counts = m * w[y] if index and w is not None else m  # (N, T) n_ij
    if kw["time_reduction"] == "none":
        return losses
    if kw["reduction"] == "token_mean":
        return _divide(losses.sum(), counts.sum())
    rows = losses.sum(1)  # (N,)
    if kw["time_reduction"] == "mean":
        rows = _divide(rows, counts.sum(1))
    if kw["reduction"] == "none":
        return rows
    if kw["reduction"] == "sum":
        return rows.sum()
    return _divide(rows.sum(), (m != 0).any(1).sum().double())


def oracle_classification(z, targets, kw):
    index = targets.dim() == 1
    w = kw["weight"].double() if kw["weight"] is not None else None
    y = targets if index else targets.double()
    losses = F.cross_entropy(
        z, y, weight=w, label_smoothing=kw["label_smoothing"], reduction="none"
    )  # (N,)
    if kw["reduction"] == "none":
        return losses
    if kw["reduction"] == "sum":
        return losses.sum()
    count = w[targets].sum() if index and w is not None else torch.tensor(float(len(z)))
    return _divide(losses.sum(), count)


def _counted(targets, kw) -> torch.Tensor:
    """(N, T) bool: the steps the loss counts."""
    n, t = targets.shape[:2]
    if "lengths" in kw:
        counted = torch.arange(t)[None, :] < kw["lengths"][:, None]
    elif "mask" in kw:
        counted = kw["mask"] != 0
    else:
        counted = torch.ones(n, t, dtype=torch.bool)
    if targets.dim() == 2:
        counted = counted & (targets != IGNORE)
    return counted


def check_against_oracle(loss_fn, oracle, logits, targets, kw):
    dtype = logits.dtype
    x = logits.clone().requires_grad_(True)
    out = loss_fn(x, targets, **kw)
    assert out.dtype == dtype
    z = logits.double().requires_grad_(True)
    expected = oracle(z, targets, kw)
    assert out.shape == expected.shape
    rtol, atol = TOLERANCE[dtype]
    fits = bool((expected.abs() < torch.finfo(dtype).max / 2).all())
    if fits:  # the exact result is representable: it must come out finite and right
        assert torch.isfinite(out).all(), (out, expected)
        torch.testing.assert_close(out.double(), expected.detach(), rtol=rtol, atol=atol)
    if out.numel() == 0:
        return x, None
    out.sum().backward()
    expected.sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    torch.testing.assert_close(x.grad.double(), z.grad, rtol=rtol, atol=atol)
    return x, x.grad


# --------------------------------------------------------------------------
# Valid input
# --------------------------------------------------------------------------


@FUZZ
@given(case=labeling_case())
def test_labeling_loss_is_finite_and_right_on_random_extreme_input(case):
    logits, targets, kw = case
    _, grad = check_against_oracle(sequence_labeling_loss, oracle_labeling, logits, targets, kw)
    if grad is not None:
        assert (grad[~_counted(targets, kw)] == 0).all()  # uncounted steps: exactly 0


@FUZZ
@given(case=classification_case())
def test_classification_loss_is_finite_and_right_on_random_extreme_input(case):
    logits, targets, kw = case
    check_against_oracle(sequence_classification_loss, oracle_classification, logits, targets, kw)


@FUZZ
@given(case=labeling_case(), garbage=st.sampled_from([math.nan, math.inf, -math.inf, 1e30]))
def test_all_padding_gives_zero_loss_and_zero_gradient_whatever_the_logits(case, garbage):
    logits, targets, kw = case
    n, t, _ = logits.shape
    kw = {k: v for k, v in kw.items() if k not in ("lengths", "mask")}
    kw["lengths"] = torch.zeros(n, dtype=torch.long)
    x = torch.full(logits.shape, garbage, dtype=torch.float64).to(logits.dtype)
    x.requires_grad_(True)
    out = sequence_labeling_loss(x, targets, **kw)
    assert (out == 0).all()
    if out.numel():
        out.sum().backward()
        assert (x.grad == 0).all()


# --------------------------------------------------------------------------
# Invalid input: the contract's error, naming the argument
# --------------------------------------------------------------------------


def _labeling_breakages(logits, targets, kw):
    """(name of the argument the message must name, broken call arguments)."""
    n, t, c = logits.shape
    base = {k: v for k, v in kw.items() if k not in ("lengths", "mask")}
    index = targets.dim() == 2
    yield "logits", (logits.reshape(-1), targets, base)
    yield "logits", (logits.long(), targets, base)
    yield "targets", (logits, targets[..., None, None], base)
    yield "targets", (logits, torch.zeros(n, t + 1, dtype=torch.long), base)
    if n:  # a length outside [0, T] needs a row to hold it
        yield "lengths", (logits, targets, {**base, "lengths": torch.full((n,), t + 1)})
        yield "lengths", (logits, targets, {**base, "lengths": torch.full((n,), -1)})
    yield "lengths", (logits, targets, {**base, "lengths": torch.zeros(n + 1, dtype=torch.long)})
    yield "lengths", (logits, targets, {**base, "lengths": torch.zeros(n)})
    yield "mask", (logits, targets, {**base, "mask": torch.ones(n, t + 1, dtype=torch.bool)})
    yield (
        "lengths",
        (
            logits,
            targets,
            {**base, "lengths": torch.zeros(n, dtype=torch.long), "mask": torch.ones(n, t) > 0},
        ),
    )
    for eps in (-0.1, 1.0, 2.0, math.nan):
        yield "label_smoothing", (logits, targets, {**base, "label_smoothing": eps})
    yield "reduction", (logits, targets, {**base, "reduction": "average"})
    yield "time_reduction", (logits, targets, {**base, "time_reduction": "max"})
    yield "weight", (logits, targets, {**base, "weight": torch.ones(c + 1)})
    if kw["time_reduction"] == "none":
        yield "reduction", (logits, targets, {**base, "reduction": "mean"})
    if index and n and t:
        bad = targets.clone()
        bad[0, 0] = c  # a counted step (no lengths, no mask) outside [0, C)
        yield "targets", (logits, bad, base)
        bad[0, 0] = -1
        yield "targets", (logits, bad, base)
        yield "targets", (logits, targets.double(), base)


@FUZZ
@given(case=labeling_case(), pick=st.integers(0, 1000))
def test_bad_labeling_input_raises_the_contract_error_naming_the_argument(case, pick):
    logits, targets, kw = case
    breakages = list(_labeling_breakages(logits, targets, kw))
    name, (x, y, kwargs) = breakages[pick % len(breakages)]
    with pytest.raises((ValueError, TypeError)) as caught:
        sequence_labeling_loss(x, y, **kwargs)
    assert name in str(caught.value)


@FUZZ
@given(case=classification_case(), pick=st.integers(0, 1000))
def test_bad_classification_input_raises_the_contract_error_naming_the_argument(case, pick):
    logits, targets, kw = case
    n, c = logits.shape
    breakages = [
        ("logits", (logits[None], targets, kw)),
        ("logits", (logits.int(), targets, kw)),
        ("targets", (logits, torch.zeros(n + 1, dtype=torch.long), kw)),
        ("label_smoothing", (logits, targets, {**kw, "label_smoothing": 1.0})),
        ("reduction", (logits, targets, {**kw, "reduction": "token_mean"})),
        ("weight", (logits, targets, {**kw, "weight": torch.ones(c + 2)})),
    ]
    if targets.dim() == 1 and n:
        breakages.append(("targets", (logits, torch.full((n,), c), kw)))
    name, (x, y, kwargs) = breakages[pick % len(breakages)]
    with pytest.raises((ValueError, TypeError)) as caught:
        sequence_classification_loss(x, y, **kwargs)
    assert name in str(caught.value)


@pytest.mark.parametrize(
    "call",
    [
        lambda: sequence_labeling_loss(
            torch.zeros(2, 3, 0), torch.zeros(2, 3, dtype=torch.long), torch.tensor([0, 0])
        ),
        lambda: sequence_labeling_loss(torch.zeros(1, 2, 0), torch.full((1, 2), IGNORE)),
        lambda: sequence_classification_loss(torch.zeros(2, 0), torch.zeros(2, 0)),
    ],
    ids=["labeling, all padding", "labeling, all ignored", "classification, soft targets"],
)
def test_logits_without_classes_give_the_contract_error(call):
    """C = 0 defines no distribution: a ValueError naming logits."""
    try:
        out = call()
    except (ValueError, TypeError) as e:
        assert "logits" in str(e) or "targets" in str(e)
    else:
        assert out.numel() == 1 and float(out) == 0.0
