"""Print the Markdown table of finished benchmark runs (``runs/quality/*/result.json``).

    python benchmarks/quality/summarize.py [--runs runs/quality]

One row per run: the test figure against its target, the best dev epoch, the wall and
CPU minutes of training and the load average when it started.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

PERCENT = ("accuracy", "span_f1", "macro_f1")


def figure(metric: str, value: float) -> str:
    return f"{100 * value:.2f}" if metric in PERCENT else f"{value:.4g}"


def row(result: dict) -> str:
    metric, target = result["metric"], result["target"]
    met = {True: "yes", False: "no", None: "-"}[result["target_met"]]
    train = result["train"]
    return (
        f"| {result['name']} | {metric} | {figure(metric, result['value'])} | "
        f"{'-' if target is None else figure(metric, target)} | {met} | "
        f"{result['best_epoch']} of {result['epochs_run']} | "
        f"{train['wall_s'] / 60:.1f} | {train['cpu_s'] / 60:.1f} | "
        f"{result['load_average_before'][1]:.1f} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=Path, default=Path("runs/quality"), help="runs folder")
    args = parser.parse_args(argv)
    print(
        "| run | metric (test) | ours | target | met | best dev epoch | train wall min | "
        "train CPU min | load (5 min avg) |"
    )
    print("|---|---|---:|---:|---|---|---:|---:|---:|")
    for path in sorted(args.runs.glob("*/result.json")):
        print(row(json.loads(path.read_text(encoding="utf-8"))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
