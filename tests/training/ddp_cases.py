"""Shared by test_step.py and the processes it starts (ddp_step_worker.py): every loss
configuration, a fixed global batch, and each process's uneven share of it.

The global batch of 8 sequences is split 3 / 5 between two processes, with very
different lengths, so the processes' counts (sequences, counted steps, summed
class weights) differ: a per-process mean averaged across processes would be wrong.
"""

from __future__ import annotations

import random

import torch

from rnnseq.data import IGNORE_INDEX, EncodedDataset, collate
from rnnseq.models import ModelConfig
from rnnseq.objective import LossOptions
from rnnseq.task_model import Objective, TaskModel
from rnnseq.tasks import get_task
from rnnseq.training.distributed import Context
from rnnseq.training.sharding import lm_batches
from rnnseq.training.step import train_step

VOCAB, LABELS, CHARS = 17, 4, 9
SPLIT = {0: range(0, 3), 1: range(3, 8)}  # rank -> rows of the global batch
WEIGHTS = [1.0, 2.5, 0.5, 3.0]


def _case(name, task, reduction="mean", time_reduction="sum", **kw):
    return (name, task, reduction, time_reduction, kw)


CASES = [
    _case("classify-mean", "classify"),
    _case("classify-sum", "classify", "sum"),
    _case("classify-mean-weights-smoothing", "classify", weights=True, smoothing=0.1),
    _case("tag-sum-mean", "tag"),  # the seed's default: sum over time, mean over sequences
    _case("tag-sum-sum", "tag", "sum"),
    _case("tag-sum-token_mean", "tag", "token_mean"),
    _case("tag-mean-mean", "tag", "mean", "mean"),
    _case("tag-mean-sum", "tag", "sum", "mean"),
    _case("tag-token_mean-weights-smoothing", "tag", "token_mean", weights=True, smoothing=0.1),
    _case("tag-mean-weights", "tag", "mean", "mean", weights=True),
    _case("tag-chars-cnn", "tag", chars="cnn"),
    _case("tag-crf-mean", "tag", crf=True),
    _case("tag-crf-token_mean", "tag", "token_mean", crf=True),
    _case("lm-sum-mean", "lm"),
    _case("lm-token_mean", "lm", "token_mean"),
]
NAMES = [c[0] for c in CASES]


def _dataset(task: str, chars: bool) -> EncodedDataset:
    rng = random.Random(7)
    lengths = [2, 9, 4, 7, 1, 3, 8, 5]
    tokens = [[rng.randrange(1, VOCAB) for _ in range(n)] for n in lengths]
    if task == "classify":
        targets = [rng.randrange(LABELS) for _ in lengths]
    else:  # a few steps are not counted (an unseen dev tag is IGNORE_INDEX)
        targets = [
            [IGNORE_INDEX if rng.random() < 0.15 else rng.randrange(LABELS) for _ in range(n)]
            for n in lengths
        ]
    char_ids = None
    if chars:
        char_ids = [[[rng.randrange(1, CHARS) for _ in range(3)] for _ in r] for r in tokens]
    return EncodedDataset(task != "classify", tokens, targets, char_ids)


def build(case) -> tuple[TaskModel, Objective]:
    """The case's model (fixed initial weights, float64, no dropout) and loss."""
    name, task, reduction, time_reduction, kw = case
    chars = kw.get("chars", "none")
    config = ModelConfig(
        vocab_size=VOCAB,
        num_labels=VOCAB if task == "lm" else LABELS,
        char_vocab_size=0 if chars == "none" else CHARS,
        char_features=chars,
        embedding_dim=6,
        hidden=5,
        bidirectional=task != "lm",
        dropout=0.0,
    )
    torch.manual_seed(3)
    model = TaskModel(get_task(task), config, use_crf=kw.get("crf", False)).double()
    opts = Objective(
        LossOptions(
            loss="crf" if kw.get("crf") else "ce",
            time_reduction=time_reduction,
            reduction=reduction,
            label_smoothing=kw.get("smoothing", 0.0),
        ),
        class_weights=torch.tensor(WEIGHTS, dtype=torch.float64) if kw.get("weights") else None,
    )
    return model, opts


def batches(case, rank: int, world_size: int) -> list:
    """This process's batches for two steps (world_size 1: the whole global batch).
    lm: two windows; in the second, rank 1's rows are empty (it counts nothing)."""
    name, task, *_, kw = case
    if task == "lm":  # 18 targets in rows of 5, 5, 4, 4: windows of 4 steps, then of 1, 1, 0, 0
        ids = [random.Random(5).randrange(1, VOCAB) for _ in range(19)]
        return lm_batches(ids, 4 // world_size, 4, rank=rank, world_size=world_size)
    data = _dataset(task, kw.get("chars", "none") != "none")
    rows = range(8) if world_size == 1 else SPLIT[rank]
    batch = collate(data, list(rows))
    return [batch, batch]


def run_case(case, ctx: Context, wrap=lambda m: m) -> tuple[list[float], TaskModel]:
    """Two SGD steps (lr 1, so the parameters move by exactly the gradient) on this
    process's share; the lm carries its state. Returns the step losses and the model."""
    model, opts = build(case)
    net = wrap(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    losses, state = [], None
    for k, batch in enumerate(batches(case, ctx.rank, ctx.world_size)):
        result = train_step(net, batch, opts, optimizer, ctx, state=state, where=f"step {k + 1}")
        losses.append(result.loss)
        state = result.state
    return losses, model
