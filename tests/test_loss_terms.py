"""The *_terms functions give the (total, count) pairs the trainer divides: the same numbers as
TaskModel.objective (classify, tag, tag + CRF) and TaskModel.loss_terms (a large LM's chunked
head) for every reduction, time reduction, class weighting and label smoothing; and the scalar
losses are exactly their terms' value()."""

import itertools

import pytest
import torch

from rnnseq.crf import crf_loss, crf_loss_terms
from rnnseq.data import Batch
from rnnseq.losses import (
    LossTerms,
    linear_sequence_labeling_loss,
    linear_sequence_labeling_loss_terms,
    sequence_classification_loss,
    sequence_classification_loss_terms,
    sequence_labeling_loss,
    sequence_labeling_loss_terms,
)
from rnnseq.models import ModelConfig
from rnnseq.task_model import CHUNKED_HEAD_MIN_VOCAB, LossOptions, TaskModel

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


def options(c, weighted, eps, time_reduction="sum", reduction="mean", seed=0):
    g = torch.Generator().manual_seed(seed + 100)
    weights = torch.rand(c, generator=g, dtype=torch.float64) + 0.2 if weighted else None
    return LossOptions(
        time_reduction=time_reduction,
        reduction=reduction,
        label_smoothing=eps,
        class_weights=weights,
    )


def sequence_batch(n, t, c, seed):
    """Ragged rows (one of them empty), padding at -100 and a few ignored steps inside rows."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, t + 1, (n,), generator=g)
    lengths[-1] = 0
    real = torch.arange(t)[None, :] < lengths[:, None]  # (N, T)
    targets = torch.randint(0, c, (n, t), generator=g)
    targets = targets.masked_fill(~real | (torch.rand(n, t, generator=g) < 0.2), -100)
    tokens = torch.randint(1, c, (n, t), generator=g) * real
    return Batch(tokens, lengths, targets, chars=None, indices=list(range(n)))


def assert_same_terms(ours: LossTerms, total, count):
    torch.testing.assert_close(ours.total, total, rtol=1e-12, atol=1e-12)
    if count is None:
        assert ours.count is None
    else:
        assert ours.count is not None and not ours.count.requires_grad
        torch.testing.assert_close(ours.count, count.to(ours.count.dtype), rtol=1e-12, atol=1e-12)


def test_classification_terms_equal_the_trainers_objective():
    c = 5
    model = TaskModel(ModelConfig(task="classify", vocab_size=9, num_labels=c, hidden=4))
    for seed, weighted, eps, reduction in itertools.product(
        SEEDS, WEIGHTED, SMOOTHING, ["mean", "sum"]
    ):
        g = torch.Generator().manual_seed(seed)
        scores = torch.randn(6, c, generator=g, dtype=torch.float64, requires_grad=True)
        targets = torch.randint(0, c, (6,), generator=g)
        batch = Batch(torch.ones(6, 2, dtype=torch.long), torch.full((6,), 2), targets, None, [])
        opts = options(c, weighted, eps, reduction=reduction, seed=seed)
        total, count = model.objective(scores, batch, opts)
        ours = sequence_classification_loss_terms(
            scores, targets, weight=opts.class_weights, label_smoothing=eps, reduction=reduction
        )
        assert_same_terms(ours, total, count)


@pytest.mark.parametrize(("time_reduction", "reduction"), LABELING)
def test_labeling_terms_equal_the_trainers_objective(time_reduction, reduction):
    c = 7
    model = TaskModel(ModelConfig(task="tag", vocab_size=9, num_labels=c, hidden=4))
    for seed, weighted, eps in itertools.product(SEEDS, WEIGHTED, SMOOTHING):
        batch = sequence_batch(4, 6, c, seed)
        g = torch.Generator().manual_seed(seed)
        scores = torch.randn(4, 6, c, generator=g, dtype=torch.float64, requires_grad=True)
        opts = options(c, weighted, eps, time_reduction, reduction, seed)
        total, count = model.objective(scores, batch, opts)
        ours = sequence_labeling_loss_terms(
            scores, batch.targets, batch.lengths, time_reduction=time_reduction,
            reduction=reduction, weight=opts.class_weights, label_smoothing=eps,
        )  # fmt: skip
        assert_same_terms(ours, total, count)


@pytest.mark.parametrize("reduction", ["mean", "sum", "token_mean"])
def test_crf_terms_equal_the_trainers_objective(reduction):
    c = 4
    model = TaskModel(ModelConfig(task="tag", vocab_size=9, num_labels=c, hidden=4), use_crf=True)
    model = model.double()
    with torch.no_grad():
        for p in model.crf.parameters():
            p.copy_(torch.randn_like(p))
    for seed in SEEDS:
        batch = sequence_batch(4, 6, c, seed)
        scores = torch.randn(4, 6, c, dtype=torch.float64, requires_grad=True)
        total, count = model.objective(scores, batch, LossOptions(kind="crf", reduction=reduction))
        tags = batch.targets.clamp(min=0)  # the trainer's: ignored steps still count, as tag 0
        assert_same_terms(model.crf.loss_terms(scores, tags, batch.lengths, reduction=reduction),
                          total, count)  # fmt: skip


@pytest.mark.parametrize(("time_reduction", "reduction"), LABELING)
def test_chunked_head_terms_equal_the_trainers_loss_terms(time_reduction, reduction):
    vocab = CHUNKED_HEAD_MIN_VOCAB + 3
    cfg = ModelConfig(
        task="lm", vocab_size=vocab, num_labels=vocab, hidden=6, embedding_dim=6, dropout=0.0
    )
    model = TaskModel(cfg).double()
    assert model.uses_chunked_head
    for seed, weighted, eps in itertools.product(SEEDS, WEIGHTED, SMOOTHING):
        batch = sequence_batch(3, 5, vocab, seed)
        opts = options(vocab, weighted, eps, time_reduction, reduction, seed)
        theirs = model.loss_terms(batch, opts)
        hidden, _ = model.net.features(batch.tokens, batch.lengths)
        ours = linear_sequence_labeling_loss_terms(
            hidden, model.net.output.weight, model.net.output.bias, batch.targets,
            batch.lengths, time_reduction=time_reduction, reduction=reduction,
            class_weight=opts.class_weights, label_smoothing=eps,
        )  # fmt: skip
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
