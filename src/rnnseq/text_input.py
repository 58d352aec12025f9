"""Raw input lines for prediction: decoded one at a time, and cut into tokens lazily.

``rnnseq predict`` reads one input per line. :func:`input_lines` decodes them as
UTF-8 one line at a time (an error names the line); :func:`line_tokens` gives the
tokens of a line with their character offsets into it, produced a piece of the
line at a time, so a line of millions of tokens is never held as a list of
tokens: the tokenizer sees at most ``piece`` characters at once, cut at
whitespace. Cutting there changes nothing: neither tokenizer puts whitespace
inside a token, and the built-in one (:mod:`rnnseq.data.tokenize`) tokenizes each
whitespace-separated stretch on its own.

The built-in tokenizer (spaCy's rules, imported on first use, about a second) is
only loaded when a line is tokenized with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from rnnseq.data.tokenize import Token

__all__ = ["CHUNK", "Token", "input_lines", "line_tokens", "is_blank", "strip_line_end"]

PIECE = 1 << 16  # characters tokenized at once
# Input lines read ahead of their answers: they go through the model together, sorted
# by length into batches (fewer when they hold many tokens). Many lines of each length
# fill batches of rows of one length (rnnseq.predict_batch.length_batches): 2048 -> 16384
# took EWT dev's tokens in such batches from 2% to 60%.
CHUNK = 1 << 14


def is_blank(line: str) -> bool:
    """A line with nothing but whitespace: its result is blank too."""
    return not line.strip()


def strip_line_end(line: str) -> str:
    """The line without its ``\\n`` or ``\\r\\n``."""
    if line.endswith("\n"):
        line = line[:-1]
        if line.endswith("\r"):
            line = line[:-1]
    return line


def line_tokens(line: str, *, pretokenized: bool, piece: int = PIECE
                ) -> Iterator[tuple[str, int, int]]:  # fmt: skip
    """The tokens of ``line`` in order, as ``(text, start, end)`` with ``line[start:end]
    == text`` (a :class:`~rnnseq.data.tokenize.Token`, or a plain tuple: read them by
    index, the hot path of ``rnnseq predict`` makes one per token).

    ``pretokenized``: split on whitespace only; else the built-in UD/PTB tokenizer
    (:func:`rnnseq.data.tokenize.tokenize`). At most about ``piece`` characters are
    tokenized at once (a stretch without whitespace longer than that is taken whole).
    """
    if pretokenized:
        split = _whitespace
    else:
        from rnnseq.data.tokenize import tokenize as split
    n, start = len(line), 0
    if n <= piece:  # the usual case: one piece, offsets as the tokenizer gives them
        yield from split(line)
        return
    while start < n:
        end = _cut(line, start + piece)
        for t in split(line[start:end]):
            yield (t[0], start + t[1], start + t[2])
        start = end


def _whitespace(text: str) -> list[tuple[str, int, int]]:
    """:func:`rnnseq.data.tokenize.pretokenized` as plain tuples, made faster:
    ``str.split`` (which splits at ``str.isspace``, as that one's pattern does) and each
    token found after the previous one."""
    words = text.split()
    out, at = [], 0
    if " ".join(words) == text:  # single spaces only: each word starts after the last
        for word in words:
            end = at + len(word)
            out.append((word, at, end))
            at = end + 1
        return out
    for word in words:
        start = text.find(word, at)
        at = start + len(word)
        out.append((word, start, at))
    return out


def _cut(line: str, at: int) -> int:
    """The first whitespace position at or after ``at`` (or the end of the line)."""
    if at >= len(line):
        return len(line)
    while at < len(line) and not line[at].isspace():
        at += 1
    return at


def input_lines(source: Iterable, name: str) -> Iterator[str]:
    """The lines of ``source`` (bytes, or str for a text stream), decoded one at a time,
    each without its line end.

    A line is what ends at ``\\n``, as the readers count them, so an error names the
    line a text editor shows. A UTF-8 byte-order mark on the first line is dropped.

    Raises:
        DataError: invalid UTF-8 (naming the line and byte), UTF-16 or UTF-32 input,
            or no line at all.
    """
    from rnnseq.data.errors import DataError
    from rnnseq.data.textfile import wide_encoding

    number = 0
    for number, data in enumerate(source, 1):  # noqa: B007 (number is used after the loop)
        if isinstance(data, bytes):
            if number == 1 and (encoding := wide_encoding(data)):
                raise DataError(name, None, f"the input is {encoding} text; save it as UTF-8")
            try:
                line = data.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(
                    name,
                    number,
                    f"invalid UTF-8 byte 0x{data[e.start]:02x} at byte {e.start + 1} of the "
                    "line; expected UTF-8 text",
                ) from None
        else:
            line = data
        if number == 1:
            line = line.removeprefix("\ufeff")
        yield strip_line_end(line)
    if number == 0:
        raise DataError(name, None, "no input; expected one input per line")
