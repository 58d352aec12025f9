"""Sequence cross-entropy losses in PyTorch: the fast, differentiable path.

Two losses, one per task:

- :func:`sequence_classification_loss`: one label per sequence, logits (N, C).
- :func:`sequence_labeling_loss`: one label per time step, logits (N, T, C),
  summed (or averaged) over the real steps of each sequence, then averaged over
  the sequences.

and :func:`linear_sequence_labeling_loss` (from :mod:`rnnseq.linear_losses`),
the labeling loss of an output layer's logits without forming them.

Both follow ``../shared/CONTRACT.md`` ("The math", "rnnseq.losses") to the
letter and agree with the NumPy walkthrough in :mod:`rnnseq.reference`. Where
the semantics coincide they equal ``torch.nn.functional.cross_entropy``; where
they differ, they differ on purpose:

- a batch with nothing counted gives 0 and a zero gradient, not NaN
  (pytorch#70348);
- steps that are not counted (padding, mask False or 0, ``ignore_index``) are
  fully inert: any value there, NaN and inf included, changes neither the loss
  nor any gradient, and their gradient is exactly 0 (pytorch#11551);
- float16/bfloat16 logits are computed in float32 and the result returned in
  the logits' dtype.

Each loss has a ``*_terms`` sibling with the same arguments that returns the
batch's loss as a :class:`~rnnseq.reductions.LossTerms` (total, count) pair, to
be summed over batches or processes and divided once; the scalar loss is
exactly ``terms.value()``. The reductions themselves are defined once, in
:mod:`rnnseq.reductions`.

The per-step cross-entropy is computed by :func:`_cross_entropy_per_step`, on
the fused kernel of :mod:`rnnseq.kernels` or the plain ``log_softmax`` path, as
the kernel plan in force says (:func:`rnnseq.kernels.use_plan`).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnseq import kernels
from rnnseq._loss_checks import (
    CLASSIFICATION_REDUCTIONS,
    LABELING_REDUCTIONS,
    _check_logits,
    _check_options,
    _check_targets,
    _check_terms_reductions,
    _check_time_reduction,
    _check_weight,
    _compute_dtype,
    _counted_steps,
    _counted_targets,
    _safe_targets,
)
from rnnseq._small_labeling import small_labeling
from rnnseq.linear_losses import linear_sequence_labeling_loss, linear_sequence_labeling_loss_terms
from rnnseq.reductions import (
    LossTerms,
    batch_count,
    row_losses,
    step_coefficients,
    step_counts,
)

__all__ = [
    "LossTerms",
    "sequence_classification_loss",
    "sequence_classification_loss_terms",
    "sequence_labeling_loss",
    "sequence_labeling_loss_terms",
    "linear_sequence_labeling_loss",
    "linear_sequence_labeling_loss_terms",
    "SequenceClassificationLoss",
    "SequenceLabelingLoss",
]

# --------------------------------------------------------------------------
# The per-step cross-entropy.
# --------------------------------------------------------------------------


def _cross_entropy_per_step(
    logits: Tensor,
    targets: Tensor,
    counted: Tensor,
    weight: Tensor | None,
    label_smoothing: float,
    dtype: torch.dtype,
    plan: kernels.KernelPlan,
) -> Tensor:
    """L_m for M steps, each a row of C logits: 0 (with zero gradient) where not counted.

    With class-index targets c and smoothing ε, writing ℓ_k = -log softmax(z)_k::

        L = (1 - ε) · w_c · ℓ_c + (ε / C) · Σ_k w_k · ℓ_k

    (w = 1 without class weights), which is F.cross_entropy's per-element loss.
    With probability targets y: L = -Σ_k w_k · ((1 - ε) y_k + ε / C) · log softmax(z)_k.

    Two implementations give the same numbers: the fused autograd Function of
    :mod:`rnnseq.kernels.cross_entropy` (class-index targets; one pass forward,
    one backward, uncounted rows skipped) when :func:`rnnseq.kernels.use_fused`
    says so for ``plan``, else the plain ``log_softmax`` + ``gather`` below.

    Shape:
        logits (M, C), targets (M,) int or (M, C) float, counted (M,) bool -> (M,) in ``dtype``.
    """
    if kernels.use_fused(plan, logits, targets, weight):
        return kernels.cross_entropy.cross_entropy_per_step(
            logits, targets, counted, weight, label_smoothing, dtype, plan
        )
    return _plain_cross_entropy_per_step(logits, targets, counted, weight, label_smoothing, dtype)


def _plain_cross_entropy_per_step(
    logits: Tensor,
    targets: Tensor,
    counted: Tensor,
    weight: Tensor | None,
    label_smoothing: float,
    dtype: torch.dtype,
) -> Tensor:
    """:func:`_cross_entropy_per_step` with log_softmax + gather; autograd does the backward.

    Shape:
        logits (M, C), targets (M,) int or (M, C) float, counted (M,) bool -> (M,) in ``dtype``.
    """
    num_classes = logits.shape[-1]
    # Uncounted rows become zeros before anything is computed, so NaN/inf there
    # can reach neither the value nor the gradient (where() passes exact zeros).
    z = torch.where(counted[:, None], logits.to(dtype), 0.0)  # (M, C)
    log_probs = torch.log_softmax(z, dim=-1)  # (M, C)
    if targets.dim() == 1:
        safe_targets = torch.where(counted, targets, 0).long()  # (M,)
        losses = -log_probs.gather(1, safe_targets[:, None]).squeeze(1)  # (M,)
        if weight is not None:
            losses = losses * weight[safe_targets]
        if label_smoothing:
            weighted = log_probs if weight is None else log_probs * weight  # (M, C)
            smooth = -weighted.sum(dim=-1)  # (M,)
            losses = (1.0 - label_smoothing) * losses + (label_smoothing / num_classes) * smooth
    else:
        y = torch.where(counted[:, None], targets.to(dtype), 0.0)  # (M, C)
        if label_smoothing:
            y = (1.0 - label_smoothing) * y + label_smoothing / num_classes
        if weight is not None:
            y = y * weight
        losses = -(y * log_probs).sum(dim=-1)  # (M,)
    return torch.where(counted, losses, 0.0)  # (M,)


# --------------------------------------------------------------------------
# Sequence classification.
# --------------------------------------------------------------------------


def sequence_classification_loss(
    logits: Tensor,
    targets: Tensor,
    *,
    weight: Tensor | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """Cross-entropy of one label per sequence.

    For example i with class index c_i (w = 1 without class weights)::

        L_i = -w[c_i] · log softmax(z_i)[c_i]

    and with label smoothing ε (the true distribution becomes (1 - ε)·y + ε/C)::

        L_i = (1 - ε) · w[c_i] · ℓ_i,c_i + (ε/C) · Σ_k w[k] · ℓ_i,k,    ℓ = -log softmax(z)

    Reductions::

        "none":  (L_1, ..., L_N)
        "sum":   Σ_i L_i
        "mean":  Σ_i L_i / Σ_i w[c_i]       (/ N without weights or with probability targets)

    An empty batch gives 0 with a zero gradient. For "sum" and "mean" this is
    :func:`sequence_classification_loss_terms` ``(...).value()``.

    Args:
        logits: unnormalised scores z.
        targets: class indices, or a true distribution per example.
        weight: optional class weights w, one per class.
        label_smoothing: ε in [0, 1).
        reduction: "mean" | "sum" | "none".

    Shape:
        - logits: (N, C), floating point.
        - targets: (N,) integer in [0, C), or (N, C) floating point.
        - weight: (C,).
        - output: scalar, or (N,) for reduction="none"; in the logits' dtype.

    Example:
        >>> logits = torch.tensor([[2.0, 0.5], [0.1, 1.2]], requires_grad=True)
        >>> loss = sequence_classification_loss(logits, torch.tensor([0, 1]))
        >>> loss.backward()
        >>> round(loss.item(), 4)
        0.2444
    """
    _check_logits(logits, 2, "(N, C)")
    _check_options(reduction, CLASSIFICATION_REDUCTIONS, label_smoothing)
    loss = _classification(logits, targets, weight, label_smoothing, reduction)
    return (loss if reduction == "none" else loss.value()).to(logits.dtype)


def sequence_classification_loss_terms(
    logits: Tensor,
    targets: Tensor,
    *,
    weight: Tensor | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> LossTerms:
    """:func:`sequence_classification_loss` as a (total, count) pair: loss = total / count.

    With L_i as in :func:`sequence_classification_loss`::

        total = Σ_i L_i
        count = Σ_i w[c_i]       reduction="mean" (N without weights or with probability targets)
              = None             reduction="sum" (nothing to divide by)

    Totals and counts of several batches (or processes) add up; divide once
    (:meth:`~rnnseq.reductions.LossTerms.value`). reduction="none" is a ValueError.

    Args:
        logits, targets, weight, label_smoothing: as in :func:`sequence_classification_loss`.
        reduction: "mean" | "sum".

    Shape:
        logits (N, C), targets (N,) or (N, C), weight (C,); total and count are
        scalars in the computation's dtype (float32, or float64 for float64 logits).

    Example:
        >>> logits = torch.zeros(3, 4, requires_grad=True)   # every loss is ln 4
        >>> total, count = sequence_classification_loss_terms(logits, torch.tensor([0, 1, 3]))
        >>> round(total.item(), 4), count.item()             # 3 · ln 4, 3 examples
        (4.1589, 3.0)
    """
    _check_logits(logits, 2, "(N, C)")
    _check_terms_reductions(reduction, CLASSIFICATION_REDUCTIONS)
    _check_options(reduction, CLASSIFICATION_REDUCTIONS, label_smoothing)
    return _classification(logits, targets, weight, label_smoothing, reduction)


def _classification(logits, targets, weight, label_smoothing, reduction) -> Tensor | LossTerms:
    """The per-example losses (N,) for reduction="none", else the LossTerms."""
    index_targets = _check_targets(targets, logits)
    n, num_classes = logits.shape
    dtype = _compute_dtype(logits)
    weight = _check_weight(weight, num_classes, logits, dtype)
    plan = kernels.current_plan(logits.device)
    counted = torch.ones(n, dtype=torch.bool, device=logits.device)  # (N,)
    class_weight = None
    if index_targets:
        targets = _safe_targets(targets, counted, num_classes, None)  # (N,)
        if weight is not None:
            class_weight = weight[targets]  # (N,) w[c_i]
    if reduction == "none":
        return _cross_entropy_per_step(
            logits, targets, counted, weight, label_smoothing, dtype, plan
        )  # (N,)

    # An example is a one-step row, and the classification "mean" (PyTorch's
    # weighted mean) is the token mean of such rows.
    count = None
    if reduction == "mean":
        counts = step_counts(counted, None, class_weight, dtype)  # (N,) w[c_i], or 1
        count = batch_count("token_mean", counted[:, None], counts, dtype)
    if kernels.use_fused(plan, logits, targets, weight):
        total = kernels.cross_entropy.cross_entropy_per_step(
            logits, targets, counted, weight, label_smoothing, dtype, plan, counted.to(dtype)
        )  # Σ_i 1 · L_i, one autograd node
    else:
        total = _plain_cross_entropy_per_step(
            logits, targets, counted, weight, label_smoothing, dtype
        ).sum()
    return LossTerms(total, count)


# --------------------------------------------------------------------------
# Sequence labeling.
# --------------------------------------------------------------------------


def sequence_labeling_loss(
    logits: Tensor,
    targets: Tensor,
    lengths: Tensor | None = None,
    *,
    mask: Tensor | None = None,
    ignore_index: int = -100,
    time_reduction: str = "sum",
    reduction: str = "mean",
    weight: Tensor | None = None,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy of one label per time step, reduced over time, then over the batch.

    Per step (class index c_ij; w = 1 without class weights; smoothing as in
    :func:`sequence_classification_loss`)::

        L_ij = -w[c_ij] · log softmax(z_ij)[c_ij]

    m_ij says how much a step counts: 1 for the first ``lengths[i]`` steps and 0
    after them, or the ``mask`` value (bool, or a float weight per step); a step
    whose target is ``ignore_index`` has m_ij = 0. Writing n_ij = m_ij · w[c_ij]
    (n_ij = m_ij with probability targets)::

        time_reduction="none":  m_ij · L_ij                         (N, T), 0 where not counted
        time_reduction="sum":   L_i = Σ_j m_ij · L_ij               (the default)
        time_reduction="mean":  L_i = Σ_j m_ij · L_ij / Σ_j n_ij

        reduction="none":       (L_1, ..., L_N), 0 for a row with no counted step
        reduction="sum":        Σ_i L_i
        reduction="mean":       Σ_i L_i / N',   N' = rows with at least one counted step
        reduction="token_mean": Σ_ij m_ij · L_ij / Σ_ij n_ij      (needs time_reduction="sum")

    Nothing counted is never a division by zero: such a row, or batch, is 0
    with a zero gradient. Steps that are not counted are fully inert, whatever
    their logits (NaN and inf included) or targets hold. For the scalar
    reductions this is :func:`sequence_labeling_loss_terms` ``(...).value()``.

    Args:
        logits: unnormalised scores z.
        targets: class indices, or a true distribution per step.
        lengths: real length of each row; the rest is padding. Not with ``mask``.
        mask: bool (True = real step) or float (a weight per step). Not with ``lengths``.
        ignore_index: a class-index target that is never counted.
        time_reduction: "sum" | "mean" | "none".
        reduction: "mean" | "sum" | "none" | "token_mean".
        weight: optional class weights w, one per class.
        label_smoothing: ε in [0, 1).

    Shape:
        - logits: (N, T, C), floating point.
        - targets: (N, T) integer, or (N, T, C) floating point.
        - lengths: (N,) integer in [0, T].  mask: (N, T).  weight: (C,).
        - output: scalar; (N,) for reduction="none"; (N, T) for time_reduction="none".
          In the logits' dtype (computed in at least float32).

    Example:
        >>> logits = torch.zeros(2, 3, 4, requires_grad=True)
        >>> targets = torch.tensor([[1, 2, 3], [0, -1, -1]])   # -1: padding, never read
        >>> loss = sequence_labeling_loss(logits, targets, torch.tensor([3, 1]))
        >>> loss.backward()
        >>> round(loss.item(), 4)  # (3·ln 4 + 1·ln 4) / 2
        2.7726
    """
    _check_logits(logits, 3, "(N, T, C)")
    _check_options(reduction, LABELING_REDUCTIONS, label_smoothing)
    _check_time_reduction(time_reduction, reduction)
    if mask is None and weight is None and not label_smoothing and time_reduction == "sum":
        loss = small_labeling(logits, targets, lengths, ignore_index, reduction, terms=False)
        if loss is not None:
            return loss
    loss = _labeling(
        logits, targets, lengths, mask, ignore_index, time_reduction, reduction, weight,
        label_smoothing,
    )  # fmt: skip
    return (loss if reduction == "none" else loss.value()).to(logits.dtype)


def sequence_labeling_loss_terms(
    logits: Tensor,
    targets: Tensor,
    lengths: Tensor | None = None,
    *,
    mask: Tensor | None = None,
    ignore_index: int = -100,
    time_reduction: str = "sum",
    reduction: str = "mean",
    weight: Tensor | None = None,
    label_smoothing: float = 0.0,
) -> LossTerms:
    """:func:`sequence_labeling_loss` as a (total, count) pair: loss = total / count.

    With L_i (summed or averaged over time) and n_ij as in :func:`sequence_labeling_loss`::

        total = Σ_i L_i
        count = N' = rows with at least one counted step     reduction="mean"
              = Σ_ij n_ij, counted steps or their weights    reduction="token_mean"
              = None                                         reduction="sum"

    Totals and counts of several batches (or processes) add up; divide once
    (:meth:`~rnnseq.reductions.LossTerms.value`, 0 where count is 0).
    reduction="none" and time_reduction="none" are a ValueError.

    Args:
        logits, targets, lengths, mask, ignore_index, weight, label_smoothing:
            as in :func:`sequence_labeling_loss`.
        time_reduction: "sum" | "mean".
        reduction: "mean" | "sum" | "token_mean" ("token_mean" needs time_reduction="sum").

    Shape:
        as in :func:`sequence_labeling_loss`; total and count are scalars in the
        computation's dtype (float32, or float64 for float64 logits).

    Example:
        >>> logits = torch.zeros(2, 3, 4, requires_grad=True)   # every step costs ln 4
        >>> targets = torch.tensor([[1, 2, 3], [0, -1, -1]])
        >>> terms = sequence_labeling_loss_terms(
        ...     logits, targets, torch.tensor([3, 1]), reduction="token_mean"
        ... )
        >>> round(terms.total.item(), 4), terms.count.item()   # 4 · ln 4 over 4 steps
        (5.5452, 4.0)
        >>> round(terms.value().item(), 4)
        1.3863
    """
    _check_logits(logits, 3, "(N, T, C)")
    _check_terms_reductions(reduction, LABELING_REDUCTIONS, time_reduction)
    _check_options(reduction, LABELING_REDUCTIONS, label_smoothing)
    _check_time_reduction(time_reduction, reduction)
    if mask is None and weight is None and not label_smoothing and time_reduction == "sum":
        terms = small_labeling(logits, targets, lengths, ignore_index, reduction, terms=True)
        if terms is not None:
            return terms
    return _labeling(
        logits, targets, lengths, mask, ignore_index, time_reduction, reduction, weight,
        label_smoothing,
    )  # fmt: skip


def _labeling(
    logits, targets, lengths, mask, ignore_index, time_reduction, reduction, weight,
    label_smoothing,
) -> Tensor | LossTerms:  # fmt: skip
    """The per-row or per-step losses for reduction="none", else the LossTerms."""
    index_targets = _check_targets(targets, logits)
    n, t, num_classes = logits.shape
    dtype = _compute_dtype(logits)
    weight = _check_weight(weight, num_classes, logits, dtype)
    plan = kernels.current_plan(logits.device)

    counted, step_weight = _counted_steps(lengths, mask, n, t, logits.device, dtype)  # (N, T)
    class_weight = None  # (N, T) w[c_ij]
    if index_targets:
        counted, targets, step_weight, class_weight = _counted_targets(
            counted, step_weight, targets, ignore_index, num_classes, weight
        )
    flat_targets = targets.reshape(n * t, *targets.shape[2:])  # (N·T,) or (N·T, C)
    flat_logits = logits.reshape(n * t, num_classes)  # (N·T, C)

    counts = None  # (N, T) n_ij, made only where a division needs it
    if time_reduction == "mean" or reduction == "token_mean":
        counts = step_counts(counted, step_weight, class_weight, dtype)
    fixed_weights = step_weight is None or not step_weight.requires_grad
    if reduction != "none" and fixed_weights and kernels.use_fused(
        plan, flat_logits, flat_targets, weight
    ):
        # The fused Function takes the time reduction as weights a_ij on the steps.
        coef = step_coefficients(counted, step_weight, counts, time_reduction, dtype)  # (N, T)
        total = kernels.cross_entropy.cross_entropy_per_step(
            flat_logits, flat_targets, counted.reshape(-1), weight, label_smoothing, dtype, plan,
            coef.reshape(-1),
        )  # fmt: skip
        return LossTerms(total, batch_count(reduction, counted, counts, dtype))

    per_step = _cross_entropy_per_step(
        flat_logits, flat_targets, counted.reshape(-1), weight, label_smoothing, dtype, plan
    ).view(n, t)  # (N, T) L_ij
    step_losses = per_step if step_weight is None else per_step * step_weight  # (N, T)
    if reduction == "none":
        if time_reduction == "none":
            return step_losses
        return row_losses(step_losses, counts, time_reduction)
    total = row_losses(step_losses, counts, time_reduction).sum()
    return LossTerms(total, batch_count(reduction, counted, counts, dtype))


# --------------------------------------------------------------------------
# nn.Module forms.
# --------------------------------------------------------------------------


class SequenceClassificationLoss(nn.Module):
    """Module form of :func:`sequence_classification_loss` with the same keyword arguments.

    Example:
        >>> criterion = SequenceClassificationLoss(label_smoothing=0.1)
        >>> criterion(torch.zeros(2, 3), torch.tensor([0, 2])).shape
        torch.Size([])
    """

    def __init__(
        self,
        *,
        weight: Tensor | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        _check_options(reduction, CLASSIFICATION_REDUCTIONS, label_smoothing)
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight))
        self.label_smoothing = label_smoothing
        self.reduction = reduction

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        return sequence_classification_loss(
            logits,
            targets,
            weight=self.weight,
            label_smoothing=self.label_smoothing,
            reduction=self.reduction,
        )


class SequenceLabelingLoss(nn.Module):
    """Module form of :func:`sequence_labeling_loss` with the same keyword arguments.

    Example:
        >>> criterion = SequenceLabelingLoss(time_reduction="mean")
        >>> criterion(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long),
        ...           lengths=torch.tensor([3, 0])).shape
        torch.Size([])
    """

    def __init__(
        self,
        *,
        ignore_index: int = -100,
        time_reduction: str = "sum",
        reduction: str = "mean",
        weight: Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        _check_options(reduction, LABELING_REDUCTIONS, label_smoothing)
        _check_time_reduction(time_reduction, reduction)
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight))
        self.ignore_index = ignore_index
        self.time_reduction = time_reduction
        self.reduction = reduction
        self.label_smoothing = label_smoothing

    def forward(
        self,
        logits: Tensor,
        targets: Tensor,
        lengths: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        return sequence_labeling_loss(
            logits,
            targets,
            lengths,
            mask=mask,
            ignore_index=self.ignore_index,
            time_reduction=self.time_reduction,
            reduction=self.reduction,
            weight=self.weight,
            label_smoothing=self.label_smoothing,
        )
