"""Time to accuracy: CPU seconds until a tagger's dev score first reaches a level.

Each variant trains in its own process with one thread (OMP_NUM_THREADS=1, --threads 1),
one at a time, and its dev score is taken after every epoch:

  defaults  `rnnseq train --task tag` with nothing beyond the data, --out, --seed and
            --threads 1 (and --format conll where the file needs it): the epoch limit
            and patience are the ones train chooses from the data, so the run ends
            itself unless our stop rule (below) comes first
  tuned     `rnnseq train` with the tuned config (benchmarks/quality/<dataset>.conf),
            --epochs --max-epochs --patience 0
  vectors   the defaults with `--embeddings FILE` and nothing else (only when
            --embeddings is given)
  plain     the hand-written packed PyTorch loop, benchmarks/plain_tagger.py
  flair     Flair 0.15.1's ModelTrainer with its defaults on a comparable tagger
            (benchmarks/flair_tagger.py), in its own venv runs/flair-venv, which this
            script makes (torch 2.13.0 first, then the pinned benchmarks/flair-requirements.txt)

What is counted, the same for every variant: **the CPU seconds of the training process
from its start until that epoch's dev score is known** (user + system time: imports,
reading the data, building the model, all training epochs so far, every dev evaluation
so far and the checkpoints written). The curves also keep the CPU seconds of the
training steps alone (rnnseq's metrics.json `cpu_seconds`, which leaves out dev
evaluation; the plain loop and the Flair plugin time the same span) and the wall
seconds since launch. Plain and Flair read their own process time; for rnnseq this
script reads /proc/PID/stat (10 ms ticks) the moment a new epoch appears in metrics.json
(it polls every 50 ms; the error is the child's CPU time within that gap).

A run stops when the process has used --max-cpu CPU seconds, when dev has not reached
a new best for --flat epochs, or when it ends by itself; tuned and plain also after
--max-epochs epochs (Flair: its default, 100). Defaults and vectors are never given an
epoch count: it is theirs to choose.

SIGTERM to this script ends the run in progress as the stop rule would (its curve so far
is written, "stopped by hand"), then the script exits without further runs.

A result JSON records `definition`, the version of its variant's command line
(DEFINITION); --reuse keeps only results of the current one. Version 1 of defaults and
vectors passed `--epochs 20 --patience 0` (its results are kept in <results>/v1/).

    python benchmarks/time_to_accuracy.py                      # EWT and CoNLL-2003, all
    python benchmarks/time_to_accuracy.py --dataset ewt --only flair
    python benchmarks/time_to_accuracy.py --seeds 1 2 3 --reuse flair --docs  # the full run
    python benchmarks/time_to_accuracy.py --quick --results /tmp/tta  # smoke run

One JSON file per run, `<results>/<dataset>-<variant>-seed<N>.json` (docs/results/tta by
default; each run's own output and model folder stay in runs/tta); from all of them the
script draws `<results>/<dataset>.png`, writes the Markdown tables `<results>/<dataset>.md`
and, with --docs, puts them into docs/PERFORMANCE.md between that dataset's markers.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "quality"))
from run import find_data, read_conf, train_options  # noqa: E402

import tta_report  # noqa: E402

FLAIR_VENV = REPO / "runs" / "flair-venv"
FLAIR_PIN = HERE / "flair-requirements.txt"
TORCH = "torch==2.13.0"
POLL_S = 0.05
STOP_SIGNALS: list[int] = []  # set by SIGTERM: end the current run, keep its curve, stop


@dataclass(frozen=True)
class Dataset:
    name: str
    train: str
    dev: str
    metric: str  # the key of rnnseq's metrics.json epochs, without "dev_"
    format: str


DATASETS = {
    "ewt": Dataset(
        "ewt",
        "ud_english_ewt/en_ewt-ud-train.conllu",
        "ud_english_ewt/en_ewt-ud-dev.conllu",
        "accuracy",
        "conllu",
    ),
    "conll2003": Dataset(
        "conll2003", "conll2003/eng.train", "conll2003/eng.testa", "span_f1", "conll"
    ),
}
VARIANTS = ("defaults", "tuned", "vectors", "plain", "flair")
# The version of each variant's command line; a result of another version is not reused.
# defaults/vectors 2: no --epochs/--patience of ours (1 passed --epochs 20 --patience 0).
DEFINITION = {"defaults": 2, "tuned": 1, "vectors": 2, "plain": 1, "flair": 1}
OWN_LIMIT = ("defaults", "vectors")  # variants whose epoch count train chooses itself
SEEDED = ("defaults", "tuned", "vectors", "plain")  # Flair runs once (the first seed)


# --------------------------------------------------------------------------- runs


def rnnseq_command(variant, data, files, out, seed, args) -> list[str]:
    cmd = [sys.executable, "-m", "rnnseq", "train", "--task", "tag"]
    cmd += ["--train", str(files[0]), "--dev", str(files[1]), "--out", str(out)]
    cmd += ["--overwrite", "--no-progress"]
    if variant == "tuned":
        conf = read_conf(HERE / "quality" / f"{data.name}.conf")
        conf = {k: v for k, v in conf.items() if k not in ("epochs", "patience", "seed")}
        cmd += train_options(conf)
        cmd += ["--epochs", str(args.max_epochs), "--patience", "0"]
    elif data.format == "conll":
        cmd += ["--format", "conll"]
    if variant == "vectors":
        cmd += ["--embeddings", str(args.embeddings)]
    if variant != "tuned" and args.quick:  # a smoke run: the data-chosen limit is too long
        cmd += ["--epochs", str(args.max_epochs)]
    return cmd + ["--threads", "1", "--seed", str(seed)]


def plain_command(data, files, curve, seed, args) -> list[str]:
    cmd = [sys.executable, str(HERE / "plain_tagger.py"), str(files[0]), str(files[1])]
    cmd += ["--format", data.format, "--epochs", str(args.max_epochs), "--threads", "1"]
    return cmd + ["--seed", str(seed), "--curve", str(curve)]


def flair_command(data, files, curve, seed, args) -> list[str]:
    cmd = [str(FLAIR_VENV / "bin" / "python"), str(HERE / "flair_tagger.py"), data.name]
    cmd += [str(files[0]), str(files[1]), "--out", str(curve), "--seed", str(seed)]
    cmd += ["--threads", "1", "--max-cpu", str(args.max_cpu), "--flat", str(args.flat)]
    return cmd + (["--max-epochs", str(args.max_epochs)] if args.quick else [])


def proc_cpu(pid: int | None) -> float | None:
    """User + system CPU seconds of a process (from /proc/PID/stat); None once it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (OSError, TypeError):
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state is field 0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rnnseq_rows(folder: Path, metric: str, seen: int, pid: int | None) -> list[dict]:
    """The epochs of metrics.json after the first `seen`, each with the process CPU now."""
    try:
        epochs = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))["epochs"]
    except (OSError, ValueError, KeyError):
        return []
    cpu = proc_cpu(pid)
    return [
        {
            "epoch": e["epoch"],
            "score": e[f"dev_{metric}"],
            "train_cpu_s": e["cpu_seconds"],
            "cpu_s": None if cpu is None else round(cpu, 2),
            "train_wall_s": e["seconds"],
            "time": time.time(),
        }
        for e in epochs[seen:]
    ]


def curve_rows(curve: Path, seen: int) -> list[dict]:
    """Complete JSON lines of a curve file after the first `seen`."""
    try:
        text = curve.read_text(encoding="utf-8")
    except OSError:
        return []
    lines = text.split("\n")[:-1]  # the last piece may be a line still being written
    return [json.loads(line) for line in lines[seen:] if line.strip()]


def run_one(variant: str, data: Dataset, files, seed: int, args, work: Path) -> dict:
    """Train one variant in a subprocess, watch its epochs, stop it by our rule."""
    stem = work / f"{data.name}-{variant}-{seed}"
    out, curve, log_path = stem, stem.with_suffix(".jsonl"), stem.with_suffix(".log")
    shutil.rmtree(out, ignore_errors=True)  # never read an earlier run's metrics.json
    curve.unlink(missing_ok=True)
    if variant == "plain":
        cmd = plain_command(data, files, curve, seed, args)
    elif variant == "flair":
        cmd = flair_command(data, files, curve, seed, args)
    else:
        cmd = rnnseq_command(variant, data, files, out, seed, args)
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO / "src"), env.get("PYTHONPATH")) if p)
    env["FLAIR_CACHE_ROOT"] = str(REPO / "runs" / "flair-cache")
    load_before = os.getloadavg()
    print(f"[{data.name} {variant} seed {seed}] load average before: {_load(load_before)}")
    print("$ " + shlex.join(cmd), flush=True)
    usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    log = open(log_path, "w", encoding="utf-8")
    started = time.time()
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    rows: list[dict] = []
    best, bad, stop = float("-inf"), 0, None
    while stop is None:
        if variant in ("plain", "flair"):
            new = curve_rows(curve, len(rows))
        else:  # read before reaping: a zombie's /proc/PID/stat still holds its CPU times
            new = rnnseq_rows(out, data.metric, len(rows), proc.pid)
        finished = proc.poll() is not None
        for row in new:
            row["wall_s"] = round(row.pop("time") - started, 2)
            rows.append(row)
            if row["cpu_s"] is not None:
                _show(row)
            best, bad = (row["score"], 0) if row["score"] > best else (best, bad + 1)
            if row["cpu_s"] is not None and row["cpu_s"] >= args.max_cpu:
                stop = f"CPU budget of {args.max_cpu:g} s spent"
            elif bad >= args.flat:
                stop = f"no new best dev score for {args.flat} epochs"
            elif row["epoch"] >= args.max_epochs and variant not in ("flair", *OWN_LIMIT):
                stop = f"{args.max_epochs} epochs"
        if stop is None and STOP_SIGNALS and not finished:
            stop = "stopped by hand (SIGTERM to the benchmark): a partial curve"
        if finished and stop is None:
            stop = "the process ended"
            if variant not in ("plain", "flair"):  # epochs written after the last look
                for row in rnnseq_rows(out, data.metric, len(rows), None):
                    rows.append(row | {"wall_s": round(row.pop("time") - started, 2)})
        if stop is None:
            time.sleep(POLL_S)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    code = proc.wait()
    wall = time.time() - started
    log.close()
    usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    total_cpu = (usage1.ru_utime - usage0.ru_utime) + (usage1.ru_stime - usage0.ru_stime)
    for row in rows:
        if row["cpu_s"] is None:  # the process had ended: its whole CPU time, an upper bound
            row["cpu_s"], row["cpu_s_at_exit"] = round(total_cpu, 2), True
            _show(row)
    if not rows:
        tail = log_path.read_text(encoding="utf-8")[-3000:]
        raise SystemExit(f"{variant} (seed {seed}) ended with status {code}, no epoch:\n{tail}")
    load_after = os.getloadavg()
    print(f"  stopped: {stop}; load average after: {_load(load_after)}", flush=True)
    return {
        "dataset": data.name,
        "variant": variant,
        "definition": DEFINITION[variant],
        "seed": seed,
        "metric": data.metric,
        "command": shlex.join(cmd),
        "curve": rows,
        "stopped": stop,
        "process_cpu_s": round(total_cpu, 2),
        "process_wall_s": round(wall, 2),
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in load_after],
        "machine": tta_report.machine(),
        "quick": args.quick,
        "date": time.strftime("%Y-%m-%d"),
    }


def _show(row: dict) -> None:
    print(
        f"  epoch {row['epoch']:>3}  dev {row['score']:.4f}  CPU {row['cpu_s']:8.1f} s"
        f"  (training steps {row['train_cpu_s']:7.1f} s)  wall {row['wall_s']:8.1f} s",
        flush=True,
    )


def _load(load: tuple[float, float, float]) -> str:
    return ", ".join(f"{x:.2f}" for x in load) + f" ({os.cpu_count()} CPUs)"


# ------------------------------------------------------------------------- Flair


def flair_venv() -> None:
    """Make runs/flair-venv: torch 2.13.0 (the local CPU wheel) first, then Flair and its
    dependencies at the versions of benchmarks/flair-requirements.txt, with torch pinned
    so that pip can never replace it. Does nothing when the venv already matches."""
    python, pip = FLAIR_VENV / "bin" / "python", [str(FLAIR_VENV / "bin" / "python"), "-m", "pip"]
    marker = FLAIR_VENV / "tta-installed.txt"
    if marker.exists() and marker.read_text() == FLAIR_PIN.read_text():
        return
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(FLAIR_VENV)], check=True)
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
        constraints.write(TORCH + "\n")
    subprocess.run([*pip, "install", "-q", TORCH], check=True)
    cmd = [*pip, "install", "-q", "-c", constraints.name, "-r", str(FLAIR_PIN)]
    dry = subprocess.run([*cmd, "--dry-run"], check=True, capture_output=True, text=True)
    would = [line for line in dry.stdout.splitlines() if line.startswith("Would install")]
    if any(" torch-" in line for line in would):
        raise SystemExit(f"pip would replace torch: {would}")
    subprocess.run(cmd, check=True)
    marker.write_text(FLAIR_PIN.read_text())


def flair_freeze() -> str:
    python = str(FLAIR_VENV / "bin" / "python")
    return subprocess.run(
        [python, "-m", "pip", "freeze"], check=True, capture_output=True, text=True
    ).stdout


# -------------------------------------------------------------------------- main


def current(path: Path, variant: str) -> bool:
    """Whether `path` holds a result of the variant's current definition."""
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return result.get("definition", 1) == DEFINITION[variant]


def quick_files(data: Dataset, folder: Path, source: list[Path]) -> list[Path]:
    """The first 300 training and 100 dev sentences, for a smoke run in seconds."""
    files = []
    for path, keep in zip(source, (300, 100), strict=True):
        blocks = path.read_text(encoding="utf-8").split("\n\n")
        target = folder / f"quick-{path.name}"
        target.write_text("\n\n".join(blocks[:keep]) + "\n\n", encoding="utf-8")
        files.append(target)
    return files


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dataset", nargs="+", choices=list(DATASETS), default=list(DATASETS))
    ap.add_argument("--only", nargs="+", choices=VARIANTS, help="run these variants only")
    ap.add_argument("--seeds", type=int, nargs="+", default=[1], help="Flair: the first only")
    ap.add_argument(
        "--reuse",
        nargs="*",
        choices=VARIANTS,
        metavar="VARIANT",
        help="keep the runs whose JSON exists (of these variants only, if named)",
    )
    ap.add_argument("--results", type=Path, default=REPO / "docs" / "results" / "tta")
    ap.add_argument(
        "--max-epochs", type=int, default=20, help="tuned and plain: epochs (defaults: its own)"
    )
    ap.add_argument("--max-cpu", type=float, default=900.0, help="CPU seconds per run")
    ap.add_argument("--flat", type=int, default=5, help="epochs without a new best dev score")
    ap.add_argument("--embeddings", type=Path, help="pretrained vectors: adds 'vectors'")
    ap.add_argument("--data", type=Path, help="data folder (default: ../shared/data)")
    ap.add_argument("--docs", action="store_true", help="update docs/PERFORMANCE.md")
    ap.add_argument("--report-only", action="store_true", help="no runs: redraw, retable")
    ap.add_argument("--quick", action="store_true", help="tiny slices, 2 epochs, no Flair")
    args = ap.parse_args(argv)
    if args.quick:
        args.max_epochs, args.flat = min(args.max_epochs, 2), 2
    skip = {"vectors"} if args.embeddings is None else set()
    skip |= {"flair"} if args.quick else set()
    variants = args.only or [v for v in VARIANTS if v not in skip]
    if "vectors" in variants and args.embeddings is None:
        ap.error("the variant 'vectors' needs --embeddings FILE")
    data_root = args.data or find_data(HERE)
    if data_root is None:
        ap.error("no shared/data folder found above this script; give --data")
    args.results.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, lambda signum, frame: STOP_SIGNALS.append(signum))
    if "flair" in variants and not args.report_only:
        flair_venv()
        (args.results / "flair-pip-freeze.txt").write_text(flair_freeze(), encoding="utf-8")
    with tempfile.TemporaryDirectory(prefix="tta-") as tmp:
        # Model folders, curves and each run's log: kept in runs/tta (gitignored).
        work = Path(tmp) if args.quick else REPO / "runs" / "tta"
        work.mkdir(parents=True, exist_ok=True)
        for name in args.dataset:
            data = DATASETS[name]
            files = [data_root / data.train, data_root / data.dev]
            if args.quick:
                files = quick_files(data, work, files)
            for variant in [] if args.report_only else variants:
                for seed in args.seeds if variant in SEEDED else args.seeds[:1]:
                    path = args.results / f"{name}-{variant}-seed{seed}.json"
                    reuse = args.reuse is not None and (not args.reuse or variant in args.reuse)
                    if reuse and current(path, variant):
                        print(f"[{name} {variant} seed {seed}] reused: {path}")
                        continue
                    result = run_one(variant, data, files, seed, args, work)
                    path.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
                    if STOP_SIGNALS:
                        print("stopped by hand: no further runs, no report", flush=True)
                        return 1
            runs = tta_report.load(args.results, name)
            if runs:
                table = tta_report.table(runs)
                tta_report.plot(runs, args.results / f"{name}.png")
                (args.results / f"{name}.md").write_text(table, encoding="utf-8")
                print(table)
                if args.docs:
                    tta_report.into_docs(REPO / "docs" / "PERFORMANCE.md", name, table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
