"""Output layer and cross-entropy together, a chunk of steps at a time.

A language model's last layer turns hidden states h (K, H) into logits
z = h Wᵀ + b (K, V); with a large vocabulary V those logits, their
log-probabilities and their gradient are by far the biggest tensors of a
training step. :class:`_LinearCrossEntropy` never holds more than one chunk of
R steps' logits (R, V): for each chunk it computes the logits, their
log-sum-exp, the per-step loss and (when asked) the gradient

    G = dLoss/dz = g_m · (p · ((1 - ε) w_c + ε W / C) - (1 - ε) w_c · δ_c - (ε / C) · w)

and folds it straight into the parameter gradients::

    dLoss/dh = G W,    dLoss/dW += Gᵀ h,    dLoss/db += Σ_m G_m

(the notation of :mod:`rnnseq.kernels.softmax_math`, with C = V). Two modes:

- **eager** (a scalar loss Σ_m a_m L_m with known coefficients a_m, gradient
  wanted): the gradients are computed in the forward pass, from the logits
  just made, and the backward pass only hands them over, scaled in place by
  the incoming gradient (a second backward pass through a retained graph
  recomputes them). Three matrix products per chunk, as in the unfused head.
- **lazy** (per-step losses, or no gradient wanted): the forward pass keeps
  only (μ, s) per step; the backward pass recomputes each chunk's logits.

The hidden states come whole, (M, H), with the indices of the K counted steps
(``rows``): each chunk gathers its own R rows, and dL/dh is written straight
into an (M, H) gradient that is 0 at the other steps, so no (K, H) copy of the
hidden states or of their gradient is ever made. Steps per chunk come from the
caller (:func:`rows_per_chunk`: a chunk size, or the plan's share of the logits
that an unfused head would make). Memory beyond the parameter gradients is then
one chunk of logits, R rows of h and of dL/dh, and a few numbers per step.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnnseq.kernels.plan import KernelPlan
from rnnseq.kernels.softmax_math import coefficients, combine, finish_rows, nll_and_smooth

__all__ = ["rows_per_chunk", "linear_cross_entropy"]


def rows_per_chunk(
    vocab_size: int, chunk_size: int | None, plan: KernelPlan, steps: int | None = None
) -> int:
    """Steps per chunk: ``chunk_size``, or as many as fit in the plan's budget of logits.

    The budget is linear_chunk_elements logits and, given the ``steps`` (M) whose
    logits an unfused head would make, at most M·V / linear_chunk_share of them;
    but never fewer than linear_chunk_min_rows steps (nor than one).
    """
    if chunk_size is not None:
        return chunk_size
    elements = plan.linear_chunk_elements
    if steps is not None:
        elements = min(elements, steps * vocab_size // plan.linear_chunk_share)
    return max(1, plan.linear_chunk_min_rows, elements // max(1, vocab_size))


def linear_cross_entropy(
    hidden: Tensor,
    rows: Tensor | None,
    weight: Tensor,
    bias: Tensor | None,
    classes: Tensor,
    class_weight: Tensor | None,
    label_smoothing: float,
    dtype: torch.dtype,
    chunk_rows: int,
    coef: Tensor | None = None,
) -> Tensor:
    """Per-step losses L_m of softmax(h_m Wᵀ + b) against class c_m, or Σ_m a_m L_m.

    m runs over the K steps ``rows`` of ``hidden`` (every row when None). With
    ``coef`` (a, one per counted step) the result is the scalar Σ_m a_m L_m and
    the gradients are computed eagerly; without, the (K,) losses. The gradient
    of ``hidden`` is 0 at the steps not in ``rows``.

    Shape:
        hidden (M, H), rows (K,) int sorted or None, weight (V, H), bias (V,),
        classes (K,), class_weight (V,), coef (K,) -> (K,) or scalar, in ``dtype``.
    """
    return _LinearCrossEntropy.apply(
        hidden, rows, weight, bias, classes, class_weight, label_smoothing, dtype, chunk_rows,
        coef,
    )  # fmt: skip


class _LinearCrossEntropy(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx, hidden, rows, weight, bias, classes, class_weight, eps, dtype, chunk_rows, coef
    ):
        k, vocab = classes.shape[0], weight.shape[0]
        device = hidden.device
        row_max = torch.empty(k, dtype=dtype, device=device)  # (K,) μ
        exp_sum = torch.empty(k, dtype=dtype, device=device)  # (K,) s
        target_logit = torch.empty(k, dtype=dtype, device=device)  # (K,) z_c
        shifted_sum = torch.empty(k, dtype=dtype, device=device) if eps else None
        wants = (ctx.needs_input_grad[0], ctx.needs_input_grad[2], ctx.needs_input_grad[3])
        grads = None
        if coef is not None:
            terms = coefficients(coef.to(dtype), classes, class_weight, eps, vocab)
            grads = _new_grads(hidden, weight, bias, wants)
        steps = _Steps(hidden, rows, chunk_rows)

        for k0, k1 in steps.chunks():
            h = steps.read(k0, k1)  # (R, H)
            z = _logits(h, weight, bias)  # (R, V)
            target_logit[k0:k1] = z.gather(1, classes[k0:k1, None]).squeeze(1)
            e = z if z.dtype == dtype else z.to(dtype)  # (R, V) owned: modified in place
            mu = torch.amax(e, dim=1, keepdim=True)  # (R, 1)
            e.sub_(mu)  # z - μ
            if shifted_sum is not None:
                if class_weight is None:
                    torch.sum(e, dim=1, out=shifted_sum[k0:k1])
                else:
                    torch.mv(e, class_weight, out=shifted_sum[k0:k1])
            e.exp_()  # s · p
            torch.sum(e, dim=1, out=exp_sum[k0:k1])
            row_max[k0:k1] = mu.squeeze(1)
            if grads is not None:
                chunk = _chunk_terms(terms, exp_sum, k0, k1)
                _accumulate(grads, e, h, weight, chunk, classes[k0:k1], class_weight, steps, k0)
            del z, e, h  # the next chunk's logits reuse this memory

        nll, smooth = nll_and_smooth(
            row_max, exp_sum, target_logit, shifted_sum, class_weight, vocab
        )  # (K,) ℓ_c and Σ_k w_k ℓ_k
        losses = combine(nll, smooth, classes, class_weight, eps, vocab)  # (K,)

        ctx.eps, ctx.dtype, ctx.chunk_rows = eps, dtype, chunk_rows
        ctx.grads = grads
        ctx.save_for_backward(
            hidden, rows, weight, bias, classes, class_weight, coef, row_max, exp_sum
        )
        if coef is None:
            return losses
        return (coef.to(dtype) * losses).sum()

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_out):
        saved = ctx.saved_tensors
        hidden, rows, weight, bias, classes, class_weight, coef, row_max, exp_sum = saved
        none = (None,) * 6
        if ctx.grads is not None:
            # Hand the buffers over: they may become .grad and change, so a second
            # backward pass (through a retained graph) recomputes them.
            (grad_h, grad_w, grad_b), ctx.grads = ctx.grads, None
            if not bool(grad_out == 1):  # e.g. the 1 / count of a mean: scale in place
                for x in (grad_h, grad_w, grad_b):
                    if x is not None:
                        x.mul_(grad_out.to(x.dtype))
            return grad_h, None, grad_w, grad_b, *none

        g = grad_out if coef is None else coef * grad_out  # (K,) g_m
        vocab = weight.shape[0]
        terms = coefficients(g.to(ctx.dtype), classes, class_weight, ctx.eps, vocab)
        wants = (ctx.needs_input_grad[0], ctx.needs_input_grad[2], ctx.needs_input_grad[3])
        grads = _new_grads(hidden, weight, bias, wants)
        steps = _Steps(hidden, rows, ctx.chunk_rows)
        for k0, k1 in steps.chunks():
            h = steps.read(k0, k1)  # (R, H)
            z = _logits(h, weight, bias)  # (R, V)
            e = z if z.dtype == ctx.dtype else z.to(ctx.dtype)  # (R, V)
            e.sub_(row_max[k0:k1, None]).exp_()  # s · p
            chunk = _chunk_terms(terms, exp_sum, k0, k1)
            _accumulate(grads, e, h, weight, chunk, classes[k0:k1], class_weight, steps, k0)
            del z, e, h
        grad_h, grad_w, grad_b = grads
        return grad_h, None, grad_w, grad_b, *none


class _Steps:
    """The K counted steps of hidden (M, H), read and written a chunk of R at a time.

    With ``rows`` None every step counts and chunks are slices; otherwise each
    chunk's rows are gathered into (and its dL/dh scattered from) one (R, H)
    buffer, reused by every chunk.
    """

    def __init__(self, hidden: Tensor, rows: Tensor | None, chunk_rows: int) -> None:
        self.hidden, self.rows, self.chunk_rows = hidden, rows, chunk_rows
        self.k = hidden.shape[0] if rows is None else rows.shape[0]
        per_chunk = min(chunk_rows, self.k)
        self._in = self._out = None
        if rows is not None:
            self._in = hidden.new_empty(per_chunk, hidden.shape[1])  # (R, H) h rows
            self._out = hidden.new_empty(per_chunk, hidden.shape[1])  # (R, H) dL/dh rows

    def chunks(self):
        for k0 in range(0, self.k, self.chunk_rows):
            yield k0, min(self.k, k0 + self.chunk_rows)

    def read(self, k0: int, k1: int) -> Tensor:
        """h of steps k0..k1. (R, H)"""
        if self.rows is None:
            return self.hidden[k0:k1]
        return torch.index_select(self.hidden, 0, self.rows[k0:k1], out=self._in[: k1 - k0])

    def write_grad(self, grad_h: Tensor, g: Tensor, weight: Tensor, k0: int) -> None:
        """grad_h[steps k0..k0+R] = G W, for G (R, V)."""
        r = g.shape[0]
        if self.rows is None:
            torch.mm(g, weight, out=grad_h[k0 : k0 + r])  # (R, H) G W
            return
        out = torch.mm(g, weight, out=self._out[:r])  # (R, H) G W
        grad_h.index_copy_(0, self.rows[k0 : k0 + r], out)


def _logits(h: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """z = h Wᵀ + b for one chunk. (R, V)"""
    if bias is None:
        return h @ weight.t()
    return torch.addmm(bias, h, weight.t())


def _new_grads(hidden, weight, bias, wants) -> list[Tensor | None]:
    """Gradients for (hidden, weight, bias), None for those not wanted.

    All three start at 0: the hidden one is written chunk by chunk at the
    counted steps only, the others are sums.
    """
    grad_h = torch.zeros_like(hidden) if wants[0] else None  # (M, H)
    grad_w = torch.zeros_like(weight) if wants[1] else None  # (V, H)
    grad_b = torch.zeros_like(bias) if wants[2] and bias is not None else None  # (V,)
    return [grad_h, grad_w, grad_b]


def _chunk_terms(terms, exp_sum: Tensor, k0: int, k1: int):
    """(-a, coef / s, b) for rows k0..k1: exp(z - μ) · coef / s = p · coef."""
    neg_target_coef, coef, spread = terms
    return (
        neg_target_coef[k0:k1],
        coef[k0:k1] / exp_sum[k0:k1],
        None if spread is None else spread[k0:k1],
    )


def _accumulate(grads, e, h, weight, chunk_terms, classes, class_weight, steps, k0) -> None:
    """Turn exp(z - μ) (R, V) into G in place and add its share to each gradient."""
    finish_rows(e, chunk_terms, classes, class_weight)  # (R, V) G
    grad_h, grad_w, grad_b = grads
    g = e if e.dtype == h.dtype else e.to(h.dtype)  # (R, V) in the parameters' dtype
    if grad_h is not None:
        steps.write_grad(grad_h, g, weight, k0)  # (R, H) G W at the chunk's steps
    if grad_w is not None:
        grad_w.addmm_(g.t(), h)  # (V, H) += Gᵀ h
    if grad_b is not None:
        grad_b.add_(g.sum(0))  # (V,)
