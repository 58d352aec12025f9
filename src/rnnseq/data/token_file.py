"""Token files: a language model's corpus encoded once, then memory-mapped.

Reading a text as Python objects costs about 50 bytes per character; a token
file costs 1, 2 or 4 bytes per unit, lives on disk and is shared by every
process that maps it (torchrun ranks, resumed runs, several runs).

On disk, two files side by side::

    NAME.tokens        n ids, raw little-endian uint8 / uint16 / uint32, no header
                       (the smallest type that holds every id of the vocabulary)
    NAME.tokens.json   the header: {"format": "rnnseq-token-file", "version": 1,
                       "dtype": "uint16", "length": n, "unit": "word",
                       "vocabulary_from": {"min_freq": 1, "holdout": 0.0}
                                          or {"given": SHA-256 of the vocabulary},
                       "vocab_units": units counted for the vocabulary (null
                                      for a given one),
                       "vocabulary": {...Vocab.to_dict()...},
                       "source": {"path", "size", "mtime_ns", "ctime_ns",
                                  "device", "inode", "sha256"},
                       "checked_ns": when the source's stat was taken}

The ids are exactly ``vocab.encode(read_units(source, unit=unit))``, and the
vocabulary (unless given) exactly the in-memory one,
``Vocab.build([units[:vocab_units]], min_freq=min_freq, specials=(PAD, UNK))``,
so a model trained from the token file has bit-identical vocabularies.

Encoding (:func:`encode_token_file`) streams the text in bounded memory, with a
tqdm bar on stderr per pass:

- characters: pass 1 counts (:func:`rnnseq.data.unit_vocab.count_units`; with
  ``holdout`` > 0 a second counting pass stops after the training part), pass 2
  encodes (:func:`rnnseq.data.unit_ids.encode_units`);
- words: one pass numbers the words by first appearance into a temporary uint32
  array (:func:`rnnseq.data.unit_ids.first_appearance_ids`), the counts come
  from that array (``np.bincount``), then it is renumbered into the final ids;
- with a ``vocab`` given (a resumed run, dev data): one encoding pass.

Every pass over the text hashes the bytes it reads (SHA-256). If two passes
disagree, or the source's stat differs before and after, the file changed while
being read: a :class:`DataError`, never a mixed encoding. The array is written
under a temporary name and renamed into place, then the header: a header always
describes a complete array. Where token files live and when one is stale:
:mod:`rnnseq.data.token_cache`.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rnnseq.data.errors import DataError
from rnnseq.data.id_file import IdReader, read_chunks
from rnnseq.data.text_reader import UNITS
from rnnseq.data.textfile import CHUNK_BYTES
from rnnseq.data.unit_ids import encode_units, first_appearance_ids, id_dtype, remap_ids
from rnnseq.data.unit_vocab import count_ids, count_units, lm_vocab
from rnnseq.data.vocab import Vocab
from rnnseq.options import OptionError, literal

__all__ = [
    "TokenFile",
    "encode_token_file",
    "open_token_file",
    "read_header",
    "holdout_cut",
    "vocab_digest",
    "stat_fields",
    "write_header",
    "hash_file",
    "FORMAT",
    "VERSION",
]

FORMAT = "rnnseq-token-file"
VERSION = 1
DTYPES = {"uint8": "u1", "uint16": "<u2", "uint32": "<u4"}


@dataclass(frozen=True)
class TokenFile:
    """An encoded text, memory-mapped.

    path: the array file (``….tokens``); the header is beside it (``….tokens.json``).
    ids: (n,) the unit ids, a read-only ``np.memmap`` of uint8 / uint16 / uint32
        (pages it touches count as the process's resident memory: for long reads,
        such as training windows, use :meth:`reader`).
    vocab: the vocabulary the ids index (``<pad>`` = 0, ``<unk>`` = 1).
    unit: "char" or "word".
    header: the JSON header, as read.
    """

    path: Path
    ids: np.ndarray
    vocab: Vocab
    unit: str
    header: dict

    def __len__(self) -> int:
        return len(self.ids)

    def reader(self, start: int = 0, stop: int | None = None) -> IdReader:
        """Ids ``[start, stop)`` read from the file on demand, without mapping it: what
        training windows should read (:mod:`rnnseq.data.id_file` says why)."""
        return IdReader(self.path, self.ids.dtype, start=start, stop=stop)


def holdout_cut(n_units: int, holdout: float) -> int:
    """Units kept for training when the last ``holdout`` fraction of ``n_units`` is held
    out for dev (at least one unit is held out): what ``--holdout`` does."""
    return n_units - max(1, int(round(n_units * holdout)))


def encode_token_file(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    unit: str = "char",
    min_freq: int = 1,
    holdout: float = 0.0,
    vocab: Vocab | None = None,
    progress: bool | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> TokenFile:
    """Encode the text ``source`` into the token file ``dest`` (and ``dest``.json).

    Args:
        source: a UTF-8 text file (what ``--train`` names for ``--task lm``).
        dest: the array file to write (replaced if it exists; folders are made).
        unit: "char" or "word", as :func:`rnnseq.data.read_units`.
        min_freq, holdout: how the vocabulary is built: from the first
            ``holdout_cut(n, holdout)`` units when ``holdout`` > 0 (else all n),
            keeping the units seen ``min_freq`` times or more.
        vocab: encode with this vocabulary instead (a resumed run's saved one,
            or dev data with the training vocabulary).
        progress: tqdm bars on stderr (None: when stderr is a terminal).
        chunk_bytes: bytes read at a time.

    Raises:
        ValueError: bad ``unit``, ``min_freq`` or ``holdout``; an OptionError naming
            ``holdout`` for one that leaves fewer than 2 units to train on.
        DataError: the text is not UTF-8, has no units, or changed while read.
        OSError: ``source`` cannot be read or ``dest`` written.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    if min_freq < 1:
        raise ValueError(f"min_freq must be >= 1, got {min_freq}")
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must be in [0, 1), got {holdout}")
    source, dest = Path(source).resolve(), Path(dest)
    os.stat(source)  # a missing file: the usual OSError, naming it
    dest.parent.mkdir(parents=True, exist_ok=True)
    show = sys.stderr.isatty() if progress is None else progress
    return _Encoding(source, dest, unit, show, chunk_bytes).run(min_freq, holdout, vocab)


def open_token_file(path: str | os.PathLike[str]) -> TokenFile:
    """Map the token file at ``path`` (``….tokens``; its header beside it), as it is.

    No source is consulted: a token file named explicitly is the data (e.g. one
    written by ``rnnseq prepare`` and copied to every machine).

    Raises:
        DataError: the header is missing or not a token-file header, or does not
            match the array's size.
    """
    path = Path(path)
    found = read_header(path)
    if found is None:
        raise DataError(f"{path}.json", None, "expected an rnnseq token-file header")
    header, vocab = found
    expected = header["length"] * np.dtype(DTYPES[header["dtype"]]).itemsize
    try:
        size = os.stat(path).st_size
    except OSError:
        raise DataError(path, None, "the token array is missing") from None
    if size != expected:
        raise DataError(path, None, f"the token array has {size} bytes; its header says {expected}")
    dtype = np.dtype(DTYPES[header["dtype"]])
    n = header["length"]
    ids = np.memmap(path, dtype=dtype, mode="r", shape=(n,)) if n else np.empty(0, dtype)
    return TokenFile(path, ids, vocab, header["unit"], header)


def read_header(path: str | os.PathLike[str]) -> tuple[dict, Vocab] | None:
    """The header beside the array ``path`` and its vocabulary, or None if it is
    absent or not a token-file header of this version."""
    try:
        header = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if (
        not isinstance(header, dict)
        or header.get("format") != FORMAT
        or header.get("version") != VERSION
        or header.get("dtype") not in DTYPES
        or header.get("unit") not in UNITS
        or not isinstance(header.get("length"), int)
        or not isinstance(header.get("source"), dict)
    ):
        return None
    try:
        return header, Vocab.from_dict(header.get("vocabulary"))
    except ValueError:
        return None


def write_header(path: str | os.PathLike[str], header: dict) -> None:
    """Write the header beside the array ``path`` atomically (a temporary file renamed)."""
    final = Path(f"{path}.json")
    tmp = final.with_name(f"{final.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(header, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    os.replace(tmp, final)


def vocab_digest(vocab: Vocab) -> str:
    """SHA-256 of the vocabulary's JSON: what ``"vocabulary_from": {"given": ...}`` holds."""
    text = json.dumps(vocab.to_dict(), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def stat_fields(st: os.stat_result) -> dict:
    """What a header records of a source's stat."""
    return {
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "ctime_ns": st.st_ctime_ns,
        "device": st.st_dev,
        "inode": st.st_ino,
    }


def hash_file(
    path: Path, *, progress: bool, chunk_bytes: int = CHUNK_BYTES, what: str = "checking"
) -> str:
    """SHA-256 of the file's bytes, read in chunks, with a progress bar."""
    digest = hashlib.sha256()

    def read(chunk_bytes: int, on_bytes: Callable[[bytes], object]) -> None:
        with open(path, "rb") as f:
            while chunk := f.read(chunk_bytes):
                on_bytes(chunk)

    _with_bar(path, what, progress, digest.update, read, chunk_bytes=chunk_bytes)
    return digest.hexdigest()


def _with_bar(source: Path, what: str, show: bool, on_bytes, fn: Callable, *args, **kwargs):
    """Run one streaming pass ``fn(*args, on_bytes=…)`` with a bar of the bytes read."""
    with tqdm(
        total=os.stat(source).st_size,
        unit="B",
        unit_scale=True,
        desc=f"{what} {source.name}",
        disable=not show,
        file=sys.stderr,
        leave=False,
    ) as bar:

        def seen(chunk: bytes) -> None:
            if on_bytes is not None:
                on_bytes(chunk)
            bar.update(len(chunk))

        return fn(*args, **kwargs, on_bytes=seen)


class _Encoding:
    """One source encoded into one token file."""

    def __init__(self, source: Path, dest: Path, unit: str, show: bool, chunk_bytes: int):
        self.source, self.dest, self.unit = source, dest, unit
        self.show, self.chunk_bytes = show, chunk_bytes
        self.tmp = dest.with_name(f"{dest.name}.tmp{os.getpid()}.{threading.get_ident()}")
        self.hashes: set[str] = set()  # of every pass: one element, or the file changed

    def run(self, min_freq: int, holdout: float, vocab: Vocab | None) -> TokenFile:
        checked_ns = time.time_ns()
        st = os.stat(self.source)
        try:
            if vocab is not None:
                spec: dict = {"given": vocab_digest(vocab)}
                n, vocab_units = self._encode(vocab), None
            elif self.unit == "char":
                spec = {"min_freq": int(min_freq), "holdout": float(holdout)}
                vocab, vocab_units, n = self._chars(min_freq, holdout)
            else:
                spec = {"min_freq": int(min_freq), "holdout": float(holdout)}
                vocab, vocab_units, n = self._words(min_freq, holdout)
            if len(self.hashes) != 1 or stat_fields(os.stat(self.source)) != stat_fields(st):
                raise DataError(
                    self.source, None, "the file changed while it was being encoded; try again"
                )
            Path(f"{self.dest}.json").unlink(missing_ok=True)  # never an old header on a new array
            os.replace(self.tmp, self.dest)
        finally:
            self.tmp.unlink(missing_ok=True)
        header = {
            "format": FORMAT,
            "version": VERSION,
            "dtype": id_dtype(len(vocab)).name,
            "length": n,
            "unit": self.unit,
            "vocabulary_from": spec,
            "vocab_units": vocab_units,
            "vocabulary": vocab.to_dict(),
            "source": {"path": str(self.source), **stat_fields(st), "sha256": self.hashes.pop()},
            "checked_ns": checked_ns,
        }
        write_header(self.dest, header)
        return open_token_file(self.dest)

    def _pass(self, what: str, fn: Callable, *args, hashed: bool = True, **kwargs):
        digest = hashlib.sha256()
        kwargs["chunk_bytes"] = self.chunk_bytes
        result = _with_bar(
            self.source, what, self.show, digest.update if hashed else None, fn, *args, **kwargs
        )
        if hashed:
            self.hashes.add(digest.hexdigest())
        return result

    def _encode(self, vocab: Vocab) -> int:
        with open(self.tmp, "wb") as out:
            return self._pass("encoding", encode_units, self.source, self.unit, vocab, out)

    def _chars(self, min_freq: int, holdout: float) -> tuple[Vocab, int, int]:
        counted = self._pass("counting", count_units, self.source, "char")
        vocab_units = self._training_units(counted.n_units, holdout)
        if vocab_units < counted.n_units:
            counted = self._pass(
                "counting training part",
                count_units,
                self.source,
                "char",
                limit=vocab_units,
                hashed=False,
            )
        vocab = lm_vocab(counted, min_freq=min_freq)
        return vocab, vocab_units, self._encode(vocab)

    def _words(self, min_freq: int, holdout: float) -> tuple[Vocab, int, int]:
        first = self.tmp.with_name(f"{self.tmp.name}.first")
        try:
            with open(first, "wb") as out:
                words = self._pass("reading", first_appearance_ids, self.source, out)
            n = os.stat(first).st_size // 4
            vocab_units = self._training_units(n, holdout)
            counted = count_ids(read_chunks(first, "<u4"), words, limit=vocab_units)
            vocab = lm_vocab(counted, min_freq=min_freq)
            final = np.array(vocab.encode(words), dtype=id_dtype(len(vocab)))  # first id -> id
            with open(self.tmp, "wb") as out:
                remap_ids(read_chunks(first, "<u4"), final, out)
        finally:
            first.unlink(missing_ok=True)
        return vocab, vocab_units, n

    def _training_units(self, n_units: int, holdout: float) -> int:
        if holdout == 0:
            return n_units
        cut = holdout_cut(n_units, holdout)
        if cut < 2:
            raise OptionError(
                f"{{0}} leaves too little of {literal(str(self.source))} to train on",
                ("holdout", holdout),
            )
        return cut
