"""One process of test_step.py's two-process run: every case of ddp_cases.py on this
process's share, on gloo; writes the losses and parameters to OUT/rank{RANK}.safetensors.

Usage (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT in the environment):
    python ddp_step_worker.py OUT
"""

from __future__ import annotations

import json
import sys

import torch
from ddp_cases import CASES, run_case
from safetensors.torch import save_file

from rnnseq.training import distributed


def main(out: str) -> None:
    torch.set_num_threads(1)
    ctx = distributed.setup(torch.device("cpu"))
    assert ctx.distributed and ctx.world_size == 2
    tensors, losses = {}, {}
    try:
        for case in CASES:
            losses[case[0]], model = run_case(case, ctx, lambda m: distributed.wrap(m, ctx))
            for name, p in model.named_parameters():
                tensors[f"{case[0]}/{name}"] = p.detach().contiguous()
    finally:
        distributed.teardown(ctx)
    save_file(tensors, f"{out}/rank{ctx.rank}.safetensors", {"losses": json.dumps(losses)})


if __name__ == "__main__":
    main(sys.argv[1])
