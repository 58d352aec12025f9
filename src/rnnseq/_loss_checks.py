"""Validation at the boundary of :mod:`rnnseq.losses` and :mod:`rnnseq.crf`: every
message names the argument.

Inside the losses the data is trusted; everything a user passes is checked here
first, with the exceptions the contract names (ValueError, or TypeError for a
wrong dtype).
"""

from __future__ import annotations

import torch
from torch import Tensor

CLASSIFICATION_REDUCTIONS = ("mean", "sum", "none")
LABELING_REDUCTIONS = ("mean", "sum", "none", "token_mean")
TIME_REDUCTIONS = ("sum", "mean", "none")


def _check_logits(logits, ndim: int, shape_text: str, name: str = "logits") -> None:
    if not isinstance(logits, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(logits).__name__}")
    if not logits.is_floating_point():
        raise TypeError(f"{name} must be floating point, got {logits.dtype}")
    if logits.dim() != ndim:
        raise ValueError(f"{name} must have shape {shape_text}, got {tuple(logits.shape)}")
    if logits.shape[-1] == 0:
        raise ValueError(f"{name} must have at least one class (C >= 1), got {tuple(logits.shape)}")


def _check_targets(targets, logits: Tensor) -> bool:
    """Return True for class-index targets, False for probability targets."""
    if not isinstance(targets, Tensor):
        raise TypeError(f"targets must be a torch.Tensor, got {type(targets).__name__}")
    index_shape = tuple(logits.shape[:-1])
    if targets.dim() == logits.dim() - 1:
        if targets.dtype == torch.bool or targets.is_floating_point() or targets.is_complex():
            raise TypeError(f"class-index targets must be an integer tensor, got {targets.dtype}")
        if tuple(targets.shape) != index_shape:
            raise ValueError(
                f"targets must have shape {index_shape} (class indices) or "
                f"{tuple(logits.shape)} (probabilities), got {tuple(targets.shape)}"
            )
        return True
    if targets.dim() == logits.dim():
        if not targets.is_floating_point():
            raise TypeError(f"probability targets must be floating point, got {targets.dtype}")
        if targets.shape != logits.shape:
            raise ValueError(
                f"probability targets must have the logits' shape {tuple(logits.shape)}, "
                f"got {tuple(targets.shape)}"
            )
        return False
    raise ValueError(
        f"targets must have shape {index_shape} (class indices) or {tuple(logits.shape)} "
        f"(probabilities), got {tuple(targets.shape)}"
    )


def _check_reduction(reduction: str, allowed: tuple[str, ...]) -> None:
    if reduction not in allowed:
        raise ValueError(f"reduction must be one of {allowed}, got {reduction!r}")


def _check_terms_reductions(reduction: str, allowed: tuple[str, ...], time_reduction="sum"):
    """The reductions a ``*_terms`` function takes: scalar ones only (a loss per row or
    per step has no count to go with it)."""
    scalar = tuple(r for r in allowed if r != "none")
    if reduction == "none":
        raise ValueError(
            f"reduction='none' has no loss terms (per-row losses have no count): call the "
            f"loss itself for them, or give reduction one of {scalar}"
        )
    _check_reduction(reduction, scalar)
    if time_reduction == "none":
        raise ValueError(
            "time_reduction='none' has no loss terms (per-step losses have no count): call "
            "the loss itself with reduction='none' for them"
        )


def _check_options(reduction: str, allowed: tuple[str, ...], label_smoothing: float) -> None:
    _check_reduction(reduction, allowed)
    if not isinstance(label_smoothing, (int, float)) or not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")


def _check_weight(
    weight, num_classes: int, logits: Tensor, dtype: torch.dtype, name: str = "weight"
) -> Tensor | None:
    if weight is None:
        return None
    weight = torch.as_tensor(weight)
    if weight.dim() != 1 or weight.shape[0] != num_classes:
        raise ValueError(
            f"{name} must have shape ({num_classes},) (one per class), got {tuple(weight.shape)}"
        )
    return weight.to(device=logits.device, dtype=dtype)


def _check_time_reduction(time_reduction: str, reduction: str) -> None:
    if time_reduction not in TIME_REDUCTIONS:
        raise ValueError(f"time_reduction must be one of {TIME_REDUCTIONS}, got {time_reduction!r}")
    if time_reduction == "none" and reduction != "none":
        raise ValueError(f"time_reduction='none' requires reduction='none', got {reduction!r}")
    if reduction == "token_mean" and time_reduction != "sum":
        raise ValueError(
            f"reduction='token_mean' requires time_reduction='sum', got {time_reduction!r}"
        )


def _counted_steps(
    lengths, mask, n: int, t: int, device: torch.device, dtype: torch.dtype
) -> tuple[Tensor, Tensor | None]:
    """Which steps count, from lengths or mask: (counted, m), on ``device``.

    counted (N, T) bool; m (N, T) the float weight m_ij of each step (in
    ``dtype``), or None when every counted step weighs 1 (lengths, a bool mask or
    neither), so that m_ij · L_ij = L_ij needs no multiplication.
    """
    if lengths is not None and mask is not None:
        raise ValueError("give at most one of lengths and mask, not both")
    if mask is not None:
        if not isinstance(mask, Tensor):
            raise TypeError(f"mask must be a torch.Tensor, got {type(mask).__name__}")
        if mask.dtype != torch.bool and not mask.is_floating_point():
            raise TypeError(f"mask must be bool or floating point, got {mask.dtype}")
        if tuple(mask.shape) != (n, t):
            raise ValueError(f"mask must have shape {(n, t)}, got {tuple(mask.shape)}")
        mask = mask.to(device)
        if mask.dtype == torch.bool:
            return mask, None
        if bool((mask < 0).any()):
            raise ValueError("mask weights must be >= 0")
        return mask != 0, mask.to(dtype)
    if lengths is not None:
        if not isinstance(lengths, Tensor) and len(lengths) == 0:
            lengths = torch.zeros(0, dtype=torch.long)  # [] would otherwise become float32
        lengths = torch.as_tensor(lengths)
        if lengths.dtype == torch.bool or lengths.is_floating_point() or lengths.is_complex():
            raise TypeError(f"lengths must be an integer tensor, got {lengths.dtype}")
        if tuple(lengths.shape) != (n,):
            raise ValueError(f"lengths must have shape ({n},), got {tuple(lengths.shape)}")
        lengths = lengths.to(device)
        if n:
            low, high = (int(x) for x in torch.aminmax(lengths))
            if low < 0 or high > t:
                raise ValueError(f"lengths must be in [0, {t}], got min {low} and max {high}")
        steps = torch.arange(t, device=device)  # (T,)
        return steps[None, :] < lengths[:, None], None  # (N, T)
    return torch.ones(n, t, device=device, dtype=torch.bool), None


def _counted_targets(
    counted: Tensor,
    step_weight: Tensor | None,
    targets: Tensor,
    ignore_index: int,
    num_classes: int,
    weight: Tensor | None,
) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """Class-index targets of the counted steps: (counted, targets, m, w[c_ij]).

    A step whose target is ``ignore_index`` stops counting (and weighs 0); the
    counted targets are checked to lie in [0, C) and the others become 0. The
    last item is the class weight of each step's target, or None without weights.

    Shape:
        counted (N, T) bool, step_weight (N, T) or None, targets (N, T), weight (C,)
        -> (N, T) each.
    """
    targets = targets.to(counted.device)
    counted = counted & (targets != ignore_index)  # (N, T)
    targets = _safe_targets(targets, counted, num_classes, ignore_index)  # (N, T)
    if step_weight is not None:
        step_weight = torch.where(counted, step_weight, 0.0)  # ignored steps weigh 0
    class_weight = None if weight is None else weight[targets]  # (N, T) w[c_ij]
    return counted, targets, step_weight, class_weight


def _safe_targets(targets: Tensor, counted: Tensor, num_classes: int, ignore) -> Tensor:
    """Class indices, 0 where not counted, after checking the counted ones are in [0, C)."""
    safe = torch.where(counted, targets, 0)  # same shape as targets
    if safe.numel():
        low, high = (int(x) for x in torch.aminmax(safe))
        if low < 0 or high >= num_classes:
            bad = int(targets[counted & ((targets < 0) | (targets >= num_classes))][0])
            extra = f" or ignore_index={ignore}" if ignore is not None else ""
            raise ValueError(f"targets must be in [0, {num_classes}){extra}, got {bad}")
    return safe if safe.dtype == torch.int64 else safe.long()


def _compute_dtype(x: Tensor) -> torch.dtype:
    """The dtype a loss is computed in: float64 for float64 input, else float32."""
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _check_output_layer(weight, bias, hidden: Tensor) -> int:
    """Check W (V, H) and b (V,) against hidden; return V."""
    size = hidden.shape[-1]
    for name, x, ndim in (("weight", weight, 2), ("bias", bias, 1)):
        if x is None and name == "bias":
            continue
        if not isinstance(x, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if x.dtype != hidden.dtype or x.device != hidden.device:
            raise TypeError(
                f"{name} must have hidden's dtype and device ({hidden.dtype}, {hidden.device}), "
                f"got ({x.dtype}, {x.device})"
            )
        if x.dim() != ndim:
            raise ValueError(f"{name} must have {ndim} dimensions, got {tuple(x.shape)}")
    if weight.shape[1] != size:
        raise ValueError(f"weight must have shape (V, {size}), got {tuple(weight.shape)}")
    if bias is not None and bias.shape[0] != weight.shape[0]:
        raise ValueError(f"bias must have shape ({weight.shape[0]},), got {tuple(bias.shape)}")
    return weight.shape[0]
