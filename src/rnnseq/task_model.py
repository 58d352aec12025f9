"""A model for one task with its loss: the network, an optional CRF, and the task object
that says what to compute from a batch (loss terms, evaluation terms, predictions,
probabilities).

Training, evaluation and prediction all go through :class:`TaskModel`, so they
read batches the same way.

Loss terms travel as a (sum, count) pair and are divided once by whoever holds
all of them — one process, or all processes of a distributed run — so the
training loss, the dev loss and the gradient mean the same thing whatever the
batch size (``count`` is None for ``reduction="sum"``: nothing to divide by).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import Tensor, nn

from rnnseq.crf import LinearChainCRF
from rnnseq.data import Batch
from rnnseq.losses import LossTerms
from rnnseq.models import ModelConfig
from rnnseq.objective import LossOptions
from rnnseq.tasks.base import Task

__all__ = ["Objective", "TaskModel"]


@dataclass
class Objective:
    """The training loss as it runs: the loss options and the class-weight tensor."""

    options: LossOptions = field(default_factory=LossOptions)
    class_weights: Tensor | None = None  # (C,)


class TaskModel(nn.Module):
    """The network ``task`` builds for ``config`` plus, for ``use_crf``, a linear-chain CRF.

    Args:
        task: the task object (:func:`rnnseq.tasks.get_task`).
        config: the network's :class:`~rnnseq.models.ModelConfig`.
        use_crf: put a :class:`~rnnseq.crf.LinearChainCRF` on the scores.
        crf_constraints: the CRF's (start, transitions, end) allowed tables, or None.
        bf16: train with bfloat16 matrix products (see rnnseq.models.precision).
    """

    def __init__(
        self,
        task: Task,
        config: ModelConfig,
        *,
        use_crf: bool = False,
        crf_constraints=None,
        bf16: bool = False,
    ):
        super().__init__()
        self.task = task
        self.config = config
        self.bf16 = bf16
        self.net = task.build_network(config, bf16=bf16)
        self.crf = LinearChainCRF(config.num_labels, crf_constraints) if use_crf else None

    def scores(self, batch: Batch, state=None) -> tuple[Tensor, object]:
        """The network's scores (classify (N, C); tag/lm (N, T, C)) and, for a text
        stream, the encoder's final state."""
        return self.task.scores(self, batch, state)

    def forward(self, batch: Batch, objective: Objective, state=None):
        """(total, count, state) of :meth:`loss_terms` — a forward that DDP can wrap."""
        terms, state = self.loss_terms(batch, objective, state)
        return terms.total, terms.count, state

    def loss_terms(
        self, batch: Batch, objective: Objective, state=None
    ) -> tuple[LossTerms, object]:
        """The training loss of a batch as (total, count), and the state after it."""
        return self.task.loss_terms(self, batch, objective, state)

    def objective(self, scores: Tensor, batch: Batch, objective: Objective) -> LossTerms:
        """The training objective of ``scores`` as (total, count); count None = no division."""
        return self.task.objective_terms(self, scores, batch, objective)

    def eval_terms(self, batch: Batch, scores: Tensor) -> LossTerms:
        """The evaluation loss of ``scores`` as (sum, count)."""
        return self.task.eval_terms(self, batch, scores)
