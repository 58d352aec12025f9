"""Text renderings for the terminal: the explain table and the evaluation report."""

from __future__ import annotations

import math
import os
import sys

from rnnseq.explanation import Explanation

__all__ = ["explanation_table", "evaluation_report", "entity_lines", "use_colour"]


def use_colour(stream=None) -> bool:
    """Colour only when ``stream`` (default: the current ``sys.stdout``) is a terminal,
    NO_COLOR is unset or empty (https://no-color.org) and TERM is not "dumb"."""
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    if isatty is None or not isatty():
        return False
    return not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"


def _paint(text: str, p: float, colour: bool) -> str:
    if not colour:
        return text
    code = "32" if p >= 0.8 else "33" if p >= 0.4 else "31"  # green, yellow, red
    return f"\033[{code}m{text}\033[0m"


def explanation_table(expl: Explanation, *, colour: bool = False) -> str:
    """The ``rnnseq explain`` table.

    One row per step j: its number, its input (a token, a character or, for classify,
    the whole text), the label scored (the true one when given, else the predicted
    one; lm: the next unit), p_j and L_j = -ln p_j; then Σ_j L_j and the mean over
    the steps, aligned under L_j. Inputs longer than 40 characters end in "…";
    whitespace and control characters are shown escaped. With ``colour``, rows are
    green (p_j >= 0.8), yellow (>= 0.4) or red.
    """
    label_head = expl.label_head or ("true label" if expl.labels_given else "predicted label")
    heads = ("step", "input", label_head, "p_j", "L_j = -ln p_j")
    rows = [
        (
            str(j + 1),
            _clip(_visible(s.input), _MAX_INPUT),
            _visible(s.label),
            f"{s.probability:.4f}",
            _loss_text(s.loss),
        )
        for j, s in enumerate(expl.steps)
    ]
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(heads)]
    rule = _row(tuple("-" * w for w in widths), widths)
    lines = [_row(heads, widths), rule]
    for r, step in zip(rows, expl.steps, strict=True):
        lines.append(_paint(_row(r, widths), step.probability, colour))
    lines.append(rule)
    span = sum(widths[:4]) + 2 * 3  # the first four columns and the gaps between them
    n = len(expl.steps)
    for name, value in (("sum  Σ_j L_j", expl.total), (f"mean over {n} step(s)", expl.mean)):
        lines.append(f"{name:>{span}}  {_loss_text(value):>{widths[4]}}")
    return "\n".join(lines)


_MAX_INPUT = 40  # characters of an input shown in the table


def _row(cells: tuple, widths: list[int]) -> str:
    """Step, input and label left-aligned; the numbers right-aligned; two spaces apart."""
    left = [f"{c:<{w}}" for c, w in zip(cells[:3], widths[:3], strict=True)]
    right = [f"{c:>{w}}" for c, w in zip(cells[3:], widths[3:], strict=True)]
    return "  ".join(left + right).rstrip()


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _visible(text: str) -> str:
    """Whitespace-only text as its repr (' ', '\\n'); otherwise control characters escaped."""
    if not text.strip():
        return repr(text)
    return "".join(repr(c)[1:-1] if not c.isprintable() else c for c in text)


def _loss_text(value: float) -> str:
    return "inf" if math.isinf(value) else f"{value:.4f}"


def entity_lines(result: dict) -> list[str]:
    """The span scores in conlleval's layout: overall, then one line per entity type.

    Percentages with 2 decimals as conlleval prints them (so the two can be compared
    line by line); the last column is the support, the number of gold spans (where
    conlleval prints the number of predicted spans)::

        entities (IOB1 tags, strict spans, as conlleval scores them)
                   overall: precision:  90.18%; recall:  89.36%; FB1:  89.77  support 5648
                       LOC: precision:  93.16%; recall:  92.66%; FB1:  92.91  support 1668
    """
    per_type = result["per_type"]
    support = sum(r["support"] for r in per_type.values())
    rows = [("overall", result["span_precision"], result["span_recall"], result["span_f1"],
             support)]
    rows += [(kind, r["precision"], r["recall"], r["f1"], r["support"])
             for kind, r in per_type.items()]
    width = max(17, *(len(row[0]) for row in rows))
    digits = len(str(max(row[4] for row in rows)))
    lines = [f"  entities ({result['tag_scheme']} tags, strict spans, as conlleval scores them)"]
    for name, p, r, f, n in rows:
        lines.append(
            f"  {name:>{width}}: precision: {100 * p:6.2f}%; recall: {100 * r:6.2f}%; "
            f"FB1: {100 * f:6.2f}  support {n:>{digits}}"
        )
    return lines


def evaluation_report(result: dict, path: str, loss_unit: str = "step") -> str:
    """A readable summary of ``rnnseq evaluate`` (the --json output holds the same):
    the scores, the entity block of span tags (:func:`entity_lines`), and the
    per-class (per-tag) precision, recall, F1 and support. ``loss_unit`` says what the
    loss is counted per ("step", or "example" for classify)."""
    lines = [f"{path}: {result['n_examples']} examples, {result['n_tokens']} counted steps"]
    lines.append(f"  loss        {result['loss']:.4f} nats per {loss_unit}")
    if "perplexity" in result:
        lines.append(f"  perplexity  {result['perplexity']:.2f}")
    lines.append(f"  accuracy    {result['accuracy']:.4f}")
    if "macro_f1" in result:
        lines.append(f"  macro-F1    {result['macro_f1']:.4f}")
    if "span_f1" in result:
        lines.append(
            f"  span F1     {result['span_f1']:.4f}  ({result['tag_scheme']} tags, strict)"
        )
    if result.get("per_type"):
        lines.append("")
        lines.extend(entity_lines(result))
    per_class = result.get("per_class")
    if per_class:
        lines.append("")
        width = max(5, *(len(c) for c in per_class))
        heads = ("precision", "recall", "F1", "support")
        lines.append(f"  {'class':<{width}}" + "".join(f"  {h:>9}" for h in heads))
        for name, r in per_class.items():
            cells = [f"{r['precision']:.4f}", f"{r['recall']:.4f}", f"{r['f1']:.4f}"]
            cells.append(str(r["support"]))
            lines.append(f"  {name:<{width}}" + "".join(f"  {c:>9}" for c in cells))
    return "\n".join(lines)
