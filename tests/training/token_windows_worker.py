"""One process of test_token_windows_nodes.py: a small language model trained on this
process's rows of a token file, under torchrun (gloo); writes its step losses and final
parameters to OUT/rank{RANK}.safetensors.

Usage (under torchrun): python token_windows_worker.py OUT CORPUS CACHE
"""

from __future__ import annotations

import json
import sys

import torch
from safetensors.torch import save_file

from rnnseq.data.lm_windows import LMWindows
from rnnseq.data.token_cache import token_file
from rnnseq.models import ModelConfig
from rnnseq.objective import LossOptions
from rnnseq.task_model import Objective, TaskModel
from rnnseq.tasks import get_task
from rnnseq.training import distributed
from rnnseq.training.step import train_step

ROWS, BPTT, EPOCHS = 3, 8, 2  # rows per process


def build(vocab_size: int) -> TaskModel:
    """The same initial weights everywhere; no dropout, so one process can match many."""
    torch.manual_seed(5)
    config = ModelConfig(
        vocab_size=vocab_size,
        num_labels=vocab_size,
        embedding_dim=8,
        hidden=10,
        bidirectional=False,
        dropout=0.0,
    )
    return TaskModel(get_task("lm"), config).double()


def train(windows, model, net, ctx) -> list[float]:
    """EPOCHS passes over the windows, carrying the state, SGD so steps are exact."""
    objective = Objective(LossOptions(loss="ce", time_reduction="sum", reduction="mean"))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    losses = []
    for _ in range(EPOCHS):
        state = None
        for k in range(len(windows)):
            result = train_step(net, windows[k], objective, optimizer, ctx, state=state)
            losses.append(result.loss)
            state = result.state
    return losses


def main(out: str, corpus: str, cache: str) -> None:
    torch.set_num_threads(1)
    ctx = distributed.setup(torch.device("cpu"))
    try:
        tokens = token_file(corpus, unit="char", cache_dir=cache, progress=False)
        windows = LMWindows(tokens.reader(), ROWS, BPTT, rank=ctx.rank, world_size=ctx.world_size)
        model = build(len(tokens.vocab))
        losses = train(windows, model, distributed.wrap(model, ctx), ctx)
    finally:
        distributed.teardown(ctx)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    meta = {"losses": json.dumps(losses), "world_size": str(ctx.world_size)}
    save_file(tensors, f"{out}/rank{ctx.rank}.safetensors", meta)


if __name__ == "__main__":
    main(*sys.argv[1:4])
