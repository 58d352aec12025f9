"""CoNLL-U (Universal Dependencies) files -> one TagExample per sentence.

A sentence is a block of lines ended by a blank line. Lines starting with ``#``
are comments; every other line is one token with 10 tab-separated fields
``ID FORM LEMMA UPOS XPOS FEATS HEAD DEPREL DEPS MISC`` (or the fields that a
CoNLL-U Plus ``# global.columns = ...`` first line names). Only syntactic
words (integer IDs) are kept: multiword-token ranges (``19-20``) and empty
nodes (``8.1``) are skipped, as the standard UPOS evaluation does.

``_`` (CoNLL-U's "no value") in the tag field:

- UPOS: an error naming the line. UD gives every word a UPOS, so ``_`` there means
  the file is not annotated for it.
- every other field (XPOS, FEATS, LEMMA, DEPREL, DEPS, MISC, HEAD, CoNLL-U Plus
  columns): the tag ``"_"``, learned, predicted and scored like any other. It is
  the field's normal value for "none": FEATS ``_`` is a word without features
  (about a third of English EWT's words), XPOS ``_`` a treebank without
  language-specific tags. A file whose field is ``_`` on every word has nothing to
  learn or score, and is an error naming the field.

An empty field is never valid CoNLL-U (it writes ``_`` for nothing) and is an error.

The ``conllu`` package supplies the field names and the ID grammar; the lines
are split here, on tabs only, so that every error carries its line number
(``conllu`` reports none) and a field holding two spaces is not cut in two
(``conllu`` also splits on runs of spaces, which CoNLL-U does not allow).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from itertools import chain

from conllu.exceptions import ParseException
from conllu.parser import DEFAULT_FIELDS, parse_id_value

from rnnseq.data.errors import DataError
from rnnseq.data.examples import TagExample, builds_examples
from rnnseq.data.textfile import numbered_lines, read_text, stream_lines

__all__ = ["read_conllu", "stream_conllu"]

_ALIASES = {"upostag": "upos", "xpostag": "xpos"}
_GLOBAL_COLUMNS = "# global.columns ="
NO_VALUE = "_"


def _field_names(first_line: str, path: str) -> list[str]:
    """The file's field names, lowercased: CoNLL-U Plus's if declared, else the 10 standard ones."""
    if not first_line.startswith(_GLOBAL_COLUMNS):
        return list(DEFAULT_FIELDS)
    names = [name.lower() for name in first_line[len(_GLOBAL_COLUMNS) :].split()]
    names = [_ALIASES.get(name, name) for name in names]
    if "id" not in names or "form" not in names:
        raise DataError(path, 1, "expected global.columns to name at least ID and FORM")
    return names


@builds_examples
def read_conllu(path: str | os.PathLike[str], *, column: str = "upos") -> list[TagExample]:
    """Read a CoNLL-U file; the tags come from ``column`` (case-insensitive).

    Args:
        path: the file.
        column: the field that holds the tags: ``"upos"`` (default), ``"xpos"``,
            ``"deprel"``, ... any field of the file except ``id`` and ``form``.

    Raises:
        ValueError: ``column`` is not a field of the file (names ``column``).
        DataError: a token line has the wrong number of fields, a bad ID, an
            ID out of order, an empty field, or ``_`` (no value) as UPOS; a tag
            field that is ``_`` on every word.
    """
    return list(_examples(os.fspath(path), numbered_lines(read_text(path)), column))


def stream_conllu(path: str | os.PathLike[str], *, column: str = "upos") -> Iterator[TagExample]:
    """:func:`read_conllu`'s examples one at a time, the file read in chunks (the same
    examples and the same errors, each raised when the reading gets there)."""
    return _examples(os.fspath(path), stream_lines(path), column)


def _examples(name: str, lines: Iterable[tuple[int, str]], column: str) -> Iterator[TagExample]:
    """The sentences of a CoNLL-U file's numbered lines."""
    lines = iter(lines)
    first = next(lines, None)
    fields = _field_names("" if first is None else first[1], name)
    if first is not None:
        lines = chain([first], lines)
    key = _ALIASES.get(column.lower(), column.lower())
    if key not in fields or key in ("id", "form"):
        allowed = ", ".join(f for f in fields if f not in ("id", "form"))
        raise ValueError(f"column must be a CoNLL-U field ({allowed}), got {column!r}")
    n_fields, form_at, tag_at = len(fields), fields.index("form"), fields.index(key)

    found = False
    tokens: list[str] = []
    tags: list[str] = []
    expected_id = start = 1
    any_value = False
    for number, line in lines:
        if not line.strip():  # end of a sentence
            if tokens:
                yield TagExample(tokens, tags, start)
                found, tokens, tags = True, [], []
            expected_id = 1
            continue
        if line.startswith("#"):
            continue
        parts = line.split("\t")
        word_id = line_id(parts, n_fields, name, number)
        if isinstance(word_id, tuple):  # multiword-token range or empty node
            continue
        if word_id != expected_id:
            raise DataError(name, number, f"expected word ID {expected_id}, got {word_id}")
        form, tag = parts[form_at], parts[tag_at]
        if not form:
            raise DataError(name, number, "expected a FORM, got an empty field")
        if not tag:
            raise DataError(
                name, number, f"expected a {key.upper()} value, got an empty field ('_' is none)"
            )
        if tag == NO_VALUE and key == "upos":
            raise DataError(
                name,
                number,
                "expected a UPOS tag, got '_' (UD gives every word one: is the file "
                "annotated? another field can be chosen with column)",
            )
        any_value = any_value or tag != NO_VALUE
        if not tokens:
            start = number
        tokens.append(form)
        tags.append(tag)
        expected_id += 1
    if tokens:
        found = True
        yield TagExample(tokens, tags, start)
    if not found:
        raise DataError(name, None, "no sentences found; expected CoNLL-U token lines")
    if not any_value:
        raise DataError(
            name,
            None,
            f"the {key.upper()} field is '_' (no value) on every word: nothing to learn or "
            "score; choose another field (column)",
        )


def line_id(parts: list[str], n_fields: int, name: str, number: int):
    """The ID of a token line split into its tab-separated ``parts``: an int, or a
    tuple for a multiword-token range or an empty node (conllu's ``parse_id_value``).

    Raises:
        DataError: not ``n_fields`` fields, or an ID that is none of those.
    """
    if len(parts) != n_fields:
        raise DataError(name, number, f"expected {n_fields} tab-separated fields, got {len(parts)}")
    try:
        word_id = parse_id_value(parts[0])
    except ParseException:
        word_id = None
    if word_id is None:
        raise DataError(
            name,
            number,
            f"expected an ID such as 3, a range 3-4 or an empty node 3.1, got {parts[0]!r}",
        )
    return word_id
