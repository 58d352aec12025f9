"""What ``rnnseq explain`` shows: each step's p_j and L_j = -ln p_j, their sum and mean."""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["ExplainedStep", "Explanation", "explained_step"]


@dataclass
class ExplainedStep:
    input: str  # the step's input (token, character, or the whole text for classify)
    label: str  # the true label (given) or the predicted one
    probability: float  # p_j, the model's probability of that label
    loss: float  # L_j = -ln p_j


@dataclass
class Explanation:
    steps: list[ExplainedStep]
    labels_given: bool  # True: labels came from the user (or the text itself, for lm)
    label_head: str = ""  # the label column's title in the table ("" = by labels_given)

    @property
    def total(self) -> float:
        """Σ_j L_j."""
        return sum(s.loss for s in self.steps)

    @property
    def mean(self) -> float:
        """Σ_j L_j / T (0 for no step)."""
        return self.total / len(self.steps) if self.steps else 0.0

    def to_dict(self) -> dict:
        return {
            "steps": [vars(s) for s in self.steps],
            "labels_given": self.labels_given,
            "sum": self.total,
            "mean": self.mean,
        }


def explained_step(inp: str, label: str, p: float) -> ExplainedStep:
    """A step whose label has probability ``p``: L = -ln p (inf for p = 0)."""
    return ExplainedStep(inp, label, p, -math.log(p) if p > 0 else math.inf)
