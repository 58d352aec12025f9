"""The resume checkpoint: everything needed to continue a run exactly where it stopped.

One safetensors file, written atomically, holds the model weights, the optimizer
state (whose learning rate is the schedule's state), every process's
random-number-generator states and, for a language model, every process's
hidden state carried between windows; its JSON metadata holds the counters —
epoch, step within the epoch, the epoch's loss sums so far, best dev score,
history. The data order of an epoch is a function of (seed, epoch), so it needs
no saving: a resumed run skips the steps already taken. On CPU a resumed run
ends bit-for-bit equal to an uninterrupted one.
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

__all__ = ["Progress", "Resumed", "save_resume", "load_resume", "rng_state", "set_rng_state"]


@dataclass
class Progress:
    """Where a run stands; saved as JSON inside the checkpoint."""

    epoch: int = 1  # the epoch in progress (1-based)
    step_in_epoch: int = 0  # batches of this epoch already taken (by each process)
    global_step: int = 0  # optimizer steps in all
    best_score: list[float] | None = None  # best dev selection scores so far (see loop)
    best_epoch: int | None = None
    bad_epochs: int = 0  # epochs since the best one (early stopping)
    train_total: float = 0.0  # this epoch's summed training loss so far (all processes) ...
    train_count: float = 0.0  # ... and what it is divided by
    train_tokens: int = 0  # this epoch's real tokens so far (all processes)
    seconds: float = 0.0  # wall time of the training steps so far, all sessions
    cpu_seconds: float = 0.0  # CPU time of this process's training steps, all sessions
    tokens: int = 0  # real tokens trained on so far, all processes
    history: list = field(default_factory=list)  # one dict per finished epoch
    stopped_early: bool = False  # dev stopped improving for --patience epochs
    world_size: int = 1  # processes of the run; a resumed run needs as many


def rng_state(device: torch.device) -> dict[str, torch.Tensor]:
    """This process's generator states: the CPU's and, training on a GPU, the GPU's."""
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def set_rng_state(state: dict[str, torch.Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def save_resume(
    path: Path,
    progress: Progress,
    model_state: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    rng_states: list[dict[str, torch.Tensor]],
    lm_states: list | None,
) -> None:
    """Write the checkpoint (rank 0, with every rank's RNG and lm states in rank order)."""
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
    rng_states: list[dict[str, torch.Tensor]]  # one per rank
    lm_states: list | None  # one per rank (a tensor, or a tuple for an LSTM), or None


def load_resume(path: Path) -> Resumed:
    """Read a checkpoint written by :func:`save_resume`; ModelFolderError if damaged."""
    if not path.exists():
        raise ModelFolderError(f"{path}: no checkpoint to resume from")
    tensors, tree = load_tensors(path)
    if not isinstance(tree, dict):
        raise ModelFolderError(f"{path}: not an rnnseq resume checkpoint")
    try:
        state = unflatten_state(tree, tensors)
        progress = Progress(**state["progress"])
        model_state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
        rng, lm = state["rng"], state["lm_states"]
        if not isinstance(rng, list) or len(rng) != progress.world_size:
            raise ValueError(f"expected {progress.world_size} RNG states")
        if lm is not None and (not isinstance(lm, list) or len(lm) != progress.world_size):
            raise ValueError(f"expected {progress.world_size} language-model states")
        return Resumed(progress, model_state, state["optimizer"], rng, lm)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise ModelFolderError(f"{path}: damaged resume checkpoint ({e})") from None
