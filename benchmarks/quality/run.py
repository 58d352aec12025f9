"""Train, select and test one public benchmark with the ``rnnseq`` command line.

    python benchmarks/quality/run.py ewt                  # UD English EWT, UPOS
    python benchmarks/quality/run.py conll2003 --set loss=ce --name conll2003_ce

Each dataset has a config file beside this script, ``<dataset>.conf``: one
``key = value`` per line, ``#`` starts a comment. The keys ``train``, ``dev`` and
``test`` name data files (relative to the data folder), ``metric`` the key of
``rnnseq evaluate --json`` that is reported and ``target`` the figure to reach;
``split = F`` cuts the one ``train`` file into its first F of characters (train)
and the rest (dev and test), as nanoGPT does. Every other key is an option of
``rnnseq train`` (``true`` = a flag). The run:

1. ``rnnseq train --train ... --dev ... --out RUN/model <options>`` (the best dev
   epoch is kept);
2. ``rnnseq evaluate --model RUN/model --data <test> --json``;
3. writes ``RUN/result.json``: the test scores, the figure against its target, the
   wall and CPU seconds of both steps, the load average before and after (the
   machine may be shared), and the exact commands.

Run it with a Python that has rnnseq's dependencies, ``.venv/bin/python`` once ``make
test`` has made it; any other Python is told so in one line (exit status 2).

RUN is ``runs/quality/<name>`` (``--runs`` to change). The data folder is the first
``shared/data`` found walking up from this file, else ``--data``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
FILE_KEYS = ("train", "dev", "test")
LOWER_IS_BETTER = ("loss", "perplexity")
RUN_KEYS = FILE_KEYS + ("metric", "target", "split")


def read_conf(path: Path) -> dict[str, str]:
    """``key = value`` lines, comments (``#``) and blank lines skipped; later keys win."""
    conf: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = (part.strip() for part in line.partition("="))
        if not sep or not key or not value:
            raise ValueError(f"{path}:{number}: expected 'key = value', got {raw.strip()!r}")
        conf[key] = value
    for key in ("train", "metric"):
        if key not in conf:
            raise ValueError(f"{path}: the key {key!r} is missing")
    return conf


def missing_dependencies(pyproject: Path = REPO / "pyproject.toml") -> list[str]:
    """The run-time dependencies of rnnseq (``pyproject.toml``'s ``dependencies``) that
    this Python cannot import. Read with a regular expression: ``tomllib`` is only in
    Python 3.11 and later."""
    text = pyproject.read_text(encoding="utf-8")
    block = re.search(r"^dependencies = \[(.*?)^\]", text, re.S | re.M)
    names = re.findall(r'"([A-Za-z0-9_.-]+)', block.group(1)) if block else []
    return [n for n in names if importlib.util.find_spec(n.lower().replace("-", "_")) is None]


def find_data(start: Path = HERE) -> Path | None:
    """The first ``shared/data`` folder in ``start`` or one of its parents."""
    for folder in (start, *start.parents):
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    return None


def split_text(source: Path, fraction: float, folder: Path) -> tuple[Path, Path]:
    """Write the first ``fraction`` of ``source``'s characters and the rest as two files
    (nanoGPT's split: ``data[:int(n * fraction)]`` and ``data[int(n * fraction):]``)."""
    text = source.read_text(encoding="utf-8")
    cut = int(len(text) * fraction)
    folder.mkdir(parents=True, exist_ok=True)
    head, tail = folder / f"{source.stem}.train.txt", folder / f"{source.stem}.val.txt"
    head.write_text(text[:cut], encoding="utf-8")
    tail.write_text(text[cut:], encoding="utf-8")
    return head, tail


def train_options(conf: dict[str, str]) -> list[str]:
    """The ``rnnseq train`` options of a config: ``--key value``, or ``--key`` for true."""
    args: list[str] = []
    for key, value in conf.items():
        if key in RUN_KEYS:
            continue
        if value == "true":
            args.append(f"--{key}")
        elif value != "false":
            args += [f"--{key}", value]
    return args


def timed(
    argv: list[str], env: dict, log: Path | None = None
) -> tuple[subprocess.CompletedProcess, dict]:
    """Run ``argv``; its wall seconds and the CPU seconds it used (user + system)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    if log is None:
        done = subprocess.run(argv, capture_output=True, text=True, env=env)
    else:
        with open(log, "w", encoding="utf-8") as handle:
            done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=handle, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return done, {"wall_s": round(wall, 1), "cpu_s": round(cpu, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", help="config name: <dataset>.conf beside this script")
    parser.add_argument("--data", type=Path, help="data folder (default: ../shared/data)")
    parser.add_argument("--runs", type=Path, default=Path("runs/quality"), help="runs folder")
    parser.add_argument("--name", help="run name (default: the dataset)")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config key, e.g. --set loss=ce (repeatable)",
    )
    args = parser.parse_args(argv)
    missing = missing_dependencies()
    if missing:
        here = Path.cwd().resolve() == REPO
        venv = Path(".venv/bin/python") if here else REPO / ".venv/bin/python"
        script = Path("benchmarks/quality/run.py") if here else Path(__file__).resolve()
        make = "make test" if here else f"make -C {shlex.quote(str(REPO))} test"
        again = shlex.join([str(venv), str(script), *sys.argv[1:]])
        print(
            f"run.py: this Python ({sys.executable}) lacks {', '.join(missing)}, which rnnseq "
            f"needs; `{make}` creates .venv with them (once), then run: {again}",
            file=sys.stderr,
        )
        return 2

    conf = read_conf(HERE / f"{args.dataset}.conf")
    for item in args.set:
        key, sep, value = item.partition("=")
        if not sep:
            parser.error(f"--set needs KEY=VALUE, got {item!r}")
        conf[key.strip()] = value.strip()
    data = args.data or find_data()
    if data is None:
        parser.error("no shared/data folder found above this script; give --data")
    run = args.runs / (args.name or args.dataset)
    run.mkdir(parents=True, exist_ok=True)

    files = {k: data / conf[k] for k in FILE_KEYS if k in conf}
    if "split" in conf:
        files["train"], files["dev"] = split_text(files["train"], float(conf["split"]), run)
        files["test"] = files["dev"]
    # Run this checkout's rnnseq, whatever the environment has installed.
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO / "src"), os.environ.get("PYTHONPATH")) if p
    )
    # glibc hands tensors over 32 MB back to the OS after every step and page-faults them
    # in again at the next (a 20 x 35 x 10,000 PTB logits tensor is 28 MB): keep them in
    # the heap. Measured on a PTB step: page faults 25,000 -> 470, CPU time 520 -> 230 ms.
    env.setdefault("MALLOC_MMAP_MAX_", "0")
    env.setdefault("MALLOC_TRIM_THRESHOLD_", str(1 << 32))
    env.setdefault("MALLOC_TOP_PAD_", str(1 << 28))
    rnnseq = [sys.executable, "-m", "rnnseq"]
    train = [*rnnseq, "train", "--train", str(files["train"])]
    if "dev" in files:
        train += ["--dev", str(files["dev"])]
    train += ["--out", str(run / "model"), "--overwrite", *train_options(conf)]
    evaluate = [*rnnseq, "evaluate", "--model", str(run / "model"), "--data", str(files["test"])]
    if "format" in conf:
        evaluate += ["--format", conf["format"]]
    evaluate.append("--json")

    load_before = os.getloadavg()
    print("$ " + shlex.join(train), flush=True)
    trained, train_time = timed(train, env, log=run / "train.log")
    if trained.returncode != 0:
        print((run / "train.log").read_text(encoding="utf-8")[-3000:], file=sys.stderr)
        return trained.returncode
    print("$ " + shlex.join(evaluate), flush=True)
    tested, eval_time = timed(evaluate, env)
    if tested.returncode != 0:
        print(tested.stderr, file=sys.stderr)
        return tested.returncode
    scores = json.loads(tested.stdout)
    metrics = json.loads((run / "model" / "metrics.json").read_text(encoding="utf-8"))

    value = scores[conf["metric"]]
    target = float(conf["target"]) if "target" in conf else None
    met = None
    if target is not None:
        met = value <= target if conf["metric"] in LOWER_IS_BETTER else value >= target
    result = {
        "dataset": args.dataset,
        "name": args.name or args.dataset,
        "metric": conf["metric"],
        "value": value,
        "target": target,
        "target_met": met,
        "test": scores,
        "best_epoch": metrics.get("best_epoch"),
        "epochs_run": len(metrics.get("epochs", [])),
        "dev_curve": [
            {k: v for k, v in e.items() if k in ("epoch", "train_loss", "dev_loss", "lr")}
            | {k: v for k, v in e.items() if k in ("dev_accuracy", "dev_span_f1", "seconds")}
            for e in metrics.get("epochs", [])
        ],
        "train": train_time,
        "evaluate": eval_time,
        "load_average_before": [round(x, 2) for x in load_before],
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
        "cpu_count": os.cpu_count(),
        "commands": [shlex.join(train), shlex.join(evaluate)],
        "config": conf,
    }
    (run / "result.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    summary = {k: result[k] for k in ("name", "metric", "value", "target", "target_met")}
    summary |= {"train_wall_s": train_time["wall_s"], "train_cpu_s": train_time["cpu_s"]}
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
