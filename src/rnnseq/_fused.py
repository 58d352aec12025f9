"""The per-step cross-entropy as one autograd Function: the fast path behind rnnseq.losses.

:func:`rnnseq.losses._cross_entropy_per_step` computes, for M steps of C logits
each, the per-step loss L_m (0 where a step is not counted). Written with
``log_softmax`` and ``gather`` (the plain path), autograd keeps the (M, C)
log-probabilities from the forward pass and writes two more (M, C) tensors in
the backward pass. This module computes the same numbers with less traffic:

Forward, per counted row m (class c, class weights w, W = Σ_k w_k, smoothing ε)::

    μ_m = max_k z_mk,   s_m = Σ_k exp(z_mk - μ_m),   log-sum-exp = μ_m + log s_m
    L_m = (1 - ε) · w_c · (μ_m - z_mc + log s_m) + (ε/C) · (W · log s_m - Σ_k w_k (z_mk - μ_m))

one pass over cache-sized chunks of rows; only μ and s (two numbers per row)
and a reference to the logits (no copy) are kept for the backward pass.

Backward, with g_m = dLoss/dL_m and p = softmax(z) = exp(z - μ) / s::

    dL_m/dz_mj = p_mj · ((1 - ε) w_c + ε W / C) - (1 - ε) w_c · δ_jc - (ε / C) · w_j

one pass that writes g_m times this, chunk by chunk, into a fresh gradient.

Rows that are not counted are never read (their logits may hold NaN or inf)
and get an exact zero gradient; they cost nothing but that zero fill. (With
several CPU threads, chunks instead cover all rows in a few slices, see
THREADED_CHUNKS: uncounted rows are then computed along, and their loss and
gradient replaced by exact zeros.)

Short rows (C < CHUNKED_MIN_CLASSES) are cheaper as one ``log_softmax`` over
all M rows, kept for the backward pass (p = exp of it); there uncounted rows
are computed along but never used: their loss is replaced by 0 and their
gradient row by exact zeros.

A scalar reduction of the per-step losses is linear in them, Σ_m a_m L_m with
a_m fixed by which steps count; given a, the Function returns that sum (and
uses g_m = a_m · dLoss/dsum), so a whole reduced loss is one autograd node.

Which path runs is decided by :func:`use_fused`; tests and benchmarks force
one with :func:`loss_path` (or ``RNNSEQ_LOSS_PATH=plain|fused|auto`` in the
environment).
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = [
    "PATHS",
    "loss_path",
    "current_path",
    "use_fused",
    "cross_entropy_per_step",
    "clear_gradient_cache",
]

PATHS = ("auto", "fused", "plain")

# From this many classes on, rows are processed in chunks and only (μ, s) is kept;
# below it, short rows run faster through one log_softmax whose output is kept
# (K·C numbers: small next to the gradient for such C).
CHUNKED_MIN_CLASSES = 512
# Elements per chunk on CPU with one thread (1 MiB of float32: a chunk stays in
# the L2 cache between the passes over it, and chunks are few enough that their
# Python costs stay small; 2^17 to 2^20 measured within noise of each other).
# With T threads a chunk is T² times larger (at most CPU_CHUNK_MAX): each thread
# gets a larger share, and there are fewer parallel regions, each a barrier that
# costs a whole scheduler slice when another process holds a core.
CPU_CHUNK_ELEMENTS = 1 << 18
CPU_CHUNK_MAX = 1 << 22
# With several CPU threads every parallel operation ends at a barrier, and on a
# shared machine a barrier costs a scheduler slice whenever another process holds
# a core; then the chunks cover all rows (padding computed and discarded) in at
# most THREADED_CHUNKS slices, instead of many chunks of counted rows only.
# DENSE_CHUNKS forces this (True) or the other way (False); None: by threads.
THREADED_CHUNKS = 4
DENSE_CHUNKS: bool | None = None
# On CUDA, elements per chunk (at least; see _rows_per_chunk).
CUDA_CHUNK_ELEMENTS = 1 << 22
# A CPU gradient at least this large (bytes) comes from _GradientCache, which
# reuses the last one's memory once nothing else holds it: fresh memory costs a
# page fault per page on first write (on the 2-core VM of docs/PERFORMANCE.md,
# writing a fresh 90 MB tensor took 35 ms against 11 ms for a warm one).
CACHED_GRADIENT_BYTES = 1 << 22

_path = os.environ.get("RNNSEQ_LOSS_PATH", "auto")
if _path not in PATHS:
    raise ValueError(f"RNNSEQ_LOSS_PATH must be one of {PATHS}, got {_path!r}")


@contextmanager
def loss_path(path: str) -> Iterator[None]:
    """Force the per-step loss onto one path inside a ``with`` block.

    ``"fused"`` uses the Function whenever the arguments allow it (class-index
    targets, no gradient wanted for the class weights); ``"plain"`` always uses
    ``log_softmax`` + ``gather``; ``"auto"`` (the default) takes the faster one
    for the device: fused on CPU, plain on CUDA.
    """
    global _path
    if path not in PATHS:
        raise ValueError(f"path must be one of {PATHS}, got {path!r}")
    previous, _path = _path, path
    try:
        yield
    finally:
        _path = previous


def current_path() -> str:
    """The path setting now in force: "auto", "fused" or "plain"."""
    return _path


def use_fused(logits: Tensor, targets: Tensor, weight: Tensor | None) -> bool:
    """Whether :func:`cross_entropy_per_step` should handle these (M, C) logits."""
    if _path == "plain" or targets.dim() != 1:
        return False  # probability targets stay on the plain path
    if weight is not None and weight.requires_grad:
        return False  # the Function gives no gradient for w
    if logits.device.type not in ("cpu", "cuda"):
        return False
    if _path == "fused":
        return True
    # "auto": on CPU the fused path beat the plain one at every size measured
    # (C = 17 to 50,257; benchmarks/loss_speed.py). On CUDA the plain path's few
    # large kernels beat the chunk loop's many small ones (measured on an H200);
    # there the fused path saves memory when forced.
    return logits.device.type == "cpu"


def cross_entropy_per_step(
    logits: Tensor,
    targets: Tensor,
    counted: Tensor,
    weight: Tensor | None,
    label_smoothing: float,
    dtype: torch.dtype,
    coef: Tensor | None = None,
) -> Tensor:
    """L_m for M rows of logits, 0 (with zero gradient) where not counted; or Σ_m a_m L_m.

    Same contract as :func:`rnnseq.losses._cross_entropy_per_step` for
    class-index targets. Given ``coef`` (a_m, 0 where not counted), returns the
    scalar Σ_m a_m L_m instead: a reduced loss in one autograd node.

    Shape:
        logits (M, C), targets (M,) int, counted (M,) bool, weight (C,), coef (M,)
        -> (M,) or scalar, in ``dtype``.
    """
    return _CrossEntropyPerStep.apply(
        logits, targets, counted, weight, label_smoothing, dtype, coef
    )


class _GradientCache:
    """One reusable CPU buffer for the logits' gradient, like a one-slot caching allocator.

    The buffer is a NumPy array viewed by torch, so whether anything still uses
    the last gradient can be told from the array's reference count: torch's
    storage holds one reference for as long as any tensor or view of that
    gradient is alive. Only a buffer nobody holds is handed out again, so a
    gradient the user kept is never overwritten; the cost is that the last
    buffer stays allocated between steps (release it with
    :func:`clear_gradient_cache`). NumPy also asks Linux for transparent huge
    pages for such large arrays, which makes the first use cheaper.
    """

    def __init__(self) -> None:
        self._array: np.ndarray | None = None
        self._lock = threading.Lock()

    def empty(self, rows: int, cols: int, dtype: torch.dtype) -> Tensor:
        """An uninitialised (rows, cols) CPU tensor, on the cached memory when it is free."""
        nbytes = rows * cols * torch.empty((), dtype=dtype).element_size()
        with self._lock:
            # References to a free buffer: self._array and getrefcount's argument.
            free = self._array is not None and sys.getrefcount(self._array) <= 2
            if not (free and self._array.nbytes >= nbytes):
                self._array = np.empty(nbytes, dtype=np.uint8)
            flat = torch.from_numpy(self._array[:nbytes])  # holds a reference while alive
        return flat.view(dtype).view(rows, cols)

    def clear(self) -> None:
        with self._lock:
            self._array = None


_gradients = _GradientCache()


def clear_gradient_cache() -> None:
    """Let the memory of the last fused-loss gradient go once nothing else holds it."""
    _gradients.clear()


def _new_gradient(rows: int, cols: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """An uninitialised (rows, cols) gradient: large CPU ones from the cache."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    if device.type != "cpu" or rows * cols * itemsize < CACHED_GRADIENT_BYTES:
        return torch.empty(rows, cols, dtype=dtype, device=device)
    return _gradients.empty(rows, cols, dtype)


# --------------------------------------------------------------------------
# Chunks of counted rows.
# --------------------------------------------------------------------------


def _rows_per_chunk(num_classes: int, device: torch.device, rows: int = 0) -> int:
    """Rows per chunk for C classes: about a chunk budget of elements.

    On CUDA, where each chunk costs kernel launches, at least an eighth of the
    ``rows`` counted rows go in a chunk, so there are at most eight.
    """
    if device.type == "cuda":
        return max(1, CUDA_CHUNK_ELEMENTS // max(1, num_classes), -(-rows // 8))
    threads = max(1, torch.get_num_threads())
    budget = min(CPU_CHUNK_ELEMENTS * threads * threads, max(CPU_CHUNK_MAX, CPU_CHUNK_ELEMENTS))
    return max(1, budget // max(1, num_classes))


def _dense_chunks(device: torch.device) -> bool:
    """Whether chunks cover all rows in a few slices (see THREADED_CHUNKS)."""
    if DENSE_CHUNKS is not None:
        return DENSE_CHUNKS
    return device.type == "cpu" and torch.get_num_threads() > 1


def _chunks(rows: Tensor, per_chunk: int, device: torch.device) -> list[tuple[int, int, object]]:
    """Split the K counted rows (sorted indices) into chunks of at most ``per_chunk`` rows.

    Each chunk is (k0, k1, where): rows[k0:k1] are its rows, and ``where`` is a
    ``slice`` of the logits when those rows are contiguous (read in place), else
    the index tensor rows[k0:k1] (gathered into a buffer). Contiguous runs are
    used on CPU when they are long enough to fill chunks; otherwise, and on CUDA,
    chunks gather.
    """
    k = rows.numel()
    if k == 0:
        return []
    if device.type == "cpu":
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


def _gather_buffer(chunks, num_classes: int, like: Tensor) -> Tensor | None:
    """The (R, C) buffer that gathering chunks read into; None when every chunk is a slice."""
    if all(isinstance(where, slice) for _, _, where in chunks):
        return None
    per_chunk = max((k1 - k0 for k0, k1, _ in chunks), default=0)
    return like.new_empty(per_chunk, num_classes)


def _shift(z: Tensor, mu: Tensor, out: Tensor) -> Tensor:
    """out = z - μ computed in out's dtype (float16 logits are widened first, exactly)."""
    if z.dtype == out.dtype:
        return torch.sub(z, mu, out=out)
    return out.copy_(z).sub_(mu)


# --------------------------------------------------------------------------
# The Function.
# --------------------------------------------------------------------------


class _CrossEntropyPerStep(torch.autograd.Function):
    """L_m for the counted rows; see the module docstring for the math."""

    @staticmethod
    def forward(ctx, logits, targets, counted, weight, label_smoothing, dtype, coef):
        m_rows, num_classes = logits.shape
        per_chunk = _rows_per_chunk(num_classes, logits.device)
        ctx.label_smoothing, ctx.dtype, ctx.logits_dtype = label_smoothing, dtype, logits.dtype
        if num_classes < CHUNKED_MIN_CLASSES or m_rows <= per_chunk:
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
            losses = _combine(nll, smooth, classes, weight, label_smoothing, num_classes)
            losses = torch.where(counted, losses, 0.0)  # (M,)
            ctx.save_for_backward(counted, classes, weight, coef, log_probs)
            return losses if coef is None else _weighted_sum(coef, losses, weight)

        ctx.dense = _dense_chunks(logits.device)
        if ctx.dense:  # all rows in a few slices; uncounted ones computed, then discarded
            rows = torch.arange(m_rows, device=logits.device)  # (M,)
            classes = torch.where(counted, targets, 0).long()  # (M,)
            per_chunk = max(per_chunk, -(-m_rows // THREADED_CHUNKS))
        else:  # the counted rows only
            rows = counted.nonzero().squeeze(1)  # (K,) counted rows, sorted
            classes = targets.index_select(0, rows).long()  # (K,) c_m
            per_chunk = _rows_per_chunk(num_classes, logits.device, rows.numel())
        ctx.chunks = _chunks(rows, per_chunk, logits.device)
        nll, smooth, row_max, exp_sum = _chunked_forward(
            logits, rows, classes, weight, label_smoothing, dtype, ctx.chunks
        )
        losses = torch.zeros(m_rows, dtype=dtype, device=logits.device)  # (M,)
        losses.index_copy_(
            0, rows, _combine(nll, smooth, classes, weight, label_smoothing, num_classes)
        )
        if ctx.dense:
            losses = torch.where(counted, losses, 0.0)  # (M,)
        ctx.save_for_backward(logits, counted, rows, classes, weight, coef, row_max, exp_sum)
        return losses if coef is None else _weighted_sum(coef, losses, weight)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_losses):
        none = (None,) * 6
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
            _finish_rows(grad, _coefficients(g, classes, weight, eps, num_classes), classes, weight)
            uncounted = (~counted).nonzero().squeeze(1)  # (M - K,)
            if uncounted.numel():  # garbage logits there may have made NaN: exact zeros
                grad.index_fill_(0, uncounted, 0.0)
            return (grad if grad.dtype == ctx.logits_dtype else grad.to(ctx.logits_dtype)), *none

        logits, counted, rows, classes, weight, coef, row_max, exp_sum = ctx.saved_tensors
        if coef is not None:
            grad_losses = coef * grad_losses  # (M,) dLoss/dL_m of Σ a_m L_m
        m_rows, num_classes = logits.shape
        grad = _new_gradient(m_rows, num_classes, logits.dtype, logits.device)  # (M, C)
        if rows.numel():
            g = grad_losses.index_select(0, rows).to(dtype)  # (K,) g_m
            if ctx.dense:
                g = torch.where(counted, g, 0.0)  # (M,)
            terms = _coefficients(g, classes, weight, eps, num_classes)
            _chunked_backward(
                grad, logits, rows, classes, weight, dtype, ctx.chunks, row_max, exp_sum, terms
            )
        uncounted = (~counted).nonzero().squeeze(1)  # (M - K,)
        if uncounted.numel():  # exact zeros (dense chunks may have left NaN there)
            grad.index_fill_(0, uncounted, 0.0)
        return grad, *none


def _weighted_sum(coef: Tensor, losses: Tensor, weight: Tensor | None) -> Tensor:
    """Σ_m a_m L_m over the rows with a_m != 0: a row weighted 0 adds 0, whatever its L_m.

    (Only class weights can give a counted row a_m = 0 and L_m = 0 · ∞.)
    """
    if weight is None:
        return torch.dot(coef, losses)
    return torch.where(coef != 0, coef * losses, 0.0).sum()


def _combine(nll, smooth, classes, weight, eps, num_classes):
    """L = (1 - ε) · w_c · ℓ_c + (ε/C) · Σ_k w_k ℓ_k from its two parts. (K,)"""
    if weight is not None:
        nll = nll * weight[classes]
    if not eps:
        return nll
    return (1.0 - eps) * nll + (eps / num_classes) * smooth


def _coefficients(g, classes, weight, eps, num_classes):
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


def _finish_rows(grad, terms, classes, weight):
    """Turn rows p (R, C), in place, into coef · p - b ⊗ w, less a at each row's target.

    terms = (-a, coef, b) as from :func:`_coefficients`, (R,) each; classes (R,).
    """
    neg_target_coef, coef, spread = terms
    grad.mul_(coef[:, None])  # p · coef
    if spread is not None:
        if weight is None:
            grad.sub_(spread[:, None])
        else:
            grad.addr_(spread, weight, alpha=-1.0)  # - b_m · w_j
    grad.scatter_add_(1, classes[:, None], neg_target_coef[:, None])  # - a_m at c_m


def _chunked_forward(logits, rows, classes, weight, eps, dtype, chunks):
    """ℓ_c and Σ_k w_k ℓ_k, one cache-sized chunk at a time; saves μ and s per row."""
    k, num_classes = rows.numel(), logits.shape[1]
    device = logits.device
    row_max = torch.empty(k, dtype=dtype, device=device)  # (K,) μ
    exp_sum = torch.empty(k, dtype=dtype, device=device)  # (K,) s
    shifted_sum = torch.empty(k, dtype=dtype, device=device) if eps else None  # Σ w_k (z_k - μ)
    gathered = _gather_buffer(chunks, num_classes, logits)
    per_chunk = max((k1 - k0 for k0, k1, _ in chunks), default=0)
    shifted = torch.empty(per_chunk, num_classes, dtype=dtype, device=device)
    for k0, k1, where in chunks:
        z = _read_chunk(logits, rows, k0, k1, where, gathered)  # (R, C)
        mu = torch.amax(z, dim=1, keepdim=True)  # (R, 1)
        e = _shift(z, mu, shifted[: k1 - k0])  # (R, C) z - μ, in dtype
        if shifted_sum is not None:
            if weight is None:
                torch.sum(e, dim=1, out=shifted_sum[k0:k1])
            else:
                torch.mv(e, weight, out=shifted_sum[k0:k1])
        e.exp_()
        torch.sum(e, dim=1, out=exp_sum[k0:k1])
        row_max[k0:k1] = mu.squeeze(1)

    log_sum = exp_sum.log()  # (K,) log s
    if logits.is_contiguous():
        target_logit = logits.view(-1).index_select(0, rows * num_classes + classes)  # (K,) z_c
    else:
        target_logit = logits[rows, classes]  # (K,) z_c
    target_logit = target_logit.to(dtype)
    nll = (row_max - target_logit) + log_sum  # (K,) ℓ_c = μ + log s - z_c
    smooth = None
    if eps:
        total_weight = float(num_classes) if weight is None else weight.sum()
        smooth = total_weight * log_sum - shifted_sum  # (K,) Σ_k w_k (log s - (z_k - μ))
    return nll, smooth, row_max, exp_sum


def _chunked_backward(grad, logits, rows, classes, weight, dtype, chunks, row_max, exp_sum, terms):
    """Write g_m · dL_m/dz into the counted rows of grad (M, C), one chunk at a time."""
    num_classes, device = logits.shape[1], logits.device
    neg_target_coef, coef, spread = terms
    scale = coef / exp_sum  # (K,) exp(z - μ) · coef / s = p · coef
    gathered = _gather_buffer(chunks, num_classes, logits)
    work = None  # None: computed in place in grad (slices of rows, grad in dtype)
    if gathered is not None or dtype != logits.dtype:
        per_chunk = max((k1 - k0 for k0, k1, _ in chunks), default=0)
        work = torch.empty(per_chunk, num_classes, dtype=dtype, device=device)
    for k0, k1, where in chunks:
        z = _read_chunk(logits, rows, k0, k1, where, gathered)  # (R, C)
        out = grad[where] if work is None else work[: k1 - k0]  # (R, C)
        _shift(z, row_max[k0:k1, None], out).exp_()  # s · p
        chunk_terms = (
            neg_target_coef[k0:k1],
            scale[k0:k1],
            None if spread is None else spread[k0:k1],
        )
        _finish_rows(out, chunk_terms, classes[k0:k1], weight)
        if work is None:
            continue
        if isinstance(where, slice):
            grad[where].copy_(out)
        else:
            grad.index_copy_(0, rows[k0:k1], out.to(grad.dtype))
