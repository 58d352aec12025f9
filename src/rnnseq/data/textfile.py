"""Reading a data file as UTF-8 text and walking its numbered lines.

Every reader starts here, so invalid UTF-8 is reported the same way everywhere:
as a :class:`DataError` naming the line and the byte. A missing or unreadable
file raises the usual ``OSError`` (its message names the file).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from rnnseq.data.errors import DataError

__all__ = ["read_text", "numbered_lines"]


def read_text(path: str | os.PathLike[str]) -> str:
    """The whole file decoded as UTF-8 (a leading byte-order mark is dropped).

    Line ends are kept as they are; :func:`numbered_lines` removes ``\\r\\n`` and ``\\n``.
    """
    data = Path(path).read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise DataError(
            path,
            line,
            f"invalid UTF-8 byte 0x{data[e.start]:02x} at byte {column} of the line "
            f"(byte offset {e.start} in the file); expected UTF-8 text",
        ) from None
    return text.removeprefix("\ufeff")


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """``(line number from 1, line without its end)`` for each line of ``text``.

    Lines end at ``\\n`` only (with an optional ``\\r`` before it), as a text editor
    counts them; a final line end does not start another line.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        yield number, line.removesuffix("\r")
