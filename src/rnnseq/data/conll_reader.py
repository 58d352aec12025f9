"""CoNLL/BIO column files (CoNLL-2003 style) -> one TagExample per sentence.

One token per line: the token in the first column, its tag in the LAST column,
any columns between (part of speech, chunk) ignored. Columns are separated by
tabs when the line has a tab, else by runs of spaces. Blank lines separate
sentences. ``-DOCSTART-`` lines (document boundaries) are skipped and end the
current sentence, so the blank line after them makes no empty sentence. Every
token line must have as many columns as the first one.

Tags are returned as written: IOB1 (an entity may start with ``I-``), IOB2 and
IOBES are all accepted; converting schemes is the scorer's business.
"""

from __future__ import annotations

import os

from rnnseq.data.errors import DataError
from rnnseq.data.examples import TagExample
from rnnseq.data.textfile import numbered_lines, read_text

__all__ = ["read_conll"]

DOCSTART = "-DOCSTART-"


def _split(line: str) -> list[str]:
    if "\t" in line:
        return [part.strip() for part in line.split("\t")]
    return line.split()


def read_conll(path: str | os.PathLike[str]) -> list[TagExample]:
    """Read a CoNLL/BIO column file.

    Raises:
        DataError: a token line with fewer than 2 columns, with another column
            count than the first token line, or with an empty column.
    """
    name = os.fspath(path)
    sentences: list[TagExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    n_columns: int | None = None
    first_line = start = 0
    for number, line in numbered_lines(read_text(path)):
        parts = _split(line) if line.strip() else []
        if not parts or parts[0] == DOCSTART:  # sentence (or document) boundary
            if tokens:
                sentences.append(TagExample(tokens, tags, start))
                tokens, tags = [], []
            continue
        if n_columns is None:
            if len(parts) < 2:
                raise DataError(
                    name, number, f"expected a token and a tag column, got {len(parts)} column"
                )
            n_columns, first_line = len(parts), number
        if len(parts) != n_columns:
            raise DataError(
                name,
                number,
                f"expected {n_columns} columns as on line {first_line}, got {len(parts)}",
            )
        if not all(parts):
            raise DataError(name, number, "expected a value in every column, got an empty one")
        if not tokens:
            start = number
        tokens.append(parts[0])
        tags.append(parts[-1])
    if tokens:
        sentences.append(TagExample(tokens, tags, start))
    if not sentences:
        raise DataError(name, None, "no sentences found; expected 'token ... tag' lines")
    return sentences
