"""rnnseq.training.step: one step on two gloo processes, each with an uneven share of a
fixed batch, equals one process on the whole batch — loss and parameters, for every
time_reduction/reduction pair, classify, tag (CE and CRF) and lm."""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from ddp_cases import CASES, NAMES, batches, build, run_case
from procs import run_ranks
from safetensors import safe_open

from rnnseq.training.distributed import Context
from rnnseq.training.step import NumericalError, train_step

WORKER = Path(__file__).with_name("ddp_step_worker.py")


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    """Every case run once by two processes (one start for all cases)."""
    out = tmp_path_factory.mktemp("ddp_step")
    results = run_ranks([sys.executable, str(WORKER), str(out)], 2, timeout=180)
    for rank, (code, output) in enumerate(results):
        assert code == 0, f"rank {rank} failed:\n{output}"
    ranks = []
    for rank in (0, 1):
        with safe_open(out / f"rank{rank}.safetensors", "pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
            losses = json.loads(f.metadata()["losses"])
        ranks.append((losses, tensors))
    return ranks


@pytest.mark.parametrize("case", CASES, ids=NAMES)
def test_two_uneven_processes_step_like_one_process_on_the_union(two_processes, case):
    name = case[0]
    losses, model = run_case(case, Context())
    for rank, (rank_losses, tensors) in enumerate(two_processes):
        assert rank_losses[name] == pytest.approx(losses, abs=1e-6, rel=0), f"rank {rank}"
        for pname, p in model.named_parameters():
            other = tensors[f"{name}/{pname}"]
            assert torch.allclose(other, p.detach(), rtol=0, atol=1e-6), f"rank {rank} {pname}"


MEANS = [c for c in CASES if c[2] != "sum"]


@pytest.mark.parametrize("case", MEANS, ids=[c[0] for c in MEANS])
def test_the_split_is_uneven_enough_to_catch_averaged_means(case):
    """A per-process mean averaged over the processes differs from the true loss here,
    so the test above would catch that mistake."""
    model, opts = build(case)
    k = 1 if case[1] == "lm" else 0  # lm: the window where rank 1 counts nothing
    with torch.no_grad():
        total, count, _ = model(batches(case, 0, 1)[k], opts)
        true = float(total / count)
        shares = [model(batches(case, r, 2)[k], opts) for r in (0, 1)]
    averaged = sum(float(t / c.clamp(min=1e-30)) for t, c, _ in shares) / 2
    assert abs(averaged - true) > 1e-3


@pytest.mark.parametrize("case", CASES, ids=NAMES)
def test_every_parameter_gets_a_gradient(case):
    """DDP (without find_unused_parameters) needs every parameter in every step's graph."""
    model, opts = build(case)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)
    train_step(model, batches(case, 0, 1)[0], opts, optimizer, Context())
    unused = [n for n, p in model.named_parameters() if p.grad is None]
    assert unused == []


def test_a_nan_loss_raises_naming_the_step_and_leaves_the_weights():
    case = CASES[0]
    model, opts = build(case)
    with torch.no_grad():
        next(model.parameters()).fill_(float("nan"))  # poison one parameter
    before = {k: v.clone() for k, v in model.state_dict().items()}
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    with pytest.raises(NumericalError, match="the loss became nan at step 7"):
        train_step(model, batches(case, 0, 1)[0], opts, optimizer, Context(), where="step 7")
    for k, v in model.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0, equal_nan=True)


def test_an_infinite_gradient_raises_and_leaves_the_weights():
    case = CASES[0]
    model, opts = build(case)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    p = next(model.parameters())
    p.register_hook(lambda g: torch.full_like(g, float("inf")))
    optimizer = torch.optim.SGD(model.parameters(), lr=1.0)
    with pytest.raises(NumericalError, match="the gradient became inf at step 3"):
        train_step(model, batches(case, 0, 1)[0], opts, optimizer, Context(), where="step 3")
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])


def test_steps_equal_the_loop_a_user_writes_by_hand():
    """train_step with rnnseq's optimizer (fused Adam) moves the weights exactly as the
    plain loop does: flattened F.cross_entropy(ignore_index=-100) and torch.optim.Adam."""
    case = next(c for c in CASES if c[0] == "tag-sum-token_mean")
    model, opts = build(case)
    by_hand = copy.deepcopy(model.net)
    ours = torch.optim.Adam(model.parameters(), lr=0.01, fused=True)
    theirs = torch.optim.Adam(by_hand.parameters(), lr=0.01)
    batch = batches(case, 0, 1)[0]
    for _ in range(5):
        result = train_step(model, batch, opts, ours, Context())
        logits = by_hand(batch.tokens, batch.lengths)  # (N, T, C)
        loss = F.cross_entropy(logits.flatten(0, 1), batch.targets.flatten(), ignore_index=-100)
        theirs.zero_grad()
        loss.backward()
        theirs.step()
        assert result.loss == pytest.approx(loss.item(), rel=1e-9)
    pairs = zip(model.net.named_parameters(), by_hand.parameters(), strict=True)
    for (name, ours_p), theirs_p in pairs:
        torch.testing.assert_close(ours_p, theirs_p, rtol=1e-9, atol=1e-9, msg=name)
