"""Run the training experiments listed in a queue file, one after another.

    python benchmarks/defaults/run_queue.py QUEUE [--runs runs/defaults]

Each line of QUEUE is ``NAME | rnnseq train options | test file (optional)``; ``#``
starts a comment, ``$EWT``, ``$CONLL`` and ``$STANDIN`` expand to the data folders
(environment variables). A runner claims a line by creating ``RUNS/NAME`` (mkdir is
atomic), so two runners can share one queue, and it re-reads the queue after every
run, so lines may be appended while it works. For each run it writes ``RUNS/NAME``:
``model/`` (the model folder), ``train.log`` (stderr), ``run.json`` (the command, wall
and CPU seconds of the process, the load average before and after, and the test
scores of ``rnnseq evaluate --json`` when a test file is given).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shlex
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("SHARED_DATA", "/work/shared/data"))
os.environ.setdefault("EWT", str(DATA / "ud_english_ewt"))
os.environ.setdefault("CONLL", str(DATA / "conll2003"))
os.environ.setdefault("STANDIN", str(REPO / "runs" / "standin"))


def entries(queue: Path) -> list[tuple[str, list[str], str | None]]:
    out = []
    for raw in queue.read_text().splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        parts = [p.strip() for p in line.split("|")]
        name, args = parts[0], shlex.split(os.path.expandvars(parts[1]))
        test = os.path.expandvars(parts[2]) if len(parts) > 2 and parts[2] else None
        out.append((name, args, test))
    return out


def cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def rnnseq(*args: str) -> list[str]:
    return [sys.executable, "-m", "rnnseq", *args]


def run_one(folder: Path, args: list[str], test: str | None) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    env.update(MALLOC_MMAP_MAX_="0", MALLOC_TRIM_THRESHOLD_="4294967296")
    model = folder / "model"
    cmd = rnnseq("train", *args, "--out", str(model), "--threads", "1", "--no-progress")
    record = {"command": shlex.join(cmd), "load_before": os.getloadavg()}
    wall, cpu = time.perf_counter(), cpu_children()
    with open(folder / "train.log", "w") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    record.update(
        rc=rc,
        wall_s=round(time.perf_counter() - wall, 1),
        cpu_s=round(cpu_children() - cpu, 1),
        load_after=os.getloadavg(),
    )
    if rc == 0 and test:
        ev = rnnseq("evaluate", "--model", str(model), "--data", test, "--json")
        for option in ("--format", "--column"):  # the test file is read as the training file
            value = [a for i, a in enumerate(args) if i and args[i - 1] == option]
            ev += [option, value[0]] if value else []
        done = subprocess.run(ev, capture_output=True, text=True, env=env)
        record["test_command"] = shlex.join(ev)
        if done.returncode == 0:
            scores = json.loads(done.stdout)
            record["test"] = {k: v for k, v in scores.items() if not isinstance(v, dict)}
        else:
            record["test_error"] = done.stderr[-2000:]
    (folder / "run.json").write_text(json.dumps(record, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("queue", type=Path)
    ap.add_argument("--runs", type=Path, default=REPO / "runs" / "defaults")
    a = ap.parse_args()
    a.runs.mkdir(parents=True, exist_ok=True)
    while True:
        for name, args, test in entries(a.queue):
            folder = a.runs / name
            try:
                folder.mkdir()
            except FileExistsError:
                continue
            print(f"{time.strftime('%H:%M:%S')} start {name}", flush=True)
            run_one(folder, args, test)
            print(f"{time.strftime('%H:%M:%S')} done {name}", flush=True)
            break
        else:
            return


if __name__ == "__main__":
    main()
