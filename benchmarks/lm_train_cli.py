"""``rnnseq train --task lm`` on corpora larger than memory, measured through the CLI.

    python benchmarks/lm_train_cli.py                      # 0.1, 0.5 and 2 GB; tinyshakespeare
    python benchmarks/lm_train_cli.py --sizes 0.1 --steps 50    # a quick run

The corpora are assembled under a scratch folder (``--scratch``, default
/tmp/rnnseq_bench_lm) by alternating the shared Tiny Shakespeare and PTB training
texts, and deleted at the end with their token files. Every command runs as its own
process with one thread (``--threads 1``); its CPU seconds and peak resident memory
come from ``os.wait4`` (the process's own rusage, imports included):

    prepare   ``rnnseq prepare`` on an empty token cache: encoding MB/s (text MB per CPU s)
    train     ``rnnseq train --task lm --max-steps N`` with the token file now in the
              cache: peak RSS, and the time from process start to the end of the
              first optimizer step (wall and CPU, imports included)
    cold      the same train on an empty cache (encodes, then trains): peak RSS

Then tokens per CPU second of ``rnnseq train`` on Tiny Shakespeare (``--max-steps``
``--tts-steps``, batches 32 × 64), from the token file and through the former
in-memory path (the text read as units, windows cut up front by ``lm_batches``),
alternating, ``--repeats`` times each; the epoch's "tokens" / "cpu_seconds" of
metrics.json, and whether the loss curves agree (metrics equal, weights equal).

Results go to runs/bench_lm_cli/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "runs" / "bench_lm_cli"
SHARED = Path(
    os.environ.get("RNNSEQ_SHARED_DATA")
    or next((p / "shared" / "data" for p in REPO.parents if (p / "shared" / "data").is_dir()), ".")
)
SHAKESPEARE = SHARED / "tinyshakespeare" / "input.txt"
SOURCES = [SHAKESPEARE, SHARED / "ptb_word" / "ptb.train.txt"]


def corpus(folder: Path, size_gb: float) -> Path:
    """A text of ``size_gb`` GB (10^9 bytes), Shakespeare and PTB alternating."""
    path = folder / f"corpus_{size_gb:g}GB.txt"
    target = int(size_gb * 1e9)
    if path.exists() and path.stat().st_size == target:
        return path
    blocks = [s.read_bytes() for s in SOURCES]
    folder.mkdir(parents=True, exist_ok=True)
    written = 0
    with open(path, "wb") as f:
        while written < target:
            for block in blocks:
                piece = block[: target - written]
                f.write(piece)
                written += len(piece)
    return path


# ------------------------------------------------------------------ child


def child(mode: str, argv: list[str]) -> None:
    """Run ``rnnseq`` with ``argv`` in this process, noting when the first optimizer step
    ends; ``mode`` "memory": the former in-memory lm data path instead of token files."""
    started_wall = time.perf_counter()
    from rnnseq.cli import main
    from rnnseq.training import loop

    first: dict = {}
    step = loop.train_step

    def timed_step(*args, **kwargs):
        result = step(*args, **kwargs)
        if not first:
            first["first_step_wall_s"] = time.perf_counter() - started_wall
            first["first_step_cpu_s"] = time.process_time()
        return result

    loop.train_step = timed_step
    if mode == "memory":
        from rnnseq.tasks.lm import LanguageModelTask
        from rnnseq.training.sharding import lm_batches

        def epoch_plan(self, data, cfg, epoch, rank, world_size):
            t = cfg.training
            return lm_batches(data.train, t.batch_size, t.bptt, rank=rank, world_size=world_size)

        LanguageModelTask.stream_run_data = lambda self, *a, **k: None
        LanguageModelTask.epoch_plan = epoch_plan
    code = main(argv)
    print(json.dumps({"code": code, **first}), file=sys.stderr)


# ------------------------------------------------------------------ parent


def run(argv: list[str], *, mode: str = "stream", env: dict | None = None) -> dict:
    """One ``rnnseq`` process: its wall, CPU seconds and peak RSS (os.wait4)."""
    full_env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", **(env or {}))
    full_env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), full_env.get("PYTHONPATH", "")])
    command = [sys.executable, __file__, "--child", mode, *argv]
    start = time.perf_counter()
    proc = subprocess.Popen(command, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    out, err = proc.stdout.read().decode(), proc.stderr.read().decode()
    proc.stdout.close()
    proc.stderr.close()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}):\n{err}")
    result = json.loads(err.strip().splitlines()[-1])
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mb": usage.ru_maxrss / 1024,
        "stdout": out.strip(),
        **result,
    }


def train_argv(text: Path, out: Path, cache: Path, steps: int, *extra) -> list[str]:
    return [
        "train", "--task", "lm", "--train", str(text), "--out", str(out), "--overwrite",
        "--max-steps", str(steps), "--epochs", "1", "--threads", "1", "--no-progress",
        "--token-cache", str(cache), *map(str, extra),
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="0.1,0.5,2", help="corpus sizes in GB (10^9 bytes)")
    parser.add_argument("--unit", default="char", choices=("char", "word"))
    parser.add_argument("--steps", type=int, default=100, help="training steps per corpus")
    parser.add_argument("--tts-steps", type=int, default=300, help="steps on tinyshakespeare")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each path")
    parser.add_argument("--scratch", default="/tmp/rnnseq_bench_lm", help="corpora, caches")
    parser.add_argument(
        "--interleaved",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also compare the two batch sources step by step in one process",
    )
    if sys.argv[1:2] == ["--child"]:  # python lm_train_cli.py --child MODE RNNSEQ-ARGV...
        child(sys.argv[2], sys.argv[3:])
        return
    args = parser.parse_args()

    scratch = Path(args.scratch)
    results: dict = {"load_before": os.getloadavg(), "runs": []}
    print(f"load average {os.getloadavg()}; one thread per process", flush=True)
    try:
        # What rnnseq prepare costs without a text to speak of (imports, start, exit).
        scratch.mkdir(parents=True, exist_ok=True)
        tiny = scratch / "tiny.txt"
        tiny.write_text("To be, or not to be: that is the question.\n")
        base = run(["prepare", "--task", "lm", "--train", str(tiny), "--unit", args.unit,
                    "--token-cache", str(scratch / "cache_tiny"), "--no-progress"])  # fmt: skip
        results["prepare_baseline"] = base
        print(f"rnnseq prepare on one line: {base['cpu_s']:.2f} CPU s, {base['wall_s']:.2f} s "
              "wall (subtracted below as 'net')", flush=True)  # fmt: skip
        for size in [float(s) for s in args.sizes.split(",") if s]:
            text = corpus(scratch, size)
            # A stat taken within 2 s of a write proves nothing (token_cache.RACY_NS): the
            # next use would hash the text again. Leave that window, as a user would.
            time.sleep(2.5)
            mb = text.stat().st_size / 1e6
            cache, out = scratch / f"cache_{size:g}", scratch / "model"
            unit = ("--unit", args.unit)
            shutil.rmtree(cache, ignore_errors=True)
            prep = ["prepare", "--task", "lm", "--train", str(text), "--token-cache", str(cache),
                    "--no-progress", *unit]  # fmt: skip
            rows = {
                "prepare": run(prep),
                "train": run(train_argv(text, out, cache, args.steps, *unit)),
            }
            shutil.rmtree(cache)
            rows["cold"] = run(train_argv(text, out, cache, args.steps, *unit))
            shutil.rmtree(cache)
            for step, r in rows.items():
                r.update(size_gb=size, text_mb=mb, step=step, unit=args.unit,
                         load=os.getloadavg())  # fmt: skip
                results["runs"].append(r)
                line = (f"{size:>5g} GB {step:>8}: {r['cpu_s']:8.1f} CPU s {r['wall_s']:8.1f} s "
                        f"wall, peak RSS {r['peak_rss_mb']:6.0f} MB")  # fmt: skip
                if step == "prepare":
                    net = r["cpu_s"] - base["cpu_s"]
                    r["net_mb_per_cpu_s"] = mb / net
                    line += (f", {mb / r['cpu_s']:.1f} MB/CPU s, net {mb / net:.1f} "
                             f"({mb / r['wall_s']:.1f} MB/s wall)")  # fmt: skip
                if step == "train":
                    line += (f", first step done {r['first_step_wall_s']:.2f} s wall / "
                             f"{r['first_step_cpu_s']:.2f} CPU s after start")  # fmt: skip
                print(line + f"  [load {os.getloadavg()[0]:.1f}]", flush=True)
            text.unlink()

        if args.repeats:
            tinyshakespeare(args, scratch, results)
        if args.interleaved:
            results["interleaved"] = interleaved(args.tts_steps, scratch / "cache_tts")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    results["load_after"] = os.getloadavg()
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"load average {os.getloadavg()}; results in {OUT / 'results.json'}")


def tinyshakespeare(args, scratch: Path, results: dict) -> None:
    """rnnseq train on Tiny Shakespeare from the token file and in memory, alternating."""
    print(f"\ntinyshakespeare: {args.tts_steps} steps, 32 x 64, one thread", flush=True)
    cache = scratch / "cache_tts"
    rates: dict = {"stream": [], "memory": []}
    finals = {}
    for k in range(args.repeats):
        for mode in ("stream", "memory"):
            out = scratch / f"tts_{mode}"
            r = run(train_argv(SHAKESPEARE, out, cache, args.tts_steps), mode=mode)
            epoch = json.loads((out / "metrics.json").read_text())["epochs"][0]
            rate = epoch["tokens"] / epoch["cpu_seconds"]
            rates[mode].append(rate)
            finals[mode] = (epoch["train_loss"], (out / "model.safetensors").read_bytes())
            r.update(step=f"tts-{mode}", rate=rate, epoch=epoch, load=os.getloadavg())
            results["runs"].append(r)
            print(f"  {mode:>6} run {k + 1}: {rate:,.0f} tokens per CPU s "
                  f"({epoch['tokens']:,} tokens, {epoch['cpu_seconds']:.1f} CPU s), "
                  f"peak RSS {r['peak_rss_mb']:.0f} MB  [load {os.getloadavg()[0]:.1f}]",
                  flush=True)  # fmt: skip
    best = {m: max(v) for m, v in rates.items()}
    same = finals["stream"] == finals["memory"]
    print(f"  best: token file {best['stream']:,.0f}, in memory {best['memory']:,.0f} "
          f"tokens per CPU s (ratio {best['stream'] / best['memory']:.3f}); "
          f"same loss and weights: {same}")  # fmt: skip
    mean = {m: sum(v) / len(v) for m, v in rates.items()}
    print(f"  mean: token file {mean['stream']:,.0f}, in memory {mean['memory']:,.0f} "
          f"(ratio {mean['stream'] / mean['memory']:.3f})")  # fmt: skip
    results.update(tts_best=best, tts_mean=mean, tts_same_result=same)


def interleaved(steps: int, cache: Path) -> dict:
    """One process, two identical models (no dropout) trained step by step in turn, one
    on windows from the token file, one on the former in-memory windows (lm_batches):
    the step's CPU time with the batch's making, without the run-to-run noise of a
    shared machine (both see the same load)."""
    import numpy as np
    import torch

    from rnnseq.data.lm_windows import LMWindows
    from rnnseq.data.token_cache import token_file
    from rnnseq.models import ModelConfig
    from rnnseq.objective import LossOptions
    from rnnseq.task_model import Objective, TaskModel
    from rnnseq.tasks import get_task
    from rnnseq.training.distributed import Context
    from rnnseq.training.sharding import lm_batches
    from rnnseq.training.step import train_step

    torch.set_num_threads(1)
    tokens = token_file(SHAKESPEARE, unit="char", cache_dir=cache, progress=False)
    sources = {
        "file": LMWindows(tokens.reader(), 32, 64),
        "memory": lm_batches(np.asarray(tokens.ids).tolist(), 32, 64),
    }
    V = len(tokens.vocab)
    objective = Objective(LossOptions(loss="ce", time_reduction="sum", reduction="mean"))
    runs = {}
    for name in sources:
        torch.manual_seed(1)
        config = ModelConfig(vocab_size=V, num_labels=V, bidirectional=False, dropout=0.0)
        model = TaskModel(get_task("lm"), config)
        opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
        runs[name] = {"model": model, "opt": opt, "state": None, "cpu": 0.0, "tokens": 0,
                      "losses": []}  # fmt: skip
    for k in range(steps):
        for name in (("file", "memory") if k % 2 else ("memory", "file")):
            r = runs[name]
            cpu = time.process_time()
            batch = sources[name][k]
            result = train_step(r["model"], batch, objective, r["opt"], Context(), clip=5.0,
                                state=r["state"])  # fmt: skip
            r["cpu"] += time.process_time() - cpu
            r["state"], r["tokens"] = result.state, r["tokens"] + result.tokens
            r["losses"].append(result.loss)
    rates = {name: r["tokens"] / r["cpu"] for name, r in runs.items()}
    same = runs["file"]["losses"] == runs["memory"]["losses"]
    print(f"\ninterleaved, one process, {steps} steps each: token file {rates['file']:,.0f}, in "
          f"memory {rates['memory']:,.0f} tokens per CPU s (ratio "
          f"{rates['file'] / rates['memory']:.3f}); same losses: {same}  "
          f"[load {os.getloadavg()[0]:.1f}]", flush=True)  # fmt: skip
    return {"rates": rates, "same_losses": same, "load": os.getloadavg()}


if __name__ == "__main__":
    main()
