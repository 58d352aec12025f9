"""A confusion matrix as a PNG picture (``rnnseq evaluate --confusion FILE.png``).

Rows are the gold classes, columns the predicted ones; each cell shows its count
(empty when 0) and is coloured by the share of its row, count / (row total), so a
rare class's mistakes show as clearly as a frequent one's. With more than
``max_classes`` classes (classify with many labels) only the ``max_classes`` with the
most gold examples are drawn, and the title says so.

matplotlib's object API (``Figure``, Agg canvas) is used, never pyplot, so the
caller's backend is left alone; matplotlib is imported on first use.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from rnnseq.evaluation import confusion_matrix

__all__ = ["class_order", "confusion_table", "save_confusion_png"]

_SPAN_PREFIX_ORDER = {"B": 0, "I": 1, "E": 2, "S": 3, "U": 3, "L": 2}


def class_order(labels: Sequence[str]) -> list[str]:
    """Labels in reading order: span tags grouped by type (B-LOC, I-LOC, B-MISC, ...),
    O last; any other label set sorted by name."""
    def span_key(label: str):
        prefix, _, kind = label.partition("-")
        return (kind, _SPAN_PREFIX_ORDER[prefix])

    rest = [label for label in labels if label != "O"]
    is_span = all(
        len(lab) > 2 and lab[1] == "-" and lab[0] in _SPAN_PREFIX_ORDER for lab in rest
    )
    if rest and is_span and "O" in labels:
        return sorted(rest, key=span_key) + ["O"]
    return sorted(labels)


def save_confusion_png(
    path: str | os.PathLike[str],
    gold: Sequence[str],
    pred: Sequence[str],
    *,
    max_classes: int = 30,
    title: str = "Confusion matrix",
) -> Path:
    """Draw the confusion matrix of flat label lists ``gold`` and ``pred`` to ``path``.

    Args:
        path: the PNG file to write (its folder must exist).
        gold, pred: one label per counted position (token or example), same length.
        max_classes: draw at most this many classes: those with the most gold
            examples (ties by name); the title then says "top K of N classes".
        title: the first line of the title.

    Returns the path written.
    """
    labels, counts, note = confusion_table(gold, pred, max_classes=max_classes)
    subtitle = f"{note}; {len(gold):,} counted; colour = share of the gold row"
    return _draw(Path(path), labels, counts, f"{title}\n{subtitle}")


def confusion_table(
    gold: Sequence[str], pred: Sequence[str], *, max_classes: int = 30
) -> tuple[list[str], list[list[int]], str]:
    """(labels, counts, note): what :func:`save_confusion_png` draws. The labels are all
    classes of gold and pred in :func:`class_order`, or, past ``max_classes``, the
    ``max_classes`` with most gold examples, most first; the note says which."""
    if len(gold) != len(pred):
        raise ValueError(
            f"gold and pred must have the same length, got {len(gold)} and {len(pred)}"
        )
    if max_classes < 1:
        raise ValueError(f"max_classes must be at least 1, got {max_classes}")
    support = Counter(gold)
    every = set(gold) | set(pred)
    if len(every) > max_classes:
        labels = sorted(every, key=lambda c: (-support[c], c))[:max_classes]
        note = f"top {max_classes} of {len(every)} classes by support"
    else:
        labels = class_order(sorted(every))
        note = f"{len(labels)} classes"
    return labels, confusion_matrix(gold, pred, labels), note


def _draw(path: Path, labels: list[str], counts: list[list[int]], title: str) -> Path:
    import matplotlib as mpl
    from matplotlib.figure import Figure

    n = len(labels)
    shares = [[c / (sum(row) or 1) for c in row] for row in counts]  # (n, n) row-normalised
    longest = max((len(lab) for lab in labels), default=1)
    cell = 0.46 if n <= 20 else 0.34  # inches per cell
    side = max(3.0, cell * n)
    margin = 0.6 + 0.075 * min(longest, 30)  # room for the tick labels
    fig = Figure(figsize=(side + margin + 1.4, side + margin + 0.9), dpi=100)
    ax = fig.add_subplot()
    image = ax.imshow(shares, cmap=mpl.colormaps["Blues"], vmin=0.0, vmax=1.0,
                      interpolation="nearest", aspect="equal")
    biggest = max((c for row in counts for c in row), default=0)
    digits = len(f"{biggest:,}")
    font = max(5.0, min(9.0, cell * 72 / (0.7 * digits)))  # a digit is ~0.6 em wide
    for i, row in enumerate(counts):
        for j, count in enumerate(row):
            if count:
                colour = "white" if shares[i][j] > 0.55 else "black"
                ax.text(j, i, f"{count:,}", ha="center", va="center", fontsize=font,
                        color=colour)
    shown = [lab if len(lab) <= 30 else lab[:29] + "…" for lab in labels]
    ax.set_xticks(range(n), shown, rotation=90 if longest > 3 else 0, fontsize=8)
    ax.set_yticks(range(n), shown, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    ax.set_title(title, fontsize=10)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the gold row")
    fig.savefig(path, format="png", bbox_inches="tight")
    return path
