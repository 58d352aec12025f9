"""A CoNLL-U file with one column filled in by a tagger, every other byte kept.

``rnnseq predict --output conllu`` reads CoNLL-U, tags the words of each sentence
(lines whose ID is an integer; multiword-token ranges ``3-4`` and empty nodes
``5.1`` are skipped, as the reader skips them) and writes the file back with the
predicted tag in the chosen field (UPOS unless the model was trained on another).
Comments, blank lines, the other fields, line ends (``\\n`` or ``\\r\\n``), a
byte-order mark and a missing final newline are written exactly as they were, so
the output differs from the input only in that field.

The file is read and written a sentence block at a time (``chunk`` sentences go
through the tagger together), so memory stays flat for any file size.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator

from rnnseq.data.conllu_reader import _ALIASES, _field_names, line_id
from rnnseq.data.errors import DataError

__all__ = ["fill_conllu"]

_BOM = b"\xef\xbb\xbf"


def fill_conllu(
    path: str | os.PathLike[str],
    column: str,
    tag: Callable[[list[list[str]]], list[list[str]]],
    *,
    chunk: int = 256,
) -> Iterator[bytes]:
    """The bytes of the CoNLL-U file ``path`` with ``column`` filled by ``tag``.

    Args:
        path: a CoNLL-U (or CoNLL-U Plus) file.
        column: the field to fill (case-insensitive, e.g. ``upos``, ``xpos``).
        tag: token lists -> one tag per token, for ``chunk`` sentences at a time.

    Raises:
        ValueError: ``column`` is not a field of the file, or is ID or FORM.
        DataError: a token line with the wrong number of fields or a bad ID (naming
            the file and line), or a file that is not UTF-8.
        OSError: the file cannot be read.
    """
    name = os.fspath(path)
    with open(path, "rb") as f:
        lines = _lines(f, name)
        first = next(lines, None)
        if first is None:
            raise DataError(name, None, "no sentences found; expected CoNLL-U token lines")
        fields = _field_names(first[1].removeprefix("\ufeff").rstrip("\r\n"), name)
        key = _ALIASES.get(column.lower(), column.lower())
        if key not in fields or key in ("id", "form"):
            allowed = ", ".join(f for f in fields if f not in ("id", "form"))
            raise ValueError(f"column must be a CoNLL-U field ({allowed}), got {column!r}")
        form_at, tag_at = fields.index("form"), fields.index(key)
        pending: list[list] = []  # sentences: [(raw, text, number, parts or None), ...]
        sentence: list = []
        for number, (raw, text) in enumerate(_chain(first, lines), 1):
            body = text.rstrip("\r\n").removeprefix("\ufeff" if number == 1 else "")
            sentence.append((raw, text, number, _word(body, len(fields), name, number)))
            if not body.strip():
                pending.append(sentence)
                sentence = []
                if len(pending) >= chunk:
                    yield from _filled(pending, form_at, tag_at, tag)
                    pending = []
        pending.append(sentence)
        yield from _filled(pending, form_at, tag_at, tag)


def _lines(f, name: str) -> Iterator[tuple[bytes, str]]:
    for number, raw in enumerate(f, 1):
        try:
            yield raw, raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise DataError(name, number, f"invalid UTF-8 byte 0x{raw[e.start]:02x} at byte "
                            f"{e.start + 1} of the line; expected UTF-8 text") from None


def _chain(first, rest):
    yield first
    yield from rest


def _word(body: str, n_fields: int, name: str, number: int) -> list[str] | None:
    """The fields of a word line (integer ID), else None (comment, blank, range, node)."""
    if not body.strip() or body.startswith("#"):
        return None
    parts = body.split("\t")
    word_id = line_id(parts, n_fields, name, number)
    return None if isinstance(word_id, tuple) else parts


def _filled(sentences: list[list], form_at: int, tag_at: int, tag) -> Iterator[bytes]:
    words = [[parts[form_at] for _, _, _, parts in s if parts is not None] for s in sentences]
    tags = iter(tag([w for w in words if w]))
    for sentence, forms in zip(sentences, words, strict=True):
        predicted = iter(next(tags) if forms else ())
        out = []
        for raw, text, number, parts in sentence:
            if parts is None:
                out.append(raw)
                continue
            parts = list(parts)
            parts[tag_at] = next(predicted)
            end = text[len(text.rstrip("\r\n")):]
            lead = _BOM if number == 1 and raw.startswith(_BOM) else b""
            out.append(lead + ("\t".join(parts) + end).encode("utf-8"))
        yield b"".join(out)
