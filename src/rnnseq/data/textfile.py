"""Reading a data file as UTF-8 text and walking its numbered lines.

Every reader starts here, so invalid UTF-8 is reported the same way everywhere:
as a :class:`DataError` naming the line and the byte. A missing or unreadable
file raises the usual ``OSError`` (its message names the file).

:func:`read_text` decodes the whole file at once; :func:`stream_text` decodes it
piece by piece in bounded memory (for corpora larger than memory) and agrees
with it exactly: the same text, the same first error with the same message.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from rnnseq.data.errors import DataError

__all__ = ["read_text", "stream_text", "numbered_lines", "CHUNK_BYTES"]

BOM = "\ufeff"
CHUNK_BYTES = 1 << 22  # bytes read at a time by stream_text (4 MiB)


def _invalid_utf8(path, line: int, column: int, byte: int, offset: int) -> DataError:
    """The one message for a byte that is not UTF-8 (column and offset count bytes)."""
    return DataError(
        path,
        line,
        f"invalid UTF-8 byte 0x{byte:02x} at byte {column} of the line "
        f"(byte offset {offset} in the file); expected UTF-8 text",
    )


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
        raise _invalid_utf8(path, line, column, data[e.start], e.start) from None
    return text.removeprefix(BOM)


def stream_text(
    path: str | os.PathLike[str],
    *,
    chunk_bytes: int = CHUNK_BYTES,
    on_bytes: Callable[[bytes], object] | None = None,
) -> Iterator[str]:
    """The file decoded as UTF-8, one piece per ``chunk_bytes`` bytes read.

    ``"".join(stream_text(p)) == read_text(p)`` and a file that is not UTF-8
    raises the same :class:`DataError` as :func:`read_text` (same line, byte and
    offset), once the pieces before the bad byte have been yielded. A character
    cut by a chunk boundary is carried to the next piece; a piece is never empty.

    Args:
        chunk_bytes: bytes read at a time (memory use is a few times this).
        on_bytes: called with every raw chunk as it is read, before decoding
            (a content hash, a progress bar); the chunks together are the file.
    """
    if chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be >= 1, got {chunk_bytes}")
    carry = b""  # the first bytes of a character cut by the chunk boundary
    offset = 0  # file offset of carry[0] (of data[0] below)
    lines_before = 0  # b"\n" before offset
    line_start = 0  # file offset where the line holding `offset` begins
    at_start = True  # nothing decoded yet: a byte-order mark may come
    with open(path, "rb") as f:
        while True:
            chunk = f.read(chunk_bytes)
            if chunk and on_bytes is not None:
                on_bytes(chunk)
            final = not chunk
            data = carry + chunk if carry else chunk
            try:
                text, used = codecs.utf_8_decode(data, "strict", final)
            except UnicodeDecodeError as e:
                line = lines_before + data.count(b"\n", 0, e.start) + 1
                newline = data.rfind(b"\n", 0, e.start)
                start = offset + newline + 1 if newline >= 0 else line_start
                at = offset + e.start
                raise _invalid_utf8(path, line, at - start + 1, data[e.start], at) from None
            lines_before += data.count(b"\n", 0, used)
            newline = data.rfind(b"\n", 0, used)
            if newline >= 0:
                line_start = offset + newline + 1
            carry, offset = data[used:], offset + used
            if at_start and text:
                at_start = False
                text = text.removeprefix(BOM)
            if text:
                yield text
            if final:
                return


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
