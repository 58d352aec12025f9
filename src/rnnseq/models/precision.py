"""Mixed precision while training: the matrix products in bfloat16, everything else float32.

With ``ModelConfig.bf16`` a model in training mode runs its embedding-to-logits
computation under ``torch.autocast(dtype=torch.bfloat16)``: matrix products,
convolutions and the recurrent layers take bfloat16 inputs (8-bit mantissa) and
accumulate in float32, while the parameters, their gradients, the optimizer and
the loss stay float32. The logits come out as float32, so the loss is computed
exactly as without it. In eval mode (evaluation, prediction, explain) nothing
changes: the model computes in float32, so reported figures are float32 figures.

Why: CPUs with AMX or AVX-512-BF16 (and recent GPUs) multiply bfloat16 matrices
several times faster than float32. Measured here on one core of the 2-core Xeon
(AMX-BF16): a (1120 x 256) @ (256 x 10000) product 33 -> 176 GFLOP/s, and a
2 x 512 LSTM's forward + backward over 64 x 128 characters 4.8 s -> 1.8 s.
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor, nn

__all__ = ["lower_precision", "full_precision", "OutputLayer"]

_LOWER = (torch.bfloat16, torch.float16)


def lower_precision(module: nn.Module, device: torch.device):
    """The autocast context for ``module``: bfloat16 while it trains with ``bf16`` set,
    else a no-op."""
    if module.training and getattr(module, "bf16", False):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def full_precision(x: Tensor | tuple | None):
    """``x`` (a tensor, a tuple of them, or None) with bfloat16/float16 parts made float32;
    float32 and float64 pass unchanged."""
    if x is None:
        return None
    if isinstance(x, tuple):
        return tuple(full_precision(t) for t in x)
    return x.float() if x.dtype in _LOWER else x


class OutputLayer(nn.Linear):
    """``nn.Linear`` that follows the model's precision and always returns float32.

    z = x Wᵀ + b; with ``bf16`` in training mode the product runs in bfloat16.
    Same parameters (``weight``, ``bias``) and state-dict keys as ``nn.Linear``.

    Predicting under bfloat16 autocast (``rnnseq predict`` where the CPU has it), a head
    with no more outputs than inputs (C <= H_in: taggers, classifiers; not a language
    model's vocabulary) runs in float32: its product is a small part of the work
    (17 x 256 per token on the EWT tagger, against the LSTM's 1024 x 278), float32
    skips two casts and oneDNN's kernel set-up for every batch shape, and the logits
    that choose the tag keep float32's mantissa: on EWT test the tags then differ from
    float32's at 6 of 25,094 tokens (12 with a bfloat16 head), on EWT dev at 8 of 25,147
    (20), and the run takes a little less CPU time.

    Shape:
        - input: (*, H_in) floating.
        - output: (*, C), float32 after a bfloat16 product, else the input's dtype.
    """

    def __init__(self, in_features: int, out_features: int, bf16: bool = False) -> None:
        super().__init__(in_features, out_features)
        self.bf16 = bf16
        self.small = out_features <= in_features  # a tagger's or classifier's head

    def forward(self, x: Tensor) -> Tensor:
        if self.small and not self.training and torch.is_autocast_enabled(x.device.type):
            with torch.autocast(x.device.type, enabled=False):  # predicting: see the class
                return super().forward(full_precision(x))  # (*, C) float32
        with lower_precision(self, x.device):
            z = super().forward(x)  # (*, C), bfloat16 under autocast
        return full_precision(z)  # (*, C)
