"""Which kernel runs and how it cuts its work: a small immutable plan, chosen per device.

A :class:`KernelPlan` holds every choice the fast losses make that is not part
of the math: which path computes the per-step cross-entropy, how many logits a
chunk holds, when chunks cover padding too, when a gradient comes from the
cache, and from how many classes a language model's output layer runs chunked
with its loss. None of them changes a loss or a gradient beyond rounding; they
only trade time against memory, and the best values depend on the machine.

:func:`default_plan` gives the choices for a device and a thread count;
:func:`current_plan` gives the plan in force, which the losses read once per
call (an autograd Function keeps that plan for its backward pass).
:func:`use_plan` overrides it inside a ``with`` block, for the calling thread
only, so tests and benchmarks can force a path or a chunk size without a
process-global switch::

    with use_plan(path="plain"):              # override some fields
        loss = sequence_labeling_loss(logits, targets, lengths)
    with use_plan(KernelPlan(path="fused")):  # or give a whole plan, for every device
        ...

What each default was chosen from (the measurements) is in docs/PERFORMANCE.md.
"""

from __future__ import annotations

import dataclasses
import functools
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import torch

__all__ = [
    "PATHS",
    "KernelPlan",
    "default_plan",
    "current_plan",
    "use_plan",
    "use_fused",
    "use_linear_head",
]

PATHS = ("auto", "fused", "plain")


@dataclass(frozen=True)
class KernelPlan:
    """The choices of the fast losses for one device; every field has a reason.

    The defaults here are CPU ones for one thread; :func:`default_plan` adjusts
    them to the device and the thread count.
    """

    # The per-step cross-entropy: "fused" (the one-pass Function of
    # kernels.cross_entropy, for class-index targets and class weights without a
    # gradient), "plain" (log_softmax + gather, autograd's backward) or "auto":
    # fused on CPU, where it is faster, plain on CUDA, where a few large kernels
    # beat the chunk loop (the fused path there saves memory when forced).
    path: str = "auto"
    # From this many classes on, the fused Function works in chunks of rows and
    # keeps only (max, exp-sum) per row; below it, one log_softmax over all rows
    # is faster and kept for the backward pass (C numbers per row: small for such C).
    chunked_min_classes: int = 512
    # A scalar loss over at most this many logits (short rows, no class weights,
    # no smoothing) skips the autograd Function: F.cross_entropy and a dot
    # product, with autograd's native backward. There the Function's own Python
    # cost (about 0.1-0.2 ms a step) is most of the time; above it, the
    # Function's smaller memory (2x the logits where autograd keeps 3x) wins.
    lean_max_elements: int = 1 << 18
    # A labeling loss with class-index targets, lengths or no mask, no class weights,
    # no smoothing, time_reduction="sum" and a scalar reduction, over at most this many
    # logits in rows shorter than chunked_min_classes, skips everything above:
    # log_softmax + nll_loss, with autograd's native backward (rnnseq._small_labeling).
    # Measured faster than the Function's short-row mode up to 2^21 logits (C = 17 to
    # 500); above that the Function keeps less memory (its log-probabilities only).
    small_max_elements: int = 1 << 21
    # Logits per chunk: small enough that a chunk stays in cache between the
    # backward pass's softmax and its scaling in place, large enough that the
    # per-chunk Python costs stay small (2^19 and 2^20 measured alike, 2^21
    # slower, at one thread; docs/PERFORMANCE.md).
    chunk_elements: int = 1 << 19
    # At most this many chunks (None: no limit). Where each chunk costs kernel
    # launches (CUDA), a chunk then holds at least 1/max_chunks of the rows.
    max_chunks: int | None = None
    # Chunks cover all rows, padding included (computed, then replaced by exact
    # zeros), in at most dense_slices slices, instead of many chunks of counted
    # rows only. With several CPU threads every parallel operation (each pass
    # over a chunk) ends at a barrier, which costs a whole scheduler slice when
    # another process holds a core; few large slices keep that count near 20
    # a step instead of 100-250 (docs/PERFORMANCE.md, "Two threads"). Each pass
    # over a slice is a softmax that finishes every row while it is in cache.
    dense_chunks: bool = False
    dense_slices: int = 4
    # Counted rows that are contiguous are read in place (a slice of the logits);
    # otherwise, and where this is False, each chunk is gathered into a buffer.
    read_runs_in_place: bool = True
    # A CPU gradient of at least this many bytes reuses the last one's memory once
    # nothing holds it (kernels.gradient_cache): the first write to fresh memory
    # costs a page fault per page. None: never.
    cached_gradient_bytes: int | None = 1 << 22
    # The output layer + loss (kernels.linear_cross_entropy), when no chunk_size
    # is given: logits per chunk at most linear_chunk_elements (32 MiB of
    # float32) and at most 1/linear_chunk_share of the logits an unfused head
    # would make (so the chunk stays a few per cent of what it saves), but never
    # fewer than linear_chunk_min_rows steps: each chunk reads the whole (V, H)
    # weight three times, and with few rows that traffic, not the arithmetic,
    # sets the time (at V = 50,257, one thread, load 8: chunks of 32 rows took
    # 1.01x the unfused head's time, 64 rows 0.86x, 128 rows 0.80x; 48 rows keep
    # the extra memory under 0.1x the logits there, 64 rows did not).
    linear_chunk_elements: int = 1 << 23
    linear_chunk_share: int = 32
    linear_chunk_min_rows: int = 48
    # A language model with at least this many output classes trains through the
    # chunked output layer + loss instead of forming its (N, T, V) logits.
    linear_head_min_classes: int = 2048

    def __post_init__(self) -> None:
        if self.path not in PATHS:
            raise ValueError(f"path must be one of {PATHS}, got {self.path!r}")
        positive = ("chunked_min_classes", "lean_max_elements", "small_max_elements")
        positive += ("chunk_elements", "dense_slices")
        positive += ("linear_chunk_elements", "linear_chunk_share", "linear_chunk_min_rows")
        positive += ("linear_head_min_classes",)
        for name in positive:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}")
        for name in ("max_chunks", "cached_gradient_bytes"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}")

    def rows_per_chunk(self, num_classes: int, rows: int = 0) -> int:
        """Rows of C classes per chunk: about chunk_elements logits, and, with
        max_chunks, at least rows / max_chunks of the ``rows`` to be cut."""
        per_chunk = max(1, self.chunk_elements // max(1, num_classes))
        if self.max_chunks is not None:
            per_chunk = max(per_chunk, -(-rows // self.max_chunks))
        return per_chunk


# CPU chunks grow with the thread count T: T times the one-thread size (each
# thread's share stays the same, about 2 MiB), up to this many elements.
_CPU_CHUNK_MAX = 1 << 22
# CUDA chunks: at least this many logits, and at most eight chunks per call.
_CUDA_CHUNK_ELEMENTS = 1 << 22
_CUDA_MAX_CHUNKS = 8


def default_plan(device: torch.device | str = "cpu", threads: int | None = None) -> KernelPlan:
    """The plan for ``device`` with ``threads`` CPU threads (default: torch's setting now)."""
    device_type = device.type if isinstance(device, torch.device) else torch.device(device).type
    threads = max(1, torch.get_num_threads() if threads is None else threads)
    return _default_plan(device_type, threads)


@functools.lru_cache(maxsize=64)
def _default_plan(device_type: str, threads: int) -> KernelPlan:
    """:func:`default_plan`, made once per device type and thread count (losses ask per call)."""
    if device_type == "cuda":
        return KernelPlan(
            chunk_elements=_CUDA_CHUNK_ELEMENTS,
            max_chunks=_CUDA_MAX_CHUNKS,
            read_runs_in_place=False,
            cached_gradient_bytes=None,
        )
    one_thread = KernelPlan()
    grown = one_thread.chunk_elements * threads
    return dataclasses.replace(
        one_thread,
        chunk_elements=min(grown, max(_CPU_CHUNK_MAX, one_thread.chunk_elements)),
        dense_chunks=threads > 1,
        read_runs_in_place=device_type == "cpu",
        cached_gradient_bytes=one_thread.cached_gradient_bytes if device_type == "cpu" else None,
    )


class _Override(threading.local):
    """This thread's override: a whole plan (or None) and field values on top of it."""

    def __init__(self) -> None:
        self.plan: KernelPlan | None = None
        self.fields: dict = {}


_override = _Override()


def current_plan(device: torch.device | str = "cpu", threads: int | None = None) -> KernelPlan:
    """The plan in force in this thread for ``device``: :func:`default_plan`, or the
    innermost :func:`use_plan`'s plan, with the overrides of every open block on top."""
    base = _override.plan if _override.plan is not None else default_plan(device, threads)
    return dataclasses.replace(base, **_override.fields) if _override.fields else base


@contextmanager
def use_plan(
    plan: KernelPlan | Mapping | None = None, /, **fields
) -> Iterator[KernelPlan | None]:
    """Run the fast losses of this thread with another plan inside a ``with`` block.

    ``plan`` is a whole :class:`KernelPlan` (used as it is, whatever the device)
    or a mapping of field values; keyword arguments are field values too. Field
    values override the plan in force, which stays device-specific unless a whole
    plan was given; blocks nest, and each restores the previous state on exit.
    Other threads are not affected. Yields the whole plan given, else None.

    Example:
        >>> with use_plan(path="plain", chunk_elements=1024):
        ...     (current_plan().path, current_plan().chunk_elements)
        ('plain', 1024)
    """
    whole = plan if isinstance(plan, KernelPlan) else None
    if plan is not None and whole is None:
        if not isinstance(plan, Mapping):
            raise TypeError(f"plan must be a KernelPlan or a mapping, got {type(plan).__name__}")
        fields = {**plan, **fields}
    unknown = set(fields) - {f.name for f in dataclasses.fields(KernelPlan)}
    if unknown:
        raise TypeError(f"KernelPlan has no field {sorted(unknown)[0]!r}")
    saved = (_override.plan, _override.fields)
    new_fields = dict(fields) if whole is not None else {**_override.fields, **fields}
    dataclasses.replace(whole or default_plan(), **new_fields)  # refuse bad values now
    _override.plan = whole if whole is not None else _override.plan
    _override.fields = new_fields
    try:
        yield whole
    finally:
        _override.plan, _override.fields = saved


def use_fused(plan: KernelPlan, logits: torch.Tensor, targets: torch.Tensor, weight) -> bool:
    """Whether the fused Function should compute the per-step loss of these (M, C) logits.

    Probability targets, class weights that want a gradient, and devices other
    than CPU and CUDA always take the plain path.
    """
    if plan.path == "plain" or targets.dim() != 1:
        return False
    if weight is not None and weight.requires_grad:
        return False  # the Function gives no gradient for w
    if logits.device.type not in ("cpu", "cuda"):
        return False
    return plan.path == "fused" or logits.device.type == "cpu"


def use_linear_head(num_classes: int, device: torch.device | str = "cpu") -> bool:
    """Whether a language model with ``num_classes`` outputs on ``device`` should train
    through :func:`rnnseq.losses.linear_sequence_labeling_loss` (output layer and loss
    in chunks) rather than form its logits: from the plan's linear_head_min_classes on.
    """
    return num_classes >= current_plan(device).linear_head_min_classes
