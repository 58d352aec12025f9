"""One optimizer step, on one process or on several: the loss as (sum, count), divided once.

Each process r computes its batch's loss as a pair (S_r, C_r) — the summed loss
and what the reduction divides by (sequences, counted steps or summed class
weights; see :meth:`rnnseq.task_model.TaskModel.objective`). The pairs are
all-reduced, and process r back-propagates

    loss_r = S_r · W / Σ_r C_r            (W processes; reduction "sum": S_r · W)

DistributedDataParallel averages the W gradients, so every process ends with

    ∇ (Σ_r S_r) / (Σ_r C_r)

— the gradient of one process on the union of the batches, for every
time_reduction/reduction pair. (Averaging per-process means instead would weight
a process with few counted steps as much as one with many: torchtune PR#1875.)
The same all-reduce carries the numbers for the training-loss curve, and a
non-finite loss is seen by every process at once, so all stop together.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from rnnseq.data import Batch
from rnnseq.task_model import Objective
from rnnseq.training.distributed import Context

__all__ = ["NumericalError", "StepResult", "train_step"]


class NumericalError(RuntimeError):
    """The loss or the gradient became NaN or infinite."""


@dataclass
class StepResult:
    """What one step did, summed over all processes."""

    total: float  # Σ_r S_r, the summed loss of the step's global batch
    count: float | None  # Σ_r C_r; None for reduction "sum" (nothing to divide by)
    tokens: int  # real steps in the global batch
    grad_norm: float  # norm of the gradient before clipping
    state: object = None  # lm: this process's encoder state after the batch (detached)

    @property
    def loss(self) -> float:
        """The step's training loss, as one process on the union of the batches sees it."""
        if self.count is None:
            return self.total
        return self.total / self.count if self.count > 0 else 0.0


def train_step(
    net: nn.Module,
    batch: Batch,
    objective: Objective,
    optimizer: torch.optim.Optimizer,
    ctx: Context,
    *,
    clip: float = 0.0,
    state=None,
    where: str = "step 1",
) -> StepResult:
    """Forward, all-reduce (sum, count), backward, clip, update.

    Args:
        net: a :class:`~rnnseq.task_model.TaskModel`, wrapped in
            DistributedDataParallel when ``ctx.distributed``.
        batch: this process's share of the step's global batch (on its device).
        objective: the training loss.
        optimizer: updates the parameters of ``net``.
        ctx: the process group (:func:`rnnseq.training.distributed.setup`).
        clip: clip the global gradient norm at this value (0 = no clipping).
        state: lm: the encoder state carried from the previous window.
        where: which step this is, for error messages ("step 12 (epoch 2)").

    Raises:
        NumericalError: the loss or the gradient norm is NaN or infinite (on every
            process at once); the parameters are left unchanged.
    """
    total, count, new_state = net(batch, objective, state)  # this process's (S_r, C_r)
    if ctx.distributed and batch.n_tokens == 0:
        # A language model's last window can leave all of a process's rows empty (rows
        # differ in length by one); its encoder then runs on nothing. DDP still waits
        # for a gradient of every parameter, so touch them all, with weight 0.
        total = total + 0.0 * sum(p.sum() for p in net.parameters())
    zero = torch.zeros((), dtype=torch.float64, device=total.device)
    local = torch.stack(
        [
            total.detach().double(),
            zero if count is None else count.detach().double(),
            zero + batch.n_tokens,
        ]
    )  # (3,)
    global_total, global_count, tokens = ctx.all_sum(local).tolist()
    if not math.isfinite(global_total):
        raise NumericalError(f"the loss became {global_total} at {where}")

    if count is None:
        loss = total * ctx.world_size
    else:
        loss = total * (ctx.world_size / max(global_count, torch.finfo(total.dtype).tiny))
    optimizer.zero_grad(set_to_none=True)
    try:
        loss.backward()
    except RuntimeError as e:  # --detect-anomaly found a NaN made in backward
        if not torch.is_anomaly_enabled():
            raise
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise NumericalError(f"the gradient became nan at {where}: {first}") from None

    params = [p for group in optimizer.param_groups for p in group["params"]]
    norm = float(nn.utils.clip_grad_norm_(params, clip if clip > 0 else math.inf))
    if not math.isfinite(norm):  # the same on every process: DDP averaged the gradients
        optimizer.zero_grad(set_to_none=True)
        raise NumericalError(f"the gradient became {norm} at {where}")
    optimizer.step()
    return StepResult(
        total=global_total,
        count=None if count is None else global_count,
        tokens=int(tokens),
        grad_norm=norm,
        state=new_state,
    )
