"""End-to-end training throughput: `rnnseq train` vs. a plain-PyTorch packed BiLSTM loop.

Both train the same model on UD English EWT with identical settings — embedding
100, BiLSTM 128 per direction, linear output, batch 32, torch.optim.Adam defaults
(lr 1e-3), flattened token-mean cross-entropy, no dropout, no clipping, no
character features, every training word in the vocabulary — for the same number
of epochs, each in its own process, alternating, with 1 and with 2 threads.
Printed per run: training tokens per CPU-second of the training steps (the
figure that is robust on a shared machine), tokens per wall-second, and dev
accuracy after the last epoch; then each rnnseq figure as a ratio to the plain
loop's measured in the same round.

    .venv/bin/python benchmarks/train_throughput.py [--epochs 3] [--threads 1 2] [--seeds 1 2 3]

Variants: `plain` (the hand-written loop), `rnnseq` (`rnnseq train` as it is, with
length-bucketed batches), `random` (`rnnseq train --bucket-pool 1`: random batches,
as the plain loop draws them) and `tokens`
(`--batch-tokens 522`: batches of about as many tokens as 32 average EWT sentences, cut
from the sorted pools, so each step sees about the same tokens); `--variants` picks
them (default: plain rnnseq random). With several seeds a summary gives each variant's
mean dev accuracy, its differences from the plain loop and from `random` with the
standard error of each difference, and the mean CPU ratio to the plain loop (seeds
where the plain loop ran; `--plain-seeds` runs it on fewer seeds than the others).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent


def shared_data() -> Path:
    for parent in [REPO, *REPO.parents]:
        candidate = parent / "shared" / "data" / "ud_english_ewt"
        if candidate.is_dir():
            return candidate
    sys.exit("UD English EWT not found: ../shared/data/ud_english_ewt is absent")


def run_plain(train: Path, dev: Path, epochs: int, threads: int, seed: int = 1) -> dict:
    cmd = [
        sys.executable,
        str(HERE / "plain_tagger.py"),
        str(train),
        str(dev),
        "--epochs",
        str(epochs),
        "--threads",
        str(threads),
        "--seed",
        str(seed),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=_env(threads))
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "tokens": r["tokens"],
        "cpu_s": r["cpu_s"],
        "wall_s": r["wall_s"],
        "dev_accuracy": r["dev_accuracy"][-1],
    }


def run_rnnseq(
    train: Path, dev: Path, epochs: int, threads: int, out: Path, seed: int = 1, extra=()
) -> dict:
    cmd = [
        sys.executable,
        "-m",
        "rnnseq",
        "train",
        "--task",
        "tag",
        "--train",
        str(train),
        "--dev",
        str(dev),
        "--out",
        str(out),
        "--overwrite",
        "--epochs",
        str(epochs),
        "--threads",
        str(threads),
        "--no-progress",
        "--embedding-dim",
        "100",
        "--hidden",
        "128",
        "--batch-size",
        "32",
        "--optimizer",
        "adam",
        "--lr",
        "0.001",
        "--dropout",
        "0",
        "--clip",
        "0",
        "--char-features",
        "none",
        "--min-freq",
        "1",
        "--reduction",
        "token_mean",
        "--schedule",
        "none",
        "--patience",
        "0",
        "--tag-scheme",
        "keep",
        # the options the data would otherwise choose (docs/DEFAULTS.md), fixed to the
        # plain loop's: words as written, no word dropout, cross-entropy
        "--no-lowercase",
        "--word-dropout",
        "0",
        "--loss",
        "ce",
        "--seed",
        str(seed),
        *extra,
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True, env=_env(threads))
    last = json.loads((out / "metrics.json").read_text())["epochs"][-1]
    return {
        "tokens": last["tokens"],
        "cpu_s": last["cpu_seconds"],
        "wall_s": last["seconds"],
        "dev_accuracy": last["dev_accuracy"],
    }


def _env(threads: int) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    env["PYTHONPATH"] = str(REPO / "src") + os.pathsep + env.get("PYTHONPATH", "")
    return env


VARIANTS = {  # name -> extra `rnnseq train` options
    "rnnseq": (),  # length-bucketed batches (the default)
    "random": ("--bucket-pool", "1"),  # rnnseq with random batches, as the plain loop
    # batches of at most 522 padded tokens (32 x EWT's mean sentence length), sorted pools
    "tokens": ("--batch-tokens", "522"),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1], help="one run per seed")
    ap.add_argument(
        "--variants",
        nargs="+",
        default=["plain", "rnnseq", "random"],
        choices=["plain", *VARIANTS],
    )
    ap.add_argument("--plain-seeds", type=int, nargs="+", help="seeds of the plain loop")
    args = ap.parse_args()
    data = shared_data()
    train, dev = data / "en_ewt-ud-train.conllu", data / "en_ewt-ud-dev.conllu"
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    print(
        f"{'round':>5} {'threads':>7} {'seed':>4} {'variant':<8} {'tok/CPU-s':>10} "
        f"{'tok/s':>8} {'dev acc':>8} {'CPU ratio':>9} {'wall ratio':>10}"
    )
    accuracy: dict[tuple[int, str], list[float]] = {}
    cpu_ratios: dict[tuple[int, str], list[float]] = {}
    plain_rate: dict[int, float] = {}  # threads -> the latest plain run's tokens / CPU-s
    plain_wall: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for threads in args.threads:
                for seed in args.seeds:
                    runs = {}
                    plain_seeds = args.plain_seeds or args.seeds
                    if "plain" in args.variants and seed in plain_seeds:
                        runs["plain"] = run_plain(train, dev, args.epochs, threads, seed)
                        plain_rate[threads] = runs["plain"]["tokens"] / runs["plain"]["cpu_s"]
                        plain_wall[threads] = runs["plain"]["tokens"] / runs["plain"]["wall_s"]
                    for name in args.variants:
                        if name == "plain":
                            continue
                        out = Path(tmp) / name
                        extra = VARIANTS[name]
                        runs[name] = run_rnnseq(train, dev, args.epochs, threads, out, seed, extra)
                    for name, res in runs.items():
                        base_cpu = plain_rate.get(threads, float("nan"))
                        base_wall = plain_wall.get(threads, float("nan"))
                        cpu_ratio = (res["tokens"] / res["cpu_s"]) / base_cpu
                        wall_ratio = (res["tokens"] / res["wall_s"]) / base_wall
                        accuracy.setdefault((threads, name), []).append(res["dev_accuracy"])
                        if not math.isnan(cpu_ratio):
                            cpu_ratios.setdefault((threads, name), []).append(cpu_ratio)
                        print(
                            f"{r + 1:>5} {threads:>7} {seed:>4} {name:<8} "
                            f"{res['tokens'] / res['cpu_s']:>10,.0f} "
                            f"{res['tokens'] / res['wall_s']:>8,.0f} "
                            f"{res['dev_accuracy']:>8.4f} {cpu_ratio:>8.2f}x {wall_ratio:>9.2f}x",
                            flush=True,
                        )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    print(
        "\nthreads variant   runs  dev acc mean (sd)  minus plain (SE)  minus random (SE)"
        "  CPU ratio mean"
    )
    nan = float("nan")
    for (threads, name), accs in accuracy.items():
        versus = []
        for base_name in ("plain", "random"):
            base = accuracy.get((threads, base_name))
            diff, se = _difference(accs, base) if base and name != base_name else (nan, nan)
            versus.append(f"{100 * diff:+6.2f} ({100 * se:.2f})")
        ratios = cpu_ratios.get((threads, name))
        ratio = statistics.fmean(ratios) if ratios else nan
        sd = statistics.stdev(accs) if len(accs) > 1 else nan
        print(
            f"{threads:>7} {name:<9} {len(accs):>4}  {100 * statistics.fmean(accs):6.2f} "
            f"({100 * sd:.2f})   {versus[0]}    {versus[1]}     {ratio:6.2f}x"
        )


def _difference(a: list[float], b: list[float]) -> tuple[float, float]:
    """Mean of a minus mean of b, and the standard error of that difference."""
    diff = statistics.fmean(a) - statistics.fmean(b)
    if len(a) < 2 or len(b) < 2:
        return diff, float("nan")
    return diff, math.sqrt(statistics.variance(a) / len(a) + statistics.variance(b) / len(b))


if __name__ == "__main__":
    main()
