"""The per-step cross-entropy as one autograd Function: the fused path of rnnseq.losses.

For M steps of C logits each, :func:`cross_entropy_per_step` computes the
per-step loss L_m (0 where a step is not counted). Written with
``log_softmax`` and ``gather`` (the plain path in :mod:`rnnseq.losses`),
autograd keeps the (M, C) log-probabilities from the forward pass and writes
two more (M, C) tensors in the backward pass. This Function computes the same
numbers with less traffic (the math is in :mod:`rnnseq.kernels.softmax_math`):

- forward: chunks of rows, each one ``log_softmax`` into a reused buffer (one
  pass that finishes each row while it is in cache), of which only ℓ_c (and,
  with smoothing, Σ_k w_k ℓ_k) is kept: nothing of size (M, C), and the
  logits themselves by reference;
- backward: chunks again, each one ``softmax`` written straight into the
  gradient and scaled in place into g_m · dL_m/dz; the gradient comes from
  :mod:`rnnseq.kernels.gradient_cache` on CPU.

Each chunk is thus two or three operations, each one parallel region with
several threads. Rows that are not counted are never read (their logits may
hold NaN or inf) and get an exact zero gradient; they cost nothing but that
zero fill. With a plan's ``dense_chunks``, chunks instead cover all rows in a
few slices: uncounted rows are then computed along, and their loss and
gradient replaced by exact zeros.

Short rows (C < plan.chunked_min_classes) are cheaper as one ``log_softmax``
over all M rows, kept for the backward pass (p = exp of it); there uncounted
rows are computed along but never used: their loss is replaced by 0 and their
gradient row by exact zeros. A small scalar loss (short rows, at most the
plan's lean_max_elements logits) without class weights or smoothing skips the
Function altogether (:func:`_lean_total`):
``F.cross_entropy`` and a dot product, with autograd's native backward,
whenever the result shows that every row was finite.

A scalar reduction of the per-step losses is linear in them, Σ_m a_m L_m with
a_m fixed by which steps count; given a, the Function returns that sum (and
uses g_m = a_m · dLoss/dsum), so a whole reduced loss is one autograd node.
How the work is cut is a :class:`~rnnseq.kernels.plan.KernelPlan`, kept from the
forward pass for the backward pass.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnnseq.kernels.gradient_cache import new_gradient
from rnnseq.kernels.plan import KernelPlan
from rnnseq.kernels.softmax_math import (
    coefficients,
    combine,
    finish_rows,
    weighted_sum,
)

__all__ = ["cross_entropy_per_step", "chunks"]


def cross_entropy_per_step(
    logits: Tensor,
    targets: Tensor,
    counted: Tensor,
    weight: Tensor | None,
    label_smoothing: float,
    dtype: torch.dtype,
    plan: KernelPlan,
    coef: Tensor | None = None,
) -> Tensor:
    """L_m for M rows of logits, 0 (with zero gradient) where not counted; or Σ_m a_m L_m.

    Same contract as the plain per-step loss of :mod:`rnnseq.losses` for
    class-index targets. Given ``coef`` (a_m, 0 where not counted), returns the
    scalar Σ_m a_m L_m instead: a reduced loss in one autograd node.

    Shape:
        logits (M, C), targets (M,) int, counted (M,) bool, weight (C,), coef (M,)
        -> (M,) or scalar, in ``dtype``.
    """
    small = logits.shape[1] < plan.chunked_min_classes and logits.numel() <= plan.lean_max_elements
    if small and coef is not None and weight is None and not label_smoothing:
        total = _lean_total(logits, targets, counted, dtype, coef)
        if total is not None:
            return total
    return _CrossEntropyPerStep.apply(
        logits, targets, counted, weight, label_smoothing, dtype, plan, coef
    )


def _lean_total(logits, targets, counted, dtype, coef) -> Tensor | None:
    """Σ_m a_m L_m for short rows without class weights or smoothing, in the fewest
    operations, all native (a small batch is bound by the count of operations and by
    a Python autograd Function's own cost, not by memory):

        total = Σ_m a_m · ℓ_c,   ℓ_c = -log_softmax(z_m)[c_m]  (F.cross_entropy's)

    with autograd's own backward (nll_loss's, then log_softmax's): g_m · (p - δ_c).
    Rows with a_m = 0 are computed along, which is exact only where their
    log-probabilities are finite: a NaN or ±inf logit makes its row's
    log-probabilities NaN, and 0 · NaN makes the sum NaN. So a sum that is not
    finite (that, or an infinite loss on a counted row) returns None, and the
    caller takes the Function, which never lets such rows in. Where the sum is
    finite every row is, and a row with a_m = 0 gets 0 - p · 0 = 0 exactly.

    Shape:
        logits (M, C), targets (M,), counted (M,) bool, coef (M,) a_m -> scalar in ``dtype``.
    """
    classes = torch.where(counted, targets, 0)  # (M,) c_m, 0 where not counted
    classes = classes if classes.dtype == torch.int64 else classes.long()
    z = logits if logits.dtype == dtype else logits.to(dtype)  # (M, C)
    nll = F.cross_entropy(z, classes, reduction="none")  # (M,) ℓ_c, every class in [0, C)
    total = torch.dot(coef, nll)  # Σ a_m ℓ_c
    return total if math.isfinite(total.item()) else None


# --------------------------------------------------------------------------
# Chunks of counted rows.
# --------------------------------------------------------------------------


def chunks(rows: Tensor, per_chunk: int, in_place: bool) -> list[tuple[int, int, object]]:
    """Split the K counted rows (sorted indices) into chunks of at most ``per_chunk`` rows.

    Each chunk is (k0, k1, where): rows[k0:k1] are its rows, and ``where`` is a
    ``slice`` of the logits when those rows are contiguous (read in place), else
    None (the rows are gathered into a buffer). With ``in_place``, contiguous runs
    are used when they are long enough to fill chunks; otherwise chunks gather.
    """
    k = rows.numel()
    if k == 0:
        return []
    if in_place:
        breaks = (rows[1:] != rows[:-1] + 1).nonzero().squeeze(1) + 1  # (runs - 1,)
        if (breaks.numel() + 1) * per_chunk <= 4 * k:  # runs average >= a quarter chunk
            starts = [0, *breaks.tolist()]
            ends = [*starts[1:], k]
            first_row = rows[starts].tolist()
            out = []
            for k_start, k_end, row in zip(starts, ends, first_row, strict=True):
                for k0 in range(k_start, k_end, per_chunk):
                    k1 = min(k_end, k0 + per_chunk)
                    a = row + (k0 - k_start)
                    out.append((k0, k1, slice(a, a + k1 - k0)))
            return out
    return [(k0, min(k, k0 + per_chunk), None) for k0 in range(0, k, per_chunk)]


def _read_chunk(logits: Tensor, rows: Tensor, k0: int, k1: int, where, buffer) -> Tensor:
    """Rows k0..k1 of the counted logits, as a view when contiguous, else gathered. (R, C)"""
    if isinstance(where, slice):
        return logits[where]
    return torch.index_select(logits, 0, rows[k0:k1], out=buffer[: k1 - k0])


def _gather_buffer(chunk_list, num_classes: int, like: Tensor) -> Tensor | None:
    """The (R, C) buffer that gathering chunks read into; None when every chunk is a slice."""
    if all(isinstance(where, slice) for _, _, where in chunk_list):
        return None
    per_chunk = max((k1 - k0 for k0, k1, _ in chunk_list), default=0)
    return like.new_empty(per_chunk, num_classes)


# --------------------------------------------------------------------------
# The Function.
# --------------------------------------------------------------------------


class _CrossEntropyPerStep(torch.autograd.Function):
    """L_m for the counted rows; see the module docstring for the math."""

    @staticmethod
    def forward(ctx, logits, targets, counted, weight, label_smoothing, dtype, plan, coef):
        m_rows, num_classes = logits.shape
        per_chunk = plan.rows_per_chunk(num_classes)
        ctx.label_smoothing, ctx.dtype, ctx.logits_dtype = label_smoothing, dtype, logits.dtype
        ctx.plan = plan
        if num_classes < plan.chunked_min_classes or m_rows <= per_chunk:
            # Short rows: one log_softmax over all M rows, kept for the backward pass.
            # Uncounted rows are computed but never read: their losses are replaced
            # by 0 here and their gradient rows by exact zeros in backward.
            ctx.chunks = None
            classes = torch.where(counted, targets, 0).long()  # (M,) c_m, 0 where not counted
            z = logits if logits.dtype == dtype else logits.to(dtype)  # (M, C)
            log_probs = torch.log_softmax(z, dim=1)  # (M, C)
            nll = -log_probs.gather(1, classes[:, None]).squeeze(1)  # (M,) ℓ_c
            smooth = None
            if label_smoothing:
                smooth = -(log_probs.sum(1) if weight is None else log_probs @ weight)  # (M,)
            losses = combine(nll, smooth, classes, weight, label_smoothing, num_classes)
            losses = torch.where(counted, losses, 0.0)  # (M,)
            ctx.save_for_backward(counted, classes, weight, coef, log_probs)
            return losses if coef is None else weighted_sum(coef, losses, weight)

        ctx.dense = plan.dense_chunks
        if ctx.dense:  # all rows in a few slices; uncounted ones computed, then discarded
            rows = torch.arange(m_rows, device=logits.device)  # (M,)
            classes = torch.where(counted, targets, 0).long()  # (M,)
            per_chunk = max(per_chunk, -(-m_rows // plan.dense_slices))
        else:  # the counted rows only
            rows = counted.nonzero().squeeze(1)  # (K,) counted rows, sorted
            classes = targets.index_select(0, rows).long()  # (K,) c_m
            per_chunk = plan.rows_per_chunk(num_classes, rows.numel())
        ctx.chunks = chunks(rows, per_chunk, plan.read_runs_in_place)
        nll, smooth = _chunked_forward(
            logits, rows, classes, weight, label_smoothing, dtype, ctx.chunks,
            plan.cached_gradient_bytes,
        )  # fmt: skip
        losses = torch.zeros(m_rows, dtype=dtype, device=logits.device)  # (M,)
        losses.index_copy_(
            0, rows, combine(nll, smooth, classes, weight, label_smoothing, num_classes)
        )
        if ctx.dense:
            losses = torch.where(counted, losses, 0.0)  # (M,)
        ctx.save_for_backward(logits, counted, rows, classes, weight, coef)
        return losses if coef is None else weighted_sum(coef, losses, weight)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_losses):
        none = (None,) * 7
        if not ctx.needs_input_grad[0]:
            return None, *none
        eps, dtype = ctx.label_smoothing, ctx.dtype
        if ctx.chunks is None:
            counted, classes, weight, coef, log_probs = ctx.saved_tensors
            m_rows, num_classes = log_probs.shape
            if coef is not None:  # dLoss/dL_m of Σ a_m L_m; a_m = 0 where not counted
                g = coef * grad_losses  # (M,) in dtype
            else:
                g = torch.where(counted, grad_losses, 0.0).to(dtype)  # (M,) 0 where not counted
            grad = log_probs.exp()  # (M, C) p
            finish_rows(grad, coefficients(g, classes, weight, eps, num_classes), classes, weight)
            uncounted = (~counted).nonzero().squeeze(1)  # (M - K,)
            if uncounted.numel():  # garbage logits there may have made NaN: exact zeros
                grad.index_fill_(0, uncounted, 0.0)
            return (grad if grad.dtype == ctx.logits_dtype else grad.to(ctx.logits_dtype)), *none

        logits, counted, rows, classes, weight, coef = ctx.saved_tensors
        if coef is not None:
            grad_losses = coef * grad_losses  # (M,) dLoss/dL_m of Σ a_m L_m
        m_rows, num_classes = logits.shape
        grad = new_gradient(
            m_rows, num_classes, logits.dtype, logits.device, ctx.plan.cached_gradient_bytes
        )  # (M, C)
        if rows.numel():
            g = grad_losses.index_select(0, rows).to(dtype)  # (K,) g_m
            if ctx.dense:
                g = torch.where(counted, g, 0.0)  # (M,)
            terms = coefficients(g, classes, weight, eps, num_classes)
            _chunked_backward(grad, logits, rows, classes, weight, dtype, ctx.chunks, terms)
        uncounted = (~counted).nonzero().squeeze(1)  # (M - K,)
        if uncounted.numel():  # exact zeros (dense chunks may have left NaN there)
            grad.index_fill_(0, uncounted, 0.0)
        return grad, *none


def _chunked_forward(logits, rows, classes, weight, eps, dtype, chunk_list, cached_bytes):
    """ℓ_c and (with smoothing) Σ_k w_k ℓ_k of the rows, a chunk at a time. (K,) each

    Each chunk is one ``log_softmax`` into a reused buffer: one parallel region
    that takes each row's max, exp-sum and output while the row sits in cache,
    then small gathers (and a row sum or product with w for smoothing). Nothing
    of the chunk is kept; the backward pass recomputes the softmax.
    """
    k, num_classes = rows.numel(), logits.shape[1]
    device = logits.device
    neg_nll = torch.empty(k, 1, dtype=dtype, device=device)  # (K, 1) log p_c
    neg_smooth = torch.empty(k, dtype=dtype, device=device) if eps else None  # Σ w_k log p_k
    gathered = _gather_buffer(chunk_list, num_classes, logits)
    per_chunk = max((k1 - k0 for k0, k1, _ in chunk_list), default=0)
    # Borrowed from the gradient cache: the last step's gradient memory, free
    # again by now, so a slice-sized buffer costs no fresh pages (and is free
    # once more when this step's gradient is made).
    log_probs = new_gradient(per_chunk, num_classes, dtype, device, cached_bytes)
    for k0, k1, where in chunk_list:
        z = _read_chunk(logits, rows, k0, k1, where, gathered)  # (R, C)
        lp = log_probs[: k1 - k0]  # (R, C)
        torch.log_softmax(z, 1, dtype=dtype, out=lp)
        torch.gather(lp, 1, classes[k0:k1, None], out=neg_nll[k0:k1])
        if neg_smooth is not None:
            if weight is None:
                torch.sum(lp, dim=1, out=neg_smooth[k0:k1])
            else:
                torch.mv(lp, weight, out=neg_smooth[k0:k1])
    return neg_nll.squeeze(1).neg_(), None if neg_smooth is None else neg_smooth.neg_()


def _chunked_backward(grad, logits, rows, classes, weight, dtype, chunk_list, terms):
    """Write g_m · dL_m/dz into the counted rows of grad (M, C), one chunk at a time.

    Each chunk is one ``softmax`` written straight into the gradient (or a work
    buffer, for gathered rows and float16 logits), then scaled in place.
    """
    num_classes, device = logits.shape[1], logits.device
    gathered = _gather_buffer(chunk_list, num_classes, logits)
    work = None  # None: computed in place in grad (slices of rows, grad in dtype)
    if gathered is not None or dtype != logits.dtype:
        per_chunk = max((k1 - k0 for k0, k1, _ in chunk_list), default=0)
        work = torch.empty(per_chunk, num_classes, dtype=dtype, device=device)
    for k0, k1, where in chunk_list:
        z = _read_chunk(logits, rows, k0, k1, where, gathered)  # (R, C)
        out = grad[where] if work is None else work[: k1 - k0]  # (R, C)
        torch.softmax(z, 1, dtype=dtype, out=out)  # p
        chunk_terms = tuple(None if x is None else x[k0:k1] for x in terms)
        finish_rows(out, chunk_terms, classes[k0:k1], weight)
        if work is None:
            continue
        if isinstance(where, slice):
            grad[where].copy_(out)
        else:
            grad.index_copy_(0, rows[k0:k1], out.to(grad.dtype))
