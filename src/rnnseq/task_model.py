"""A model for one task with its loss: the network, an optional CRF, and what to
compute from a batch (loss terms, evaluation terms, predictions, probabilities).

Training, evaluation and prediction all go through :class:`TaskModel`, so they
read batches the same way.

Loss terms travel as a (sum, count) pair and are divided once by whoever holds
all of them — one process, or all processes of a distributed run — so the
training loss, the dev loss and the gradient mean the same thing whatever the
batch size (``count`` is None for ``reduction="sum"``: nothing to divide by).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnnseq.crf import LinearChainCRF
from rnnseq.data import IGNORE_INDEX, Batch
from rnnseq.losses import (
    linear_sequence_labeling_loss,
    sequence_classification_loss,
    sequence_labeling_loss,
)
from rnnseq.models import ModelConfig, build_model

__all__ = ["LossOptions", "LossTerms", "TaskModel", "CHUNKED_HEAD_MIN_VOCAB"]

# Language models with at least this many output units train through the chunked
# linear + loss head instead of materialising their logits.
CHUNKED_HEAD_MIN_VOCAB = 2048


@dataclass
class LossOptions:
    """The training loss: which one and how it is reduced (see rnnseq.losses)."""

    kind: str = "ce"  # "ce" or "crf"
    time_reduction: str = "sum"  # over a sequence's steps: "sum" or "mean"
    reduction: str = "mean"  # over the batch: "mean", "token_mean" or "sum"
    label_smoothing: float = 0.0
    class_weights: Tensor | None = None  # (C,)


@dataclass
class LossTerms:
    """A batch's loss as numerator and denominator: loss = total / count."""

    total: Tensor  # scalar, differentiable
    count: Tensor | None  # scalar; None = no division (reduction "sum")
    state: object = None  # lm: the encoder state after this window (detached)

    def value(self) -> Tensor:
        if self.count is None:
            return self.total
        return self.total / self.count.clamp(min=torch.finfo(self.total.dtype).tiny)


class TaskModel(nn.Module):
    """The network for ``config.task`` plus, for ``use_crf``, a linear-chain CRF on top.

    Args:
        config: the network's :class:`~rnnseq.models.ModelConfig`.
        use_crf: put a :class:`~rnnseq.crf.LinearChainCRF` on the tag scores.
        crf_constraints: the CRF's (start, transitions, end) allowed tables, or None.
    """

    def __init__(self, config: ModelConfig, *, use_crf: bool = False, crf_constraints=None):
        super().__init__()
        self.config = config
        self.net = build_model(config)
        self.crf = LinearChainCRF(config.num_labels, crf_constraints) if use_crf else None

    @property
    def task(self) -> str:
        return self.config.task

    # ------------------------------------------------------------------ scores

    def scores(self, batch: Batch, state=None) -> tuple[Tensor, object]:
        """Logits (classify (N, C); tag/lm (N, T, C)) and, for lm, the encoder's final state."""
        if self.task == "classify":
            return self.net(batch.tokens, batch.lengths, batch.chars), None
        if self.task == "lm":
            hidden, final = self.net.features(batch.tokens, batch.lengths, state=state)
            return self.net.output(hidden), final
        return self.net(batch.tokens, batch.lengths, batch.chars), None

    # ------------------------------------------------------------------ losses

    def forward(self, batch: Batch, opts: LossOptions, state=None):
        """(total, count, state) of :meth:`loss_terms` — a forward that DDP can wrap."""
        terms = self.loss_terms(batch, opts, state)
        return terms.total, terms.count, terms.state

    def loss_terms(self, batch: Batch, opts: LossOptions, state=None) -> LossTerms:
        """The training loss of a batch as (total, count), and the lm state after it.

        A language model with a large vocabulary never forms its (N, T, V) logits:
        the output layer and the loss run together, chunk by chunk of counted steps
        (:func:`rnnseq.losses.linear_sequence_labeling_loss`).
        """
        if self.uses_chunked_head:
            hidden, final = self.net.features(batch.tokens, batch.lengths, state=state)
            lengths = batch.lengths.to(hidden.device)
            total = linear_sequence_labeling_loss(
                hidden,
                self.net.output.weight,
                self.net.output.bias,
                batch.targets,
                lengths,
                time_reduction=opts.time_reduction,
                reduction="sum",
                class_weight=opts.class_weights,
                label_smoothing=opts.label_smoothing,
            )
            return LossTerms(
                total, _step_count(batch.targets, lengths, opts, total), _detach(final)
            )
        scores, final = self.scores(batch, state)
        total, count = self.objective(scores, batch, opts)
        return LossTerms(total, count, _detach(final))

    @property
    def uses_chunked_head(self) -> bool:
        """True for a language model whose output layer is large enough that the fused
        linear + loss beats forming the logits (measured: V = 10,000 is 0.6x the time
        and 0.2x the memory of F.linear + loss on CPU), unless it trains in bfloat16."""
        return (
            self.task == "lm"
            and self.config.num_labels >= CHUNKED_HEAD_MIN_VOCAB
            and not getattr(self.config, "bf16", False)
        )

    def objective(
        self, scores: Tensor, batch: Batch, opts: LossOptions
    ) -> tuple[Tensor, Tensor | None]:
        """The training objective of ``scores`` as (total, count); count None = no division."""
        targets = batch.targets
        if self.task == "classify":
            total = sequence_classification_loss(
                scores,
                targets,
                weight=opts.class_weights,
                label_smoothing=opts.label_smoothing,
                reduction="sum",
            )
            if opts.reduction == "sum":
                return total, None
            if opts.class_weights is not None:
                return total, opts.class_weights[targets].sum()
            return total, _count(targets.shape[0], total)
        lengths = batch.lengths.to(scores.device)
        if self.crf is not None:
            tags = torch.where(targets == IGNORE_INDEX, 0, targets)  # unseen dev tags
            total = self.crf(scores, tags, lengths, reduction="sum")
            if opts.reduction == "sum":
                return total, None
            if opts.reduction == "token_mean":
                return total, _count(int(batch.lengths.sum()), total)
            return total, _count(int((batch.lengths > 0).sum()), total)
        total = sequence_labeling_loss(
            scores,
            targets,
            lengths,
            time_reduction=opts.time_reduction,
            reduction="sum",
            weight=opts.class_weights,
            label_smoothing=opts.label_smoothing,
        )
        return total, _step_count(targets, lengths, opts, total)

    def eval_terms(self, batch: Batch, scores: Tensor) -> tuple[Tensor, Tensor]:
        """The contract's evaluation loss of ``scores`` as (sum, count): plain cross-entropy
        in nats per counted step (tag, lm) or per example (classify); CRF: NLL per step."""
        targets = batch.targets
        if self.task == "classify":
            total = sequence_classification_loss(scores, targets, reduction="sum")
            return total, _count(targets.shape[0], total)
        lengths = batch.lengths.to(scores.device)
        counted = _counted_steps(targets, lengths)
        if self.crf is not None:
            tags = torch.where(targets == IGNORE_INDEX, 0, targets)
            total = self.crf(scores, tags, lengths, reduction="sum")
        else:
            total = sequence_labeling_loss(scores, targets, lengths, reduction="sum")
        return total, counted.sum().to(total.dtype)

    # ------------------------------------------------------------- predictions

    def predict_ids(self, scores: Tensor, lengths: Tensor) -> list:
        """Best label id per example (classify) or per real step (tag, lm)."""
        if self.task == "classify":
            return scores.argmax(dim=-1).tolist()
        if self.crf is not None:
            return self.crf.viterbi_decode(scores, lengths.to(scores.device))
        best = scores.argmax(dim=-1).tolist()  # (N, T)
        return [row[:n] for row, n in zip(best, lengths.tolist(), strict=True)]

    def probabilities(self, scores: Tensor, lengths: Tensor) -> Tensor:
        """The model's distribution over labels: softmax of the scores, or for a CRF the
        per-step marginals p(y_t = c | x), obtained as ∂ log Z / ∂ emission[t, c]."""
        if self.crf is None:
            return torch.softmax(scores.float(), dim=-1)
        with torch.enable_grad():
            emissions = scores.detach().float().requires_grad_(True)
            dummy = torch.zeros(emissions.shape[:2], dtype=torch.long, device=scores.device)
            nll = self.crf(emissions, dummy, lengths.to(scores.device), reduction="sum")
            # NLL = log Z - score(dummy), and score(dummy) is linear in the emissions, so
            # ∂ log Z / ∂ emission = ∂ NLL / ∂ emission + the dummy path's one-hot.
            (grad,) = torch.autograd.grad(nll, emissions)
        one_hot = torch.nn.functional.one_hot(dummy, scores.shape[-1]).float()
        steps = torch.arange(scores.shape[1], device=scores.device)[None, :]
        real = (steps < lengths.to(scores.device)[:, None]).float()[..., None]
        return (grad + one_hot * real).clamp(0.0, 1.0)


def _step_count(targets: Tensor, lengths: Tensor, opts: LossOptions, like: Tensor):
    """What a per-step cross-entropy total is divided by under ``opts.reduction``:
    None ("sum"), counted steps or their class weights ("token_mean"), or rows with
    a counted step ("mean")."""
    if opts.reduction == "sum":
        return None
    counted = _counted_steps(targets, lengths)  # (N, T)
    if opts.reduction == "token_mean":
        if opts.class_weights is None:
            return counted.sum().to(like.dtype)
        safe = torch.where(counted, targets, 0)
        return (opts.class_weights[safe] * counted).sum().to(like.dtype)
    return counted.any(dim=1).sum().to(like.dtype)


def _counted_steps(targets: Tensor, lengths: Tensor) -> Tensor:
    steps = torch.arange(targets.shape[1], device=targets.device)  # (T,)
    real = steps[None, :] < lengths.to(targets.device)[:, None]  # (N, T)
    return real & (targets != IGNORE_INDEX)


def _count(n: int, like: Tensor) -> Tensor:
    return torch.tensor(float(n), dtype=like.dtype, device=like.device)


def _detach(state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()
