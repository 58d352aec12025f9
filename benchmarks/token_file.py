"""Token files on corpora larger than memory: encoding speed, memory, reopening, windows.

    python benchmarks/token_file.py                       # 0.1, 0.5 and 2 GB; chars and words
    python benchmarks/token_file.py --sizes 0.1 --units char   # a quick run

The corpora are assembled under runs/bench_tokens/ (gitignored) by alternating the
shared Tiny Shakespeare and PTB training texts until each size is reached (kept
for later runs). Each measurement runs in a fresh process with one thread, and
reports that process's CPU seconds, wall seconds and peak resident memory
(``ru_maxrss``):

    vocab      the vocabulary pass alone: chars, count_units (np.bincount); words, the
               first-appearance pass that numbers the words (its ids thrown away)
    encode     token_file() on an empty cache: everything a first run does
               (chars: count + encode passes; words: one first-appearance pass + renumbering)
    reopen     token_file() again (stat trusted), then LMWindows' first batch; plus the
               whole process's wall time, imports included
    rehash     token_file() after `touch` (stat untrusted: the SHA-256 decides)
    windows    2,000 windows of 64 rows × 256 steps from the token file's reader
    in-memory  the former path for comparison (the lm task's read and prepare, as
               rnnseq train --task lm ran them before token files, then lm_batches), on
               the sizes given by --in-memory (0.1 GB)

Then (--train, default on) 300 training steps (TRAIN_STEPS) of a default-sized
character LM on Tiny Shakespeare, windows from memory and from its token file:
training tokens per CPU second, and whether the two loss curves are identical.

MB/s is megabytes of text per CPU second. Results go to runs/bench_tokens/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "runs" / "bench_tokens"
SHARED = Path(
    os.environ.get("RNNSEQ_SHARED_DATA")
    or next((p / "shared" / "data" for p in REPO.parents if (p / "shared" / "data").is_dir()), ".")
)
SOURCES = [SHARED / "tinyshakespeare" / "input.txt", SHARED / "ptb_word" / "ptb.train.txt"]
ROWS, BPTT, N_WINDOWS = 64, 256, 2000
TRAIN_STEPS = int(os.environ.get("TRAIN_STEPS", "300"))


def corpus(size_gb: float) -> Path:
    """A text of ``size_gb`` GB (10^9 bytes), Shakespeare and PTB alternating, cut at a line."""
    path = OUT / f"corpus_{size_gb:g}GB.txt"
    target = int(size_gb * 1e9)
    if path.exists() and path.stat().st_size == target:
        return path
    blocks = [s.read_bytes() for s in SOURCES]
    OUT.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    written = 0
    with open(tmp, "wb") as f:
        while written < target:
            for block in blocks:
                piece = block[: target - written]
                f.write(piece)
                written += len(piece)
    os.replace(tmp, path)
    return path


# ------------------------------------------------------------------ children


def _measure(fn) -> dict:
    cpu, wall = time.process_time(), time.perf_counter()
    extra = fn() or {}
    return {
        "cpu_s": time.process_time() - cpu,
        "wall_s": time.perf_counter() - wall,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        **extra,
    }


def child(kind: str, path: Path, unit: str, cache: Path) -> dict:
    from rnnseq.data.token_cache import token_file

    if kind == "vocab":
        from rnnseq.data.unit_ids import first_appearance_ids
        from rnnseq.data.unit_vocab import count_units

        if unit == "char":
            return _measure(lambda: {"units": count_units(path, unit).n_units})
        with open(os.devnull, "wb") as sink:  # words: the first-appearance pass is the count
            return _measure(lambda: {"units": len(first_appearance_ids(path, sink))})
    if kind == "encode":
        shutil.rmtree(cache, ignore_errors=True)

        def encode():
            tokens = token_file(path, unit=unit, cache_dir=cache, progress=False)
            return {
                "units": len(tokens),
                "vocab": len(tokens.vocab),
                "dtype": tokens.header["dtype"],
            }

        return _measure(encode)
    if kind in ("reopen", "rehash"):
        import numpy as np

        from rnnseq.data.lm_windows import LMWindows

        if kind == "rehash":
            os.utime(path)  # new mtime and ctime: the stat proves nothing, the hash decides

        def reopen():
            tokens = token_file(path, unit=unit, cache_dir=cache, progress=False)
            batch = LMWindows(tokens.reader(), ROWS, BPTT)[0]
            return {"first_batch_sum": int(np.asarray(batch.tokens).sum())}

        return _measure(reopen)
    if kind == "windows":
        import torch

        from rnnseq.data.lm_windows import LMWindows

        torch.set_num_threads(1)
        tokens = token_file(path, unit=unit, cache_dir=cache, progress=False)
        windows = LMWindows(tokens.reader(), ROWS, BPTT)
        n = min(N_WINDOWS, len(windows))
        step = max(1, len(windows) // n)  # spread over the whole file

        def read():
            steps = sum(windows[k].n_tokens for k in range(0, step * n, step))
            return {"windows": n, "tokens": steps}

        result = _measure(read)
        result["windows_per_s"] = n / result["cpu_s"]
        return result
    if kind == "in-memory":
        import torch

        from rnnseq.training.config import TrainConfig
        from rnnseq.training.sharding import lm_batches

        torch.set_num_threads(1)
        cfg = TrainConfig(task="lm", train=str(path), out="unused", unit=unit).resolved()

        def in_memory():
            data = _in_memory(cfg)  # what rnnseq train --task lm did before token files
            windows = lm_batches(data.train, ROWS, BPTT)
            return {"units": data.n_train, "windows": len(windows)}

        return _measure(in_memory)
    if kind.startswith("train-"):
        return train_steps(kind.removeprefix("train-"), path, cache)
    raise ValueError(f"unknown measurement {kind!r}")


def _in_memory(cfg):
    """The lm task's data read into memory (the text as units, the vocabulary, the ids):
    what ``rnnseq train --task lm`` did before it trained from token files."""
    from rnnseq.tasks import get_task

    task = get_task("lm")
    units = task.read(cfg.train, cfg)
    return task.prepare(units, None, None, cfg, None, task.schemes(units, cfg))


def train_steps(source: str, path: Path, cache: Path) -> dict:
    """TRAIN_STEPS steps of a default-sized character LM (embedding 100, LSTM 128,
    dropout 0.25; 32 rows x 64 steps, fused Adam, clip 5) on windows from memory
    (the task's read and prepare, lm_batches) or from the token file (LMWindows over its
    reader)."""
    import torch

    from rnnseq.models import ModelConfig
    from rnnseq.objective import LossOptions
    from rnnseq.task_model import Objective, TaskModel
    from rnnseq.tasks import get_task
    from rnnseq.training.distributed import Context
    from rnnseq.training.step import train_step

    torch.set_num_threads(1)
    cpu = time.process_time()
    if source == "memory":
        from rnnseq.training.config import TrainConfig
        from rnnseq.training.sharding import lm_batches

        cfg = TrainConfig(task="lm", train=str(path), out="unused", unit="char").resolved()
        data = _in_memory(cfg)
        windows, vocab_size = lm_batches(data.train, 32, 64), len(data.vocabs.words)
    else:
        from rnnseq.data.lm_windows import LMWindows
        from rnnseq.data.token_cache import token_file

        tokens = token_file(path, unit="char", cache_dir=cache, progress=False)
        windows, vocab_size = LMWindows(tokens.reader(), 32, 64), len(tokens.vocab)
    ready = time.process_time() - cpu
    torch.manual_seed(1)
    config = ModelConfig(vocab_size=vocab_size, num_labels=vocab_size, bidirectional=False)
    model = TaskModel(get_task("lm"), config)
    objective = Objective(LossOptions(loss="ce", time_reduction="sum", reduction="mean"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    batch_s = step_s = 0.0
    tokens_seen, state, losses = 0, None, []
    for k in range(min(TRAIN_STEPS, len(windows))):
        t0 = time.process_time()
        batch = windows[k]
        t1 = time.process_time()
        result = train_step(model, batch, objective, optimizer, Context(), clip=5.0, state=state)
        t2 = time.process_time()
        batch_s, step_s = batch_s + t1 - t0, step_s + t2 - t1
        tokens_seen, state = tokens_seen + result.tokens, result.state
        losses.append(result.loss)
    return {
        "ready_cpu_s": ready,
        "steps": len(losses),
        "batch_cpu_s": batch_s,
        "step_cpu_s": step_s,
        "tokens_per_cpu_s": tokens_seen / (batch_s + step_s),
        "loss_curve": losses,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# ------------------------------------------------------------------ parent


def run_child(kind: str, path: Path, unit: str, cache: Path) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    argv = [sys.executable, __file__, "--child", kind, str(path), unit, str(cache)]
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"{kind} {path.name} {unit} failed:\n{done.stderr}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_wall_s"] = time.perf_counter() - start
    return result


def _notes(kind: str, r: dict) -> str:
    if kind == "encode":
        return f"{r['units']:,} units, vocab {r['vocab']}, {r['dtype']}"
    if kind == "reopen":
        return f"process {r['process_wall_s']:.2f} s with imports"
    if kind == "windows":
        return f"{r['windows_per_s']:,.0f} windows/s ({ROWS}x{BPTT})"
    if kind == "in-memory":
        return f"{r['units']:,} units, {r['windows']} windows"
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="0.1,0.5,2", help="corpus sizes in GB (10^9 bytes)")
    parser.add_argument("--units", default="char,word", help="char, word or both")
    parser.add_argument("--in-memory", default="0.1", help="sizes also run through today's path")
    parser.add_argument(
        "--train",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also train a character LM on Tiny Shakespeare from memory and from a token file",
    )
    parser.add_argument("--child", nargs=4, metavar=("KIND", "PATH", "UNIT", "CACHE"))
    args = parser.parse_args()
    if args.child:
        kind, path, unit, cache = args.child
        print(json.dumps(child(kind, Path(path), unit, Path(cache))))
        return

    sizes = [float(s) for s in args.sizes.split(",") if s]
    in_memory = {float(s) for s in args.in_memory.split(",") if s}
    results = {"load_before": os.getloadavg(), "runs": []}
    print(f"load average {os.getloadavg()[0]:.2f}; one thread per process", flush=True)
    header = (
        f"{'size':>6} {'unit':>5} {'step':>9} {'cpu s':>8} {'wall s':>8} {'MB/s':>7} {'RSS MB':>8}"
    )
    print(header + "  notes", flush=True)
    for size in sizes:
        path = corpus(size)
        mb = path.stat().st_size / 1e6
        for unit in args.units.split(","):
            cache = OUT / "cache" / f"{size:g}GB_{unit}"
            kinds = ["vocab", "encode", "reopen", "windows", "rehash"]
            if size in in_memory:
                kinds.append("in-memory")
            for kind in kinds:
                r = run_child(kind, path, unit, cache)
                r.update(size_gb=size, unit=unit, step=kind, text_mb=mb)
                results["runs"].append(r)
                rate = (
                    f"{mb / r['cpu_s']:7.1f}"
                    if kind in ("vocab", "encode", "in-memory")
                    else " " * 7
                )
                notes = _notes(kind, r)
                print(
                    f"{size:>6g} {unit:>5} {kind:>9} {r['cpu_s']:8.2f} {r['wall_s']:8.2f} "
                    f"{rate} {r['peak_rss_mb']:8.0f}  {notes}",
                    flush=True,
                )
    if args.train:
        shakespeare = SOURCES[0]
        cache = OUT / "cache" / "shakespeare"
        print(f"\ntraining on {shakespeare.name}, {TRAIN_STEPS} steps, 32x64, one thread")
        curves = {}
        for source in ("memory", "file"):
            r = run_child(f"train-{source}", shakespeare, "char", cache)
            curves[source] = r.pop("loss_curve")
            r.update(step=f"train-{source}")
            results["runs"].append(r)
            print(
                f"  windows from {source:>6}: {r['tokens_per_cpu_s']:,.0f} tokens per CPU s "
                f"(batches {r['batch_cpu_s']:.2f} s, steps {r['step_cpu_s']:.1f} s), "
                f"ready after {r['ready_cpu_s']:.2f} CPU s, peak RSS {r['peak_rss_mb']:.0f} MB",
                flush=True,
            )
        print(f"  loss curves identical: {curves['memory'] == curves['file']}")
        results["loss_curves_identical"] = curves["memory"] == curves["file"]
    results["load_after"] = os.getloadavg()
    (OUT / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"load average {os.getloadavg()[0]:.2f}; results in {OUT / 'results.json'}")


if __name__ == "__main__":
    main()
