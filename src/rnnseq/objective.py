"""The training objective a user chooses: which loss, and how it is reduced.

:class:`LossOptions` are the "loss" options of ``rnnseq train``; the reductions mean
exactly what they mean in :mod:`rnnseq.losses` (and ``../shared/CONTRACT.md``)::

    L_ij = -log ŷ_ij[c_ij]                      per step (classify: one step per text)
    L_i  = Σ_j L_ij  or  Σ_j L_ij / T_i         time_reduction "sum" | "mean"
    L    = Σ_i L_i / N'                         reduction "mean" (N' = non-empty rows)
         = Σ_ij L_ij / Σ_i T_i                  reduction "token_mean"
         = Σ_i L_i                              reduction "sum"

with label smoothing ε and class weights as in ``torch.nn.functional.cross_entropy``.
The CRF (tag only) scores whole tag sequences: one number per sequence, so no time
reduction, smoothing or class weights.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnseq.options import OptionError, number, option
from rnnseq.training.auto_defaults import from_data

__all__ = ["LossOptions", "LOSSES", "REDUCTIONS", "TIME_REDUCTIONS"]

LOSSES = ("ce", "crf")
REDUCTIONS = ("mean", "token_mean", "sum")
TIME_REDUCTIONS = ("sum", "mean")


def _class_weights(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise OptionError(
            f"{{0}} must be 'balanced' or LABEL=WEIGHT pairs, got {value!r}", name
        )


@dataclass(kw_only=True)
class LossOptions:
    """The training loss (the "loss" options)."""

    # "ce" (cross-entropy at every step) or "crf" (a linear-chain CRF on the tags).
    loss: str | None = option(
        None,
        "ce: cross-entropy per step; crf: linear-chain CRF over the tags (tag)"
        + from_data("ce"),
        choices=LOSSES,
        choice_tasks={"crf": ("tag",)},
        default="ce",
    )
    # Over the steps of a sequence.
    time_reduction: str = option(
        "sum",
        "over a sequence's steps: sum or mean",
        choices=TIME_REDUCTIONS,
        tasks=("tag", "lm"),
        requires={"loss": ("ce",)},
    )
    # Over the batch.
    reduction: str = option(
        "mean",
        "over the batch: mean over sequences, token_mean over steps (tag, lm), or sum",
        choices=REDUCTIONS,
        choice_tasks={"token_mean": ("tag", "lm")},
    )
    # Label smoothing ε in [0, 1).
    label_smoothing: float = option(
        0.0,
        "replace the true distribution y by (1-EPS)·y + EPS/C",
        check=number(0.0, 1.0, high_open=True),
        metavar="EPS",
        requires={"loss": ("ce",)},
    )
    # Class weights: None, "balanced" (inverse frequency) or "LABEL=W,LABEL=W,...".
    class_weights: str | None = option(
        None,
        "'balanced' (inverse frequency) or LABEL=W,LABEL=W (others 1)",
        check=_class_weights,
        metavar="SPEC",
        requires={"loss": ("ce",)},
    )

    def check_combination(self) -> None:
        """The rule between two loss options (the losses enforce it too, per call)."""
        if self.reduction == "token_mean" and self.time_reduction not in (None, "sum"):
            raise OptionError(
                "{0} needs {1}", ("reduction", "token_mean"), ("time_reduction", "sum")
            )

    def label(self, per_step: bool) -> str:
        """How the loss is reduced, for the loss curve: "ce, time sum, batch mean".

        The time reduction is named only where it applies (``per_step``: one loss term
        per step, not one per text, and not a CRF's one per sequence)."""
        if self.loss == "crf":
            return f"crf per sequence, batch {self.reduction}"
        if not per_step:
            return f"{self.loss}, batch {self.reduction}"
        return f"{self.loss}, time {self.time_reduction}, batch {self.reduction}"
