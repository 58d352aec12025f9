"""``rnnseq evaluate`` of a language model on a large text: peak memory, read through a
token file (today) against the text read into memory (before).

    python benchmarks/lm_evaluate_memory.py                   # 5 and 50 MB of characters
    python benchmarks/lm_evaluate_memory.py --sizes 5 --in-memory 5

A small character LM (LSTM 16, embedding 16) is trained for 30 steps on Tiny
Shakespeare; its scores do not matter, only what evaluating costs. The texts (Tiny
Shakespeare and PTB's training text alternating, cut at a line) are written under
--dir (default /tmp/rnnseq_lm_evaluate_bench, deleted at the end with the token
cache). Each evaluation runs in its own process, one thread, one at a time:
``rnnseq evaluate --model M --data TEXT --json`` (the token-file path), and at the
--in-memory sizes the former path (``Predictor.evaluate_data`` of the units read by
``read_dataset``, what ``rnnseq evaluate`` did before); the two losses must be equal.
Peak RSS, CPU and wall seconds are the process's (``getrusage`` of the child).
Results go to runs/bench_lm_evaluate/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(
    os.environ.get("RNNSEQ_SHARED_DATA")
    or next((p / "shared" / "data" for p in REPO.parents if (p / "shared" / "data").is_dir()), ".")
)
SOURCES = [SHARED / "tinyshakespeare" / "input.txt", SHARED / "ptb_word" / "ptb.train.txt"]

MEASURE = """
import json, resource, subprocess, sys, time
t = time.perf_counter()
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": done.returncode, "out": done.stdout[-2000:], "err": done.stderr[-2000:],
                  "wall": time.perf_counter() - t, "cpu": u.ru_utime + u.ru_stime,
                  "peak_rss_mb": u.ru_maxrss / 1024}))
"""
IN_MEMORY = """
import json, sys, torch
torch.set_num_threads(1)
from rnnseq.data import read_dataset
from rnnseq.inference import Predictor
p = Predictor.load(sys.argv[1], device="cpu")
units = read_dataset(sys.argv[2], "lm", unit=p.meta.config.data.unit)
print(json.dumps(p.evaluate_data(units, sys.argv[2])))
"""


def text(path: Path, megabytes: int) -> Path:
    """A text of ``megabytes`` MB (10^6 bytes), the sources alternating, cut at a line."""
    blocks = [s.read_bytes() for s in SOURCES]
    target = megabytes * 1_000_000
    with open(path, "wb") as out:
        written = k = 0
        while written < target:
            block, k = blocks[k % 2], k + 1
            if written + len(block) > target:  # the last one, cut at a line end
                block = block[: target - written]
                out.write(block[: block.rfind(b"\n") + 1] or block)
                break
            out.write(block)
            written += len(block)
    return path


def measure(argv: list[str], env: dict) -> dict:
    done = subprocess.run([sys.executable, "-c", MEASURE, *argv], env=env, check=True,
                          capture_output=True, text=True)  # fmt: skip
    r = json.loads(done.stdout.strip().splitlines()[-1])
    if r["rc"] != 0:
        raise SystemExit(f"{' '.join(argv[:4])} failed:\n{r['err']}")
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[5, 50], help="MB of text")
    ap.add_argument("--in-memory", type=int, nargs="*", default=[5])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/rnnseq_lm_evaluate_bench"))
    args = ap.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    cache = args.dir / "cache"
    env = {**os.environ, "PYTHONPATH": str(REPO / "src"), "RNNSEQ_CACHE_DIR": str(cache),
           "OMP_NUM_THREADS": "1"}  # fmt: skip
    results: dict = {"load_before": open("/proc/loadavg").read().split()[:3], "runs": []}
    model = args.dir / "model"
    try:
        subprocess.run([sys.executable, "-m", "rnnseq", "train", "--task", "lm", "--train",
                        str(SOURCES[0]), "--out", str(model), "--hidden", "16",
                        "--embedding-dim", "16", "--max-steps", "30", "--epochs", "1",
                        "--threads", "1", "--no-progress", "--overwrite"],
                       env=env, check=True, capture_output=True)  # fmt: skip
        for mb in args.sizes:
            path = text(args.dir / f"text_{mb}MB.txt", mb)
            evaluate = [sys.executable, "-m", "rnnseq", "evaluate", "--model", str(model),
                        "--data", str(path), "--json", "--threads", "1"]  # fmt: skip
            paths = [("token file", evaluate)]
            if mb in args.in_memory:
                paths.append(("in memory", [sys.executable, "-c", IN_MEMORY, str(model),
                                            str(path)]))  # fmt: skip
            losses = set()
            for label, argv in paths:
                r = measure(argv, env)
                scores = json.loads(r.pop("out"))
                r.pop("err")
                losses.add(scores["loss"])
                row = {"megabytes": mb, "path": label, **r, "loss": scores["loss"],
                       "n_tokens": scores["n_tokens"],
                       "load": open("/proc/loadavg").read().split()[0]}  # fmt: skip
                results["runs"].append(row)
                print(f"{mb:>5} MB  {label:<10}  peak RSS {r['peak_rss_mb']:7.0f} MB  "
                      f"{r['cpu']:7.1f} CPU s  {r['wall']:7.1f} s wall  loss {scores['loss']:.6f}"
                      f"  {scores['n_tokens']:,} units  (load {row['load']})", flush=True)
            if len(losses) != 1:
                print(f"  the losses differ: {sorted(losses)}", flush=True)
            path.unlink()
            shutil.rmtree(cache, ignore_errors=True)
    finally:
        shutil.rmtree(args.dir, ignore_errors=True)
    results["load_after"] = open("/proc/loadavg").read().split()[:3]
    where = REPO / "runs" / "bench_lm_evaluate"
    where.mkdir(parents=True, exist_ok=True)
    (where / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"load average before / after: {results['load_before']} / {results['load_after']}")


if __name__ == "__main__":
    main()
