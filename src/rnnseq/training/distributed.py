"""Training on several processes with PyTorch's own engine (torch.distributed + DDP).

``torchrun --nproc-per-node N -m rnnseq train ...`` starts N processes with the
usual environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT);
:func:`setup` joins them into one process group — gloo on CPU, nccl on GPU —
and a process started without that environment runs alone, with no group.

How the work is shared (see :mod:`rnnseq.training.step` for the loss):

- every process reads the same files and builds the same vocabularies and the
  same initial weights (same seed); DDP also broadcasts rank 0's at the start;
- each epoch's length-bucketed batches, shuffled from (seed, epoch), are dealt
  out round-robin, so each process sees different data every epoch and all take
  the same number of steps (:mod:`rnnseq.training.sharding`);
- rank 0 alone scores the dev data, writes the model folder, the log and the
  progress bar, and broadcasts its early-stopping decision, so all processes
  stop together.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

__all__ = ["Context", "setup", "teardown", "wrap"]


@dataclass
class Context:
    """Where this process stands in the run, and the few collectives the loop needs.

    Collectives run on ``device`` (a CUDA device for nccl, which cannot move CPU
    tensors); tensors are moved there and back, so callers may pass either.
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    group: bool = False  # a process group is in use (started by torchrun)
    owns_group: bool = False  # setup() made the group, so teardown() ends it

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the model folder, the logs and the progress bar."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when the processes must talk (a process group, even of one)."""
        return self.group

    def all_sum(self, value: torch.Tensor) -> torch.Tensor:
        """Σ over processes (a copy of ``value`` for one process)."""
        if not self.group:
            return value.clone()
        work = value.to(self.device, copy=True)
        dist.all_reduce(work, op=dist.ReduceOp.SUM)
        return work.to(value.device)

    def broadcast(self, value: torch.Tensor) -> torch.Tensor:
        """Rank 0's ``value`` on every process."""
        if not self.group:
            return value.clone()
        work = value.to(self.device, copy=True)
        dist.broadcast(work, src=0)
        return work.to(value.device)

    def gather(self, value: torch.Tensor) -> list[torch.Tensor]:
        """Every process's ``value`` (same shape and dtype everywhere), in rank order."""
        if not self.group:
            return [value.clone()]
        work = value.to(self.device)
        out = [torch.empty_like(work) for _ in range(self.world_size)]
        dist.all_gather(out, work)
        return [t.to(value.device) for t in out]


def _env_int(name: str, default: str | None = None) -> int:
    raw = os.environ.get(name, default)
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"environment variable {name} must be an integer, got {raw!r}") from None


def setup(device: torch.device) -> Context:
    """Join the process group that torchrun described in the environment, if any.

    ``device`` is the kind of device to train on; with CUDA each process takes
    the GPU numbered by its LOCAL_RANK, and the returned ``Context.device`` is it.
    """
    if "RANK" not in os.environ or "WORLD_SIZE" not in os.environ:
        return Context(device=device)
    world = _env_int("WORLD_SIZE")
    rank = _env_int("RANK")
    local_rank = _env_int("LOCAL_RANK", "0")
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"environment: RANK={rank} must be in [0, WORLD_SIZE={world})")
    if device.type == "cuda":
        if local_rank >= torch.cuda.device_count():
            raise ValueError(
                f"LOCAL_RANK {local_rank} has no GPU: this machine has "
                f"{torch.cuda.device_count()}; start at most that many processes per machine"
            )
        device = torch.device("cuda", local_rank)
        torch.cuda.set_device(device)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    elif dist.get_world_size() != world or dist.get_rank() != rank:  # the caller's group
        raise ValueError("the existing process group disagrees with RANK and WORLD_SIZE")
    return Context(rank, world, local_rank, device, group=True, owns_group=owns)


def wrap(model: torch.nn.Module, ctx: Context) -> torch.nn.Module:
    """``model`` in DistributedDataParallel when the processes must talk, else itself.

    DDP waits for a gradient of every parameter in every step; see
    :func:`rnnseq.training.step.train_step` for the one case where a process has
    nothing to compute.
    """
    if not ctx.distributed:
        return model
    from torch.nn.parallel import DistributedDataParallel

    ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    # The models' buffers never change while training (CRF constraint tables, the rows
    # of words added from a vectors file, up to hundreds of MB): DDP copies them from
    # rank 0 once, here, instead of before every forward.
    return DistributedDataParallel(model, device_ids=ids, forward_sync_buffers=False)


def wait_for_all(ctx: Context) -> None:
    """A barrier after a run that ended well on this process: every rank has finished
    its collectives before any destroys the group (a gloo rank torn down while its peer
    still sent was seen to abort with "terminate called without an active exception")."""
    if ctx.distributed and dist.is_initialized():
        dist.barrier()


def teardown(ctx: Context) -> None:
    """Leave the process group (after the last collective)."""
    if ctx.owns_group and dist.is_initialized():
        dist.destroy_process_group()
