"""The softmax cross-entropy of one row and its gradient, in the pieces both kernels share.

For a row of logits z (C classes), class weights w (1 without), W = Σ_k w_k,
label smoothing ε and target class c, writing ℓ_k = -log softmax(z)_k::

    μ = max_k z_k,   s = Σ_k exp(z_k - μ),   ℓ_k = μ + log s - z_k
    L = (1 - ε) · w_c · ℓ_c + (ε / C) · Σ_k w_k ℓ_k                     (the loss)
    g · dL/dz_j = g · (p_j · ((1 - ε) w_c + ε W / C) - (1 - ε) w_c · δ_jc - (ε / C) · w_j)

with p = softmax(z) = exp(z - μ) / s and g the gradient flowing into L.
:mod:`rnnseq.kernels.cross_entropy` (rows of given logits) and
:mod:`rnnseq.kernels.linear_cross_entropy` (rows made by an output layer) both
compute L from μ, s and a few sums per row, and the gradient as
``coef · p - b · w``, less ``a`` at the target (:func:`coefficients`,
:func:`finish_rows`). Every tensor here has one entry per row (K,) unless
its shape is given.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["nll_and_smooth", "combine", "weighted_sum", "coefficients", "finish_rows"]


def nll_and_smooth(
    row_max: Tensor,
    exp_sum: Tensor,
    target_logit: Tensor,
    shifted_sum: Tensor | None,
    weight: Tensor | None,
    num_classes: int,
) -> tuple[Tensor, Tensor | None]:
    """ℓ_c = μ + log s - z_c, and Σ_k w_k ℓ_k = W · log s - Σ_k w_k (z_k - μ) when
    ``shifted_sum`` (Σ_k w_k (z_k - μ)) is given (with smoothing), else None."""
    log_sum = exp_sum.log()  # (K,) log s
    nll = (row_max - target_logit) + log_sum  # (K,) ℓ_c
    if shifted_sum is None:
        return nll, None
    total_weight = float(num_classes) if weight is None else weight.sum()  # W
    return nll, total_weight * log_sum - shifted_sum


def combine(
    nll: Tensor,
    smooth: Tensor | None,
    classes: Tensor,
    weight: Tensor | None,
    eps: float,
    num_classes: int,
) -> Tensor:
    """L = (1 - ε) · w_c · ℓ_c + (ε/C) · Σ_k w_k ℓ_k from its two parts. (K,)"""
    if weight is not None:
        nll = nll * weight[classes]
    if not eps:
        return nll
    return (1.0 - eps) * nll + (eps / num_classes) * smooth


def weighted_sum(coef: Tensor, losses: Tensor, weight: Tensor | None) -> Tensor:
    """Σ_m a_m L_m over the rows with a_m != 0: a row weighted 0 adds 0, whatever its L_m.

    (Only class weights can give a counted row a_m = 0 and L_m = 0 · ∞.)
    """
    if weight is None:
        return torch.dot(coef, losses)
    return torch.where(coef != 0, coef * losses, 0.0).sum()


def coefficients(
    g: Tensor, classes: Tensor, weight: Tensor | None, eps: float, num_classes: int
) -> tuple[Tensor, Tensor, Tensor | None]:
    """Per-row factors of g_m · dL_m/dz = coef_m · p - a_m · δ_c - b_m · w.

    Returns (-a, coef, b): a_m = g_m (1 - ε) w_c, coef_m = a_m + g_m ε W / C,
    b_m = g_m ε / C (None without smoothing). Each (K,).
    """
    target_coef = g * (1.0 - eps) if eps else g  # (K,)
    if weight is not None:
        target_coef = target_coef * weight[classes]
    if not eps:
        return -target_coef, target_coef, None
    total_weight = float(num_classes) if weight is None else weight.sum()
    coef = target_coef + g * (eps * total_weight / num_classes)  # (K,)
    return -target_coef, coef, g * (eps / num_classes)


def finish_rows(grad: Tensor, terms, classes: Tensor, weight: Tensor | None) -> None:
    """Turn rows p (R, C), in place, into coef · p - b ⊗ w, less a at each row's target.

    terms = (-a, coef, b) as from :func:`coefficients`, (R,) each; classes (R,).
    (Rows holding exp(z - μ) = s · p instead take coef / s in place of coef.)
    """
    neg_target_coef, coef, spread = terms
    grad.mul_(coef[:, None])  # p · coef
    if spread is not None:
        if weight is None:
            grad.sub_(spread[:, None])
        else:
            grad.addr_(spread, weight, alpha=-1.0)  # - b_m · w_j
    grad.scatter_add_(1, classes[:, None], neg_target_coef[:, None])  # - a_m at c_m
