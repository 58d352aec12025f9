"""The resume checkpoint: everything needed to continue a run exactly where it stopped.

One safetensors file, written atomically, holds the model weights, the optimizer
state, every process's random-number-generator state and (language models) the
hidden state carried between windows; its JSON metadata holds the counters —
epoch, step within the epoch, best dev score, history. The data order of an
epoch is a function of (seed, epoch), so it needs no saving: a resumed run skips
the steps already taken. On CPU a resumed run ends bit-for-bit equal to an
uninterrupted one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch

from rnnseq.serialization import (
    ModelFolderError,
    flatten_state,
    load_tensors,
    save_tensors,
    unflatten_state,
)

__all__ = ["Progress", "save_resume", "load_resume"]


@dataclass
class Progress:
    """Where a run stands; saved as JSON inside the checkpoint."""

    epoch: int = 1  # the epoch in progress (1-based)
    step_in_epoch: int = 0  # batches of this epoch already taken
    global_step: int = 0  # optimizer steps in all
    best_score: float | None = None  # best dev selection score so far
    best_epoch: int | None = None
    bad_epochs: int = 0  # epochs since the best one (early stopping)
    train_total: float = 0.0  # this epoch's loss sum so far ...
    train_count: float = 0.0  # ... and its count
    train_tokens: int = 0  # real tokens seen this epoch
    seconds: float = 0.0  # training time so far, all sessions
    history: list = field(default_factory=list)  # one dict per finished epoch
    finished: bool = False  # the run ended (epochs done, early stop or max steps)
    world_size: int = 1


def save_resume(
    path: Path,
    progress: Progress,
    model_state: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    rng_states: list[torch.Tensor],
    lm_states: list | None,
) -> None:
    """Write the checkpoint (call on rank 0 with every rank's RNG and lm states)."""
    tree, tensors = flatten_state(
        {
            "progress": vars(progress),
            "optimizer": optimizer.state_dict(),
            "rng": rng_states,
            "lm_states": lm_states,
        }
    )
    tensors.update({f"model.{k}": v for k, v in model_state.items()})
    save_tensors(path, tensors, metadata=tree)


@dataclass
class Resumed:
    progress: Progress
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict
    rng_states: list[torch.Tensor]
    lm_states: list | None


def load_resume(path: Path) -> Resumed:
    if not path.exists():
        raise ModelFolderError(f"{path}: no checkpoint to resume from")
    tensors, tree = load_tensors(path)
    if not isinstance(tree, dict):
        raise ModelFolderError(f"{path}: not an rnnseq resume checkpoint")
    state = unflatten_state(tree, tensors)
    try:
        progress = Progress(**state["progress"])
        model_state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        return Resumed(progress, model_state, state["optimizer"], state["rng"], state["lm_states"])
    except (KeyError, TypeError) as e:
        raise ModelFolderError(f"{path}: damaged resume checkpoint ({e})") from None
