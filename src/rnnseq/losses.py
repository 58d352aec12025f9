"""Sequence cross-entropy losses in PyTorch: the fast, differentiable path.

Two losses, one per task:

- :func:`sequence_classification_loss`: one label per sequence, logits (N, C).
- :func:`sequence_labeling_loss`: one label per time step, logits (N, T, C),
  summed (or averaged) over the real steps of each sequence, then averaged over
  the sequences.

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

The per-step cross-entropy is computed by :func:`_cross_entropy_per_step`; the
reductions over time and over the batch are plain tensor code on (N, T).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

__all__ = [
    "sequence_classification_loss",
    "sequence_labeling_loss",
    "SequenceClassificationLoss",
    "SequenceLabelingLoss",
]

CLASSIFICATION_REDUCTIONS = ("mean", "sum", "none")
LABELING_REDUCTIONS = ("mean", "sum", "none", "token_mean")
TIME_REDUCTIONS = ("sum", "mean", "none")


# --------------------------------------------------------------------------
# Validation at the boundary: every message names the argument.
# --------------------------------------------------------------------------


def _check_logits(logits, ndim: int, shape_text: str) -> None:
    if not isinstance(logits, Tensor):
        raise TypeError(f"logits must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"logits must be floating point, got {logits.dtype}")
    if logits.dim() != ndim:
        raise ValueError(f"logits must have shape {shape_text}, got {tuple(logits.shape)}")


def _check_targets(targets, logits: Tensor) -> bool:
    """Return True for class-index targets, False for probability targets."""
    if not isinstance(targets, Tensor):
        raise TypeError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    index_shape = tuple(logits.shape[:-1])
    if targets.dim() == logits.dim() - 1:
        if targets.dtype == torch.bool or targets.is_floating_point() or targets.is_complex():
            raise TypeError(f"class-index targets must be an integer tensor, got {targets.dtype}")
        if tuple(targets.shape) != index_shape:
            raise ValueError(
                f"targets must have shape {index_shape} (class indices) or "
                f"{tuple(logits.shape)} (probabilities), got {tuple(targets.shape)}"
            )
        return True
    if targets.dim() == logits.dim():
        if not targets.is_floating_point():
            raise TypeError(f"probability targets must be floating point, got {targets.dtype}")
        if targets.shape != logits.shape:
            raise ValueError(
                f"probability targets must have the logits' shape {tuple(logits.shape)}, "
                f"got {tuple(targets.shape)}"
            )
        return False
    raise ValueError(
        f"targets must have shape {index_shape} (class indices) or {tuple(logits.shape)} "
        f"(probabilities), got {tuple(targets.shape)}"
    )


def _check_options(reduction: str, allowed: tuple[str, ...], label_smoothing: float) -> None:
    if reduction not in allowed:
        raise ValueError(f"reduction must be one of {allowed}, got {reduction!r}")
    if not isinstance(label_smoothing, (int, float)) or not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")


def _check_weight(weight, num_classes: int, logits: Tensor, dtype: torch.dtype) -> Tensor | None:
    if weight is None:
        return None
    weight = torch.as_tensor(weight)
    if weight.dim() != 1 or weight.shape[0] != num_classes:
        raise ValueError(
            f"weight must have shape ({num_classes},) (one per class), got {tuple(weight.shape)}"
        )
    return weight.to(device=logits.device, dtype=dtype)


def _check_time_reduction(time_reduction: str, reduction: str) -> None:
    if time_reduction not in TIME_REDUCTIONS:
        raise ValueError(f"time_reduction must be one of {TIME_REDUCTIONS}, got {time_reduction!r}")
    if time_reduction == "none" and reduction != "none":
        raise ValueError(f"time_reduction='none' requires reduction='none', got {reduction!r}")
    if reduction == "token_mean" and time_reduction != "sum":
        raise ValueError(
            f"reduction='token_mean' requires time_reduction='sum', got {time_reduction!r}"
        )


def _step_weights(lengths, mask, n: int, t: int, logits: Tensor, dtype: torch.dtype) -> Tensor:
    """m_ij: how much step j of row i counts, from lengths or mask. (N, T), 0 = not counted."""
    if lengths is not None and mask is not None:
        raise ValueError("give at most one of lengths and mask, not both")
    if mask is not None:
        if not isinstance(mask, Tensor):
            raise TypeError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
        if mask.dtype != torch.bool and not mask.is_floating_point():
            raise TypeError(f"mask must be bool or floating point, got {mask.dtype}")
        if tuple(mask.shape) != (n, t):
            raise ValueError(f"mask must have shape {(n, t)}, got {tuple(mask.shape)}")
        if mask.is_floating_point() and bool((mask < 0).any()):
            raise ValueError("mask weights must be >= 0")
        return mask.to(device=logits.device, dtype=dtype)
    if lengths is not None:
        lengths = torch.as_tensor(lengths)
        if lengths.dtype == torch.bool or lengths.is_floating_point() or lengths.is_complex():
            raise TypeError(f"lengths must be an integer tensor, got {lengths.dtype}")
        if tuple(lengths.shape) != (n,):
            raise ValueError(f"lengths must have shape ({n},), got {tuple(lengths.shape)}")
        lengths = lengths.to(logits.device)
        if n and (int(lengths.min()) < 0 or int(lengths.max()) > t):
            raise ValueError(
                f"lengths must be in [0, {t}], got min {int(lengths.min())} "
                f"and max {int(lengths.max())}"
            )
        steps = torch.arange(t, device=logits.device)  # (T,)
        return (steps[None, :] < lengths[:, None]).to(dtype)  # (N, T)
    return torch.ones(n, t, device=logits.device, dtype=dtype)


def _check_target_range(targets: Tensor, counted: Tensor, num_classes: int, ignore) -> None:
    outside = counted & ((targets < 0) | (targets >= num_classes))  # (M,)
    if bool(outside.any()):
        bad = int(targets[outside][0])
        extra = f" or ignore_index={ignore}" if ignore is not None else ""
        raise ValueError(f"targets must be in [0, {num_classes}){extra}, got {bad}")


# --------------------------------------------------------------------------
# The per-step cross-entropy and the divisions.
# --------------------------------------------------------------------------


def _cross_entropy_per_step(
    logits: Tensor,
    targets: Tensor,
    counted: Tensor,
    weight: Tensor | None,
    label_smoothing: float,
    dtype: torch.dtype,
) -> Tensor:
    """L_m for M steps, each a row of C logits: 0 (with zero gradient) where not counted.

    With class-index targets c and smoothing ε, writing ℓ_k = -log softmax(z)_k::

        L = (1 - ε) · w_c · ℓ_c + (ε / C) · Σ_k w_k · ℓ_k

    (w = 1 without class weights), which is F.cross_entropy's per-element loss.
    With probability targets y: L = -Σ_k w_k · ((1 - ε) y_k + ε / C) · log softmax(z)_k.

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
        nll = -log_probs.gather(1, safe_targets[:, None]).squeeze(1)  # (M,)
        if weight is not None:
            nll = nll * weight[safe_targets]
        if label_smoothing == 0.0:
            return nll
        weighted = log_probs if weight is None else log_probs * weight  # (M, C)
        smooth = -weighted.sum(dim=-1)  # (M,)
        return (1.0 - label_smoothing) * nll + (label_smoothing / num_classes) * smooth
    y = torch.where(counted[:, None], targets.to(dtype), 0.0)  # (M, C)
    if label_smoothing:
        y = (1.0 - label_smoothing) * y + label_smoothing / num_classes
    if weight is not None:
        y = y * weight
    return -(y * log_probs).sum(dim=-1)  # (M,)


def _safe_divide(total: Tensor, count: Tensor) -> Tensor:
    """total / count, and 0 (with zero gradient) where count is 0."""
    nonzero = count != 0
    return torch.where(nonzero, total / torch.where(nonzero, count, 1), 0.0)


def _compute_dtype(logits: Tensor) -> torch.dtype:
    return torch.float64 if logits.dtype == torch.float64 else torch.float32


# --------------------------------------------------------------------------
# Public functions.
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

    An empty batch gives 0 with a zero gradient.

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
    index_targets = _check_targets(targets, logits)
    n, num_classes = logits.shape
    dtype = _compute_dtype(logits)
    weight = _check_weight(weight, num_classes, logits, dtype)
    counted = torch.ones(n, dtype=torch.bool, device=logits.device)  # (N,)
    if index_targets:
        _check_target_range(targets, counted, num_classes, None)

    losses = _cross_entropy_per_step(logits, targets, counted, weight, label_smoothing, dtype)
    if reduction == "none":
        return losses.to(logits.dtype)  # (N,)
    total = losses.sum()
    if reduction == "sum":
        return total.to(logits.dtype)
    if index_targets and weight is not None:
        count = weight[targets.long()].sum()
    else:
        count = torch.tensor(float(n), dtype=dtype, device=logits.device)
    return _safe_divide(total, count).to(logits.dtype)


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
    their logits (NaN and inf included) or targets hold.

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
    index_targets = _check_targets(targets, logits)
    n, t, num_classes = logits.shape
    dtype = _compute_dtype(logits)
    weight = _check_weight(weight, num_classes, logits, dtype)

    step_weight = _step_weights(lengths, mask, n, t, logits, dtype)  # (N, T) m_ij
    if index_targets:
        step_weight = torch.where(targets == ignore_index, 0.0, step_weight)
    counted = step_weight != 0  # (N, T)
    flat_targets = targets.reshape(n * t, *targets.shape[2:])  # (N·T,) or (N·T, C)
    if index_targets:
        _check_target_range(flat_targets, counted.reshape(-1), num_classes, ignore_index)

    per_step = _cross_entropy_per_step(
        logits.reshape(n * t, num_classes),
        flat_targets,
        counted.reshape(-1),
        weight,
        label_smoothing,
        dtype,
    ).view(n, t)  # (N, T) L_ij
    step_losses = per_step * step_weight  # (N, T) m_ij · L_ij
    if time_reduction == "none":
        return step_losses.to(logits.dtype)

    if index_targets and weight is not None:
        step_counts = step_weight * weight[torch.where(counted, targets, 0).long()]  # (N, T) n_ij
    else:
        step_counts = step_weight  # (N, T)

    if reduction == "token_mean":
        return _safe_divide(step_losses.sum(), step_counts.sum()).to(logits.dtype)
    row_losses = step_losses.sum(dim=1)  # (N,)
    if time_reduction == "mean":
        row_losses = _safe_divide(row_losses, step_counts.sum(dim=1))  # (N,)
    if reduction == "none":
        return row_losses.to(logits.dtype)
    if reduction == "sum":
        return row_losses.sum().to(logits.dtype)
    rows_counted = counted.any(dim=1).sum().to(dtype)  # N'
    return _safe_divide(row_losses.sum(), rows_counted).to(logits.dtype)


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
