"""Text renderings for the terminal: the explain table and the evaluation report."""

from __future__ import annotations

import math
import os
import sys

from rnnseq.inference import Explanation

__all__ = ["explanation_table", "evaluation_report", "use_colour"]


def use_colour(stream=sys.stdout) -> bool:
    """Colour when writing to a terminal, unless NO_COLOR is set (https://no-color.org)."""
    return stream.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _paint(text: str, p: float, colour: bool) -> str:
    if not colour:
        return text
    code = "32" if p >= 0.8 else "33" if p >= 0.4 else "31"  # green, yellow, red
    return f"\033[{code}m{text}\033[0m"


def explanation_table(expl: Explanation, *, colour: bool = False, task: str = "tag") -> str:
    """One row per step: input, true label, p_j of that label, L_j = -ln p_j; then Σ and mean."""
    label_head = "true label" if expl.labels_given else "predicted label"
    if task == "lm":
        label_head = "next unit"
    rows = [(s.input, s.label, f"{s.probability:.4f}", _loss_text(s.loss)) for s in expl.steps]
    shown_rows = [(_visible(a), _visible(b), c, d) for a, b, c, d in rows]
    heads = ("step", "input", label_head, "p_j", "L_j = -ln p_j")
    numbered = [(str(j + 1), *r) for j, r in enumerate(shown_rows)]
    widths = [max(len(h), *(len(r[i]) for r in numbered)) for i, h in enumerate(heads)]
    widths[1] = min(widths[1], 40)
    lines = [_row(heads, widths), _row(tuple("-" * w for w in widths), widths)]
    for r, step in zip(numbered, expl.steps, strict=True):
        cells = list(r)
        cells[1] = cells[1][: widths[1]]
        line = _row(tuple(cells), widths)
        lines.append(_paint(line, step.probability, colour))
    n = len(expl.steps)
    lines.append(_row(tuple("-" * w for w in widths), widths))
    label_width = sum(widths[:4]) + 2 * 3
    lines.append(f"{'sum  Σ_j L_j':>{label_width}}  {_loss_text(expl.total):>{widths[4]}}")
    lines.append(f"{f'mean over {n} step(s)':>{label_width}}  {_loss_text(expl.mean):>{widths[4]}}")
    return "\n".join(lines)


def _row(cells: tuple, widths: list[int]) -> str:
    left = [f"{c:<{w}}" for c, w in zip(cells[:3], widths[:3], strict=True)]
    right = [f"{c:>{w}}" for c, w in zip(cells[3:], widths[3:], strict=True)]
    return "  ".join(left + right).rstrip()


def _visible(text: str) -> str:
    return text.replace("\n", "\\n").replace("\t", "\\t") if text.strip() else repr(text)


def _loss_text(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.4f}"


def evaluation_report(result: dict, path: str) -> str:
    """A readable summary of ``rnnseq evaluate`` (the --json output holds the same)."""
    lines = [f"{path}: {result['n_examples']} examples, {result['n_tokens']} counted steps"]
    lines.append(f"  loss        {result['loss']:.4f} nats per step")
    if "perplexity" in result:
        lines.append(f"  perplexity  {result['perplexity']:.2f}")
    lines.append(f"  accuracy    {result['accuracy']:.4f}")
    if "macro_f1" in result:
        lines.append(f"  macro-F1    {result['macro_f1']:.4f}")
    if "span_f1" in result:
        lines.append(
            f"  span F1     {result['span_f1']:.4f}  ({result['tag_scheme']} tags, strict)"
        )
    per_class = result.get("per_class")
    if per_class:
        lines.append("")
        width = max(5, *(len(c) for c in per_class))
        lines.append(f"  {'class':<{width}}  precision  recall     F1  support")
        for name, r in per_class.items():
            lines.append(
                f"  {name:<{width}}  {r['precision']:9.4f}  {r['recall']:6.4f}  {r['f1']:5.4f}"
                f"  {r['support']:7d}"
            )
    return "\n".join(lines)
