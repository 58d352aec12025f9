"""Training on several processes with PyTorch's own engine (torch.distributed + DDP).

``torchrun --nproc-per-node N -m rnnseq train ...`` starts N processes with the
usual environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT);
:func:`setup` joins them into one process group — gloo on CPU, nccl on GPU —
and a single process without that environment runs as world size 1.

The loss is reduced across processes as a (sum, count) pair: every process
computes the sum S_r of its batch's losses and its count C_r; the counts are
all-reduced first, and each process back-propagates

    loss_r = S_r · W / Σ_r C_r

so that DDP's gradient averaging (÷ W) yields exactly the gradient of
Σ_r S_r / Σ_r C_r, the loss of one process on the union of the batches. (A
per-process mean averaged across processes is wrong when counts differ.)
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["Context", "setup", "teardown"]


@dataclass
class Context:
    """Where this process stands in the run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the model folder, the logs and the progress bar."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    def all_sum(self, value: torch.Tensor) -> torch.Tensor:
        """Σ over processes (a no-op for one process)."""
        if self.distributed:
            value = value.clone()
            dist.all_reduce(value, op=dist.ReduceOp.SUM)
        return value

    def broadcast(self, value: torch.Tensor) -> torch.Tensor:
        """Rank 0's value on every process."""
        if self.distributed:
            value = value.clone()
            dist.broadcast(value, src=0)
        return value

    def gather(self, value: torch.Tensor) -> list[torch.Tensor]:
        """Every process's tensor (same shape everywhere), in rank order."""
        if not self.distributed:
            return [value]
        out = [torch.empty_like(value) for _ in range(self.world_size)]
        dist.all_gather(out, value)
        return out

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def setup(device: torch.device) -> Context:
    """Join the process group that torchrun described in the environment, if any."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Context()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend=backend)
    return Context(rank=rank, world_size=world, local_rank=local_rank)


def teardown(ctx: Context) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()
