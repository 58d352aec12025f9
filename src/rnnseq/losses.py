"""Sequence cross-entropy losses in PyTorch: the fast, differentiable path.

Two losses, one per task:

- :func:`sequence_classification_loss`: one label per sequence, logits (N, C).
- :func:`sequence_labeling_loss`: one label per time step, logits (N, T, C),
  summed (or averaged) over the real steps of each sequence, then averaged over
  the sequences.

Both follow ``../shared/CONTRACT.md`` ("The math", "rnnseq.losses") to the
letter and agree with the NumPy walkthrough in :mod:`rnnseq.reference`. Where
the semantics coincide they equal ``torch.nn.functional.cross_entropy``; where
they differ, they differ on purpose:

- a batch with nothing counted gives 0 and a zero gradient, not NaN
  (pytorch#70348);
- steps that are not counted (padding, mask False or 0, ``ignore_index``) are
  fully inert: any value there, NaN and inf included, changes neither the loss
  nor any gradient, and their gradient is exactly 0 (pytorch#11551);
- float16/bfloat16 logits are computed in float32 and the result returned in
  the logits' dtype.

The per-step cross-entropy is computed by :func:`_cross_entropy_per_step`; the
reductions over time and over the batch are plain tensor code on (N, T).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnseq import _fused
from rnnseq._linear_loss import linear_cross_entropy, rows_per_chunk
from rnnseq._loss_checks import (
    CLASSIFICATION_REDUCTIONS,
    LABELING_REDUCTIONS,
    _check_logits,
    _check_options,
    _check_output_layer,
    _check_targets,
    _check_time_reduction,
    _check_weight,
    _counted_steps,
    _safe_targets,
)

__all__ = [
    "sequence_classification_loss",
    "sequence_labeling_loss",
    "linear_sequence_labeling_loss",
    "SequenceClassificationLoss",
    "SequenceLabelingLoss",
]

# --------------------------------------------------------------------------
# The per-step cross-entropy and the divisions.
# --------------------------------------------------------------------------


def _cross_entropy_per_step(
    logits: Tensor,
    targets: Tensor,
    counted: Tensor,
    weight: Tensor | None,
    label_smoothing: float,
    dtype: torch.dtype,
) -> Tensor:
    """L_m for M steps, each a row of C logits: 0 (with zero gradient) where not counted.

    With class-index targets c and smoothing ε, writing ℓ_k = -log softmax(z)_k::

        L = (1 - ε) · w_c · ℓ_c + (ε / C) · Σ_k w_k · ℓ_k

    (w = 1 without class weights), which is F.cross_entropy's per-element loss.
    With probability targets y: L = -Σ_k w_k · ((1 - ε) y_k + ε / C) · log softmax(z)_k.

    Two implementations give the same numbers: the fused autograd Function of
    :mod:`rnnseq._fused` (class-index targets; one pass forward, one backward,
    uncounted rows skipped) when :func:`rnnseq._fused.use_fused` says so, else
    the plain ``log_softmax`` + ``gather`` below.

    Shape:
        logits (M, C), targets (M,) int or (M, C) float, counted (M,) bool -> (M,) in ``dtype``.
    """
    if _fused.use_fused(logits, targets, weight):
        return _fused.cross_entropy_per_step(
            logits, targets, counted, weight, label_smoothing, dtype
        )
    return _plain_cross_entropy_per_step(logits, targets, counted, weight, label_smoothing, dtype)


def _plain_cross_entropy_per_step(
    logits: Tensor,
    targets: Tensor,
    counted: Tensor,
    weight: Tensor | None,
    label_smoothing: float,
    dtype: torch.dtype,
) -> Tensor:
    """:func:`_cross_entropy_per_step` with log_softmax + gather; autograd does the backward.

    Shape:
        logits (M, C), targets (M,) int or (M, C) float, counted (M,) bool -> (M,) in ``dtype``.
    """
    num_classes = logits.shape[-1]
    # Uncounted rows become zeros before anything is computed, so NaN/inf there
    # can reach neither the value nor the gradient (where() passes exact zeros).
    z = torch.where(counted[:, None], logits.to(dtype), 0.0)  # (M, C)
    log_probs = torch.log_softmax(z, dim=-1)  # (M, C)
    if targets.dim() == 1:
        safe_targets = torch.where(counted, targets, 0).long()  # (M,)
        losses = -log_probs.gather(1, safe_targets[:, None]).squeeze(1)  # (M,)
        if weight is not None:
            losses = losses * weight[safe_targets]
        if label_smoothing:
            weighted = log_probs if weight is None else log_probs * weight  # (M, C)
            smooth = -weighted.sum(dim=-1)  # (M,)
            losses = (1.0 - label_smoothing) * losses + (label_smoothing / num_classes) * smooth
    else:
        y = torch.where(counted[:, None], targets.to(dtype), 0.0)  # (M, C)
        if label_smoothing:
            y = (1.0 - label_smoothing) * y + label_smoothing / num_classes
        if weight is not None:
            y = y * weight
        losses = -(y * log_probs).sum(dim=-1)  # (M,)
    return torch.where(counted, losses, 0.0)  # (M,)


def _safe_divide(total: Tensor, count: Tensor) -> Tensor:
    """total / count, and 0 (with zero gradient) where count is 0."""
    nonzero = count != 0
    return torch.where(nonzero, total / torch.where(nonzero, count, 1), 0.0)


def _compute_dtype(logits: Tensor) -> torch.dtype:
    return torch.float64 if logits.dtype == torch.float64 else torch.float32


# --------------------------------------------------------------------------
# Public functions.
# --------------------------------------------------------------------------


def sequence_classification_loss(
    logits: Tensor,
    targets: Tensor,
    *,
    weight: Tensor | None = None,
    label_smoothing: float = 0.0,
    reduction: str = "mean",
) -> Tensor:
    """Cross-entropy of one label per sequence.

    For example i with class index c_i (w = 1 without class weights)::

        L_i = -w[c_i] · log softmax(z_i)[c_i]

    and with label smoothing ε (the true distribution becomes (1 - ε)·y + ε/C)::

        L_i = (1 - ε) · w[c_i] · ℓ_i,c_i + (ε/C) · Σ_k w[k] · ℓ_i,k,    ℓ = -log softmax(z)

    Reductions::

        "none":  (L_1, ..., L_N)
        "sum":   Σ_i L_i
        "mean":  Σ_i L_i / Σ_i w[c_i]       (/ N without weights or with probability targets)

    An empty batch gives 0 with a zero gradient.

    Args:
        logits: unnormalised scores z.
        targets: class indices, or a true distribution per example.
        weight: optional class weights w, one per class.
        label_smoothing: ε in [0, 1).
        reduction: "mean" | "sum" | "none".

    Shape:
        - logits: (N, C), floating point.
        - targets: (N,) integer in [0, C), or (N, C) floating point.
        - weight: (C,).
        - output: scalar, or (N,) for reduction="none"; in the logits' dtype.

    Example:
        >>> logits = torch.tensor([[2.0, 0.5], [0.1, 1.2]], requires_grad=True)
        >>> loss = sequence_classification_loss(logits, torch.tensor([0, 1]))
        >>> loss.backward()
        >>> round(loss.item(), 4)
        0.2444
    """
    _check_logits(logits, 2, "(N, C)")
    _check_options(reduction, CLASSIFICATION_REDUCTIONS, label_smoothing)
    index_targets = _check_targets(targets, logits)
    n, num_classes = logits.shape
    dtype = _compute_dtype(logits)
    weight = _check_weight(weight, num_classes, logits, dtype)
    counted = torch.ones(n, dtype=torch.bool, device=logits.device)  # (N,)
    if index_targets:
        targets = _safe_targets(targets, counted, num_classes, None)  # (N,)
        if reduction != "none" and _fused.use_fused(logits, targets, weight):
            # loss = Σ_i a_i · L_i: a_i = 1 ("sum"), or 1 / Σ_i w[c_i] ("mean").
            coef = torch.ones(n, dtype=dtype, device=logits.device)  # (N,)
            if reduction == "mean":
                count = coef.sum() if weight is None else weight[targets].sum()
                coef = _safe_divide(coef, count)
            return _fused.cross_entropy_per_step(
                logits, targets, counted, weight, label_smoothing, dtype, coef
            ).to(logits.dtype)

    losses = _cross_entropy_per_step(logits, targets, counted, weight, label_smoothing, dtype)
    if reduction == "none":
        return losses.to(logits.dtype)  # (N,)
    total = losses.sum()
    if reduction == "sum":
        return total.to(logits.dtype)
    if index_targets and weight is not None:
        count = weight[targets].sum()
    else:
        count = torch.tensor(float(n), dtype=dtype, device=logits.device)
    return _safe_divide(total, count).to(logits.dtype)


def sequence_labeling_loss(
    logits: Tensor,
    targets: Tensor,
    lengths: Tensor | None = None,
    *,
    mask: Tensor | None = None,
    ignore_index: int = -100,
    time_reduction: str = "sum",
    reduction: str = "mean",
    weight: Tensor | None = None,
    label_smoothing: float = 0.0,
) -> Tensor:
    """Cross-entropy of one label per time step, reduced over time, then over the batch.

    Per step (class index c_ij; w = 1 without class weights; smoothing as in
    :func:`sequence_classification_loss`)::

        L_ij = -w[c_ij] · log softmax(z_ij)[c_ij]

    m_ij says how much a step counts: 1 for the first ``lengths[i]`` steps and 0
    after them, or the ``mask`` value (bool, or a float weight per step); a step
    whose target is ``ignore_index`` has m_ij = 0. Writing n_ij = m_ij · w[c_ij]
    (n_ij = m_ij with probability targets)::

        time_reduction="none":  m_ij · L_ij                         (N, T), 0 where not counted
        time_reduction="sum":   L_i = Σ_j m_ij · L_ij               (the default)
        time_reduction="mean":  L_i = Σ_j m_ij · L_ij / Σ_j n_ij

        reduction="none":       (L_1, ..., L_N), 0 for a row with no counted step
        reduction="sum":        Σ_i L_i
        reduction="mean":       Σ_i L_i / N',   N' = rows with at least one counted step
        reduction="token_mean": Σ_ij m_ij · L_ij / Σ_ij n_ij      (needs time_reduction="sum")

    Nothing counted is never a division by zero: such a row, or batch, is 0
    with a zero gradient. Steps that are not counted are fully inert, whatever
    their logits (NaN and inf included) or targets hold.

    Args:
        logits: unnormalised scores z.
        targets: class indices, or a true distribution per step.
        lengths: real length of each row; the rest is padding. Not with ``mask``.
        mask: bool (True = real step) or float (a weight per step). Not with ``lengths``.
        ignore_index: a class-index target that is never counted.
        time_reduction: "sum" | "mean" | "none".
        reduction: "mean" | "sum" | "none" | "token_mean".
        weight: optional class weights w, one per class.
        label_smoothing: ε in [0, 1).

    Shape:
        - logits: (N, T, C), floating point.
        - targets: (N, T) integer, or (N, T, C) floating point.
        - lengths: (N,) integer in [0, T].  mask: (N, T).  weight: (C,).
        - output: scalar; (N,) for reduction="none"; (N, T) for time_reduction="none".
          In the logits' dtype (computed in at least float32).

    Example:
        >>> logits = torch.zeros(2, 3, 4, requires_grad=True)
        >>> targets = torch.tensor([[1, 2, 3], [0, -1, -1]])   # -1: padding, never read
        >>> loss = sequence_labeling_loss(logits, targets, torch.tensor([3, 1]))
        >>> loss.backward()
        >>> round(loss.item(), 4)  # (3·ln 4 + 1·ln 4) / 2
        2.7726
    """
    _check_logits(logits, 3, "(N, T, C)")
    _check_options(reduction, LABELING_REDUCTIONS, label_smoothing)
    _check_time_reduction(time_reduction, reduction)
    index_targets = _check_targets(targets, logits)
    n, t, num_classes = logits.shape
    dtype = _compute_dtype(logits)
    weight = _check_weight(weight, num_classes, logits, dtype)

    counted, step_weight = _counted_steps(lengths, mask, n, t, logits, dtype)  # (N, T), m_ij
    class_weight = None
    if index_targets:
        counted = counted & (targets != ignore_index)  # (N, T)
        targets = _safe_targets(targets, counted, num_classes, ignore_index)  # (N, T)
        if step_weight is not None:
            step_weight = torch.where(counted, step_weight, 0.0)  # ignored steps weigh 0
        if weight is not None:
            class_weight = weight[targets]  # (N, T) w[c_ij]
    flat_targets = targets.reshape(n * t, *targets.shape[2:])  # (N·T,) or (N·T, C)
    flat_logits = logits.reshape(n * t, num_classes)  # (N·T, C)

    scalar = time_reduction != "none" and reduction != "none"
    fixed_weights = step_weight is None or not step_weight.requires_grad
    if scalar and fixed_weights and _fused.use_fused(flat_logits, flat_targets, weight):
        # The fused Function takes the reductions as weights a_ij on the steps.
        coef = _step_coefficients(
            counted, step_weight, class_weight, time_reduction, reduction, dtype
        )  # (N, T)
        loss = _fused.cross_entropy_per_step(
            flat_logits, flat_targets, counted.reshape(-1), weight, label_smoothing, dtype,
            coef.reshape(-1),
        )  # fmt: skip
        return loss if loss.dtype == logits.dtype else loss.to(logits.dtype)

    per_step = _cross_entropy_per_step(
        flat_logits, flat_targets, counted.reshape(-1), weight, label_smoothing, dtype
    ).view(n, t)  # (N, T) L_ij
    loss = _reduce_steps(per_step, counted, step_weight, class_weight, time_reduction, reduction)
    return loss.to(logits.dtype)


def _reduce_steps(
    per_step: Tensor,
    counted: Tensor,
    step_weight: Tensor | None,
    class_weight: Tensor | None,
    time_reduction: str,
    reduction: str,
) -> Tensor:
    """The reductions of :func:`sequence_labeling_loss`, from the per-step losses L_ij.

    per_step (N, T) is 0 where not counted; step_weight is m_ij, or None when
    every counted step weighs 1; class_weight is w[c_ij] (None: 1), so that
    n_ij = m_ij · w[c_ij]. Sums are taken first and divided once, at the end.

    Shape:
        per_step, counted, step_weight, class_weight: (N, T) -> scalar, (N,) or (N, T).
    """
    step_losses = per_step if step_weight is None else per_step * step_weight  # (N, T)
    if time_reduction == "none":
        return step_losses

    def step_counts() -> Tensor:  # (N, T) n_ij
        m = counted.to(per_step.dtype) if step_weight is None else step_weight
        return m if class_weight is None else m * class_weight

    if reduction == "token_mean":
        return _safe_divide(step_losses.sum(), step_counts().sum())
    row_losses = step_losses.sum(dim=1)  # (N,)
    if time_reduction == "mean":
        row_losses = _safe_divide(row_losses, step_counts().sum(dim=1))  # (N,)
    if reduction == "none":
        return row_losses
    if reduction == "sum":
        return row_losses.sum()
    rows_counted = counted.any(dim=1).sum().to(per_step.dtype)  # N'
    return _safe_divide(row_losses.sum(), rows_counted)


def _step_coefficients(
    counted: Tensor,
    step_weight: Tensor | None,
    class_weight: Tensor | None,
    time_reduction: str,
    reduction: str,
    dtype: torch.dtype,
) -> Tensor:
    """a_ij such that a scalar reduction of :func:`_reduce_steps` is Σ_ij a_ij · L_ij.

    Every reduction is linear in the per-step losses, with weights that depend
    only on which steps count (never on the logits)::

        a_ij = m_ij                    time "sum", reduction "sum"
             = m_ij / N'               ... reduction "mean"
             = m_ij / Σ_ij n_ij        reduction "token_mean"
             = m_ij / Σ_j n_ij         time "mean" (then / N' for reduction "mean")

    with 0 wherever a count is 0, as in :func:`_safe_divide`.

    Shape:
        counted, step_weight, class_weight: (N, T) -> (N, T).
    """
    coef = counted.to(dtype) if step_weight is None else step_weight  # (N, T) m_ij
    step_counts = coef if class_weight is None else coef * class_weight  # (N, T) n_ij
    if time_reduction == "mean":
        coef = _safe_divide(coef, step_counts.sum(dim=1, keepdim=True))  # (N, T)
    if reduction == "mean":
        rows_counted = int(counted.any(dim=1).sum())  # N'; 0 only when coef is all 0
        return coef / rows_counted if rows_counted else coef
    if reduction == "token_mean":
        return _safe_divide(coef, step_counts.sum())
    return coef


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
    """:func:`sequence_labeling_loss` of the logits z = h Wᵀ + b, without ever making all of them.

    The output layer and the loss run together over chunks of ``chunk_size``
    counted steps, so at most (chunk_size, V) logits exist at a time (padding
    and ignored steps cost nothing)::

        z_ij = W h_ij + b                                  (V,) logits of step j of row i
        L_ij = -w[c_ij] · log softmax(z_ij)[c_ij]          (smoothing as in sequence_labeling_loss)

    and the same time and batch reductions as :func:`sequence_labeling_loss`,
    whose value this equals (up to rounding); gradients reach ``hidden``,
    ``weight`` and ``bias``. For a scalar loss the backward pass costs the same
    three matrix products per chunk as the unfused head; for reduction="none"
    it recomputes each chunk's logits (four).

    Args:
        hidden: the last hidden states h.
        weight: output-layer weight W (as ``nn.Linear(H, V).weight``).
        bias: output-layer bias b, or None.
        targets: class indices c_ij (no probability targets here).
        lengths, mask, ignore_index, time_reduction, reduction, label_smoothing:
            as in :func:`sequence_labeling_loss`.
        chunk_size: steps per chunk; by default about 2**23 logits (32 MiB in float32).
        class_weight: optional class weights w, one per class (``weight`` in
            :func:`sequence_labeling_loss`; here that name is the layer's).

    Shape:
        - hidden: (N, T, H), floating point.  weight: (V, H).  bias: (V,).
        - targets: (N, T) integer.  lengths: (N,).  mask: (N, T).  class_weight: (V,).
        - output: scalar; (N,) for reduction="none"; (N, T) for time_reduction="none".
          In hidden's dtype (computed in at least float32).

    Example:
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

    counted, step_weight = _counted_steps(lengths, mask, n, t, hidden, dtype)  # (N, T), m_ij
    counted = counted & (targets.to(hidden.device) != ignore_index)  # (N, T)
    targets = _safe_targets(targets.to(hidden.device), counted, vocab, ignore_index)  # (N, T)
    if step_weight is not None:
        step_weight = torch.where(counted, step_weight, 0.0)
    step_class_weight = None if class_weight is None else class_weight[targets]  # (N, T)
    rows = counted.reshape(-1).nonzero().squeeze(1)  # (K,) counted steps
    hidden_rows = hidden.reshape(n * t, size).index_select(0, rows)  # (K, H)
    classes = targets.reshape(-1).index_select(0, rows)  # (K,)
    chunk_rows = rows_per_chunk(vocab, chunk_size)

    wants_grad = torch.is_grad_enabled() and any(
        x is not None and x.requires_grad for x in (hidden, weight, bias)
    )
    scalar = time_reduction != "none" and reduction != "none"
    if wants_grad and scalar and (step_weight is None or not step_weight.requires_grad):
        # loss = Σ_m a_m L_m with a known now (the reductions are linear in L),
        # so the gradients can be made in the forward pass.
        coef = _step_coefficients(
            counted, step_weight, step_class_weight, time_reduction, reduction, dtype
        )  # (N, T)
        loss = linear_cross_entropy(
            hidden_rows,
            weight,
            bias,
            classes,
            class_weight,
            label_smoothing,
            dtype,
            chunk_rows,
            coef.reshape(-1).index_select(0, rows),
        )
        return loss.to(hidden.dtype)
    losses = linear_cross_entropy(
        hidden_rows, weight, bias, classes, class_weight, label_smoothing, dtype, chunk_rows
    )  # (K,)
    per_step = torch.zeros(n * t, dtype=dtype, device=hidden.device).index_copy(0, rows, losses)
    loss = _reduce_steps(
        per_step.view(n, t), counted, step_weight, step_class_weight, time_reduction, reduction
    )
    return loss.to(hidden.dtype)


# --------------------------------------------------------------------------
# nn.Module forms.
# --------------------------------------------------------------------------


class SequenceClassificationLoss(nn.Module):
    """Module form of :func:`sequence_classification_loss` with the same keyword arguments.

    Example:
        >>> criterion = SequenceClassificationLoss(label_smoothing=0.1)
        >>> criterion(torch.zeros(2, 3), torch.tensor([0, 2])).shape
        torch.Size([])
    """

    def __init__(
        self,
        *,
        weight: Tensor | None = None,
        label_smoothing: float = 0.0,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        _check_options(reduction, CLASSIFICATION_REDUCTIONS, label_smoothing)
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight))
        self.label_smoothing = label_smoothing
        self.reduction = reduction

    def forward(self, logits: Tensor, targets: Tensor) -> Tensor:
        return sequence_classification_loss(
            logits,
            targets,
            weight=self.weight,
            label_smoothing=self.label_smoothing,
            reduction=self.reduction,
        )


class SequenceLabelingLoss(nn.Module):
    """Module form of :func:`sequence_labeling_loss` with the same keyword arguments.

    Example:
        >>> criterion = SequenceLabelingLoss(time_reduction="mean")
        >>> criterion(torch.zeros(2, 3, 4), torch.zeros(2, 3, dtype=torch.long),
        ...           lengths=torch.tensor([3, 0])).shape
        torch.Size([])
    """

    def __init__(
        self,
        *,
        ignore_index: int = -100,
        time_reduction: str = "sum",
        reduction: str = "mean",
        weight: Tensor | None = None,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        _check_options(reduction, LABELING_REDUCTIONS, label_smoothing)
        _check_time_reduction(time_reduction, reduction)
        self.register_buffer("weight", None if weight is None else torch.as_tensor(weight))
        self.ignore_index = ignore_index
        self.time_reduction = time_reduction
        self.reduction = reduction
        self.label_smoothing = label_smoothing

    def forward(
        self,
        logits: Tensor,
        targets: Tensor,
        lengths: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        return sequence_labeling_loss(
            logits,
            targets,
            lengths,
            mask=mask,
            ignore_index=self.ignore_index,
            time_reduction=self.time_reduction,
            reduction=self.reduction,
            weight=self.weight,
            label_smoothing=self.label_smoothing,
        )
