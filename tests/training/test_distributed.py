"""rnnseq.training.distributed: joining torchrun's process group, and the collectives'
single-process behaviour (the two-process behaviour is tested in test_step.py and
test_ddp_run.py)."""

from __future__ import annotations

import pytest
import torch

from rnnseq.training import distributed
from rnnseq.training.distributed import Context


@pytest.fixture
def no_torchrun(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_without_torchrun_environment_a_process_runs_alone(no_torchrun):
    ctx = distributed.setup(torch.device("cpu"))
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.distributed) == (0, 1, True, False)
    assert distributed.wrap(torch.nn.Linear(2, 2), ctx).__class__ is torch.nn.Linear
    distributed.teardown(ctx)


def test_collectives_of_one_process_return_copies():
    ctx = Context()
    x = torch.tensor([1.0, 2.0])
    for y in (ctx.all_sum(x), ctx.broadcast(x), ctx.gather(x)[0]):
        assert torch.equal(y, x) and y.data_ptr() != x.data_ptr()
    assert len(ctx.gather(x)) == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"RANK": "x", "WORLD_SIZE": "2"}, "RANK must be an integer"),
        ({"RANK": "2", "WORLD_SIZE": "2"}, r"RANK=2 must be in \[0, WORLD_SIZE=2\)"),
        ({"RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "?"}, "LOCAL_RANK must be an integer"),
    ],
)
def test_a_broken_torchrun_environment_is_a_value_error_naming_the_variable(
    no_torchrun, env, message
):
    for k, v in env.items():
        no_torchrun.setenv(k, v)
    with pytest.raises(ValueError, match=message):
        distributed.setup(torch.device("cpu"))


def test_a_group_of_one_process_works_like_a_group(no_torchrun, tmp_path):
    """``torchrun --nproc-per-node 1`` joins a (gloo) group of one and wraps in DDP."""
    no_torchrun.setenv("RANK", "0")
    no_torchrun.setenv("WORLD_SIZE", "1")
    no_torchrun.setenv("MASTER_ADDR", "127.0.0.1")
    from procs import free_port

    no_torchrun.setenv("MASTER_PORT", str(free_port()))
    ctx = distributed.setup(torch.device("cpu"))
    try:
        assert ctx.distributed and ctx.owns_group
        x = torch.arange(3.0)
        assert torch.equal(ctx.all_sum(x), x) and torch.equal(ctx.broadcast(x), x)
        assert torch.equal(ctx.gather(torch.get_rng_state())[0], torch.get_rng_state())
        net = distributed.wrap(torch.nn.Linear(2, 2), ctx)
        assert isinstance(net, torch.nn.parallel.DistributedDataParallel)
    finally:
        distributed.teardown(ctx)
    assert not torch.distributed.is_initialized()
