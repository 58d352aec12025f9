"""JSON Lines files: one JSON object per line -> ClassifyExample or TagExample.

- task "classify": ``{"text": "a fine film", "label": "pos"}``; the label may be
  a string or an integer (stored as its string, ``1`` -> ``"1"``); the text is
  split on whitespace.
- task "tag": ``{"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}``; both
  lists of non-empty strings of the same length.

Other keys (an ``"id"``, say) are ignored. Blank lines are skipped.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator

from rnnseq.data.errors import DataError
from rnnseq.data.examples import ClassifyExample, TagExample, builds_examples
from rnnseq.data.textfile import numbered_lines, read_text, stream_lines

__all__ = ["read_jsonl", "stream_jsonl"]


def _classify(obj: dict, name: str, number: int) -> ClassifyExample:
    text, label = obj.get("text"), obj.get("label")
    if not isinstance(text, str):
        raise DataError(name, number, f'expected "text" to be a string, got {_kind(text)}')
    if isinstance(label, bool) or not isinstance(label, (str, int)):
        raise DataError(
            name, number, f'expected "label" to be a string or an integer, got {_kind(label)}'
        )
    tokens, label = text.split(), str(label).strip()
    if not tokens:
        raise DataError(name, number, 'expected a text, got an empty "text"')
    if not label:
        raise DataError(name, number, 'expected a label, got an empty "label"')
    return ClassifyExample(tokens, label, number)


def _strings(obj: dict, key: str, name: str, number: int) -> list[str]:
    value = obj.get(key)
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise DataError(
            name, number, f'expected "{key}" to be a list of non-empty strings, got {_kind(value)}'
        )
    return value


def _tag(obj: dict, name: str, number: int) -> TagExample:
    tokens, tags = _strings(obj, "tokens", name, number), _strings(obj, "tags", name, number)
    if not tokens:
        raise DataError(name, number, 'expected at least one token, got an empty "tokens"')
    if len(tokens) != len(tags):
        raise DataError(
            name, number, f"expected one tag per token, got {len(tokens)} tokens, {len(tags)} tags"
        )
    return TagExample(tokens, tags, number)


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, list):
        kinds = sorted({type(v).__name__ for v in value})
        return f"a list of {'/'.join(kinds)}" if kinds else "an empty list"
    return f"{type(value).__name__} {str(value)[:30]!r}"


@builds_examples
def read_jsonl(path: str | os.PathLike[str], task: str) -> list[ClassifyExample] | list[TagExample]:
    """Read a JSON Lines file for ``task`` ("classify" or "tag").

    Raises:
        ValueError: ``task`` is neither (names ``task``).
        DataError: a line that is not a JSON object, misses a key, has values of
            the wrong type, or (tag) not one tag per token.
    """
    _maker(task)
    return list(_examples(os.fspath(path), numbered_lines(read_text(path)), task))


def stream_jsonl(path: str | os.PathLike[str], task: str) -> Iterator[ClassifyExample | TagExample]:
    """:func:`read_jsonl`'s examples one at a time, the file read in chunks (the same
    examples and the same errors, each raised when the reading gets there)."""
    _maker(task)
    return _examples(os.fspath(path), stream_lines(path), task)


def _maker(task: str):
    make = _MAKERS.get(task)
    if make is None:
        raise ValueError(f"task must be 'classify' or 'tag' for JSON Lines, got {task!r}")
    return make


def _examples(
    name: str, lines: Iterable[tuple[int, str]], task: str
) -> Iterator[ClassifyExample | TagExample]:
    """The examples of a JSON Lines file's numbered lines."""
    make = _maker(task)
    found = False
    for number, line in lines:
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except (ValueError, RecursionError) as e:  # JSONDecodeError is a ValueError
            reason = e.msg if isinstance(e, json.JSONDecodeError) else str(e).split("\n")[0]
            raise DataError(name, number, f"expected one JSON object per line: {reason}") from None
        if not isinstance(obj, dict):
            raise DataError(
                name, number, f"expected one JSON object per line, got a {type(obj).__name__}"
            )
        found = True
        yield make(obj, name, number)
    if not found:
        raise DataError(name, None, "no JSON objects found; expected one per line")


# The example each task reads from one JSON object.
_MAKERS = {"classify": _classify, "tag": _tag}
