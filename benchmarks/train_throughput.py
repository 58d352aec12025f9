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

    .venv/bin/python benchmarks/train_throughput.py [--epochs 3] [--threads 1 2] [--rounds 1]
"""

from __future__ import annotations

import argparse
import json
import os
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


def run_plain(train: Path, dev: Path, epochs: int, threads: int) -> dict:
    cmd = [
        sys.executable,
        str(HERE / "plain_tagger.py"),
        str(train),
        str(dev),
        "--epochs",
        str(epochs),
        "--threads",
        str(threads),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=_env(threads))
    r = json.loads(out.stdout.strip().splitlines()[-1])
    return {
        "tokens": r["tokens"],
        "cpu_s": r["cpu_s"],
        "wall_s": r["wall_s"],
        "dev_accuracy": r["dev_accuracy"][-1],
    }


def run_rnnseq(train: Path, dev: Path, epochs: int, threads: int, out: Path) -> dict:
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
        "--seed",
        "1",
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    data = shared_data()
    train, dev = data / "en_ewt-ud-train.conllu", data / "en_ewt-ud-dev.conllu"
    print(f"load average before: {os.getloadavg()[0]:.2f} (cores: {os.cpu_count()})")
    print(
        f"{'round':>5} {'threads':>7} {'variant':<8} {'tok/CPU-s':>10} {'tok/s':>8} "
        f"{'dev acc':>8} {'CPU ratio':>9} {'wall ratio':>10}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            for threads in args.threads:
                plain = run_plain(train, dev, args.epochs, threads)
                ours = run_rnnseq(train, dev, args.epochs, threads, Path(tmp) / "model")
                for name, res in (("plain", plain), ("rnnseq", ours)):
                    cpu_rate = res["tokens"] / res["cpu_s"]
                    wall_rate = res["tokens"] / res["wall_s"]
                    cpu_ratio = cpu_rate / (plain["tokens"] / plain["cpu_s"])
                    wall_ratio = wall_rate / (plain["tokens"] / plain["wall_s"])
                    print(
                        f"{r + 1:>5} {threads:>7} {name:<8} {cpu_rate:>10,.0f} "
                        f"{wall_rate:>8,.0f} {res['dev_accuracy']:>8.4f} "
                        f"{cpu_ratio:>8.2f}x {wall_ratio:>9.2f}x",
                        flush=True,
                    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
