"""``rnnseq predict`` as a stream: throughput and peak memory on a million lines.

    python benchmarks/predict_stream.py                          # 1M lines, both models
    python benchmarks/predict_stream.py --lines 100000 1000000   # memory against input size

Trains a tagger on a slice of UD English EWT and a classifier on a slice of SST-2
(from ``../shared/data``; generated demo data when it is absent), with the
default architecture and one quick epoch. It then writes N input lines by
repeating real sentences (EWT dev for the tagger, SST-2 dev for the classifier),
runs ``python -m rnnseq predict --model M -`` with the file on standard input,
reads everything it writes, and takes the child's peak resident memory
(``ru_maxrss`` from ``os.wait4``). A one-line run first gives the start-up cost
(interpreter, torch, model) and the memory floor.

Each row: lines/s and tokens/s over the whole run (start-up included), the peak
RSS of the predict process, and a check that one result came back per input.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def find_shared_data() -> Path | None:
    """``shared/data`` in the repository's folder or any folder above it."""
    for parent in REPO.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


def _env(threads: int, kernel_cache: int | None = None) -> dict[str, str]:
    src = str(REPO / "src")
    path = os.environ.get("PYTHONPATH")
    env = {
        **os.environ,
        "PYTHONPATH": src if not path else f"{src}{os.pathsep}{path}",
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    if kernel_cache is not None:  # else rnnseq predict's own bound applies
        env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = str(kernel_cache)
    return env


# --------------------------------------------------------------------------
# Data and models
# --------------------------------------------------------------------------


def _conllu_sentences(path: Path, limit: int | None) -> list[list[str]]:
    """Blocks of CoNLL-U lines (comments dropped), at most ``limit``."""
    blocks, block = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                if not line.startswith("#"):
                    block.append(line.rstrip("\n"))
            elif block:
                blocks.append(block)
                block = []
                if limit is not None and len(blocks) >= limit:
                    break
    return blocks


def _words(block: list[str]) -> str:
    return " ".join(line.split("\t")[1] for line in block if line.split("\t")[0].isdigit())


def prepare_data(work: Path, train_size: int) -> dict[str, dict]:
    """Training slices and the sentences to repeat, per task: {task: {train, format, lines}}."""
    shared = find_shared_data()
    if shared is not None:
        ewt, sst = shared / "ud_english_ewt", shared / "sst2"
        tag_train = work / "tag-train.conllu"
        blocks = _conllu_sentences(ewt / "en_ewt-ud-train.conllu", train_size)
        tag_train.write_text("".join("\n".join(b) + "\n\n" for b in blocks), encoding="utf-8")
        tag_lines = [_words(b) for b in _conllu_sentences(ewt / "en_ewt-ud-dev.conllu", None)]
        cls_train = work / "classify-train.tsv"
        with open(sst / "sentiment-train", encoding="utf-8") as f:
            cls_train.write_text("".join(itertools.islice(f, train_size)), encoding="utf-8")
        with open(sst / "sentiment-dev", encoding="utf-8") as f:
            cls_lines = [line.rsplit("\t", 1)[0].strip() for line in f if line.strip()]
        source = f"EWT and SST-2 from {shared}"
        names = {"tag": "tagger (EWT)", "classify": "classifier (SST-2)"}
    else:
        sys.path.insert(0, str(REPO / "src"))
        from rnnseq.data import demo_sentiment, demo_tagging

        tag_train, cls_train = work / "tag-train.jsonl", work / "classify-train.tsv"
        tags = demo_tagging(train_size, seed=1)
        tag_train.write_text(
            "".join(json.dumps({"tokens": e.tokens, "tags": e.tags}) + "\n" for e in tags)
        )
        reviews = demo_sentiment(train_size, seed=1)
        cls_train.write_text("".join(f"{' '.join(e.tokens)}\t{e.label}\n" for e in reviews))
        tag_lines = [" ".join(e.tokens) for e in demo_tagging(1000, seed=2)]
        cls_lines = [" ".join(e.tokens) for e in demo_sentiment(1000, seed=2)]
        source = "generated demo data (../shared/data not found)"
        names = {"tag": "tagger (demo)", "classify": "classifier (demo)"}
    print(f"data: {source}", file=sys.stderr)
    return {
        "tag": {"train": tag_train, "lines": [s for s in tag_lines if s], "name": names["tag"]},
        "classify": {
            "train": cls_train,
            "lines": [s for s in cls_lines if s],
            "name": names["classify"],
        },
    }


def train_model(task: str, train: Path, out: Path, threads: int, epochs: int) -> float:
    """Train with the default architecture (a quick run); return the seconds it took."""
    if (out / "model.safetensors").exists():
        return 0.0
    fmt = ["--format", "tsv"] if train.suffix == ".tsv" else []
    command = [sys.executable, "-m", "rnnseq", "train", "--task", task, "--train", str(train)]
    command += [*fmt, "--out", str(out), "--epochs", str(epochs), "--device", "cpu"]
    command += ["--threads", str(threads), "--no-progress", "--overwrite"]
    started = time.perf_counter()
    subprocess.run(command, check=True, env=_env(threads), stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def write_input(path: Path, sentences: list[str], n: int) -> int:
    """``n`` lines cycling through ``sentences``; returns the number of tokens."""
    tokens = 0
    with open(path, "w", encoding="utf-8") as f:
        for sentence in itertools.islice(itertools.cycle(sentences), n):
            f.write(sentence + "\n")
            tokens += len(sentence.split())
    return tokens


# --------------------------------------------------------------------------
# Measuring one predict run
# --------------------------------------------------------------------------


def run_predict(
    model: Path,
    inputs: Path,
    *,
    threads: int,
    device: str,
    batch_size: int,
    kernel_cache: int | None = None,
):
    """Run predict on ``inputs`` (as stdin); return (seconds, output lines, peak RSS MiB)."""
    command = [sys.executable, "-m", "rnnseq", "predict", "--model", str(model), "-"]
    command += ["--device", device, "--batch-size", str(batch_size)]
    with open(inputs, "rb") as stdin:
        started = time.perf_counter()
        env = _env(threads, kernel_cache)
        child = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE, env=env)
        newlines = 0
        while chunk := child.stdout.read(1 << 20):
            newlines += chunk.count(b"\n")
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"predict failed with exit status {child.returncode}")
    return seconds, newlines, usage.ru_maxrss / 1024  # Linux reports KiB


def _torch_version() -> str:
    done = subprocess.run(
        [sys.executable, "-c", "import torch; print(torch.__version__)"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip() or "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--lines",
        type=int,
        nargs="+",
        default=[1_000_000],
        metavar="N",
        help="input sizes to measure (default 1000000)",
    )
    parser.add_argument(
        "--tasks", nargs="+", default=["tag", "classify"], choices=["tag", "classify"]
    )
    parser.add_argument(
        "--work", type=Path, help="folder for models and inputs (default: temporary)"
    )
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default 1)")
    parser.add_argument("--device", default="cpu", help="predict --device (default cpu)")
    parser.add_argument("--batch-size", type=int, default=64, help="predict --batch-size")
    parser.add_argument("--train-size", type=int, default=2000, help="training sentences")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs (default 1)")
    parser.add_argument(
        "--kernel-cache",
        type=int,
        metavar="N",
        help="set ONEDNN_PRIMITIVE_CACHE_CAPACITY for predict (default: rnnseq's own, 64; "
        "1024 is oneDNN's default)",
    )
    parser.add_argument("--json", type=Path, help="also write the rows here as JSON")
    args = parser.parse_args(argv)

    work = args.work or Path(tempfile.mkdtemp(prefix="rnnseq-predict-stream-"))
    work.mkdir(parents=True, exist_ok=True)
    data = prepare_data(work, args.train_size)
    rows = []
    for task in args.tasks:
        model = work / f"{task}-model"
        seconds = train_model(task, data[task]["train"], model, args.threads, args.epochs)
        print(f"{task}: trained in {seconds:.0f} s -> {model}", file=sys.stderr)
        for n in [1, *args.lines]:
            inputs = work / f"{task}-{n}.txt"
            tokens = write_input(inputs, data[task]["lines"], n)
            seconds, newlines, rss = run_predict(
                model,
                inputs,
                threads=args.threads,
                device=args.device,
                batch_size=args.batch_size,
                kernel_cache=args.kernel_cache,
            )
            expected = n if task == "classify" else tokens + n  # tag: a blank line per input
            row = {
                "task": task,
                "model": data[task]["name"],
                "lines": n,
                "tokens": tokens,
                "seconds": round(seconds, 2),
                "lines_per_s": round(n / seconds),
                "tokens_per_s": round(tokens / seconds),
                "peak_rss_mib": round(rss),
                "complete": newlines == expected,
            }
            rows.append(row)
            print(json.dumps(row), file=sys.stderr)
            inputs.unlink()
    cache = "rnnseq's (64)" if args.kernel_cache is None else args.kernel_cache
    print(
        f"\nrnnseq predict, {args.threads} thread(s), device {args.device}, batch "
        f"{args.batch_size}, oneDNN kernel cache {cache}, python {sys.version.split()[0]}, "
        f"torch {_torch_version()}"
    )
    print(
        "| model | input lines | tokens | wall s | lines/s | tokens/s | peak RSS MiB | complete |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for r in rows:
        print(
            f"| {r['model']} | {r['lines']:,} | {r['tokens']:,} | {r['seconds']:.1f} | "
            f"{r['lines_per_s']:,} | {r['tokens_per_s']:,} | {r['peak_rss_mib']} | "
            f"{'yes' if r['complete'] else 'NO'} |"
        )
    if args.json:
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if all(r["complete"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
