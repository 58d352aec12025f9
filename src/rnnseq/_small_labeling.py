"""The labeling loss of a small batch in the fewest operations: the common case, fast.

At the tagging size (logits of about 32 × 50 × 17) every tensor operation costs a
few microseconds whatever its size, and the loss is bound by how many there are,
not by memory. :func:`small_labeling` computes :func:`rnnseq.losses.sequence_labeling_loss`
(or its ``*_terms``) for the case training asks for most (int64 class-index
targets, ``lengths`` or no mask, no class weights, no smoothing,
time_reduction="sum", a scalar reduction) as::

    c'_ij  = c_ij where j < lengths[i], else ignore_index     (padding is ignored)
    total  = Σ_ij [c'_ij ≠ ignore_index] · -log softmax(z_ij)[c'_ij]
           = nll_loss(log_softmax(z), c', ignore_index, reduction="sum")
    count  = Σ_ij [c'_ij ≠ ignore_index]     (nll_loss's own total weight)   "token_mean"
           = N' = rows with a counted step                                  "mean"
           = None                                                           "sum"

with autograd's native backward: four operations on the logits (log_softmax,
nll_loss and their backward passes) where the general path takes a masked copy,
a weighted sum and the exact 0/0-safe reductions around them. The rest is read on
the host: the lengths (their range check, Σ_i T_i and the rows with T_i > 0) and
nll_loss's count of counted steps, which, when it equals Σ_i T_i, says that no
real step was ignore_index, so that N' is the rows with T_i > 0; the loss itself
divides by that number (one operation, none of the 0/0-safe division's).
The real steps' mask is one row lookup per length in a table kept per T.

Exactness, where the general path gets it by construction:

- *Targets out of range*: nll_loss refuses any counted target outside [0, C)
  (IndexError); the call then goes to the general path, which raises the
  contract's ValueError naming targets.
- *Uncounted steps are inert*: nll_loss never reads an ignored row, so the loss
  cannot see it; its gradient there is g · 0 through nll_loss, then
  0 - softmax(z) · 0 through log_softmax, which is an exact 0 wherever the row's
  log-probabilities are not NaN, i.e. wherever its logits are finite. So the
  logits are summed first (one pass, no copy): a finite sum means every logit is
  finite. Otherwise (NaN or ±inf anywhere, or a sum that overflows) the call
  goes to the general path, which never lets such rows in.

Anything else (probability targets, weights, smoothing, masks, time "mean", per-row
losses, half-precision logits, targets other than int64, other devices, the plain
path, batches over the plan's ``small_max_elements`` logits or with rows of at least
``chunked_min_classes``) returns None: the general path. The measurements behind it
are in docs/PERFORMANCE.md ("The tagging shape").
"""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from rnnseq import kernels
from rnnseq.reductions import LossTerms

__all__ = ["small_labeling"]

_INT64_RANGE = range(-(1 << 63), 1 << 63)
_LENGTH_DTYPES = (torch.int64, torch.int32)  # what index_select takes
_nll_loss_forward = torch.ops.aten.nll_loss_forward.default  # (total, total weight)
_SUM = 2  # at::Reduction::Sum
# Up to this many steps the masks of every length are kept: (T + 1) × T bools.
_CACHED_MASK_STEPS = 512


def small_labeling(
    logits: Tensor,
    targets,
    lengths,
    ignore_index,
    reduction: str,
    terms: bool,
) -> Tensor | LossTerms | None:
    """The loss (``terms``: its :class:`~rnnseq.reductions.LossTerms`) as the module
    docstring says, or None where the general path must compute it: arguments this
    path does not take, lengths or targets it must check, a logit that is not finite.

    The caller has checked the logits, the reduction names and that there is no
    mask, class weight, smoothing or time reduction other than "sum".

    Shape:
        logits (N, T, C), targets (N, T) int64, lengths (N,) int64 / int32 or None
        -> a scalar in the logits' dtype (``terms``: total and count in the
        computation's dtype).
    """
    n, t, num_classes = logits.shape
    plan = kernels.current_plan(logits.device)
    if not (
        reduction != "none"
        and plan.path != "plain"
        and 0 < logits.numel() <= plan.small_max_elements
        and num_classes < plan.chunked_min_classes
        and logits.device.type == "cpu"
        and logits.dtype in (torch.float32, torch.float64)
        and isinstance(targets, Tensor)
        and targets.dtype == torch.int64
        and targets.shape == logits.shape[:2]
        and type(ignore_index) is int
        and ignore_index in _INT64_RANGE
    ):
        return None
    if lengths is None:
        real_steps, rows, classes = n * t, n, targets
    else:
        if not (
            isinstance(lengths, Tensor)
            and lengths.dtype in _LENGTH_DTYPES
            and lengths.device.type == "cpu"
            and lengths.shape == (n,)
        ):
            return None
        sizes = lengths.tolist()  # the range check, Σ T_i and N', read at once
        if min(sizes) < 0 or max(sizes) > t:
            return None
        real_steps, rows = sum(sizes), n - sizes.count(0)
        classes = torch.where(_real_steps(lengths, t), targets, ignore_index)  # (N, T)
    if not math.isfinite(logits.detach().sum().item()):
        return None
    log_probs = torch.log_softmax(logits.view(n * t, num_classes), 1)  # (N·T, C)
    try:
        total, counted = _nll_loss_forward(log_probs, classes.view(-1), None, _SUM, ignore_index)
    except IndexError:  # a counted target outside [0, C)
        return None
    if reduction == "sum":
        return LossTerms(total, None) if terms else total
    if reduction == "token_mean":
        if terms:
            return LossTerms(total, counted)
        count = counted.item()
    else:  # "mean": N'
        if counted.item() != real_steps:  # a real step is ignore_index: count on the device
            rows = (classes != ignore_index).any(dim=1).sum().item()
        if terms:
            return LossTerms(total, torch.full((), rows, dtype=total.dtype))
        count = rows
    return total / count if count else total * 0.0  # nothing counted: total is an exact 0


def _real_steps(lengths: Tensor, t: int) -> Tensor:
    """Which steps are real, j < lengths[i]: for T up to _CACHED_MASK_STEPS one
    operation, a row of :func:`_prefix_masks` per length. (N, T) bool"""
    if t <= _CACHED_MASK_STEPS:
        return _prefix_masks(t).index_select(0, lengths)
    return torch.arange(t) < lengths.unsqueeze(1)


@functools.lru_cache(maxsize=64)
def _prefix_masks(t: int) -> Tensor:
    """Row k: the first k of T steps are True. (T + 1, T) bool on CPU, made once per T."""
    return torch.arange(t) < torch.arange(t + 1).unsqueeze(1)
