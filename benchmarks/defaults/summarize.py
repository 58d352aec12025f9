"""One Markdown row per run folder of ``run_queue.py``: dev curve summary, CPU seconds, test.

    python benchmarks/defaults/summarize.py [RUN ...]      # default: runs/defaults/*

Columns: epochs run, best dev (span F1 for span tags, else accuracy) and its epoch,
training CPU seconds (metrics.json: the training steps of one thread, dev scoring
excluded) at the best epoch and in all, process CPU seconds (run.json: everything,
dev scoring included), the training CPU seconds at which dev accuracy first reached
0.93 / 0.94 / 0.95 (accuracy runs only), the test score, and the load average.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MARKS = (0.93, 0.94, 0.95)


def row(folder: Path) -> str | None:
    metrics = folder / "model" / "metrics.json"
    if not metrics.exists():
        return f"| {folder.name} | (no metrics yet) |"
    m = json.loads(metrics.read_text())
    run = json.loads((folder / "run.json").read_text()) if (folder / "run.json").exists() else {}
    ep = m["epochs"]
    key = "dev_span_f1" if "dev_span_f1" in ep[0] else "dev_accuracy"
    best = max(ep, key=lambda e: (e[key], e["dev_accuracy"]))
    marks = []
    for mark in MARKS:
        hit = next((e for e in ep if e["dev_accuracy"] >= mark), None)
        reached = f"{hit['cpu_seconds']:.0f}" if hit else "no"
        marks.append("-" if key != "dev_accuracy" else reached)
    test = run.get("test", {})
    t = test.get("span_f1" if key == "dev_span_f1" else "accuracy")
    load = run.get("load_before"), run.get("load_after")
    loads = "/".join(f"{x[0]:.1f}" for x in load if x) or "-"
    curve = " ".join(f"{100 * e[key]:.1f}" for e in ep)
    return (
        f"| {folder.name} | {len(ep)} | {100 * best[key]:.2f} (ep {best['epoch']}) | "
        f"{best['cpu_seconds']:.0f} / {ep[-1]['cpu_seconds']:.0f} | {run.get('cpu_s', '-')} | "
        f"{' / '.join(marks)} | {'-' if t is None else f'{100 * t:.2f}'} | {loads} | {curve} |"
    )


def main() -> None:
    folders = [Path(a) for a in sys.argv[1:]] or sorted((REPO / "runs" / "defaults").iterdir())
    print(
        "| run | epochs | best dev (epoch) | train CPU s best / all | process CPU s | "
        "CPU s to 93/94/95 | test | load before/after | dev curve |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for f in folders:
        if f.is_dir():
            print(row(f))


if __name__ == "__main__":
    main()
