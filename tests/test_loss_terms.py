"""The *_terms functions give the (total, count) pairs the trainer divides once: checked
against the denominators written out here from F.cross_entropy and the CRF's per-sequence
NLL, for every reduction, time reduction, class weighting and label smoothing the trainer
accepts; and the scalar losses are exactly their terms' value()."""

import itertools

import pytest
import torch
import torch.nn.functional as F

from rnnseq.crf import LinearChainCRF, crf_loss, crf_loss_terms
from rnnseq.losses import (
    LossTerms,
    linear_sequence_labeling_loss,
    linear_sequence_labeling_loss_terms,
    sequence_classification_loss,
    sequence_classification_loss_terms,
    sequence_labeling_loss,
    sequence_labeling_loss_terms,
)

SEEDS = [0, 1]
SMOOTHING = [0.0, 0.1]
WEIGHTED = [False, True]
# (time_reduction, reduction) pairs the trainer accepts (token_mean needs time "sum").
LABELING = [
    ("sum", "mean"),
    ("sum", "sum"),
    ("sum", "token_mean"),
    ("mean", "mean"),
    ("mean", "sum"),
]


def class_weights(c, weighted, seed):
    g = torch.Generator().manual_seed(seed + 100)
    return torch.rand(c, generator=g, dtype=torch.float64) + 0.2 if weighted else None


def sequence_batch(n, t, c, seed):
    """Ragged rows (one of them empty), padding at -100 and a few ignored steps inside rows."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, t + 1, (n,), generator=g)
    lengths[-1] = 0
    real = torch.arange(t)[None, :] < lengths[:, None]  # (N, T)
    targets = torch.randint(0, c, (n, t), generator=g)
    targets = targets.masked_fill(~real | (torch.rand(n, t, generator=g) < 0.2), -100)
    return targets, lengths


def expected_labeling(scores, targets, weight, eps, time_reduction, reduction):
    """(total, count) written out: per-step F.cross_entropy, then the reductions."""
    n, t, c = scores.shape
    per_step = F.cross_entropy(
        scores.reshape(n * t, c), targets.reshape(-1), weight=weight, ignore_index=-100,
        label_smoothing=eps, reduction="none",
    ).view(n, t)  # fmt: skip
    counted = targets != -100
    n_ij = counted.double() if weight is None else weight[targets.clamp(min=0)] * counted
    rows = per_step.sum(1)
    if time_reduction == "mean":
        rows = torch.where(n_ij.sum(1) > 0, rows / n_ij.sum(1).clamp(min=1e-300), 0.0)
    total = rows.sum()
    if reduction == "sum":
        return total, None
    if reduction == "token_mean":
        return total, n_ij.sum()
    return total, counted.any(1).sum().double()


def assert_same_terms(ours: LossTerms, total, count):
    torch.testing.assert_close(ours.total, total, rtol=1e-12, atol=1e-12)
    if count is None:
        assert ours.count is None
    else:
        assert ours.count is not None and not ours.count.requires_grad
        torch.testing.assert_close(ours.count, count.to(ours.count.dtype), rtol=1e-12, atol=1e-12)


def test_classification_terms_divide_by_examples_or_their_weights():
    c = 5
    for seed, weighted, eps, reduction in itertools.product(
        SEEDS, WEIGHTED, SMOOTHING, ["mean", "sum"]
    ):
        g = torch.Generator().manual_seed(seed)
        scores = torch.randn(6, c, generator=g, dtype=torch.float64, requires_grad=True)
        targets = torch.randint(0, c, (6,), generator=g)
        w = class_weights(c, weighted, seed)
        total = F.cross_entropy(scores, targets, weight=w, label_smoothing=eps, reduction="sum")
        count = torch.tensor(6.0) if w is None else w[targets].sum()
        count = None if reduction == "sum" else count
        ours = sequence_classification_loss_terms(
            scores, targets, weight=w, label_smoothing=eps, reduction=reduction
        )
        assert_same_terms(ours, total, count)


@pytest.mark.parametrize(("time_reduction", "reduction"), LABELING)
def test_labeling_terms_sum_the_reduced_rows_and_count_what_the_reduction_divides_by(
    time_reduction, reduction
):
    c = 7
    for seed, weighted, eps in itertools.product(SEEDS, WEIGHTED, SMOOTHING):
        targets, lengths = sequence_batch(4, 6, c, seed)
        g = torch.Generator().manual_seed(seed)
        scores = torch.randn(4, 6, c, generator=g, dtype=torch.float64, requires_grad=True)
        w = class_weights(c, weighted, seed)
        ours = sequence_labeling_loss_terms(
            scores, targets, lengths, time_reduction=time_reduction, reduction=reduction,
            weight=w, label_smoothing=eps,
        )  # fmt: skip
        assert_same_terms(ours, *expected_labeling(scores, targets, w, eps, time_reduction,
                                                   reduction))  # fmt: skip


@pytest.mark.parametrize("reduction", ["mean", "sum", "token_mean"])
def test_crf_terms_sum_the_sequence_nll_and_count_rows_or_steps(reduction):
    c = 4
    crf = LinearChainCRF(c).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.copy_(torch.randn_like(p))
    for seed in SEEDS:
        targets, lengths = sequence_batch(4, 6, c, seed)
        scores = torch.randn(4, 6, c, dtype=torch.float64, requires_grad=True)
        tags = targets.clamp(min=0)  # the trainer's: ignored steps still count, as tag 0
        total = crf(scores, tags, lengths, reduction="none").sum()
        count = {"sum": None, "mean": (lengths > 0).sum(), "token_mean": lengths.sum()}[reduction]
        ours = crf.loss_terms(scores, tags, lengths, reduction=reduction)
        assert_same_terms(ours, total, None if count is None else count.double())


@pytest.mark.parametrize(("time_reduction", "reduction"), LABELING)
def test_chunked_head_terms_equal_the_terms_of_the_logits_it_never_forms(
    time_reduction, reduction
):
    vocab, size = 2051, 6
    g = torch.Generator().manual_seed(5)
    weight = torch.randn(vocab, size, generator=g, dtype=torch.float64)
    bias = torch.randn(vocab, generator=g, dtype=torch.float64)
    for seed, weighted, eps in itertools.product(SEEDS, WEIGHTED, SMOOTHING):
        targets, lengths = sequence_batch(3, 5, vocab, seed)
        hidden = torch.randn(3, 5, size, dtype=torch.float64)
        w = class_weights(vocab, weighted, seed)
        kw = dict(time_reduction=time_reduction, reduction=reduction, label_smoothing=eps)
        ours = linear_sequence_labeling_loss_terms(
            hidden, weight, bias, targets, lengths, class_weight=w, **kw
        )
        logits = F.linear(hidden, weight, bias)
        theirs = sequence_labeling_loss_terms(logits, targets, lengths, weight=w, **kw)
        assert_same_terms(ours, theirs.total, theirs.count)


# ------------------------------------------------------------ scalar = terms.value()


def test_scalar_losses_are_their_terms_value():
    g = torch.Generator().manual_seed(3)
    logits = torch.randn(3, 4, 6, generator=g, dtype=torch.float64)
    targets = torch.randint(0, 6, (3, 4), generator=g)
    lengths = torch.tensor([4, 2, 0])
    weight = torch.rand(6, generator=g, dtype=torch.float64) + 0.5
    for (time_reduction, reduction), eps in itertools.product(LABELING, SMOOTHING):
        kw = dict(time_reduction=time_reduction, reduction=reduction, label_smoothing=eps)
        terms = sequence_labeling_loss_terms(logits, targets, lengths, weight=weight, **kw)
        loss = sequence_labeling_loss(logits, targets, lengths, weight=weight, **kw)
        torch.testing.assert_close(loss, terms.value(), rtol=1e-14, atol=1e-14)
        w, b = torch.randn(6, 5, dtype=torch.float64), torch.randn(6, dtype=torch.float64)
        hidden = torch.randn(3, 4, 5, dtype=torch.float64)
        torch.testing.assert_close(
            linear_sequence_labeling_loss(hidden, w, b, targets, lengths, **kw),
            linear_sequence_labeling_loss_terms(hidden, w, b, targets, lengths, **kw).value(),
        )
    for reduction in ["mean", "sum"]:
        kw = dict(weight=weight, label_smoothing=0.1, reduction=reduction)
        torch.testing.assert_close(
            sequence_classification_loss(logits[:, 0], targets[:, 0], **kw),
            sequence_classification_loss_terms(logits[:, 0], targets[:, 0], **kw).value(),
        )
    for reduction in ["mean", "sum", "token_mean"]:
        kw = dict(reduction=reduction, transitions=torch.randn(6, 6, dtype=torch.float64))
        torch.testing.assert_close(
            crf_loss(logits, targets, lengths, **kw),
            crf_loss_terms(logits, targets, lengths, **kw).value(),
        )


def test_terms_of_two_halves_add_up_to_the_terms_of_the_whole_batch():
    g = torch.Generator().manual_seed(4)
    logits = torch.randn(4, 5, 3, generator=g, dtype=torch.float64)
    targets = torch.randint(0, 3, (4, 5), generator=g)
    lengths = torch.tensor([5, 1, 0, 3])
    for time_reduction, reduction in LABELING:
        kw = dict(time_reduction=time_reduction, reduction=reduction)
        whole = sequence_labeling_loss_terms(logits, targets, lengths, **kw)
        halves = [
            sequence_labeling_loss_terms(logits[rows], targets[rows], lengths[rows], **kw)
            for rows in (slice(0, 2), slice(2, 4))
        ]
        torch.testing.assert_close(halves[0].total + halves[1].total, whole.total)
        if reduction != "sum":
            torch.testing.assert_close(halves[0].count + halves[1].count, whole.count)
        else:
            assert whole.count is None


def test_nothing_counted_gives_zero_terms_whose_value_is_zero_with_zero_gradient():
    logits = torch.full((2, 3, 4), float("nan"), requires_grad=True)
    targets = torch.zeros(2, 3, dtype=torch.long)
    terms = sequence_labeling_loss_terms(logits, targets, torch.tensor([0, 0]), reduction="mean")
    assert terms.total.item() == 0.0 and terms.count.item() == 0.0
    value = terms.value()
    value.backward()
    assert value.item() == 0.0 and torch.count_nonzero(logits.grad) == 0


def test_count_is_in_the_computation_dtype_and_carries_no_gradient():
    logits = torch.randn(2, 3, 4).to(torch.bfloat16).requires_grad_(True)
    terms = sequence_labeling_loss_terms(
        logits, torch.zeros(2, 3, dtype=torch.long), reduction="token_mean"
    )
    assert terms.total.dtype == terms.count.dtype == torch.float32
    assert terms.total.requires_grad and not terms.count.requires_grad


@pytest.mark.parametrize(
    "call",
    [
        lambda: sequence_classification_loss_terms(torch.zeros(2, 3), torch.zeros(2).long(),
                                                   reduction="none"),
        lambda: sequence_labeling_loss_terms(torch.zeros(2, 3, 4), torch.zeros(2, 3).long(),
                                             reduction="none", time_reduction="none"),
        lambda: linear_sequence_labeling_loss_terms(torch.zeros(2, 3, 4), torch.zeros(5, 4),
                                                    None, torch.zeros(2, 3).long(),
                                                    reduction="none"),
        lambda: crf_loss_terms(torch.zeros(2, 3, 4), torch.zeros(2, 3).long(),
                               transitions=torch.zeros(4, 4), reduction="none"),
        lambda: sequence_labeling_loss_terms(torch.zeros(2, 3, 4), torch.zeros(2, 3).long(),
                                             reduction="average"),
    ],
)  # fmt: skip
def test_terms_refuse_unreduced_losses_naming_reduction(call):
    with pytest.raises(ValueError, match="reduction"):
        call()


def test_terms_refuse_per_step_losses_naming_time_reduction():
    with pytest.raises(ValueError, match="time_reduction='none'"):
        sequence_labeling_loss_terms(
            torch.zeros(2, 3, 4), torch.zeros(2, 3).long(), time_reduction="none"
        )
