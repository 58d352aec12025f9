"""The labeling loss of an output layer's logits, computed without forming them.

A language model's last layer turns hidden states into logits z = h Wᵀ + b over
V classes; with a large V those logits are the largest tensors of a training
step. :func:`linear_sequence_labeling_loss` runs the layer and the loss together
(:mod:`rnnseq.kernels.linear_cross_entropy`) and equals
:func:`rnnseq.losses.sequence_labeling_loss` of those logits; both are exported
from :mod:`rnnseq.losses`.
"""

from __future__ import annotations

import torch
from torch import Tensor

from rnnseq import kernels
from rnnseq._loss_checks import (
    LABELING_REDUCTIONS,
    _check_logits,
    _check_options,
    _check_output_layer,
    _check_terms_reductions,
    _check_time_reduction,
    _check_weight,
    _compute_dtype,
    _counted_steps,
    _counted_targets,
)
from rnnseq.reductions import LossTerms, batch_count, row_losses, step_coefficients, step_counts

__all__ = ["linear_sequence_labeling_loss", "linear_sequence_labeling_loss_terms"]


def linear_sequence_labeling_loss(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    targets: Tensor,
    lengths: Tensor | None = None,
    *,
    mask: Tensor | None = None,
    chunk_size: int | None = None,
    ignore_index: int = -100,
    time_reduction: str = "sum",
    reduction: str = "mean",
    class_weight: Tensor | None = None,
    label_smoothing: float = 0.0,
) -> Tensor:
    """:func:`~rnnseq.losses.sequence_labeling_loss` of the logits z = h Wᵀ + b, without
    ever making all of them.

    The output layer and the loss run together over chunks of ``chunk_size``
    counted steps, so at most (chunk_size, V) logits exist at a time (padding
    and ignored steps cost nothing)::

        z_ij = W h_ij + b                                  (V,) logits of step j of row i
        L_ij = -w[c_ij] · log softmax(z_ij)[c_ij]          (smoothing as in sequence_labeling_loss)

    and the same time and batch reductions as
    :func:`~rnnseq.losses.sequence_labeling_loss`, whose value this equals (up to
    rounding); gradients reach ``hidden``, ``weight`` and ``bias``. For a scalar
    loss the backward pass costs the same three matrix products per chunk as the
    unfused head; for reduction="none" it recomputes each chunk's logits (four).
    For the scalar reductions this is
    :func:`linear_sequence_labeling_loss_terms` ``(...).value()``.

    Args:
        hidden: the last hidden states h.
        weight: output-layer weight W (as ``nn.Linear(H, V).weight``).
        bias: output-layer bias b, or None.
        targets: class indices c_ij (no probability targets here).
        lengths, mask, ignore_index, time_reduction, reduction, label_smoothing:
            as in :func:`~rnnseq.losses.sequence_labeling_loss`.
        chunk_size: steps per chunk; by default at most 1/32 of the logits an
            unfused head would make (and 2**23 of them), but at least 48 steps
            (the kernel plan's ``linear_chunk_*`` fields).
        class_weight: optional class weights w, one per class (``weight`` in
            :func:`~rnnseq.losses.sequence_labeling_loss`; here that name is the layer's).

    Shape:
        - hidden: (N, T, H), floating point.  weight: (V, H).  bias: (V,).
        - targets: (N, T) integer.  lengths: (N,).  mask: (N, T).  class_weight: (V,).
        - output: scalar; (N,) for reduction="none"; (N, T) for time_reduction="none".
          In hidden's dtype (computed in at least float32).

    Example:
        >>> from torch import nn
        >>> from rnnseq.losses import sequence_labeling_loss
        >>> layer = nn.Linear(8, 50)
        >>> hidden = torch.randn(2, 3, 8, requires_grad=True)
        >>> targets = torch.tensor([[1, 2, 3], [4, -1, -1]])
        >>> loss = linear_sequence_labeling_loss(
        ...     hidden, layer.weight, layer.bias, targets, torch.tensor([3, 1]), chunk_size=2
        ... )
        >>> loss.backward()
        >>> expected = sequence_labeling_loss(layer(hidden), targets, torch.tensor([3, 1]))
        >>> torch.allclose(loss, expected)
        True
    """
    _check_logits(hidden, 3, "(N, T, H)", name="hidden")
    _check_options(reduction, LABELING_REDUCTIONS, label_smoothing)
    _check_time_reduction(time_reduction, reduction)
    loss = _linear_labeling(
        hidden, weight, bias, targets, lengths, mask, chunk_size, ignore_index, time_reduction,
        reduction, class_weight, label_smoothing,
    )  # fmt: skip
    return (loss if reduction == "none" else loss.value()).to(hidden.dtype)


def linear_sequence_labeling_loss_terms(
    hidden: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    targets: Tensor,
    lengths: Tensor | None = None,
    *,
    mask: Tensor | None = None,
    chunk_size: int | None = None,
    ignore_index: int = -100,
    time_reduction: str = "sum",
    reduction: str = "mean",
    class_weight: Tensor | None = None,
    label_smoothing: float = 0.0,
) -> LossTerms:
    """:func:`linear_sequence_labeling_loss` as a (total, count) pair: loss = total / count.

    total and count are those of :func:`~rnnseq.losses.sequence_labeling_loss_terms`
    for the logits z = h Wᵀ + b (count: rows with a counted step for "mean", the
    counted steps or their class weights for "token_mean", None for "sum").
    reduction="none" and time_reduction="none" are a ValueError.

    Args:
        as in :func:`linear_sequence_labeling_loss`; reduction "mean" | "sum" |
        "token_mean", time_reduction "sum" | "mean".

    Shape:
        as in :func:`linear_sequence_labeling_loss`; total and count are scalars in
        the computation's dtype (float32, or float64 for float64 hidden states).

    Example:
        >>> hidden = torch.zeros(2, 3, 8, requires_grad=True)
        >>> w, b = torch.zeros(50, 8, requires_grad=True), torch.zeros(50)  # every step: ln 50
        >>> targets = torch.tensor([[1, 2, 3], [4, -100, -100]])
        >>> total, count = linear_sequence_labeling_loss_terms(
        ...     hidden, w, b, targets, reduction="token_mean"
        ... )
        >>> round(total.item() / 4, 4), count.item()   # 4 counted steps of ln 50 each
        (3.912, 4.0)
    """
    _check_logits(hidden, 3, "(N, T, H)", name="hidden")
    _check_terms_reductions(reduction, LABELING_REDUCTIONS, time_reduction)
    _check_options(reduction, LABELING_REDUCTIONS, label_smoothing)
    _check_time_reduction(time_reduction, reduction)
    return _linear_labeling(
        hidden, weight, bias, targets, lengths, mask, chunk_size, ignore_index, time_reduction,
        reduction, class_weight, label_smoothing,
    )  # fmt: skip


def _linear_labeling(
    hidden, weight, bias, targets, lengths, mask, chunk_size, ignore_index, time_reduction,
    reduction, class_weight, label_smoothing,
) -> Tensor | LossTerms:  # fmt: skip
    """The per-row or per-step losses for reduction="none", else the LossTerms."""
    n, t, size = hidden.shape
    vocab = _check_output_layer(weight, bias, hidden)
    if not isinstance(targets, Tensor):
        raise TypeError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    if targets.dtype == torch.bool or targets.is_floating_point() or targets.is_complex():
        raise TypeError(f"targets must be an integer tensor of class indices, got {targets.dtype}")
    if tuple(targets.shape) != (n, t):
        raise ValueError(f"targets must have shape {(n, t)}, got {tuple(targets.shape)}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"chunk_size must be a positive integer, got {chunk_size!r}")
    dtype = _compute_dtype(hidden)
    class_weight = _check_weight(class_weight, vocab, hidden, dtype, name="class_weight")
    plan = kernels.current_plan(hidden.device)

    counted, step_weight = _counted_steps(lengths, mask, n, t, hidden.device, dtype)  # (N, T)
    counted, targets, step_weight, step_class_weight = _counted_targets(
        counted, step_weight, targets, ignore_index, vocab, class_weight
    )  # (N, T) each
    counts = None  # (N, T) n_ij, made only where a division needs it
    if time_reduction == "mean" or reduction == "token_mean":
        counts = step_counts(counted, step_weight, step_class_weight, dtype)
    rows = counted.reshape(-1).nonzero().squeeze(1)  # (K,) counted steps
    flat_hidden = hidden.reshape(n * t, size)  # (N·T, H); the kernel reads the counted rows
    classes = targets.reshape(-1).index_select(0, rows)  # (K,)
    chunk_rows = kernels.linear_cross_entropy.rows_per_chunk(vocab, chunk_size, plan, n * t)

    wants_grad = torch.is_grad_enabled() and any(
        x is not None and x.requires_grad for x in (hidden, weight, bias)
    )
    fixed_weights = step_weight is None or not step_weight.requires_grad
    if reduction != "none" and wants_grad and fixed_weights:
        # total = Σ_m a_m L_m with a known now (the reductions are linear in L),
        # so the gradients can be made in the forward pass.
        coef = step_coefficients(counted, step_weight, counts, time_reduction, dtype)  # (N, T)
        total = kernels.linear_cross_entropy.linear_cross_entropy(
            flat_hidden, rows, weight, bias, classes, class_weight, label_smoothing, dtype,
            chunk_rows, coef.reshape(-1).index_select(0, rows),
        )  # fmt: skip
        return LossTerms(total, batch_count(reduction, counted, counts, dtype))

    losses = kernels.linear_cross_entropy.linear_cross_entropy(
        flat_hidden, rows, weight, bias, classes, class_weight, label_smoothing, dtype,
        chunk_rows,
    )  # (K,)
    per_step = torch.zeros(n * t, dtype=dtype, device=hidden.device).index_copy(0, rows, losses)
    per_step = per_step.view(n, t)  # (N, T) L_ij
    step_losses = per_step if step_weight is None else per_step * step_weight  # (N, T)
    if reduction == "none":
        if time_reduction == "none":
            return step_losses
        return row_losses(step_losses, counts, time_reduction)
    total = row_losses(step_losses, counts, time_reduction).sum()
    return LossTerms(total, batch_count(reduction, counted, counts, dtype))
