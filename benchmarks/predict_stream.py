"""``rnnseq predict`` as a tool: start-up, throughput against the earlier path, memory.

    python benchmarks/predict_stream.py --model runs/ewt3          # a trained EWT tagger
    python benchmarks/predict_stream.py                            # trains a quick one
    python benchmarks/predict_stream.py --quick                    # seconds: a smoke run

Three measurements, each of ``python -m rnnseq predict`` run as a child process with
one torch thread (``--threads 1``, ``OMP_NUM_THREADS=1``; ``--threads N`` for N); CPU
seconds are the child's user + system time (``os.wait4``), so other jobs on the machine
inflate the wall time far more than them:

1. **Start-up**: one input line, median of ``--repeat`` runs, with ``--pretokenized``
   and with the built-in tokenizer, for the training folder (the torch engine) and for
   the folder ``rnnseq export --onnx`` makes of it (the ONNX engine, which never
   imports torch; skipped without onnx and onnxruntime), with the load average; and
   where the time goes on each engine (interpreter, imports, loading the model, the
   first answer, the tokenizer's first call), measured step by step in a child.
2. **Throughput**: N lines of EWT dev sentences (words joined by spaces) through the
   earlier path — ``rnnseq predict`` of commit ``--baseline`` (default ec3c3b6, extracted
   with ``git archive`` into the work folder; whitespace tokens, float32) — and through
   this one: ``--pretokenized`` (the same tokens) in bfloat16 and in float32, and with
   the built-in tokenizer. Tokens per CPU-second and the ratio to the earlier path.
3. **One long line** (``--long N``): a single line of N tokens, peak memory.

Without ``--model`` a tagger is trained on the first ``--train-size`` sentences of
UD English EWT (``../shared/data``; generated demo data when it is absent) for
``--epochs`` epochs with the default architecture: throughput depends on the
architecture, not on how well it was trained.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def find_shared_data() -> Path | None:
    """``shared/data`` in the repository's folder or any folder above it."""
    for parent in REPO.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


THREADS = [1]  # torch threads of every child (--threads)


def _env(src: Path) -> dict[str, str]:
    threads = str(THREADS[0])
    return {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": threads,
            "MKL_NUM_THREADS": threads}  # fmt: skip


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3]) if Path(
        "/proc/loadavg").exists() else "?"  # fmt: skip


# --------------------------------------------------------------------------
# Data, models and the earlier code
# --------------------------------------------------------------------------


def _conllu_words(path: Path, limit: int | None = None) -> list[list[str]]:
    sentences, words = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                if words:
                    sentences.append(words)
                    words = []
                    if limit is not None and len(sentences) >= limit:
                        break
            elif not line.startswith("#"):
                parts = line.split("\t")
                if parts[0].isdigit():
                    words.append(parts[1])
    if words:
        sentences.append(words)
    return sentences


def prepare(work: Path, train_size: int) -> tuple[Path, list[str], str]:
    """(training file, input sentences, where they come from)."""
    shared = find_shared_data()
    if shared is not None:
        ewt = shared / "ud_english_ewt"
        train = work / "tag-train.jsonl"
        rows = _conllu_words(ewt / "en_ewt-ud-train.conllu", train_size)
        tags = _conllu_tags(ewt / "en_ewt-ud-train.conllu", train_size)
        train.write_text("".join(json.dumps({"tokens": w, "tags": t}) + "\n"
                                 for w, t in zip(rows, tags, strict=True)))  # fmt: skip
        lines = [" ".join(w) for w in _conllu_words(ewt / "en_ewt-ud-dev.conllu")]
        return train, lines, "UD English EWT (train for training, dev sentences as input)"
    sys.path.insert(0, str(REPO / "src"))
    from rnnseq.data import demo_tagging

    train = work / "tag-train.jsonl"
    train.write_text("".join(json.dumps({"tokens": e.tokens, "tags": e.tags}) + "\n"
                             for e in demo_tagging(train_size, seed=1)))  # fmt: skip
    lines = [" ".join(e.tokens) for e in demo_tagging(1000, seed=2)]
    return train, lines, "generated demo data (../shared/data not found)"


def _conllu_tags(path: Path, limit: int) -> list[list[str]]:
    out, tags = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                if tags:
                    out.append(tags)
                    tags = []
                    if len(out) >= limit:
                        break
            elif not line.startswith("#"):
                parts = line.split("\t")
                if parts[0].isdigit():
                    tags.append(parts[3])
    return out


def train_tagger(train: Path, out: Path, epochs: int, quick: bool) -> float:
    """Train with the default architecture (or a tiny one for --quick); the seconds."""
    if (out / "model.safetensors").exists():
        return 0.0
    command = [sys.executable, "-m", "rnnseq", "train", "--task", "tag", "--train", str(train)]
    command += ["--out", str(out), "--epochs", str(epochs), "--threads", "1", "--no-progress"]
    command += ["--overwrite", "--device", "cpu"]
    if quick:
        command += ["--hidden", "16", "--embedding-dim", "16"]
    started = time.perf_counter()
    subprocess.run(command, check=True, env=_env(REPO / "src"), stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def folder_for(earlier: Path, model: Path, work: Path) -> Path:
    """A copy of ``model`` that the earlier commit's code can load: its config.json
    without the training options added since (names absent from the earlier source),
    which only shape training and so do not change a prediction."""
    declared = ("training/config.py", "models/config.py", "objective.py")  # option fields
    known = "\n".join((earlier / "rnnseq" / name).read_text(encoding="utf-8")
                      for name in declared if (earlier / "rnnseq" / name).exists())  # fmt: skip
    copy = work / "earlier-model"
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(model, copy)
    config = json.loads((copy / "config.json").read_text())
    for section in config.get("training", {}).values():
        if isinstance(section, dict):
            for name in [k for k in section if f"\n    {k}: " not in known]:
                del section[name]
    (copy / "config.json").write_text(json.dumps(config, indent=2))
    return copy


def earlier_source(commit: str, work: Path) -> Path | None:
    """``src`` of ``commit``, extracted with ``git archive`` (read-only git); None when
    git or the commit is not available."""
    target = work / f"src-{commit}"
    if (target / "src" / "rnnseq").is_dir():
        return target / "src"
    target.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", commit, "src"],
                             capture_output=True)  # fmt: skip
    if archive.returncode != 0:
        print(f"no baseline: git archive {commit} failed: {archive.stderr.decode().strip()}",
              file=sys.stderr)  # fmt: skip
        return None
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target / "src"


# --------------------------------------------------------------------------
# Measuring one run
# --------------------------------------------------------------------------


def run_predict(src: Path, argv: list[str], stdin_path: Path) -> dict:
    """Run ``python -m rnnseq predict ARGV`` with the file on standard input; wall and
    CPU seconds, peak RSS (MiB), output lines."""
    command = [sys.executable, "-m", "rnnseq", "predict", *argv]
    with open(stdin_path, "rb") as stdin:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, env=_env(src))  # fmt: skip
        newlines = 0
        while chunk := child.stdout.read(1 << 20):
            newlines += chunk.count(b"\n")
        err = child.stderr.read()
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"predict failed: {' '.join(argv)}\n{err.decode()[-2000:]}")
    return {"wall": wall, "cpu": usage.ru_utime + usage.ru_stime,
            "rss": usage.ru_maxrss / 1024, "newlines": newlines}  # fmt: skip


_STEPS = textwrap.dedent(
    """
    import sys, time
    marks = [("interpreter", time.process_time(), time.perf_counter())]
    def mark(name):
        marks.append((name, time.process_time(), time.perf_counter()))
    import torch
    torch.set_num_threads(1)
    mark("import torch")
    import rnnseq.cli, rnnseq.inference, rnnseq.tasks.tag
    mark("import rnnseq")
    p = rnnseq.inference.Predictor.load(sys.argv[1], device="cpu")
    mark("load the model folder")
    "".join(p.predict_lines([sys.argv[2]], pretokenized=True))
    mark("first answer (pretokenized)")
    "".join(p.predict_lines([sys.argv[2]]))
    mark("tokenizer's first call (spaCy)")
    print(repr([(n, c, w) for n, c, w in marks]))
    """
)

_ONNX_STEPS = textwrap.dedent(
    """
    import sys, time
    marks = [("interpreter", time.process_time(), time.perf_counter())]
    def mark(name):
        marks.append((name, time.process_time(), time.perf_counter()))
    import rnnseq.cli, rnnseq.onnx_engine
    mark("import rnnseq (with NumPy)")
    import onnxruntime
    mark("import onnxruntime")
    p = rnnseq.onnx_engine.OnnxPredictor.load(sys.argv[1], threads=1)
    mark("load the model folder (session)")
    "".join(p.predict_lines([sys.argv[2]], chunk=1, pretokenized=True))
    mark("first answer (pretokenized)")
    "".join(p.predict_lines([sys.argv[2]], chunk=1))
    mark("tokenizer's first call (spaCy, no torch)")
    assert "torch" not in sys.modules
    print(repr([(n, c, w) for n, c, w in marks]))
    """
)


def startup_steps(model: Path, line: str, steps: str = _STEPS) -> list[tuple[str, float, float]]:
    """CPU and wall seconds of each start-up step, in a fresh child."""
    done = subprocess.run([sys.executable, "-c", steps, str(model), line], env=_env(REPO / "src"),
                          capture_output=True, text=True, check=True)  # fmt: skip
    marks = eval(done.stdout.strip().splitlines()[-1])  # noqa: S307 (our own child's repr)
    return [(marks[k][0], marks[k][1] - marks[k - 1][1] if k else marks[0][1],
             marks[k][2] - marks[k - 1][2] if k else 0.0) for k in range(len(marks))]


def export_onnx(model: Path, work: Path) -> Path | None:
    """``rnnseq export --onnx`` of ``model`` into ``work`` (None without onnxruntime)."""
    import importlib.util

    if importlib.util.find_spec("onnxruntime") is None or importlib.util.find_spec("onnx") is None:
        print("no ONNX start-up: onnx and onnxruntime are not installed", file=sys.stderr)
        return None
    out = work / "exported"
    if not (out / "model.onnx").exists():
        subprocess.run([sys.executable, "-m", "rnnseq", "export", "--model", str(model), "--out",
                        str(out), "--onnx", "--overwrite"], check=True, env=_env(REPO / "src"),
                       stdout=subprocess.DEVNULL)  # fmt: skip
    return out


def measure_startup(model: Path, exported: Path | None, one: Path, repeat: int) -> dict:
    """Median wall and CPU seconds of a one-line predict, per folder and tokenization,
    with the load average before each."""
    src = REPO / "src"
    folders = [("training folder, torch engine", model)]
    if exported is not None:
        folders.append(("exported folder, onnx engine", exported))
    out = {}
    for label, folder in folders:
        for name, extra in (("--pretokenized", ["--pretokenized"]), ("raw text", [])):
            load = _load()
            argv = ["--model", str(folder), "-", "--threads", "1", "--device", "cpu", *extra]
            runs = [run_predict(src, argv, one) for _ in range(repeat)]
            out[f"{label}: {name}"] = {
                **{k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu")},
                "load": load,
            }
    return out


def _bare_interpreter() -> float:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    _, _, usage = os.wait4(child.pid, 0)
    return usage.ru_utime + usage.ru_stime


# --------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, help="a trained tagger (default: train one)")
    parser.add_argument("--lines", type=int, default=20_000, help="input lines (default 20000)")
    parser.add_argument("--repeat", type=int, default=3, help="start-up runs (median)")
    parser.add_argument("--long", type=int, nargs="*", default=[], metavar="N",
                        help="also predict one line of N tokens (e.g. 1000000 2000000)")
    parser.add_argument("--baseline", default="ec3c3b6", help="earlier commit (default ec3c3b6)")
    parser.add_argument("--batch-size", type=int,
                        help="predict --batch-size of this code (default: its own; the earlier "
                        "path always runs with its own default)")  # fmt: skip
    parser.add_argument("--train-size", type=int, default=2000, help="training sentences")
    parser.add_argument("--epochs", type=int, default=1, help="training epochs")
    parser.add_argument("--work", type=Path, help="folder for models and inputs")
    parser.add_argument("--quick", action="store_true", help="a smoke run of seconds")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--startup-only", action="store_true",
                        help="measure the start-up only (no throughput, no long line)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads of every run (OMP_NUM_THREADS; default 1)")
    args = parser.parse_args(argv)
    THREADS[0] = args.threads
    if args.quick:
        args.lines, args.repeat, args.train_size = 300, 1, 200

    work = args.work or Path(tempfile.mkdtemp(prefix="rnnseq-predict-stream-"))
    work.mkdir(parents=True, exist_ok=True)
    train, sentences, source = prepare(work, args.train_size)
    model = args.model
    if model is None:
        model = work / "tagger"
        seconds = train_tagger(train, model, args.epochs, args.quick)
        print(f"trained {model} in {seconds:.0f} s ({args.epochs} epoch(s), "
              f"{args.train_size} sentences)", file=sys.stderr)  # fmt: skip
    load_before = _load()
    src = REPO / "src"
    figures: dict = {"model": str(model), "data": source, "load_before": load_before}

    # 1. start-up
    one = work / "one.txt"
    one.write_text("Obama visited Paris yesterday.\n")
    base = ["--model", str(model), "-", "--threads", str(args.threads), "--device", "cpu"]
    exported = export_onnx(model, work)
    startup = measure_startup(model, exported, one, args.repeat)
    figures["startup"] = startup
    figures["startup_steps"] = startup_steps(model, "Obama visited Paris yesterday.")
    if exported is not None:
        figures["startup_steps_onnx"] = startup_steps(exported, "Obama visited Paris yesterday.",
                                                      _ONNX_STEPS)  # fmt: skip
    if args.startup_only:
        figures["load_after"] = _load()
        _print_startup(figures, args, _bare_interpreter())
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2) + "\n")
        return 0
    earlier = earlier_source(args.baseline, work)
    earlier_model = model if earlier is None else folder_for(earlier, model, work)
    if earlier is not None:
        runs = [run_predict(earlier, ["--model", str(earlier_model), "-", "--device", "cpu"], one)
                for _ in range(args.repeat)]  # fmt: skip
        startup["earlier"] = {k: statistics.median(r[k] for r in runs) for k in ("wall", "cpu")}

    # 2. throughput
    inputs = work / "lines.txt"
    tokens = 0
    with open(inputs, "w", encoding="utf-8") as f:
        for line in itertools.islice(itertools.cycle(sentences), args.lines):
            f.write(line + "\n")
            tokens += len(line.split())
    batch = [] if args.batch_size is None else ["--batch-size", str(args.batch_size)]
    variants = []
    if earlier is not None:
        variants.append((f"earlier ({args.baseline}): whitespace, float32", earlier,
                         ["--model", str(earlier_model), "-", "--device", "cpu"]))  # fmt: skip
    variants += [
        ("now: --pretokenized, bfloat16 where native", src, [*base, *batch, "--pretokenized"]),
        ("now: --pretokenized --no-bf16", src, [*base, *batch, "--pretokenized", "--no-bf16"]),
        ("now: built-in tokenizer (default)", src, [*base, *batch]),
    ]
    rows = []
    for name, code, argv_ in variants:
        r = run_predict(code, argv_, inputs)
        r.update(name=name, tokens=tokens, lines=args.lines,
                 complete=r["newlines"] >= tokens + args.lines)  # fmt: skip
        rows.append(r)
        print(json.dumps({k: v for k, v in r.items()}), file=sys.stderr)
    figures["throughput"] = rows

    # 3. one long line
    long_rows = []
    for n in args.long:
        path = work / f"long-{n}.txt"
        words = itertools.cycle(" ".join(sentences).split())
        path.write_text(" ".join(itertools.islice(words, n)) + "\n")
        r = run_predict(src, [*base, *batch, "--pretokenized"], path)
        r.update(tokens=n, complete=r["newlines"] == n + 1)
        long_rows.append(r)
        path.unlink()
    figures["long"] = long_rows
    figures["load_after"] = _load()

    _print(figures, args, _bare_interpreter())
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0 if all(r["complete"] for r in rows + long_rows) else 1


def _print_startup(figures: dict, args, interpreter: float) -> None:
    print(f"model {figures['model']}; data: {figures['data']}")
    print(f"python {sys.version.split()[0]}, {args.threads} torch thread(s), load average "
          f"{figures['load_before']} before, {figures['load_after']} after")  # fmt: skip
    print("\nStart-up: `rnnseq predict` on one line (median of "
          f"{args.repeat}; CPU s = the child's user + system)")
    print("| run | wall s | CPU s | load average before |\n|---|---:|---:|---|")
    for name, r in figures["startup"].items():
        print(f"| {name} | {r['wall']:.2f} | {r['cpu']:.2f} | {r.get('load', '')} |")
    for key, title in (("startup_steps", "torch engine"), ("startup_steps_onnx", "onnx engine")):
        if key not in figures:
            continue
        print(f"\nWhere the start-up goes, {title} (one child, step by step)")
        print("| step | CPU s | wall s |\n|---|---:|---:|")
        for name, cpu, wall in figures[key]:
            print(f"| {name} | {cpu:.2f} | {wall:.2f} |")
    print(f"(a bare `python -c pass`: {interpreter:.2f} CPU s)")


def _print(figures: dict, args, interpreter: float) -> None:
    _print_startup(figures, args, interpreter)
    rows = figures["throughput"]
    batch = "each path's default" if args.batch_size is None else args.batch_size
    print(f"\nThroughput: {args.lines:,} lines, {rows[0]['tokens']:,} tokens, batch size "
          f"{batch}")  # fmt: skip
    print("| path | wall s | CPU s | tokens / CPU s | × earlier | × earlier, wall | "
          "peak RSS MiB | complete |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    first = rows[0]["tokens"] / rows[0]["cpu"]
    for r in rows:
        rate = r["tokens"] / r["cpu"]
        print(f"| {r['name']} | {r['wall']:.1f} | {r['cpu']:.1f} | {rate:,.0f} | "
              f"{rate / first:.2f} | {rows[0]['wall'] / r['wall']:.2f} | {r['rss']:.0f} | "
              f"{'yes' if r['complete'] else 'NO'} |")
    if figures["long"]:
        print("\nOne long line (--pretokenized)")
        print("| tokens | wall s | CPU s | peak RSS MiB | complete |\n|---:|---:|---:|---:|---|")
        for r in figures["long"]:
            print(f"| {r['tokens']:,} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['rss']:.0f} | "
                  f"{'yes' if r['complete'] else 'NO'} |")


if __name__ == "__main__":
    sys.exit(main())
