"""What one long sequence costs ``rnnseq train``: peak memory and time by sequence length.

    python benchmarks/long_sequences.py                       # classify and tag, default lengths
    python benchmarks/long_sequences.py --tasks tag --lengths 256 1024 4096 --batch-size 32

For each task and length T it writes a training file of ``batch-size`` sequences of T
distinct-ish tokens (plus a few short ones, so the vocabulary is ordinary), and runs

    python -m rnnseq train --task TASK --train FILE --out DIR --max-steps 1
        --batch-size B --max-length T --threads N --no-progress

(the default architecture: embedding 100, BiLSTM 128 per direction, the tagger's
character CNN) in a fresh process: one full batch of B sequences of T tokens, forward,
backward and the optimizer step, then the folder written. Printed per row: the child's
peak resident memory (``ru_maxrss`` from ``os.wait4``), that peak minus the T=16 row's
(the cost of the length), the same per token of the batch (B * T), and CPU seconds.

It also prints the longest sequence of each shared dataset (``../shared/data``: UD
English EWT, CoNLL-2003, SST-2), which is what the task defaults of ``--max-length``
are chosen against (docs/RELIABILITY.md).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASETS = [  # (folder/file, task, format)
    ("ud_english_ewt/en_ewt-ud-train.conllu", "tag", "conllu"),
    ("ud_english_ewt/en_ewt-ud-dev.conllu", "tag", "conllu"),
    ("ud_english_ewt/en_ewt-ud-test.conllu", "tag", "conllu"),
    ("conll2003/eng.train", "tag", "conll"),
    ("conll2003/eng.testa", "tag", "conll"),
    ("conll2003/eng.testb", "tag", "conll"),
    ("sst2/sentiment-train", "classify", "tsv"),
    ("sst2/sentiment-dev", "classify", "tsv"),
    ("sst2/sentiment-test", "classify", "tsv"),
]


def find_shared_data() -> Path | None:
    for parent in [REPO, *REPO.parents]:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


def _env(threads: int) -> dict[str, str]:
    src = str(REPO / "src")
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": src if not path else f"{src}{os.pathsep}{path}",
        "OMP_NUM_THREADS": str(threads),
    }


def longest_sequences(data: Path) -> list[dict]:
    sys.path.insert(0, str(REPO / "src"))
    from rnnseq.data import read_dataset

    rows = []
    for name, task, fmt in DATASETS:
        if not (data / name).exists():
            continue
        lengths = sorted(len(e.tokens) for e in read_dataset(data / name, task, format=fmt))
        rows.append(
            {
                "file": name,
                "task": task,
                "sequences": len(lengths),
                "longest": lengths[-1],
                "p99.9": lengths[int(0.999 * (len(lengths) - 1))],
            }
        )
    return rows


def write_file(path: Path, task: str, length: int, batch: int) -> None:
    """``batch`` sequences of ``length`` tokens drawn from 5,000 words."""
    lines = []
    for b in range(batch):
        words = [f"w{(b * 7919 + i * 31) % 5000}" for i in range(length)]
        if task == "tag":
            lines += [f"{w} T{(i % 7)}" for i, w in enumerate(words)] + [""]
        else:
            lines.append(" ".join(words) + f"\t{'pos' if b % 2 else 'neg'}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def run(task: str, length: int, batch: int, threads: int, folder: Path) -> dict:
    name = "train.conll" if task == "tag" else "train.tsv"
    data = folder / name
    write_file(data, task, length, batch)
    out = folder / f"model-{task}-{length}"
    cmd = [
        sys.executable, "-m", "rnnseq", "train", "--task", task, "--train", str(data),
        "--out", str(out), "--max-steps", "1", "--batch-size", str(batch),
        "--max-length", str(length), "--threads", str(threads), "--no-progress",
        "--min-freq", "1",
    ]  # fmt: skip
    child = subprocess.Popen(
        cmd, env=_env(threads), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(child.pid, 0)
    err = child.stderr.read()
    child.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{err}")
    return {
        "task": task,
        "length": length,
        "batch": batch,
        "peak_mib": usage.ru_maxrss / 1024,
        "cpu_s": usage.ru_utime + usage.ru_stime,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tasks", nargs="+", default=["classify", "tag"])
    ap.add_argument("--lengths", nargs="+", type=int, default=[16, 256, 1024, 4096, 16384])
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", action="store_true", help="one JSON object per row")
    args = ap.parse_args()

    data = find_shared_data()
    if data is not None:
        for row in longest_sequences(data):
            print(json.dumps(row) if args.json else
                  f"{row['file']:40s} {row['task']:8s} {row['sequences']:7d} sequences, "
                  f"longest {row['longest']}, 99.9% <= {row['p99.9']}")  # fmt: skip
    lengths = sorted(set([16, *args.lengths]))
    with tempfile.TemporaryDirectory() as tmp:
        for task in args.tasks:
            base = None
            for length in lengths:
                row = run(task, length, args.batch_size, args.threads, Path(tmp))
                base = row["peak_mib"] if base is None else base
                row["over_16_mib"] = row["peak_mib"] - base
                row["kib_per_token"] = row["over_16_mib"] * 1024 / (length * args.batch_size)
                if args.json:
                    print(json.dumps(row), flush=True)
                else:
                    print(
                        f"{task:8s} T={length:6d} B={args.batch_size}: peak {row['peak_mib']:7.0f}"
                        f" MiB, +{row['over_16_mib']:6.0f} MiB over T=16"
                        f" ({row['kib_per_token']:.1f} KiB per token), {row['cpu_s']:.1f} CPU s",
                        flush=True,
                    )


if __name__ == "__main__":
    main()
