"""Kernel plans side by side: the naive loss (or unfused head) and rnnseq under each plan.

    python benchmarks/loss_plans.py word-LM 2 "" "dense_chunks=false" \
        "dense_chunks=false,chunk_elements=262144"

Arguments: a loss or head shape of benchmarks/loss_speed.py, the thread count, then one
plan per argument (comma-separated FIELD=VALUE overrides; "" is the default
plan). Prints the median wall and CPU time of one step (forward + backward) of
each, over interleaved rounds in one process, and its ratio to the baseline
(the naive loss, or the unfused head for a head shape).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import torch

import loss_speed as ls
from rnnseq.kernels import use_plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("shape", choices=[*ls.LOSS_SHAPES, *ls.HEAD_SHAPES])
    parser.add_argument("threads", type=int)
    parser.add_argument("plans", nargs="+", help='FIELD=VALUE,... per plan; "" = default')
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    plans = [ls.parse_plan([x for x in text.split(",") if x]) for text in args.plans]
    if args.shape in ls.HEAD_SHAPES:
        kind, baseline, (n, t, hidden, classes) = "head", "unfused", ls.HEAD_SHAPES[args.shape]
        batch = ls.make_batch(n, t, classes, hidden=hidden)
    else:
        kind, baseline = "loss", "naive"
        batch = ls.make_batch(*ls.LOSS_SHAPES[args.shape])

    def run(i: int) -> None:
        if i < 0:
            ls.step(kind, baseline, batch)
            return
        with use_plan(plans[i]):
            ls.step(kind, "rnnseq", batch)

    ids = [-1, *range(len(plans))]
    for i in ids:  # warm up
        run(i)
    samples = {i: ([], []) for i in ids}
    for r in range(args.repeats):
        for i in ids[r % len(ids) :] + ids[: r % len(ids)]:
            wall, cpu = time.perf_counter(), time.process_time()
            run(i)
            samples[i][0].append(time.perf_counter() - wall)
            samples[i][1].append(time.process_time() - cpu)
    base = statistics.median(samples[-1][0])
    print(f"{args.shape}, {args.threads} thread(s), "
          f"load {', '.join(f'{x:.2f}' for x in os.getloadavg())}")  # fmt: skip
    for i in ids:
        name = baseline if i < 0 else f"rnnseq {args.plans[i] or '(default plan)'}"
        wall, cpu = (statistics.median(x) for x in samples[i])
        print(f"  {name:60s} wall {wall * 1e3:8.2f} ms  CPU {cpu * 1e3:8.2f} ms  "
              f"x {baseline} {wall / base:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
