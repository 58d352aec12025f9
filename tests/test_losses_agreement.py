"""rnnseq.losses agrees with the NumPy reference, with F.cross_entropy and with finite
differences (gradcheck)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnseq import reference as ref
from rnnseq.losses import sequence_classification_loss, sequence_labeling_loss

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def labeling_cases(draw):
    n = draw(st.integers(0, 4))
    t = draw(st.integers(1, 5))
    c = draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, t, c, generator=g, dtype=torch.float64) * draw(st.sampled_from([1, 5]))
    prob_targets = draw(st.booleans())
    if prob_targets:
        targets = torch.softmax(torch.randn(n, t, c, generator=g, dtype=torch.float64), -1)
    else:
        targets = torch.randint(0, c, (n, t), generator=g)
        ignore = torch.rand(n, t, generator=g) < draw(st.sampled_from([0.0, 0.3]))
        targets = targets.masked_fill(ignore, -100)
    counting = draw(st.sampled_from(["none", "lengths", "bool_mask", "float_mask"]))
    lengths = mask = None
    if counting == "lengths":
        lengths = torch.randint(0, t + 1, (n,), generator=g)
    elif counting == "bool_mask":
        mask = torch.rand(n, t, generator=g) < 0.7
    elif counting == "float_mask":
        mask = torch.rand(n, t, generator=g, dtype=torch.float64)
        mask = mask.masked_fill(mask < 0.3, 0.0)
    weight = None
    if draw(st.booleans()):
        weight = torch.rand(c, generator=g, dtype=torch.float64) * 2 + 0.1
    smoothing = draw(st.sampled_from([0.0, 0.1, 0.5]))
    time_reduction, reduction = draw(
        st.sampled_from(
            [
                ("sum", "mean"),
                ("sum", "sum"),
                ("sum", "none"),
                ("sum", "token_mean"),
                ("mean", "mean"),
                ("mean", "sum"),
                ("mean", "none"),
                ("none", "none"),
            ]
        )
    )
    return {
        "logits": logits,
        "targets": targets,
        "lengths": lengths,
        "mask": mask,
        "weight": weight,
        "label_smoothing": smoothing,
        "time_reduction": time_reduction,
        "reduction": reduction,
    }


def as_numpy(x):
    return None if x is None else x.numpy()


@SETTINGS
@given(labeling_cases())
def test_labeling_loss_matches_numpy_reference(case):
    logits = case.pop("logits")
    ours = sequence_labeling_loss(logits, **case)
    theirs = ref.labeling_loss(
        ref.softmax(logits.numpy()),
        case["targets"].numpy(),
        as_numpy(case["lengths"]),
        mask=as_numpy(case["mask"]),
        weight=as_numpy(case["weight"]),
        label_smoothing=case["label_smoothing"],
        time_reduction=case["time_reduction"],
        reduction=case["reduction"],
    )
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-6, atol=1e-6)


@SETTINGS
@given(
    st.integers(0, 5),
    st.integers(1, 6),
    st.booleans(),
    st.booleans(),
    st.sampled_from([0.0, 0.2]),
    st.sampled_from(["mean", "sum", "none"]),
    st.integers(0, 2**31 - 1),
)
def test_classification_loss_matches_numpy_reference(n, c, probs, weighted, eps, reduction, seed):
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, c, generator=g, dtype=torch.float64) * 3
    if probs:
        targets = torch.softmax(torch.randn(n, c, generator=g, dtype=torch.float64), -1)
    else:
        targets = torch.randint(0, c, (n,), generator=g)
    weight = torch.rand(c, generator=g, dtype=torch.float64) + 0.1 if weighted else None
    ours = sequence_classification_loss(
        logits, targets, weight=weight, label_smoothing=eps, reduction=reduction
    )
    theirs = ref.classification_loss(
        ref.softmax(logits.numpy()),
        targets.numpy(),
        reduction,
        weight=as_numpy(weight),
        label_smoothing=eps,
    )
    np.testing.assert_allclose(ours.numpy(), theirs, rtol=1e-6, atol=1e-6)


# ----------------------------------------------------- agreement with F.cross_entropy


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.15])
def test_token_mean_with_ignore_index_equals_flattened_cross_entropy(weighted, eps):
    torch.manual_seed(4)
    n, t, c = 4, 7, 6
    logits = torch.randn(n, t, c, dtype=torch.float64)
    targets = torch.randint(0, c, (n, t)).masked_fill(torch.rand(n, t) < 0.3, -100)
    weight = torch.rand(c, dtype=torch.float64) + 0.2 if weighted else None
    ours = sequence_labeling_loss(
        logits, targets, reduction="token_mean", weight=weight, label_smoothing=eps
    )
    theirs = F.cross_entropy(
        logits.reshape(-1, c), targets.reshape(-1), weight=weight, label_smoothing=eps
    )
    torch.testing.assert_close(ours, theirs)
    per_step = sequence_labeling_loss(
        logits, targets, time_reduction="none", reduction="none", weight=weight, label_smoothing=eps
    )
    torch.testing.assert_close(
        per_step,
        F.cross_entropy(
            logits.reshape(-1, c),
            targets.reshape(-1),
            weight=weight,
            label_smoothing=eps,
            reduction="none",
        ).view(n, t),
    )


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.3])
def test_probability_targets_equal_cross_entropy(weighted, eps):
    torch.manual_seed(5)
    n, t, c = 3, 4, 5
    logits = torch.randn(n, t, c, dtype=torch.float64)
    y = torch.softmax(torch.randn(n, t, c, dtype=torch.float64), -1)
    weight = torch.rand(c, dtype=torch.float64) + 0.2 if weighted else None
    ours = sequence_labeling_loss(
        logits, y, reduction="token_mean", weight=weight, label_smoothing=eps
    )
    theirs = F.cross_entropy(
        logits.reshape(-1, c), y.reshape(-1, c), weight=weight, label_smoothing=eps
    )
    torch.testing.assert_close(ours, theirs)
    c_ours = sequence_classification_loss(logits[:, 0], y[:, 0], weight=weight, label_smoothing=eps)
    c_theirs = F.cross_entropy(logits[:, 0], y[:, 0], weight=weight, label_smoothing=eps)
    torch.testing.assert_close(c_ours, c_theirs)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("eps", [0.0, 0.1])
def test_classification_equals_cross_entropy(reduction, weighted, eps):
    torch.manual_seed(6)
    logits = torch.randn(9, 4, dtype=torch.float64)
    targets = torch.randint(0, 4, (9,))
    weight = torch.rand(4, dtype=torch.float64) + 0.2 if weighted else None
    kw = {"weight": weight, "label_smoothing": eps, "reduction": reduction}
    torch.testing.assert_close(
        sequence_classification_loss(logits, targets, **kw), F.cross_entropy(logits, targets, **kw)
    )


def test_sum_over_time_mean_over_rows_equals_per_step_cross_entropy_by_hand():
    torch.manual_seed(7)
    logits = torch.randn(3, 5, 4, dtype=torch.float64)
    targets = torch.randint(0, 4, (3, 5))
    lengths = torch.tensor([5, 3, 1])
    mask = torch.arange(5)[None] < lengths[:, None]
    per = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none")  # (N, T)
    expected = (per * mask).sum(1).mean()
    torch.testing.assert_close(sequence_labeling_loss(logits, targets, lengths), expected)
    expected_mean = ((per * mask).sum(1) / lengths).mean()
    torch.testing.assert_close(
        sequence_labeling_loss(logits, targets, lengths, time_reduction="mean"), expected_mean
    )


# ------------------------------------------------------------------------ gradcheck


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"time_reduction": "mean"},
        {"reduction": "token_mean", "label_smoothing": 0.2},
        {"time_reduction": "mean", "weight": torch.tensor([0.5, 2.0, 1.0], dtype=torch.float64)},
        {"time_reduction": "none", "reduction": "none", "label_smoothing": 0.1},
    ],
)
def test_labeling_gradcheck(kw):
    torch.manual_seed(8)
    logits = torch.randn(3, 4, 3, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 3, (3, 4))
    lengths = torch.tensor([4, 2, 0])
    assert torch.autograd.gradcheck(
        lambda z: sequence_labeling_loss(z, targets, lengths, **kw), (logits,)
    )


def test_labeling_gradcheck_probability_targets_and_float_mask():
    torch.manual_seed(9)
    logits = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    y = torch.softmax(torch.randn(2, 3, 4, dtype=torch.float64), -1)
    mask = torch.tensor([[1.0, 0.5, 0.0], [0.2, 0.0, 0.0]], dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda z: sequence_labeling_loss(z, y, mask=mask, time_reduction="mean"), (logits,)
    )


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"weight": torch.tensor([1.0, 3.0, 0.5], dtype=torch.float64), "label_smoothing": 0.3},
        {"reduction": "none"},
    ],
)
def test_classification_gradcheck(kw):
    torch.manual_seed(10)
    logits = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 3, (5,))
    assert torch.autograd.gradcheck(
        lambda z: sequence_classification_loss(z, targets, **kw), (logits,)
    )
