"""Reading a data file as UTF-8 text and walking its numbered lines.

Every reader starts here, so encoding problems are reported the same way everywhere,
as a :class:`DataError`:

- UTF-16 or UTF-32 text (told by its byte-order mark, or without one by the NUL
  bytes that ASCII characters leave in every second or fourth byte) is named as
  such, with what to do: save the file as UTF-8;
- invalid UTF-8 names its line and byte;
- a NUL byte names its line and byte (no text format holds NUL).

A UTF-8 byte-order mark at the start is dropped. A missing or unreadable file raises
the usual ``OSError`` (its message names the file).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from rnnseq.data.errors import DataError

__all__ = ["read_text", "decode", "check_head", "numbered_lines", "wide_encoding"]

_BOMS = (  # longest first: the UTF-32 LE mark starts with the UTF-16 LE one
    (b"\xff\xfe\x00\x00", "UTF-32LE"),
    (b"\x00\x00\xfe\xff", "UTF-32BE"),
    (b"\xff\xfe", "UTF-16LE"),
    (b"\xfe\xff", "UTF-16BE"),
)
_SAMPLE = 4096  # bytes looked at for the NUL pattern


def _zero_share(sample: bytes, width: int, offset: int) -> float:
    """Share of the ``width``-byte units of ``sample`` whose byte ``offset`` is NUL."""
    units = len(sample) // width
    return sample[offset : units * width : width].count(0) / units


def wide_encoding(data: bytes) -> str | None:
    """The encoding "UTF-16LE", "UTF-16BE", "UTF-32LE" or "UTF-32BE" when ``data``
    (a file's first bytes) is UTF-16 or UTF-32 text, else None.

    A byte-order mark decides. Without one, the NUL bytes decide: text of ASCII (or
    any BMP character below U+0100) in UTF-16 LE has a NUL in every odd byte and none
    in the even ones; UTF-32 LE has NULs in bytes 2 and 3 of every 4 (the mirror
    images for big-endian). A threshold of half the units leaves room for non-Latin
    characters; UTF-8 text, which holds no NUL, never matches.
    """
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name
    sample = data[:_SAMPLE]
    if 0 not in sample:
        return None
    if len(sample) >= 4:
        z = [_zero_share(sample, 4, k) for k in range(4)]
        if z[3] == 1 and z[2] >= 0.5 and z[0] < 0.5:
            return "UTF-32LE"
        if z[0] == 1 and z[1] >= 0.5 and z[3] < 0.5:
            return "UTF-32BE"
    if len(sample) >= 2:
        even, odd = _zero_share(sample, 2, 0), _zero_share(sample, 2, 1)
        if odd >= 0.5 and even < 0.1:
            return "UTF-16LE"
        if even >= 0.5 and odd < 0.1:
            return "UTF-16BE"
    return None


def _where(data: bytes, at: int) -> tuple[int, int]:
    """(line from 1, byte of that line from 1) of byte offset ``at``."""
    return data.count(b"\n", 0, at) + 1, at - (data.rfind(b"\n", 0, at) + 1) + 1


def _wide_error(data: bytes, path: str | os.PathLike[str]) -> None:
    wide = wide_encoding(data)
    if wide is not None:
        raise DataError(
            path,
            None,
            f"the file is {wide} text, not UTF-8: save it as UTF-8 "
            f"(e.g. iconv -f {wide} -t UTF-8 FILE > NEW)",
        )


def _nul_error(data: bytes, path: str | os.PathLike[str], first_line: int) -> None:
    at = data.find(b"\x00")
    if at >= 0:
        line, column = _where(data, at)
        raise DataError(
            path,
            first_line + line - 1,
            f"NUL byte at byte {column} of the line (byte offset {at} in the file); "
            "expected text, which never holds NUL (is the file binary?)",
        )


def check_head(data: bytes, path: str | os.PathLike[str]) -> None:
    """The checks of :func:`decode` that a file's first bytes allow (it may end inside
    a character): UTF-16/32 text and NUL bytes are a DataError."""
    _wide_error(data, path)
    _nul_error(data, path, 1)


def decode(data: bytes, path: str | os.PathLike[str], first_line: int = 1) -> str:
    """``data`` decoded as UTF-8, or the DataError that names what it is instead.

    Checked in this order: UTF-16/32 text (only when ``first_line`` is 1: it shows in
    the first bytes), invalid UTF-8, a NUL byte. ``first_line`` is the line number of
    ``data``'s first line, so that a chunk from the middle of a stream (a line of
    ``predict``'s input, say) names the right line. A UTF-8 byte-order mark at line 1
    is dropped.
    """
    if first_line == 1:
        _wide_error(data, path)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line, column = _where(data, e.start)
        raise DataError(
            path,
            first_line + line - 1,
            f"invalid UTF-8 byte 0x{data[e.start]:02x} at byte {column} of the line "
            f"(byte offset {e.start} in the file); expected UTF-8 text",
        ) from None
    _nul_error(data, path, first_line)
    return text.removeprefix("\ufeff") if first_line == 1 else text


def read_text(path: str | os.PathLike[str]) -> str:
    """The whole file decoded as UTF-8 (a leading byte-order mark is dropped).

    Line ends are kept as they are; :func:`numbered_lines` removes ``\\r\\n`` and ``\\n``.

    Raises:
        DataError: UTF-16 or UTF-32 text, invalid UTF-8 or a NUL byte (:func:`decode`).
        OSError: the file cannot be read.
    """
    return decode(Path(path).read_bytes(), path)


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
