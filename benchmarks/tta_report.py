"""Tables and the picture of benchmarks/time_to_accuracy.py, made from its JSON curves.

A curve is a list of epochs, each with `score` (dev accuracy or span F1, a fraction),
`cpu_s` (CPU seconds of the process from its start until the score was known),
`train_cpu_s` (those of the training steps alone) and `wall_s` (since launch). The time
to a level is that of the first epoch whose score is at least the level; "—" where the
run never reached it.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import platform
import statistics
from pathlib import Path

LEVELS = {  # dev score levels of each dataset's table
    "ewt": (0.90, 0.93, 0.94, 0.95),
    "conll2003": (0.80, 0.85, 0.88, 0.90),
}
OWN_FRACTION = {"conll2003": 0.9}  # also: the time to this share of the run's best score
NAMES = {
    "defaults": "rnnseq, defaults",
    "tuned": "rnnseq, tuned config",
    "vectors": "rnnseq, defaults + pretrained vectors",
    "plain": "plain PyTorch loop",
    "flair": "Flair 0.15.1 ModelTrainer",
}
ORDER = list(NAMES)
TITLES = {"ewt": "UD English EWT (UPOS)", "conll2003": "CoNLL-2003 English NER"}
COLORS = {
    "defaults": "tab:blue",
    "tuned": "tab:green",
    "vectors": "tab:purple",
    "plain": "tab:gray",
    "flair": "tab:red",
}


def machine() -> dict:
    """The CPU, its count, Python and torch of the machine that ran the benchmark."""
    model = "unknown CPU"
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        torch = importlib.metadata.version("torch")
    except importlib.metadata.PackageNotFoundError:
        torch = "absent"
    return {
        "cpu": model,
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch,
    }


def load(folder: Path, dataset: str) -> list[dict]:
    """Every run of `dataset` in `folder`, in the table's order (variant, then seed)."""
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in folder.glob(f"{dataset}-*.json")]
    return sorted(runs, key=lambda r: (ORDER.index(r["variant"]), r["seed"]))


def first_reach(curve: list[dict], level: float) -> dict | None:
    """The first epoch whose score is at least `level` (None if none is)."""
    return next((e for e in curve if e["score"] >= level - 1e-12), None)


def best(curve: list[dict]) -> dict:
    """The first epoch with the run's best score."""
    top = max(e["score"] for e in curve)
    return first_reach(curve, top)


def _cell(epoch: dict | None, wall: bool = True) -> str:
    if epoch is None:
        return "—"
    text = f"{epoch['cpu_s']:.0f}"
    return text + (f" ({epoch['wall_s']:.0f})" if wall else "")


def _train_cell(epoch: dict | None) -> str:
    return "—" if epoch is None else f"{epoch['train_cpu_s']:.0f}"


def table(runs: list[dict]) -> str:
    """Two Markdown tables: seconds to each level (process CPU, and wall in brackets;
    then the training steps' CPU alone), with the ratio to Flair's time to its best."""
    dataset = runs[0]["dataset"]
    levels = LEVELS.get(dataset, (0.9,))
    flair = next((r for r in runs if r["variant"] == "flair"), None)
    flair_best = best(flair["curve"]) if flair else None
    own = OWN_FRACTION.get(dataset)
    head = ["variant", "seed", "epochs", "best dev (epoch)"]
    head += [f"{100 * x:g} %" for x in levels]
    if own:
        head.append(f"{100 * own:g} % of own best")
    if flair_best:
        head += [f"Flair's best ({100 * flair_best['score']:.2f} %)", "x less CPU than Flair"]
    train_head = head[:-1] if flair_best else head
    lines = [_row(head), _row(["---"] * len(head))]
    train_lines = [_row(train_head), _row(["---"] * len(train_head))]
    by_variant: dict[str, list[dict]] = {}
    for run in runs:
        by_variant.setdefault(run["variant"], []).append(run)
        curve = run["curve"]
        top = best(curve)
        cells = [NAMES.get(run["variant"], run["variant"]), str(run["seed"]), str(len(curve))]
        cells.append(f"{100 * top['score']:.2f} ({top['epoch']})")
        reached = [first_reach(curve, x) for x in levels]
        if own:
            reached.append(first_reach(curve, own * top["score"]))
        train_cells = cells + [_train_cell(e) for e in reached]
        cells += [_cell(e) for e in reached]
        if flair_best:
            hit = first_reach(curve, flair_best["score"])
            cells.append(_cell(hit))
            cells.append("—" if hit is None else f"{flair_best['cpu_s'] / hit['cpu_s']:.1f}")
            train_cells.append(_train_cell(hit))
        lines.append(_row(cells))
        train_lines.append(_row(train_cells))
    for variant, group in by_variant.items():
        if len(group) > 1:
            lines.append(_row(_mean_row(variant, group, levels, own, flair_best)))
    return (
        "CPU seconds of the training process from its start until the epoch's dev score "
        "was known (wall seconds in brackets):\n\n"
        + "\n".join(lines)
        + "\n\nCPU seconds of the training steps alone (no start-up, no dev evaluation):\n\n"
        + "\n".join(train_lines)
        + "\n"
    )


def _mean_row(variant: str, group: list[dict], levels, own, flair_best) -> list[str]:
    """Means over the seeds: the best score (± sd), and the CPU seconds to each level over
    the runs that reached it ("(k/n)" when only k of n did)."""
    n = len(group)
    tops = [best(r["curve"])["score"] for r in group]
    cells = [NAMES.get(variant, variant), f"mean of {n}", ""]
    cells.append(f"{100 * statistics.fmean(tops):.2f} ± {100 * statistics.stdev(tops):.2f}")
    targets = [[level] * n for level in levels]
    if own:
        targets.append([own * top for top in tops])
    if flair_best:
        targets.append([flair_best["score"]] * n)
    for levels_of_runs in targets:
        hits = [first_reach(r["curve"], x) for r, x in zip(group, levels_of_runs, strict=True)]
        got = [h["cpu_s"] for h in hits if h is not None]
        note = "" if len(got) == n else f" ({len(got)}/{n})"
        cells.append(f"{statistics.fmean(got):.0f}{note}" if got else "—")
    if flair_best:
        hits = [first_reach(r["curve"], flair_best["score"]) for r in group]
        ratios = [flair_best["cpu_s"] / h["cpu_s"] for h in hits if h is not None]
        cells.append(f"{statistics.fmean(ratios):.1f}" if ratios else "—")
    return cells


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def plot(runs: list[dict], path: Path) -> None:
    """Dev score (%) against process CPU seconds, one line per run, the levels dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dataset = runs[0]["dataset"]
    levels = LEVELS.get(dataset, ())
    fig, ax = plt.subplots(figsize=(8, 5), dpi=110)
    labelled = set()
    for run in runs:
        variant = run["variant"]
        xs = [e["cpu_s"] for e in run["curve"]]
        ys = [100 * e["score"] for e in run["curve"]]
        label = None if variant in labelled else NAMES.get(variant, variant)
        labelled.add(variant)
        ax.plot(xs, ys, marker="o", markersize=3, color=COLORS.get(variant), label=label, alpha=0.8)
    for level in levels:
        ax.axhline(100 * level, color="black", linewidth=0.5, linestyle="--", alpha=0.5)
    low = min(levels) if levels else 0.0
    scores = [100 * e["score"] for r in runs for e in r["curve"]]
    floor = 100 * low - 10  # early epochs below this are cut off, unless nothing is above
    bottom = max(min(scores), floor) if max(scores) > floor + 1 else min(scores)
    top = max(max(scores), 100 * max(levels)) if levels else max(scores)
    ax.set_ylim(bottom - 0.5, top + 0.5)
    ax.set_xlim(left=0)
    metric = "accuracy" if runs[0]["metric"] == "accuracy" else "span F1"
    ax.set_xlabel("CPU seconds of the training process (1 thread), dev scored after each epoch")
    ax.set_ylabel(f"dev {metric} (%)")
    ax.set_title(f"Time to accuracy: {TITLES.get(dataset, dataset)}, dev set, 1 thread")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def into_docs(doc: Path, dataset: str, text: str) -> None:
    """Replace the text between this dataset's markers in `doc` (they must exist)."""
    begin, end = f"<!-- tta {dataset} begin -->", f"<!-- tta {dataset} end -->"
    page = doc.read_text(encoding="utf-8")
    if begin not in page or end not in page:
        raise SystemExit(f"{doc}: the markers {begin!r} and {end!r} are missing")
    head, rest = page.split(begin, 1)
    tail = rest.split(end, 1)[1]
    doc.write_text(head + begin + "\n" + text + end + tail, encoding="utf-8")
