"""Which reader a file needs, and the one entry point that reads any dataset.

Format names are those of the command line's ``--format``:

=========  ===============================  ==========================
format     file                             tasks
=========  ===============================  ==========================
conllu     CoNLL-U (.conllu)                tag
conll      CoNLL/BIO columns (.conll)       tag
tsv        text<TAB>label (.tsv)            classify
csv        text,label (.csv)                classify
jsonl      JSON Lines (.jsonl, .json)       classify, tag
text       plain text (.txt)                lm
=========  ===============================  ==========================

``.txt`` means CoNLL/BIO columns for "tag" and plain text for "lm". A file
without a known extension (``eng.train``, ``sentiment-train``) is recognised by
its first non-empty lines; for "lm" every file is plain text.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from rnnseq.data.conll_reader import DOCSTART, read_conll, stream_conll
from rnnseq.data.conllu_reader import read_conllu, stream_conllu
from rnnseq.data.errors import DataError
from rnnseq.data.examples import ClassifyExample, TagExample
from rnnseq.data.jsonl_reader import read_jsonl, stream_jsonl
from rnnseq.data.table_reader import read_csv, read_tsv, stream_csv, stream_tsv
from rnnseq.data.text_reader import UNITS, read_units
from rnnseq.data.textfile import check_head
from rnnseq.tasks import TASK_NAMES

__all__ = ["FORMATS", "TASKS", "detect_format", "checked_format", "read_dataset", "stream_dataset"]

TASKS = TASK_NAMES
FORMATS = {  # format -> the tasks it can feed
    "conllu": ("tag",),
    "conll": ("tag",),
    "tsv": ("classify",),
    "csv": ("classify",),
    "jsonl": ("classify", "tag"),
    "text": ("lm",),
}
_EXTENSIONS = {
    ".conllu": "conllu",
    ".conll": "conll",
    ".tsv": "tsv",
    ".csv": "csv",
    ".jsonl": "jsonl",
    ".json": "jsonl",
}
_CONLLU_ID = re.compile(r"[0-9]+(?:[-.][0-9]+)?")
_SNIFF_BYTES = 1 << 16
_SNIFF_LINES = 20


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {', '.join(TASKS)}, got {task!r}")


def _first_lines(path: str | os.PathLike[str]) -> list[str]:
    """Up to 20 non-empty lines from the start of the file (decoding errors replaced;
    UTF-16/32 text and NUL bytes are the readers' DataError already here)."""
    with open(path, "rb") as f:
        data = f.read(_SNIFF_BYTES)
    check_head(data, path)
    head = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
    lines = [line.rstrip("\r") for line in head.split("\n") if line.strip()]
    return lines[:_SNIFF_LINES]


def _looks_like_conllu(lines: list[str]) -> bool:
    tokens = [line.split("\t") for line in lines if not line.startswith("#")]
    if any(line.startswith(("# sent_id", "# global.columns")) for line in lines):
        return True
    return bool(tokens) and all(len(t) == 10 and _CONLLU_ID.fullmatch(t[0]) for t in tokens)


def _looks_like_token_columns(lines: list[str]) -> bool:
    """One token per line with its tag columns (CoNLL/BIO): every line splits into the
    same 2 to 12 columns, the first of them one word."""
    rows = [line for line in lines if not line.startswith((DOCSTART, "#"))]
    widths = set()
    for line in rows:
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts[0].split()) != 1:
            return False
        widths.add(len(parts))
    return len(widths) == 1 and 2 <= widths.pop() <= 12


def _looks_like_text_and_label(lines: list[str]) -> str | None:
    """The table format ("tsv" or "csv") when the lines (after a possible header row)
    are a text of several words, one separator and a label; else None."""
    body = lines[1:] if len(lines) > 1 else lines
    for sep, name in (("\t", "tsv"), (",", "csv")):
        rows = [line.split(sep) for line in body]
        if all(len(r) == 2 and len(r[0].split()) > 1 and r[1].strip() for r in rows):
            return name
    return None


def _format_hint(path: str | os.PathLike[str], task: str) -> str:
    """What to pass instead, from the file's first lines where they tell."""
    try:
        lines = _first_lines(path)
    except (OSError, DataError):  # the reader, once the format is right, names these
        lines = []
    hint = _HINTS[task](lines)
    if hint is not None:
        return hint
    feeds = [f for f, tasks in FORMATS.items() if task in tasks]
    return f"for task {task!r} give one of the formats {', '.join(feeds)}"


def _hint_tag(lines: list[str]) -> str | None:
    if not lines:
        return None
    if _looks_like_conllu(lines):
        return "the file looks like CoNLL-U: use format 'conllu' (--format conllu)"
    if _looks_like_token_columns(lines):
        return "the file looks like CoNLL token/tag columns: use format 'conll' (--format conll)"
    return None


def _hint_classify(lines: list[str]) -> str | None:
    if lines and (table := _looks_like_text_and_label(lines)):
        return f"the file looks like text and label rows: use format {table!r} (--format {table})"
    return None


def _hint_lm(lines: list[str]) -> str:
    return "lm reads any file as plain text: use format 'text' (--format text)"


def detect_format(path: str | os.PathLike[str], task: str) -> str:
    """The format of ``path`` for ``task``, from its extension or else its first lines.

    ``.txt`` means CoNLL/BIO columns for "tag" and plain text for "lm"; a language
    model reads every file as plain text.

    Raises:
        ValueError: unknown ``task``.
        DataError: a classification file whose lines are neither JSON, nor
            tab- nor comma-separated.
    """
    _check_task(task)
    return _DETECTORS[task](path)


def _detect_lm(path) -> str:
    return "text"


def _detect_tag(path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    if suffix == ".txt":
        return "conll"
    lines = _first_lines(path)
    if lines and lines[0].lstrip().startswith("{"):
        return "jsonl"
    return "conllu" if _looks_like_conllu(lines) else "conll"


def _detect_classify(path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in _EXTENSIONS:
        return _EXTENSIONS[suffix]
    lines = _first_lines(path)
    if lines and lines[0].lstrip().startswith("{"):
        return "jsonl"
    if not lines or "\t" in lines[0]:
        return "tsv"  # an empty file gets the reader's own "no rows" error
    if "," in lines[0]:
        return "csv"
    raise DataError(
        path,
        1,
        "cannot tell the format: expected tab- or comma-separated text and label, "
        "or JSON Lines (pass the format explicitly)",
    )


# What each task does with a file whose format is not given: guess it, or hint at it.
_DETECTORS = {"classify": _detect_classify, "tag": _detect_tag, "lm": _detect_lm}
_HINTS = {"classify": _hint_classify, "tag": _hint_tag, "lm": _hint_lm}


def read_dataset(
    path: str | os.PathLike[str],
    task: str,
    *,
    format: str | None = None,
    column: str | None = None,
    unit: str = "char",
) -> list[ClassifyExample] | list[TagExample] | list[str]:
    """Read a dataset file for ``task`` ("classify", "tag" or "lm").

    Args:
        path: the file.
        task: "classify" -> list[ClassifyExample]; "tag" -> list[TagExample];
            "lm" -> list[str], the stream of units.
        format: one of ``FORMATS``; None detects it (:func:`detect_format`).
        column: conllu: the tag field (default UPOS); conll: the tag column, a
            number from 1 (the token) or a name of the file's layout such as
            "pos", "chunk", "ner" (default: the last column; see
            :func:`rnnseq.data.read_conll`); tsv/csv: the header name of the
            label column. Other formats take no column.
        unit: lm only: "char" (default) or "word" (each line's words + "<eos>").

    Raises:
        ValueError: unknown ``task``, ``format`` or ``unit``; a ``format`` that
            cannot feed ``task``; a ``column`` the format does not take or the
            file does not have.
        DataError: the file's content is not of the format (names file and line).
        OSError: the file cannot be opened.
    """
    _check_task(task)
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    format = checked_format(path, task, format, column)
    if format == "conllu":
        return read_conllu(path, column=column or "upos")
    if format == "conll":
        return read_conll(path, column=column)
    if format == "tsv":
        return read_tsv(path, column=column)
    if format == "csv":
        return read_csv(path, column=column)
    if format == "jsonl":
        return read_jsonl(path, task)
    return read_units(path, unit=unit)


def stream_dataset(
    path: str | os.PathLike[str],
    task: str,
    *,
    format: str | None = None,
    column: str | None = None,
) -> Iterator[ClassifyExample | TagExample]:
    """:func:`read_dataset`'s examples for ``task`` "classify" or "tag", one at a time,
    the file read in chunks (memory: a few MiB and one example, whatever the file).
    The same examples, and the same errors, each raised when the reading gets there
    (the options' errors at once); for a file that is not UTF-8 text (an invalid byte,
    a NUL) the error of a bad line before the bad byte may come first."""
    if task not in ("classify", "tag"):
        raise ValueError(f"task must be 'classify' or 'tag' to stream examples, got {task!r}")
    format = checked_format(path, task, format, column)
    if format == "conllu":
        return stream_conllu(path, column=column or "upos")
    if format == "conll":
        return stream_conll(path, column=column)
    if format == "tsv":
        return stream_tsv(path, column=column)
    if format == "csv":
        return stream_csv(path, column=column)
    return stream_jsonl(path, task)


def checked_format(path, task: str, format: str | None, column: str | None) -> str:
    """The file's format (given, or detected), checked against ``task`` and ``column``."""
    given = format is not None
    if format is None:
        format = detect_format(path, task)
    elif format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    if task not in FORMATS[format]:
        source = "" if given else f" (from the extension {Path(path).suffix})"
        raise ValueError(
            f"format {format!r}{source} cannot feed task {task!r} (it feeds "
            f"{', '.join(FORMATS[format])}); {_format_hint(path, task)}"
        )
    if column is not None and format not in ("conllu", "conll", "tsv", "csv"):
        raise ValueError(f"column applies to conllu, conll, tsv and csv files, not {format!r}")
    return format
