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

:func:`read_text` decodes a whole file at once; :func:`stream_text` decodes it piece
by piece in bounded memory (corpora larger than memory) and agrees with it exactly:
the same text, and the same error with the same message. :func:`stream_lines` is
``numbered_lines(read_text(path))`` read that way.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from rnnseq.data.errors import DataError

__all__ = [
    "read_text",
    "stream_text",
    "decode",
    "check_head",
    "numbered_lines",
    "stream_lines",
    "wide_encoding",
    "CHUNK_BYTES",
]

CHUNK_BYTES = 1 << 22  # bytes read at a time by stream_text (4 MiB)

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


def _nul(path: str | os.PathLike[str], line: int, column: int, at: int) -> DataError:
    return DataError(
        path,
        line,
        f"NUL byte at byte {column} of the line (byte offset {at} in the file); "
        "expected text, which never holds NUL (is the file binary?)",
    )


def _invalid_utf8(path, line: int, column: int, byte: int, at: int) -> DataError:
    return DataError(
        path,
        line,
        f"invalid UTF-8 byte 0x{byte:02x} at byte {column} of the line "
        f"(byte offset {at} in the file); expected UTF-8 text",
    )


def _nul_error(data: bytes, path: str | os.PathLike[str], first_line: int) -> None:
    at = data.find(b"\x00")
    if at >= 0:
        line, column = _where(data, at)
        raise _nul(path, first_line + line - 1, column, at)


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
        raise _invalid_utf8(path, first_line + line - 1, column, data[e.start], e.start) from None
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


def stream_text(
    path: str | os.PathLike[str],
    *,
    chunk_bytes: int = CHUNK_BYTES,
    on_bytes: Callable[[bytes], object] | None = None,
) -> Iterator[str]:
    """The file decoded as UTF-8, one piece per ``chunk_bytes`` bytes read.

    ``"".join(stream_text(p)) == read_text(p)``, and a file that is not UTF-8 text
    raises the DataError :func:`read_text` raises, with the same line, byte and
    offset: UTF-16/32 text before any piece (the first 4 KiB tell); invalid UTF-8
    at the bad byte, after the pieces before it; a NUL byte at the end of the file
    (whole-file decoding reports invalid UTF-8 anywhere before a NUL). A character
    cut by a chunk boundary is carried to the next piece; no piece is empty.

    Args:
        chunk_bytes: bytes read at a time (memory use is a few times this).
        on_bytes: called with every raw chunk as it is read, before decoding
            (a content hash, a progress bar); the chunks together are the file.
    """
    if chunk_bytes < 1:
        raise ValueError(f"chunk_bytes must be >= 1, got {chunk_bytes}")
    with open(path, "rb") as f:
        yield from _Decoder(path).pieces(_chunks(f, chunk_bytes, on_bytes))


def _chunks(f, chunk_bytes: int, on_bytes) -> Iterator[bytes]:
    """The file's chunks, the first one at least the wide-encoding sample long."""
    head = b""
    while len(head) < _SAMPLE and (chunk := f.read(chunk_bytes)):
        if on_bytes is not None:
            on_bytes(chunk)
        head += chunk
    yield head
    while chunk := f.read(chunk_bytes):
        if on_bytes is not None:
            on_bytes(chunk)
        yield chunk


class _Decoder:
    """UTF-8 decoding across chunks, keeping the file positions errors are named by."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = path
        self.offset = 0  # file offset of the first byte not yet decoded
        self.lines = 0  # b"\n" before offset
        self.line_start = 0  # file offset where the line holding `offset` starts
        self.nul: DataError | None = None  # the first NUL byte, reported at the end

    def pieces(self, chunks: Iterator[bytes]) -> Iterator[str]:
        carry = b""  # the first bytes of a character cut by the chunk boundary
        at_start = True  # no text yet: a byte-order mark may come
        for n, chunk in enumerate(chunks):
            if n == 0:  # the head: at least the first 4 KiB, or the whole file
                _wide_error(chunk, self.path)
            data = carry + chunk if carry else chunk
            text, used = self._decode(data, final=False)
            carry = data[used:]
            if at_start and text:
                at_start, text = False, text.removeprefix("\ufeff")
            if text:
                yield text
        text, _ = self._decode(carry, final=True)  # an unfinished character: an error
        if text:
            yield text
        if self.nul is not None:
            raise self.nul

    def _decode(self, data: bytes, *, final: bool) -> tuple[str, int]:
        try:
            text, used = codecs.utf_8_decode(data, "strict", final)
        except UnicodeDecodeError as e:
            line, column = self._where(data, e.start)
            at = self.offset + e.start
            raise _invalid_utf8(self.path, line, column, data[e.start], at) from None
        nul = data.find(b"\x00", 0, used)
        if nul >= 0 and self.nul is None:
            line, column = self._where(data, nul)
            self.nul = _nul(self.path, line, column, self.offset + nul)
        self.lines += data.count(b"\n", 0, used)
        newline = data.rfind(b"\n", 0, used)
        if newline >= 0:
            self.line_start = self.offset + newline + 1
        self.offset += used
        return text, used

    def _where(self, data: bytes, i: int) -> tuple[int, int]:
        """(line from 1, byte of the line from 1) of ``data[i]``, data at ``offset``."""
        newline = data.rfind(b"\n", 0, i)
        start = self.offset + newline + 1 if newline >= 0 else self.line_start
        return self.lines + data.count(b"\n", 0, i) + 1, self.offset + i - start + 1


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


def stream_lines(
    path: str | os.PathLike[str],
    *,
    chunk_bytes: int = CHUNK_BYTES,
    on_bytes: Callable[[bytes], object] | None = None,
) -> Iterator[tuple[int, str]]:
    """``numbered_lines(read_text(path))``, read :func:`stream_text`'s way: memory is a
    few chunks plus the longest line, and a decoding error is raised where the whole
    read raises it (at the first yielded line for UTF-16/32 text, at the end for a NUL).

    Args:
        chunk_bytes, on_bytes: as in :func:`stream_text`.
    """
    number = 0
    carry = ""  # the start of a line the previous piece cut
    for piece in stream_text(path, chunk_bytes=chunk_bytes, on_bytes=on_bytes):
        lines = piece.split("\n")
        lines[0] = carry + lines[0]
        carry = lines.pop()
        for line in lines:
            number += 1
            yield number, line.removesuffix("\r")
    if carry:
        yield number + 1, carry.removesuffix("\r")
