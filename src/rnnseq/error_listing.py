"""The wrong examples of an evaluation, gold and predicted side by side
(``rnnseq evaluate --errors FILE``).

One block per example that has at least one wrong label, blocks separated by a
blank line, each opened by a ``#`` line that names the example (its number from 1,
and where it came from when the caller knows). Tagging:

    # sentence 2 (dev.conll:5): 2 of 4 tags wrong
    John    B-PER  B-PER
    lives   O      O
    in      O      B-LOC  *
    Paris   B-LOC  I-LOC  *

Classification:

    # example 7 (test.tsv:8)
    text       a thin plot , but great fun
    gold       positive
    predicted  negative

Tabs, newlines and other control characters in a token are written escaped
(``\\t``), so every token stays on its line.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path

__all__ = [
    "tagging_errors",
    "classification_errors",
    "write_tagging_errors",
    "write_classification_errors",
]

MARK = "*"  # ends the line of a wrong tag


def tagging_errors(
    tokens: Sequence[Sequence[str]],
    gold: Sequence[Sequence[str]],
    pred: Sequence[Sequence[str]],
    *,
    where: Sequence[str | None] | None = None,
) -> Iterator[str]:
    """One text block per sentence with a wrong tag (see the module docstring).

    ``tokens``, ``gold`` and ``pred`` hold one list per sentence, of equal lengths;
    ``where`` optionally names each sentence's origin (e.g. ``"dev.conll:5"``).
    """
    _check(len(tokens), gold, pred, where)
    for k, (words, g, p) in enumerate(zip(tokens, gold, pred, strict=True)):
        if not len(words) == len(g) == len(p):
            raise ValueError(
                f"sentence {k + 1}: {len(words)} tokens, {len(g)} gold and {len(p)} "
                "predicted tags; expected one tag of each per token"
            )
        wrong = sum(a != b for a, b in zip(g, p, strict=True))
        if not wrong:
            continue
        cells = [(_visible(w), a, b) for w, a, b in zip(words, g, p, strict=True)]
        w0 = max(len(c[0]) for c in cells)
        w1 = max(len(c[1]) for c in cells)
        w2 = max(len(c[2]) for c in cells)
        lines = [f"# sentence {k + 1}{_origin(where, k)}: {wrong} of {len(g)} tags wrong"]
        for word, a, b in cells:
            line = f"{word:<{w0}}  {a:<{w1}}  {b:<{w2}}"
            lines.append(f"{line}  {MARK}" if a != b else line.rstrip())
        yield "\n".join(lines)


def classification_errors(
    texts: Sequence[str],
    gold: Sequence[str],
    pred: Sequence[str],
    *,
    where: Sequence[str | None] | None = None,
) -> Iterator[str]:
    """One text block per wrongly classified example (see the module docstring)."""
    _check(len(texts), gold, pred, where)
    for k, (text, a, b) in enumerate(zip(texts, gold, pred, strict=True)):
        if a != b:
            yield (f"# example {k + 1}{_origin(where, k)}\n"
                   f"text       {_visible(text)}\ngold       {a}\npredicted  {b}")


def write_tagging_errors(path: str | os.PathLike[str], tokens, gold, pred, *,
                         where=None) -> int:
    """Write :func:`tagging_errors` to ``path``; returns the number of blocks written."""
    return _write(path, tagging_errors(tokens, gold, pred, where=where),
                  "tokens, gold tag, predicted tag; * marks a wrong tag")


def write_classification_errors(path: str | os.PathLike[str], texts, gold, pred, *,
                                where=None) -> int:
    """Write :func:`classification_errors` to ``path``; returns the number written."""
    return _write(path, classification_errors(texts, gold, pred, where=where),
                  "each wrongly classified example: its text, gold and predicted label")


def _write(path, blocks: Iterator[str], what: str) -> int:
    n = 0
    with Path(path).open("w", encoding="utf-8", newline="\n") as f:
        f.write(f"# rnnseq evaluate: {what}\n")
        for block in blocks:
            f.write("\n" + block + "\n")
            n += 1
        if not n:
            f.write("\n# no wrong example\n")
    return n


def _check(n: int, gold: Sequence, pred: Sequence, where) -> None:
    if not n == len(gold) == len(pred):
        raise ValueError(
            f"expected as many gold and predicted entries as inputs, got {n} inputs, "
            f"{len(gold)} gold and {len(pred)} predicted"
        )
    if where is not None and len(where) != n:
        raise ValueError(f"where must name every input, got {len(where)} for {n}")


def _origin(where, k: int) -> str:
    return f" ({where[k]})" if where is not None and where[k] else ""


def _visible(text: str) -> str:
    """Control characters (tab, newline, ...) escaped, so the block keeps its lines."""
    return "".join(repr(c)[1:-1] if not c.isprintable() and c != " " else c for c in text)
