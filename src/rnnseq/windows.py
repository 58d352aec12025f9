"""Long sequences cut into overlapping windows, so memory stays bounded.

A tagger reads a sequence of any length in windows of at most ``size + 2 *
context`` tokens: each window keeps the predictions of its middle ``size`` tokens
and reads ``context`` tokens on either side of them only for their context, so a
tag near a cut still sees the words around it. The kept parts tile the sequence
exactly once, in order:

    tokens    0 ......................................................... n
    window 1  [ keep 0..size )[ context ]
    window 2          [ context ][ keep size..2·size )[ context ]
    ...

A sequence of at most ``size + 2 * context`` tokens is one window, kept whole (no
cut). Tokens are pulled from an iterator as the windows need them, so at most one
window's tokens are held at a time.

    >>> [(w, a, b) for w, a, b in windows(iter("abcdefgh"), size=3, context=1)]
    [(['a', 'b', 'c', 'd'], 0, 3), (['c', 'd', 'e', 'f', 'g'], 1, 4), (['f', 'g', 'h'], 1, 3)]
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeVar

__all__ = ["windows", "SIZE", "CONTEXT"]

T = TypeVar("T")

# Tokens a tagging window keeps, and tokens of context it reads on each side. The
# context is far longer than the span of words a recurrent tagger's decision rests
# on in practice (docs/PERFORMANCE.md has the measured agreement with whole-line
# tagging); the size keeps a window's activations small.
SIZE = 512
CONTEXT = 64


def windows(tokens: Iterator[T], size: int = SIZE, context: int = CONTEXT
            ) -> Iterator[tuple[list[T], int, int]]:  # fmt: skip
    """``(items, keep_start, keep_end)`` per window: the window's tokens and the slice
    of them whose predictions it keeps. Nothing for an empty sequence.

    Raises:
        ValueError: size < 1 or context < 0.
    """
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    if context < 0:
        raise ValueError(f"context must be >= 0, got {context}")
    buf: list[T] = []
    done = False

    def fill(n: int) -> None:
        nonlocal done
        while len(buf) < n and not done:
            try:
                buf.append(next(tokens))
            except StopIteration:
                done = True

    fill(size + 2 * context + 1)
    if done:  # short enough for one window: kept whole
        if buf:
            yield buf, 0, len(buf)
        return
    keep = 0  # where the kept part starts in buf
    while True:
        fill(keep + size + context)
        if keep >= len(buf):
            return
        end = min(keep + size, len(buf))
        yield buf[: min(end + context, len(buf))], keep, end
        if done and end >= len(buf):
            return
        left = max(end - context, 0)
        del buf[:left]
        keep = end - left
