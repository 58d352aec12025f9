"""How per-step losses become a batch's loss: sums and counts, divided once at the end.

Every loss of rnnseq (:mod:`rnnseq.losses`, :mod:`rnnseq.crf`) reduces the same
way. Writing m_ij for how much step j of row i counts (1 or 0, or a float mask
weight; 0 for padding and ignored steps), w[c_ij] for the class weight of its
target (1 without class weights, and with probability targets) and
n_ij = m_ij · w[c_ij] for what a step adds to a count::

    over time:   L_i = Σ_j m_ij · L_ij                     time_reduction="sum"
                 L_i = Σ_j m_ij · L_ij / Σ_j n_ij          time_reduction="mean"
    the batch:   total = Σ_i L_i,  loss = total / count, where count is
                 None  (nothing to divide by)              reduction="sum"
                 N' = rows with a counted step             reduction="mean"
                 Σ_ij n_ij                                 reduction="token_mean"

A division whose count is 0 gives 0, with a zero gradient. The batch division
is left to whoever holds all the (total, count) pairs — one call, a run of
gradient-accumulation steps, or every process of a distributed run — so the
loss means the same whatever the batch is cut into: :class:`LossTerms`.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor

__all__ = [
    "LossTerms",
    "safe_divide",
    "batch_count",
    "step_counts",
    "row_losses",
    "step_coefficients",
]


def safe_divide(total: Tensor, count: Tensor) -> Tensor:
    """total / count, and 0 (with zero gradient) where count is 0."""
    nonzero = count != 0
    return torch.where(nonzero, total / torch.where(nonzero, count, 1), 0.0)


class LossTerms(NamedTuple):
    """A batch's loss as a sum and what it is divided by: loss = total / count.

    ``total`` is the summed loss (differentiable); ``count`` the denominator of
    the batch reduction, or None for reduction="sum" (nothing to divide by).
    ``count`` depends only on which steps count and their weights, never on the
    scores: it has no gradient, unless class weights or a float mask that
    require a gradient are given (their weights are in it). Both are scalars in
    the dtype the loss is computed in (float32, or float64 for float64 input).

    Terms add up: the totals and the counts of several batches (or processes)
    summed, then divided once, are the loss of all those batches together.

    Example:
        >>> terms = LossTerms(torch.tensor(6.0), torch.tensor(4.0))
        >>> terms.value()
        tensor(1.5000)
        >>> LossTerms(torch.tensor(0.0), torch.tensor(0.0)).value()  # nothing counted
        tensor(0.)
    """

    total: Tensor
    count: Tensor | None

    def value(self) -> Tensor:
        """total / count: 0 (with zero gradient) where count is 0; total where count is None."""
        if self.count is None:
            return self.total
        count = self.count
        if count.device.type == "cpu" and not count.requires_grad:
            # A count on the host is read (no sync to wait for) and the division is one
            # operation: the same quotient, and the same gradient total's way.
            host = count.item()
            if host != 0:
                return self.total / host
        return safe_divide(self.total, count)


def step_counts(
    counted: Tensor, step_weight: Tensor | None, class_weight: Tensor | None, dtype: torch.dtype
) -> Tensor:
    """n_ij = m_ij · w[c_ij]: what each step adds to a count.

    counted (N, T) bool; step_weight m (N, T), or None when every counted step
    weighs 1; class_weight w[c_ij] (N, T), or None (1). -> (N, T) in ``dtype``.
    """
    m = counted.to(dtype) if step_weight is None else step_weight
    return m if class_weight is None else m * class_weight


def batch_count(
    reduction: str, counted: Tensor, counts: Tensor | None, dtype: torch.dtype
) -> Tensor | None:
    """The denominator of a batch reduction: the one definition for every loss.

    ::

        "sum":        None (nothing to divide by)
        "mean":       N' = rows with at least one counted step
        "token_mean": Σ_ij n_ij, the counted steps or their summed weights

    (A classification batch is N one-step rows, and its "mean", PyTorch's
    weighted mean, is the token mean: Σ_i w[c_i], or N.)

    Shape:
        counted (N, T) bool; counts (N, T) n_ij in ``dtype`` (needed for "token_mean")
        -> a scalar in ``dtype``, or None.
    """
    if reduction == "sum":
        return None
    if reduction == "mean":
        return counted.any(dim=1).sum().to(dtype)
    if reduction == "token_mean":
        return counts.sum()
    raise ValueError(f"reduction must be 'sum', 'mean' or 'token_mean', got {reduction!r}")


def row_losses(step_losses: Tensor, counts: Tensor | None, time_reduction: str) -> Tensor:
    """L_i from the weighted per-step losses m_ij · L_ij (N, T): their sum over time, or,
    for time_reduction="mean", that sum over Σ_j n_ij (0 for a row with nothing counted).

    Shape:
        step_losses (N, T), counts (N, T) n_ij (needed for "mean") -> (N,).
    """
    rows = step_losses.sum(dim=1)  # (N,)
    if time_reduction == "mean":
        rows = safe_divide(rows, counts.sum(dim=1))
    return rows


def step_coefficients(
    counted: Tensor,
    step_weight: Tensor | None,
    counts: Tensor | None,
    time_reduction: str,
    dtype: torch.dtype,
) -> Tensor:
    """a_ij such that the total Σ_i L_i is Σ_ij a_ij · L_ij (the reductions are linear in L)::

        a_ij = m_ij                    time_reduction="sum"
             = m_ij / Σ_j n_ij         time_reduction="mean" (0 where the row's count is 0)

    a_ij depends only on which steps count, never on the scores, so a kernel can
    take it as a weight per step and return the total as one autograd node.

    Shape:
        counted (N, T) bool, step_weight (N, T) or None, counts (N, T) -> (N, T).
    """
    coef = counted.to(dtype) if step_weight is None else step_weight  # (N, T) m_ij
    if time_reduction == "mean":
        coef = safe_divide(coef, counts.sum(dim=1, keepdim=True))  # (N, T)
    return coef
