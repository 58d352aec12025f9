"""What a reader returns: one example of each task, as plain strings."""

from __future__ import annotations

import functools
import gc
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

__all__ = ["ClassifyExample", "TagExample", "builds_examples"]

F = TypeVar("F", bound=Callable)


def builds_examples(read: F) -> F:
    """Decorate a reader so that Python's cycle collector pauses while it builds examples.

    Examples hold no reference cycles (strings in lists in an example), so the pause
    frees nothing late; without it CPython walks every example built so far again and
    again as their number grows (docs/RELIABILITY.md has the measured gain on a million
    one-token sentences). The collector is restored as it was, also on an error.
    """

    @functools.wraps(read)
    def wrapper(*args, **kwargs):
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return read(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class ClassifyExample:
    """One sequence and its one label (sequence classification).

    tokens: the text split on whitespace; never empty.
    label: the class, as a string (a JSON integer label 1 becomes "1").
    line: the line of the source file it came from (None when generated), so
        later checks (a label never seen in training) can name file and line.
    """

    tokens: list[str]
    label: str
    line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class TagExample:
    """One sentence and one tag per token (sequence labeling).

    tokens: the words; never empty.
    tags: one tag per token, ``len(tags) == len(tokens)``.
    line: the source line of the sentence's first token (None when generated).
    source_tags: the tags as the file wrote them, when ``tags`` were rewritten into
        another span scheme (IOB2 -> IOBES for a model, say), so that messages can
        name tags in the user's scheme; None when ``tags`` are the file's own.
    """

    tokens: list[str]
    tags: list[str]
    line: int | None = field(default=None, compare=False)
    source_tags: list[str] | None = field(default=None, compare=False, repr=False)
