"""Where the time of a small labeling loss goes: the naive loss against rnnseq and the pieces
rnnseq's small-batch path is made of, interleaved in one process.

    python benchmarks/loss_small_batch.py                       # tagging (32, 50, 17), 1 thread
    python benchmarks/loss_small_batch.py --threads 2 --rounds 60
    python benchmarks/loss_small_batch.py --shape 64,256,65 --variants naive,rnnseq,function

Variants, forward + backward of one step (logits (N, T, C), ragged lengths as in
benchmarks/loss_speed.py), each a step of the batch mean of the summed losses:

    naive      F.cross_entropy(reduction="none") · mask, summed, over N
    sum        F.cross_entropy(reduction="sum") on targets already set to -100 at padding
    check      sum + the finiteness check of the logits (one sum, one host read)
    mask       check + the padding mask and where, as the path makes them
    nll        mask with log_softmax + nll_loss_forward (its count) and the count's read
    direct     rnnseq._small_labeling.small_labeling, called directly
    rnnseq     rnnseq.losses.sequence_labeling_loss (argument checks, plan, the path)
    function   the same with small_max_elements = 1: the general path (fused kernel)

Prints, per variant, the 10th percentile and the median over rounds of the CPU time
per step (and wall), and their ratio to the naive loss's, with the load average:
on a shared machine the 10th percentile is the least disturbed figure.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time

import torch
import torch.nn.functional as F

import loss_speed as ls
from rnnseq import _small_labeling
from rnnseq.kernels import use_plan
from rnnseq.losses import sequence_labeling_loss

_nll_loss_forward = torch.ops.aten.nll_loss_forward.default


def _masked(b: ls.Batch) -> torch.Tensor:
    t = b.targets.shape[1]
    return torch.where(_small_labeling._prefix_masks(t).index_select(0, b.lengths), b.targets, -100)


def make_variants(batch: ls.Batch) -> dict:
    n, t, c = batch.x.shape
    premasked = _masked(batch).view(-1)

    def sum_(z, b):
        return F.cross_entropy(z.view(-1, c), premasked, reduction="sum") / n

    def check(z, b):
        math.isfinite(z.detach().sum().item())
        return F.cross_entropy(z.view(-1, c), premasked, reduction="sum") / n

    def mask(z, b):
        math.isfinite(z.detach().sum().item())
        return F.cross_entropy(z.view(-1, c), _masked(b).view(-1), reduction="sum") / n

    def nll(z, b):
        math.isfinite(z.detach().sum().item())
        log_probs = torch.log_softmax(z.view(-1, c), 1)
        total, counted = _nll_loss_forward(log_probs, _masked(b).view(-1), None, 2, -100)
        counted.item()
        return total / n

    def direct(z, b):
        return _small_labeling.small_labeling(z, b.targets, b.lengths, -100, "mean", terms=False)

    def function(z, b):
        with use_plan(small_max_elements=1):
            return sequence_labeling_loss(z, b.targets, b.lengths)

    return {
        "naive": ls.naive, "sum": sum_, "check": check, "mask": mask, "nll": nll,
        "direct": direct, "rnnseq": ls.rnnseq, "function": function,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", default="32,50,17", help="N,T,C (default the tagging size)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=150)
    parser.add_argument("--variants", default="naive,sum,check,mask,nll,direct,rnnseq")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n, t, c = (int(x) for x in args.shape.split(","))
    batch = ls.make_batch(n, t, c)
    every = make_variants(batch)
    names = args.variants.split(",")
    unknown = set(names) - set(every)
    if unknown:
        raise SystemExit(f"--variants: unknown {sorted(unknown)}; known: {list(every)}")
    ls.LOSSES.update({name: every[name] for name in names})

    for name in names:  # warm up
        for _ in range(20):
            ls.step("loss", name, batch)
    start = time.perf_counter()
    ls.step("loss", "naive", batch)
    inner = max(1, int(0.004 / (time.perf_counter() - start)))  # rounds of about 4 ms
    cpu = {name: [] for name in names}
    wall = {name: [] for name in names}
    for r in range(args.rounds):
        for name in names[r % len(names) :] + names[: r % len(names)]:
            c0, w0 = time.process_time(), time.perf_counter()
            for _ in range(inner):
                ls.step("loss", name, batch)
            cpu[name].append((time.process_time() - c0) / inner * 1e6)
            wall[name].append((time.perf_counter() - w0) / inner * 1e6)

    def pick(samples, q):
        return sorted(samples)[int(q * (len(samples) - 1))]

    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"shape ({n}, {t}, {c}), {args.threads} thread(s), {args.rounds} rounds of {inner} "
          f"steps, load {load}")  # fmt: skip
    print("| variant | CPU µs p10 | × naive | CPU µs median | × naive | wall µs median | × naive |")
    print("|---|---|---|---|---|---|---|")
    base = [pick(cpu["naive"], 0.1), statistics.median(cpu["naive"])] if "naive" in cpu else None
    base_wall = statistics.median(wall["naive"]) if "naive" in wall else None
    for name in names:
        p10, med = pick(cpu[name], 0.1), statistics.median(cpu[name])
        wmed = statistics.median(wall[name])
        ratios = (
            (p10 / base[0], med / base[1], wmed / base_wall) if base else (math.nan,) * 3
        )
        print(f"| {name} | {p10:.1f} | {ratios[0]:.2f} | {med:.1f} | {ratios[1]:.2f} "
              f"| {wmed:.1f} | {ratios[2]:.2f} |")  # fmt: skip


if __name__ == "__main__":
    main()
