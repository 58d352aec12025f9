"""TSV and CSV files with a text column and a label column -> ClassifyExamples.

Which column is which:

- A first row is a header when it names a text column (one of ``TEXT_NAMES``,
  e.g. ``text`` or ``sentence``) and a label column (one of ``LABEL_NAMES``,
  e.g. ``label``), case-insensitively; it is then skipped and those columns are
  used. ``column="stars"`` names the label column of a header instead; the
  text is then the ``TEXT_NAMES`` column, or else the first other column.
- Without a header the text is the FIRST column and the label the LAST one,
  as in SST-2's ``text<TAB>label`` rows (a file whose first column is not the
  text, such as ``id,text,label``, needs its header row).

Every row must have as many fields as the first row. Text and label are
stripped of surrounding spaces (SST-2 puts one space before the tab), the text
is split on whitespace into tokens, and neither may be empty. Blank lines are
skipped. TSV fields are split on tabs with no quoting (SST-2 texts contain
quote characters); CSV follows the ``csv`` module's quoting rules.
"""

from __future__ import annotations

import contextlib
import csv
import io
import itertools
import os
import sys
from collections.abc import Iterable, Iterator

from rnnseq.data.errors import DataError
from rnnseq.data.examples import ClassifyExample, builds_examples
from rnnseq.data.textfile import numbered_lines, read_text, stream_lines, stream_text

__all__ = ["read_tsv", "read_csv", "stream_tsv", "stream_csv", "TEXT_NAMES", "LABEL_NAMES"]

TEXT_NAMES = ("text", "sentence", "review", "document", "content", "utterance", "tweet")
LABEL_NAMES = ("label", "labels", "sentiment", "class", "category", "target", "polarity")

Row = tuple[int, list[str]]  # (line number, fields)


def _columns(first: list[str], column: str | None) -> tuple[int, int] | None:
    """(text index, label index) when ``first`` is a header row, else None."""
    names = [field.strip().lower() for field in first]
    label_names = (column.lower(),) if column is not None else LABEL_NAMES
    label_at = next((i for i, n in enumerate(names) if n in label_names), None)
    text_at = next((i for i, n in enumerate(names) if n in TEXT_NAMES and i != label_at), None)
    if label_at is None or (text_at is None and column is None):
        return None
    if text_at is None:
        text_at = next(i for i in range(len(names)) if i != label_at)
    return text_at, label_at


def _examples(path: str, rows: Iterable[Row], column: str | None) -> Iterator[ClassifyExample]:
    rows = iter(rows)
    first = next(rows, None)
    if first is None:
        raise DataError(path, None, "no rows found; expected text and label columns")
    first_line, first_fields = first
    if len(first_fields) < 2:
        raise DataError(path, first_line, "expected a text and a label column, got 1 column")
    header = _columns(first_fields, column)
    if header is None and column is not None:
        raise DataError(
            path, first_line, f"expected a header row naming the column {column!r} (column=)"
        )
    text_at, label_at = header if header is not None else (0, len(first_fields) - 1)
    body = rows if header is not None else itertools.chain([first], rows)

    found = False
    for number, fields in body:
        if len(fields) != len(first_fields):
            raise DataError(
                path,
                number,
                f"expected {len(first_fields)} fields as on line {first_line}, got {len(fields)}",
            )
        tokens, label = fields[text_at].split(), fields[label_at].strip()
        if not tokens:
            raise DataError(path, number, "expected a text, got an empty one")
        if not label:
            raise DataError(path, number, "expected a label, got an empty one")
        found = True
        yield ClassifyExample(tokens, label, number)
    if not found:
        raise DataError(path, None, "no examples found after the header row")


@builds_examples
def read_tsv(path: str | os.PathLike[str], *, column: str | None = None) -> list[ClassifyExample]:
    """Read a tab-separated file (no quoting). See the module docstring for the columns."""
    return list(_tsv(os.fspath(path), numbered_lines(read_text(path)), column))


def stream_tsv(path: str | os.PathLike[str], *, column: str | None = None
               ) -> Iterator[ClassifyExample]:  # fmt: skip
    """:func:`read_tsv`'s examples one at a time, the file read in chunks (the same
    examples and the same errors, each raised when the reading gets there)."""
    return _tsv(os.fspath(path), stream_lines(path), column)


def _tsv(name: str, lines: Iterable[tuple[int, str]], column: str | None
         ) -> Iterator[ClassifyExample]:  # fmt: skip
    rows = ((number, line.split("\t")) for number, line in lines if line.strip())
    return _examples(name, rows, column)


@contextlib.contextmanager
def _large_fields():
    """Let the csv module read fields of any length (its default cap is 128 KiB)."""
    old = csv.field_size_limit()
    csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(old)


def _csv_rows(name: str, text: str | Iterable[str]) -> Iterator[Row]:
    """The non-blank rows of CSV ``text`` (a string, or its lines with their ends),
    each with the line it starts on."""
    reader = csv.reader(io.StringIO(text, newline="") if isinstance(text, str) else text)
    start = 1
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise DataError(name, reader.line_num, f"expected CSV fields: {e}") from None
        if any(field.strip() for field in fields):
            yield start, fields
        start = reader.line_num + 1


@builds_examples
def read_csv(path: str | os.PathLike[str], *, column: str | None = None) -> list[ClassifyExample]:
    """Read a comma-separated file (``csv`` quoting). See the module docstring for the columns."""
    name = os.fspath(path)
    text = read_text(path)
    with _large_fields():
        return list(_examples(name, _csv_rows(name, text), column))


def stream_csv(path: str | os.PathLike[str], *, column: str | None = None
               ) -> Iterator[ClassifyExample]:  # fmt: skip
    """:func:`read_csv`'s examples one at a time, the file read in chunks. The csv
    module is given the text's lines as :func:`read_csv` gives it the whole text, cut
    after each ``\\n`` (a lone ``\\r`` ends no line here, where a whole-text read
    takes it for a line end)."""
    name = os.fspath(path)
    with _large_fields():
        yield from _examples(name, _csv_rows(name, _line_pieces(path)), column)


def _line_pieces(path: str | os.PathLike[str]) -> Iterator[str]:
    """The file's text in lines that keep their ``\\n``, read in chunks."""
    carry = ""
    for piece in stream_text(path):
        lines = piece.split("\n")
        lines[0] = carry + lines[0]
        carry = lines.pop()
        for line in lines:
            yield line + "\n"
    if carry:
        yield carry
