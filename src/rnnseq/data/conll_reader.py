"""CoNLL/BIO column files (CoNLL-2003 style) -> one TagExample per sentence.

One token per line: the token in the first column, its tag by default in the LAST
column, any columns between (part of speech, chunk) ignored. Columns are separated
by tabs when the first token line has a tab (a token may then hold spaces, a tag
column may not), else by runs of whitespace, in the whole file. Blank lines separate
sentences. ``-DOCSTART-`` lines (document boundaries) are skipped and end the
current sentence, so the blank line after them makes no empty sentence. Every
token line must have as many columns as the first one.

``column`` chooses another tag column, by number or by name. Numbers count from 1,
the token, as the CoNLL shared tasks, ``awk '{print $4}'`` and ``cut -f4`` do; the
files have no header, so the names are those of the shared-task layouts, told
apart by the number of columns:

=======  ==========================================  ===========================
columns  layout                                      names
=======  ==========================================  ===========================
2        token tag (CoNLL-2002 Spanish)              pos, chunk, ner, tag = 2
3        token POS tag (CoNLL-2000 chunk,            pos = 2; chunk, ner, tag = 3
         CoNLL-2002 Dutch NER)
4        token POS chunk NER (CoNLL-2003 English)    pos = 2, chunk = 3, ner = 4
5        token lemma POS chunk NER (CoNLL-2003       lemma = 2, pos = 3, chunk = 4,
         German)                                     ner = 5
=======  ==========================================  ===========================

``tag`` is always the last column and ``ne`` is another name for ``ner``; a file of
six or more columns takes numbers only.

Tags are returned as written: IOB1 (an entity may start with ``I-``), IOB2 and
IOBES are all accepted; converting schemes is the scorer's business.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

from rnnseq.data.errors import DataError
from rnnseq.data.examples import TagExample, builds_examples
from rnnseq.data.textfile import numbered_lines, read_text, stream_lines

__all__ = ["read_conll", "stream_conll", "column_index"]

DOCSTART = "-DOCSTART-"


_LAYOUTS = {  # number of columns -> {name: 1-based column}
    2: {"pos": 2, "chunk": 2, "ner": 2},
    3: {"pos": 2, "chunk": 3, "ner": 3},
    4: {"pos": 2, "chunk": 3, "ner": 4},
    5: {"lemma": 2, "pos": 3, "chunk": 4, "ner": 5},
}
_ALIASES = {"ne": "ner"}


def column_index(column: str | int | None, n_columns: int, where: str) -> int:
    """The 0-based index of the tag column ``column`` names in a file of ``n_columns``
    columns (None: the last). ``where`` ("eng.train:3") goes into the message.

    Raises:
        ValueError: a name the layout does not define, a number outside 2..n_columns.
    """
    if column is None:
        return n_columns - 1
    text = str(column).strip().lower()
    names = {**_LAYOUTS.get(n_columns, {}), "tag": n_columns}
    if text.isdigit():
        number = int(text)
        if 2 <= number <= n_columns:
            return number - 1
        if number == 1:
            why = "is the token"
        elif number == 0:
            why = "does not exist: columns count from 1, the token, as in cut -f"
        else:
            why = f"is past the file's {n_columns} columns"
        raise ValueError(
            f"{where}: column {column!r} {why}; the tags can be in columns 2 to {n_columns}"
        )
    key = _ALIASES.get(text, text)
    if key in names:
        return names[key] - 1
    known = ", ".join(f"{n} = {i}" for n, i in names.items())
    raise ValueError(
        f"{where}: column {column!r} is not a name of this {n_columns}-column layout "
        f"({known}); or give a number from 2 to {n_columns} (1 is the token, as in cut -f)"
    )


def _is_docstart(line: str) -> bool:
    return line.startswith(DOCSTART) and line.split(None, 1)[0] == DOCSTART


@builds_examples
def read_conll(
    path: str | os.PathLike[str], *, column: str | int | None = None
) -> list[TagExample]:
    """Read a CoNLL/BIO column file; the tags come from ``column`` (default: the last).

    Args:
        path: the file.
        column: a column number counted from 1 (the token), as ``"4"`` or 4, or a
            name of the file's layout: ``"pos"``, ``"chunk"``, ``"ner"``, ``"tag"``
            (see the module docstring); case-insensitive. None: the last column.

    Raises:
        ValueError: ``column`` names no tag column of the file (names ``column``,
            the file and its layout).
        DataError: a token line with fewer than 2 columns, with another column
            count than the first token line, or with an empty column; a tag column
            holding a space in a tab-separated file.
    """
    return list(_examples(os.fspath(path), numbered_lines(read_text(path)), column))


def stream_conll(
    path: str | os.PathLike[str], *, column: str | int | None = None
) -> Iterator[TagExample]:
    """:func:`read_conll`'s examples one at a time, the file read in chunks (the same
    examples and the same errors, each raised when the reading gets there)."""
    return _examples(os.fspath(path), stream_lines(path), column)


def _examples(
    name: str, lines: Iterable[tuple[int, str]], column: str | int | None
) -> Iterator[TagExample]:
    """The sentences of a CoNLL file's numbered lines."""
    found = False
    tokens: list[str] = []
    tags: list[str] = []
    n_columns: int | None = None
    tabs = False  # the separator, decided by the first token line
    first_line = start = tag_at = 0
    for number, line in lines:
        if not line.strip() or _is_docstart(line):  # sentence (or document) boundary
            if tokens:
                yield TagExample(tokens, tags, start)
                found, tokens, tags = True, [], []
            continue
        if n_columns is None:
            tabs = "\t" in line
        parts = [part.strip() for part in line.split("\t")] if tabs else line.split()
        if n_columns is None:
            if len(parts) < 2:
                raise DataError(
                    name, number, f"expected a token and a tag column, got {len(parts)} column"
                )
            n_columns, first_line = len(parts), number
            tag_at = column_index(column, n_columns, f"{name}:{number}")
        if len(parts) != n_columns:
            raise DataError(
                name,
                number,
                f"expected {n_columns} columns as on line {first_line}, got {len(parts)}",
            )
        if not all(parts):
            raise DataError(name, number, "expected a value in every column, got an empty one")
        if tabs and any(len(part.split()) != 1 for part in parts[1:]):
            bad = next(part for part in parts[1:] if len(part.split()) != 1)
            raise DataError(name, number, f"expected tag columns without spaces, got {bad!r}")
        if not tokens:
            start = number
        tokens.append(parts[0])
        tags.append(parts[tag_at])
    if tokens:
        yield TagExample(tokens, tags, start)
    elif not found:
        raise DataError(name, None, "no sentences found; expected 'token ... tag' lines")
