"""Which steps of a (N, T) batch count, and what a per-step loss total is divided by."""

from __future__ import annotations

import torch
from torch import Tensor

from rnnseq.data import IGNORE_INDEX

__all__ = ["counted_steps", "step_count"]


def counted_steps(targets: Tensor, lengths: Tensor) -> Tensor:
    """(N, T) bool: real steps whose target is not ignored."""
    steps = torch.arange(targets.shape[1], device=targets.device)  # (T,)
    real = steps[None, :] < lengths.to(targets.device)[:, None]  # (N, T)
    return real & (targets != IGNORE_INDEX)


def step_count(targets: Tensor, lengths: Tensor, objective, like: Tensor) -> Tensor | None:
    """What a per-step cross-entropy total is divided by under the objective's reduction:
    None ("sum"), counted steps or their class weights ("token_mean"), or rows with a
    counted step ("mean")."""
    reduction, weights = objective.options.reduction, objective.class_weights
    if reduction == "sum":
        return None
    counted = counted_steps(targets, lengths)  # (N, T)
    if reduction == "token_mean":
        if weights is None:
            return counted.sum().to(like.dtype)
        safe = torch.where(counted, targets, 0)
        return (weights[safe] * counted).sum().to(like.dtype)
    return counted.any(dim=1).sum().to(like.dtype)
