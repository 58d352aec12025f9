"""The sequence cross-entropy, behind the scenes, in plain NumPy.

This module is the loss written out the way the math is written, one step at a
time, so a reader can follow it line by line. It works on *predicted
probabilities* ŷ (rows that sum to one), not on logits; :func:`softmax` turns
logits into them. The fast, differentiable implementation is
:mod:`rnnseq.losses`; for the same inputs (ŷ = softmax of the same logits) the
two agree to 1e-6 in float64, which the tests check.

The math, for one example with true distribution y and prediction ŷ::

    L = -Σ_c y_c · log ŷ_c                   (for a class index c*: -log ŷ_c*)

Sequence classification, N examples::

    L = (1/N) Σ_i -log ŷ_{i, c_i}

Sequence labeling, sequence i with T_i real steps::

    L_ij = -log ŷ_{ij, c_ij}                 one time step
    L_i  = Σ_j L_ij                          time_reduction="sum" (the default)
         = Σ_j L_ij / T_i                    time_reduction="mean"
    L    = (1/N') Σ_i L_i                    reduction="mean", N' = rows with T_i > 0

Options shared with :mod:`rnnseq.losses`, combined as
``torch.nn.functional.cross_entropy`` combines them:

- label smoothing ε replaces y by (1 - ε)·y + ε/C;
- class weights w scale each class's term, L = -Σ_c w_c y_c log ŷ_c; with class
  index targets every "mean" divides by the summed weights w[c] of the counted
  steps instead of their number; with probability targets it divides by the
  number, as PyTorch does;
- a float mask m gives each step a weight: L_i = Σ_j m_ij L_ij, and "mean"
  divisions use the summed m_ij (times w[c_ij] for class-index targets).

Nothing counted is never a division by zero: an empty row is 0 and is left out
of the mean over rows; an empty batch is 0.

Only NumPy is imported here, so this module works where torch is absent.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "softmax",
    "log_softmax",
    "cross_entropy",
    "classification_loss",
    "labeling_loss",
]

REDUCTIONS = ("mean", "sum", "none")
LABELING_REDUCTIONS = ("mean", "sum", "none", "token_mean")
TIME_REDUCTIONS = ("sum", "mean", "none")


def softmax(z, axis: int = -1) -> np.ndarray:
    """ŷ_c = exp(z_c) / Σ_k exp(z_k), computed as exp(z_c - max z) / Σ_k exp(z_k - max z).

    Subtracting the maximum changes nothing mathematically (it cancels between
    numerator and denominator) but keeps every exp() at most 1, so large
    logits cannot overflow.
    """
    z = np.asarray(z, dtype=float)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    e = np.exp(shifted)
    return e / np.sum(e, axis=axis, keepdims=True)


def log_softmax(z, axis: int = -1) -> np.ndarray:
    """log ŷ_c = (z_c - max z) - log Σ_k exp(z_k - max z), without forming ŷ first."""
    z = np.asarray(z, dtype=float)
    shifted = z - np.max(z, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def cross_entropy(y_true, y_pred, weight=None) -> float:
    """L = -Σ_c w_c · y_c · log ŷ_c for one example (w_c = 1 without weights).

    Args:
        y_true: (C,) the true distribution (one-hot for a class label).
        y_pred: (C,) the predicted distribution ŷ.
        weight: optional (C,) class weights w.

    A class with y_c = 0 contributes 0 even where ŷ_c = 0 (0 · log 0 = 0); a
    class with y_c > 0 and ŷ_c = 0 gives inf, as the math says.

    Example:
        >>> round(cross_entropy([1.0, 0.0], [0.7, 0.3]), 3)
        0.357
    """
    y_true = np.asarray(y_true, dtype=float)
    y_pred = np.asarray(y_pred, dtype=float)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must be 1-D of the same length, got {y_true.shape} and "
            f"{y_pred.shape}"
        )
    w = np.ones_like(y_true) if weight is None else np.asarray(weight, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(y_true > 0, w * y_true * np.log(y_pred), 0.0)
    return float(-np.sum(terms))


def _true_distribution(target, num_classes: int, label_smoothing: float) -> np.ndarray:
    """y for one step: one-hot for a class index, the row itself for probabilities,
    then smoothed, y ← (1 - ε)·y + ε/C."""
    if np.ndim(target) == 0:
        y = np.zeros(num_classes)
        y[int(target)] = 1.0
    else:
        y = np.asarray(target, dtype=float)
    return (1.0 - label_smoothing) * y + label_smoothing / num_classes


def _divide(total: float, count: float) -> float:
    """total / count, with 0 where nothing was counted (never a division by zero)."""
    return total / count if count != 0 else 0.0


def _check_probabilities(y_pred, ndim: int, name: str = "y_pred") -> np.ndarray:
    y_pred = np.asarray(y_pred, dtype=float)
    if y_pred.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {y_pred.shape}")
    return y_pred


def _check_options(reduction, allowed, label_smoothing, weight, num_classes):
    if reduction not in allowed:
        raise ValueError(f"reduction must be one of {allowed}, got {reduction!r}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
    if weight is not None and np.shape(weight) != (num_classes,):
        raise ValueError(f"weight must have shape ({num_classes},), got {np.shape(weight)}")


def classification_loss(
    y_pred, targets, reduction: str = "mean", *, weight=None, label_smoothing: float = 0.0
):
    """Cross-entropy of one label per sequence.

    Per example::

        L_i = -Σ_c w_c · y_ic · log ŷ_ic          (= -log ŷ_{i, c_i} for a class index)

    Reductions::

        "none":  the vector (L_1, ..., L_N)
        "sum":   Σ_i L_i
        "mean":  Σ_i L_i / N                      (/ Σ_i w[c_i] with weights and class indices)

    Args:
        y_pred: (N, C) predicted probabilities.
        targets: (N,) class indices, or (N, C) true distributions.
        reduction: "mean" | "sum" | "none".
        weight: optional (C,) class weights.
        label_smoothing: ε in [0, 1).

    Returns:
        A float, or an (N,) array for reduction="none".
    """
    y_pred = _check_probabilities(y_pred, 2)
    n, num_classes = y_pred.shape
    _check_options(reduction, REDUCTIONS, label_smoothing, weight, num_classes)
    targets = np.asarray(targets)
    index_targets = targets.ndim == 1

    losses = np.zeros(n)
    total_weight = 0.0
    for i in range(n):
        y = _true_distribution(targets[i], num_classes, label_smoothing)
        losses[i] = cross_entropy(y, y_pred[i], weight)
        total_weight += weight[int(targets[i])] if (weight is not None and index_targets) else 1.0

    if reduction == "none":
        return losses
    if reduction == "sum":
        return float(np.sum(losses))
    return _divide(float(np.sum(losses)), total_weight)


def labeling_loss(
    y_pred,
    targets,
    lengths=None,
    *,
    mask=None,
    ignore_index: int = -100,
    time_reduction: str = "sum",
    reduction: str = "mean",
    weight=None,
    label_smoothing: float = 0.0,
):
    """Cross-entropy of one label per time step, summed (or averaged) over time.

    Per step, per row, per batch::

        L_ij = -Σ_c w_c · y_ijc · log ŷ_ijc          (= -log ŷ_{ij, c_ij} for a class index)
        L_i  = Σ_j m_ij · L_ij                       time_reduction="sum"
             = Σ_j m_ij · L_ij / Σ_j m_ij · w[c_ij]  time_reduction="mean"
        L    = Σ_i L_i / N'                          reduction="mean", N' = rows with a counted step
             = Σ_i L_i                               reduction="sum"
             = Σ_ij m_ij · L_ij / Σ_ij m_ij · w[c_ij] reduction="token_mean"

    m_ij is 1 for a real step and 0 for padding (from ``lengths``), or the
    float ``mask`` value; a step whose class-index target equals
    ``ignore_index`` has m_ij = 0. The factor w[c_ij] in the divisions is 1
    without class weights or with probability targets.

    Args:
        y_pred: (N, T, C) predicted probabilities.
        targets: (N, T) class indices, or (N, T, C) true distributions.
        lengths: optional (N,) real lengths in [0, T].
        mask: optional (N, T) bool or float step weights (not with lengths).
        ignore_index: a class-index target that is never counted.
        time_reduction: "sum" | "mean" | "none" ("none" needs reduction="none").
        reduction: "mean" | "sum" | "none" | "token_mean" (token_mean needs time_reduction="sum").
        weight: optional (C,) class weights.
        label_smoothing: ε in [0, 1).

    Returns:
        A float; an (N,) array for reduction="none"; an (N, T) array of L_ij
        (0 where not counted) for time_reduction="none".
    """
    y_pred = _check_probabilities(y_pred, 3)
    n, t_max, num_classes = y_pred.shape
    _check_options(reduction, LABELING_REDUCTIONS, label_smoothing, weight, num_classes)
    if time_reduction not in TIME_REDUCTIONS:
        raise ValueError(f"time_reduction must be one of {TIME_REDUCTIONS}, got {time_reduction!r}")
    if time_reduction == "none" and reduction != "none":
        raise ValueError(f"time_reduction='none' requires reduction='none', got {reduction!r}")
    if reduction == "token_mean" and time_reduction != "sum":
        raise ValueError(
            f"reduction='token_mean' requires time_reduction='sum', got {time_reduction!r}"
        )
    if lengths is not None and mask is not None:
        raise ValueError("give at most one of lengths and mask")
    targets = np.asarray(targets)
    index_targets = targets.ndim == 2

    # m_ij: how much step j of row i counts (0 = not at all).
    if mask is not None:
        m = np.asarray(mask, dtype=float)
    elif lengths is not None:
        m = (np.arange(t_max)[None, :] < np.asarray(lengths)[:, None]).astype(float)
    else:
        m = np.ones((n, t_max))
    if index_targets:
        m = np.where(targets == ignore_index, 0.0, m)

    step_losses = np.zeros((n, t_max))  # L_ij, 0 where not counted
    step_counts = np.zeros((n, t_max))  # m_ij · w[c_ij]: what a "mean" divides by
    for i in range(n):
        for j in range(t_max):
            if m[i, j] == 0:
                continue
            y = _true_distribution(targets[i, j], num_classes, label_smoothing)
            step_losses[i, j] = m[i, j] * cross_entropy(y, y_pred[i, j], weight)
            w_true = weight[int(targets[i, j])] if (weight is not None and index_targets) else 1.0
            step_counts[i, j] = m[i, j] * w_true

    if time_reduction == "none":
        return step_losses

    row_losses = np.zeros(n)
    for i in range(n):
        total = float(np.sum(step_losses[i]))
        if time_reduction == "sum":
            row_losses[i] = total
        else:
            row_losses[i] = _divide(total, float(np.sum(step_counts[i])))

    if reduction == "none":
        return row_losses
    if reduction == "sum":
        return float(np.sum(row_losses))
    if reduction == "token_mean":
        return _divide(float(np.sum(step_losses)), float(np.sum(step_counts)))
    rows_counted = int(np.sum(np.any(m != 0, axis=1)))
    return _divide(float(np.sum(row_losses)), rows_counted)
