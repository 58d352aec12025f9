"""Tagging files larger than memory: ``rnnseq train --task tag`` streamed from disk
against the in-memory path, peak memory and training throughput.

    python benchmarks/streamed_examples.py                    # 1M and 5M sentences
    python benchmarks/streamed_examples.py --sizes 200000 --in-memory 200000 --steps 50

Files are generated under --dir (default /tmp/rnnseq_streamed_bench, deleted at the
end with the cache): CoNLL lines ``word TAG``, sentences drawn at random (seeded) from
the shared PTB training text, each word tagged with one of 17 tags (a fixed function
of the word), as in benchmarks/flat_examples.py (about 21 words a sentence, 10 bytes
a line: 1M sentences are about 0.2 GB).

For each size, ``rnnseq train --task tag --max-steps S --epochs 1 --threads 1`` runs
in its own process (one at a time), with the task's defaults (BiLSTM 128, character
CNN, batches of 32 sentences): first streamed with an empty cache (the passes that
scan and encode the file, then S steps), then streamed again (the arrays mapped from
the cache). Each run's peak RSS, CPU seconds and wall time are those of its process
(``getrusage`` of the child); its training tokens per CPU second come from the run's
metrics.json (``tokens`` / ``cpu_seconds``: the steps alone).

At --in-memory sizes, the in-memory path (``RNNSEQ_STREAM_BYTES`` set above the file
size) and the streamed path (mapped) are run alternately --repeats times each, and
the ratio of their tokens per CPU second is printed; their losses must agree (the
same batches). Results go to runs/bench_streamed/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(
    os.environ.get("RNNSEQ_SHARED_DATA")
    or next((p / "shared" / "data" for p in REPO.parents if (p / "shared" / "data").is_dir()), ".")
)
PTB = SHARED / "ptb_word" / "ptb.train.txt"
TAGS = [f"T{i}" for i in range(17)]

# Runs one command and prints its resource use (so that each figure is that process's).
MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:]).returncode
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "wall": time.perf_counter() - t, "cpu": u.ru_utime + u.ru_stime,
                  "peak_rss_mb": u.ru_maxrss / 1024}))
"""


def write_conll(path: Path, n: int, seed: int = 0) -> None:
    """``n`` tagged sentences, one ``word TAG`` line per word, a blank line after each."""
    lines = [line.split() for line in PTB.read_text(encoding="utf-8").splitlines()]
    lines = [words for words in lines if words]
    blocks = ["".join(f"{w} {TAGS[len(w) * 7 % 17]}\n" for w in words) + "\n" for words in lines]
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as out:
        for start in range(0, n, 100_000):
            out.write("".join(blocks[rng.randrange(len(blocks))]
                              for _ in range(min(100_000, n - start))))  # fmt: skip


def train(file: Path, out: Path, cache: Path, steps: int, stream_bytes: int) -> dict:
    """One ``rnnseq train`` in its own process: its resource use and metrics."""
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "RNNSEQ_STREAM_BYTES": str(stream_bytes)}
    argv = [sys.executable, "-m", "rnnseq", "train", "--task", "tag", "--train", str(file),
            "--out", str(out), "--max-steps", str(steps), "--epochs", "1", "--threads", "1",
            "--no-progress", "--overwrite", "--token-cache", str(cache)]  # fmt: skip
    done = subprocess.run([sys.executable, "-c", MEASURE, *argv], env=env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    used = json.loads(done.stdout.strip().splitlines()[-1])
    if used["rc"] != 0:
        raise SystemExit(f"rnnseq train failed:\n{done.stderr[-3000:]}")
    epoch = json.loads((out / "metrics.json").read_text())["epochs"][-1]
    return used | {
        "tokens": epoch["tokens"],
        "step_cpu": epoch["cpu_seconds"],
        "tokens_per_cpu_s": epoch["tokens"] / epoch["cpu_seconds"],
        "train_loss": epoch["train_loss"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    ap.add_argument("--in-memory", type=int, nargs="*", default=[1_000_000],
                    help="sizes at which the in-memory path runs too (interleaved)")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--dir", type=Path, default=Path("/tmp/rnnseq_streamed_bench"))
    ap.add_argument("--keep", action="store_true", help="keep the generated files")
    args = ap.parse_args()
    results: dict = {"load_before": open("/proc/loadavg").read().split()[:3], "runs": []}
    args.dir.mkdir(parents=True, exist_ok=True)
    cache = args.dir / "cache"
    try:
        for n in args.sizes:
            file = args.dir / f"tags_{n}.conll"
            t = time.perf_counter()
            write_conll(file, n)
            size = file.stat().st_size
            print(f"{n:,} sentences: {size / 1e9:.2f} GB written in "
                  f"{time.perf_counter() - t:.0f} s", flush=True)  # fmt: skip
            out = args.dir / "run"
            for label in ("streamed, encoding", "streamed, mapped"):
                r = train(file, out, cache, args.steps, 0)
                results["runs"].append({"sentences": n, "bytes": size, "path": label, **r})
                _show(results["runs"][-1])
            if n in args.in_memory:
                for _ in range(args.repeats):
                    for label, limit in (("in memory", size + 1), ("streamed, mapped", 0)):
                        r = train(file, out, cache, args.steps, limit)
                        results["runs"].append({"sentences": n, "bytes": size, "path": label,
                                                "interleaved": True, **r})  # fmt: skip
                        _show(results["runs"][-1])
                pairs = [r for r in results["runs"] if r.get("interleaved") and r["sentences"] == n]
                rate = {p: [r["tokens_per_cpu_s"] for r in pairs if r["path"] == p]
                        for p in ("in memory", "streamed, mapped")}  # fmt: skip
                losses = {r["train_loss"] for r in pairs}
                ratio = (sum(rate["streamed, mapped"]) / len(rate["streamed, mapped"])) / (
                    sum(rate["in memory"]) / len(rate["in memory"]))  # fmt: skip
                results.setdefault("ratios", {})[n] = ratio
                print(f"{n:,}: streamed / in-memory tokens per CPU second = {ratio:.3f}; "
                      f"train losses {'all equal' if len(losses) == 1 else sorted(losses)}",
                      flush=True)  # fmt: skip
            file.unlink()
            shutil.rmtree(cache, ignore_errors=True)
    finally:
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)
    results["load_after"] = open("/proc/loadavg").read().split()[:3]
    where = REPO / "runs" / "bench_streamed"
    where.mkdir(parents=True, exist_ok=True)
    (where / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"load average before / after: {results['load_before']} / {results['load_after']}")


def _show(r: dict) -> None:
    print(f"  {r['sentences']:>9,} {r['path']:<20} peak RSS {r['peak_rss_mb']:7.0f} MB  "
          f"process {r['cpu']:6.1f} CPU s / {r['wall']:6.1f} s wall  steps "
          f"{r['step_cpu']:5.1f} CPU s  {r['tokens_per_cpu_s']:7.0f} tokens/CPU s  "
          f"loss {r['train_loss']:.6f}  (load {open('/proc/loadavg').read().split()[0]})",
          flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
