"""A language model's unit stream, read piece by piece in bounded memory.

The same units as :func:`rnnseq.data.text_reader.read_units`, in the same order,
with the same errors, without ever holding the whole text:

- ``unit="char"``: pieces of text (``str``) whose characters, concatenated, are
  the stream (``\\r\\n`` read as ``\\n``; a ``\\r`` ending a piece waits for the
  next one). Memory: one chunk, whatever the line lengths.
- ``unit="word"``: lists of words whose concatenation is the stream (each line's
  whitespace-separated words, then ``"<eos>"``). A word cut by a chunk boundary
  is carried to the next piece, so memory is one chunk plus the longest word: a
  2 GB line of ordinary words streams like any other text; a 2 GB run of
  characters without any whitespace is one 2 GB word and is held whole (as
  :func:`read_units` would hold it).

The checks of :func:`read_units` (no units at all) raise their :class:`DataError`
after the last piece, when the whole file has been seen.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

import numpy as np

from rnnseq.data.errors import DataError
from rnnseq.data.text_reader import EOS, UNITS
from rnnseq.data.textfile import CHUNK_BYTES, stream_text

__all__ = ["stream_units", "codepoints"]

_NEWLINE_AS_EOS = f" {EOS} "  # a line end is a separator and an <eos> word


def stream_units(
    path: str | os.PathLike[str],
    unit: str,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    on_bytes: Callable[[bytes], object] | None = None,
) -> Iterator[str] | Iterator[list[str]]:
    """The units of ``path`` in pieces: ``str`` pieces for "char", word lists for "word".

    Args:
        chunk_bytes, on_bytes: as in :func:`rnnseq.data.textfile.stream_text`.

    Raises:
        ValueError: unknown ``unit``.
        DataError: invalid UTF-8 (at the bad byte), or no units at all (at the end).
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    texts = stream_text(path, chunk_bytes=chunk_bytes, on_bytes=on_bytes)
    if unit == "char":
        return _chars(os.fspath(path), texts)
    return _words(os.fspath(path), texts)


def _chars(name: str, texts: Iterator[str]) -> Iterator[str]:
    seen_any = seen_text = False  # any character; any character that is not whitespace
    held_cr = False  # the previous piece ended with "\r": is it half of "\r\n"?
    for text in texts:
        seen_any = True
        if held_cr:
            text, held_cr = "\r" + text, False
        if "\r" in text:
            text = text.replace("\r\n", "\n")
            if text.endswith("\r"):
                text, held_cr = text[:-1], True
        if not seen_text and not text.isspace():
            seen_text = bool(text)
        if text:
            yield text
    if held_cr:
        yield "\r"
    if not seen_text:  # nothing to learn from newlines and spaces alone
        what = "only blank lines" if seen_any else "empty"
        raise DataError(name, None, f"the file is {what}; expected text")


def _words(name: str, texts: Iterator[str]) -> Iterator[list[str]]:
    cut: list[str] = []  # the parts of a word cut by piece boundaries
    n_lines = n_units = 0
    line_open = False  # characters after the last "\n": a last line without its end
    for text in texts:
        n_lines += text.count("\n")
        line_open = not text.endswith("\n")
        words = text.replace("\n", _NEWLINE_AS_EOS).split()
        if cut:
            if not words or text[0].isspace():
                words.insert(0, "".join(cut))
            elif len(words) == 1 and len(words[0]) == len(text):  # no whitespace at all
                cut.append(text)
                continue
            else:
                words[0] = "".join(cut) + words[0]
            cut = []
        if words and not text[-1].isspace():  # the last word may go on in the next piece
            cut = [words.pop()]
        if words:
            n_units += len(words)
            yield words
    last = ["".join(cut)] if cut else []
    if line_open:
        last.append(EOS)
        n_lines += 1
    if last:
        n_units += len(last)
        yield last
    if n_units == n_lines:  # nothing but <eos>
        raise DataError(name, None, "no words found; expected whitespace-separated words")


def codepoints(piece: str) -> np.ndarray:
    """The code points of ``piece``: uint8 when it is ASCII (a copy of its bytes), else uint32.

    Shape: (len(piece),).
    """
    if piece.isascii():
        return np.frombuffer(piece.encode("ascii"), dtype=np.uint8)
    return np.frombuffer(piece.encode("utf-32-le"), dtype="<u4")
