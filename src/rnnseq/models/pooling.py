"""Pooling: one vector per sequence from the encoder's per-step outputs, real steps only.

For row i with T_i real steps and outputs y_1..y_{T_i} (each [forward; backward])::

    last:  [forward(y_{T_i}); backward(y_1)]     (each direction's final step)
    mean:  (1 / T_i) Σ_{t=1..T_i} y_t
    max:   max_{t=1..T_i} y_t                     (feature by feature)

A row with T_i = 0 pools to zeros (never NaN or -inf).
"""

from __future__ import annotations

import torch
from torch import Tensor

POOLINGS = ("last", "mean", "max")


def pool(outputs: Tensor, lengths: Tensor, mode: str = "max", directions: int = 1) -> Tensor:
    """Pool the real steps of each row.

    Args:
        outputs: encoder outputs; padded steps may hold anything finite.
        lengths: real steps per row, in [0, T].
        mode: ``"last"``, ``"mean"`` or ``"max"``.
        directions: 1, or 2 when the last H/2 features read right to left (for ``"last"``).

    Shape:
        - outputs: (N, T, H)
        - lengths: (N,)
        - result: (N, H)

    Example::

        >>> pool(torch.tensor([[[1.0], [3.0], [9.0]]]), torch.tensor([2]), "mean")
        tensor([[2.]])
    """
    if mode not in POOLINGS:
        raise ValueError(f"mode must be one of {', '.join(POOLINGS)}, got {mode!r}")
    if directions not in (1, 2) or outputs.shape[2] % directions:
        raise ValueError(f"directions must be 1 or 2 and divide H, got {directions}")
    n, t, h = outputs.shape
    lengths = lengths.to(outputs.device)
    real = torch.arange(t, device=outputs.device).unsqueeze(0) < lengths.unsqueeze(1)  # (N, T)
    nonempty = (lengths > 0).unsqueeze(1)  # (N, 1)
    if mode == "mean":
        total = outputs.masked_fill(~real.unsqueeze(2), 0.0).sum(dim=1)  # (N, H)
        return total / lengths.clamp(min=1).unsqueeze(1).to(outputs.dtype)  # (N, H)
    if mode == "max":
        if t == 0:
            return outputs.new_zeros(n, h)
        best = outputs.masked_fill(~real.unsqueeze(2), float("-inf")).amax(dim=1)  # (N, H)
        return best.masked_fill(~nonempty, 0.0)  # (N, H)
    if t == 0:
        return outputs.new_zeros(n, h)
    last = (lengths - 1).clamp(min=0)  # (N,)
    rows = torch.arange(n, device=outputs.device)  # (N,)
    forward = outputs[rows, last, : h // directions]  # (N, H / D)
    parts = [forward] if directions == 1 else [forward, outputs[:, 0, h // directions :]]
    return torch.cat(parts, dim=1).masked_fill(~nonempty, 0.0)  # (N, H)
