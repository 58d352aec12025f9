"""Pretrained word vectors from a text file: GloVe, word2vec text, fastText ``.vec``.

The format, one vector per line::

    400000 50                                   <- optional header "count dim" (fastText, word2vec)
    the 0.418 0.24968 -0.41242 ... 0.78321      <- the word, then dim numbers
    , 0.013441 0.23682 -0.16899 ... 0.10216

Fields are separated by single spaces (``" "`` only: a word may hold a tab, a
no-break space or U+0085, as GloVe's twitter file does) and lines end at ``\\n``;
trailing spaces (fastText writes one) and a ``\\r`` before the ``\\n`` are ignored,
blank lines skipped, a UTF-8 byte-order mark dropped. The file may be gzipped,
recognised by its first bytes, whatever its name. A first line of exactly two
integers is a header: its dim must match the lines and its count the number of
vectors. Without one, the first line's field count gives the dimension.

A word may contain spaces: glove.840B.300d.txt holds a few such lines (words like
``". . ."`` or ``"at name@domain.com"``; nyu-mll/multiNLI#10 counts 303 fields on
its line 52343). A line with more than ``dim`` numbers is read as a word with
spaces when the extra leading fields are not numbers (the last ``dim`` fields are
the vector); else it is a ragged line, an error.

Duplicate words: the first vector wins and one warning (for the whole file) says
how many were dropped, as gensim does. (GloVe 6B 50d has none: 400,000 lines,
400,000 distinct words.)

Speed: a filter (``keep``, ``max_vectors``) makes the read faster, because only
the lines kept are converted to numbers; the others are checked for their form
(field count, a word first) but not parsed. docs/EMBEDDINGS.md has the timings.
"""

from __future__ import annotations

import gzip
import os
import sys
import warnings
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import BinaryIO

import numpy as np

from rnnseq.data.errors import DataError

__all__ = ["WordVectors", "read_word_vectors"]

_CHUNK = 1 << 22  # bytes read at a time (4 MiB): one block of lines is parsed at once
_HEAD = 1 << 16  # bytes checked for a binary file before anything else
_MAGIC = {  # first bytes of archives we do not read, and what to tell the user
    b"PK\x03\x04": "a zip archive; unzip it and give the .txt file inside",
    b"BZh": "compressed with bzip2; decompress it (or recompress it with gzip) first",
    b"\xfd7zXZ\x00": "compressed with xz; decompress it (or recompress it with gzip) first",
    b"\x28\xb5\x2f\xfd": "compressed with zstd; decompress it (or recompress it with gzip) first",
}
_BINARY = (
    "looks like a binary word2vec file; convert it to text, e.g. with gensim: "
    "KeyedVectors.load_word2vec_format(path, binary=True)"
    ".save_word2vec_format(out, binary=False)"
)


@dataclass(frozen=True, eq=False)
class WordVectors:
    """Word vectors read from a file (all of them, or the ones a filter kept).

    Attributes:
        path: the file read, as a string.
        words: the words kept, in file order (the first of duplicates).
        vectors: float32 array, shape (n, d): row i is the vector of ``words[i]``.
        positions: int64 array, shape (n,): where each word is among the file's
            vectors, 0 for the first (GloVe and fastText files are ordered by
            frequency, so a small position is a frequent word).
        total: how many vectors the file holds, kept or not.
        head: the file's first ``head`` vectors were all kept (``total`` when
            the whole file was; duplicates among them keep only their first).
        header: ``(count, dim)`` of the file's header line, or None.
    """

    path: str
    words: list[str]
    vectors: np.ndarray
    positions: np.ndarray
    total: int
    head: int
    header: tuple[int, int] | None = None

    @property
    def dim(self) -> int:
        """d, the length of every vector."""
        return int(self.vectors.shape[1])

    def __len__(self) -> int:
        return len(self.words)

    def __repr__(self) -> str:
        return f"WordVectors({len(self)} of {self.total} vectors, dim {self.dim}, {self.path!r})"

    @cached_property
    def index(self) -> dict[str, int]:
        """word -> row of :attr:`vectors`."""
        return {w: i for i, w in enumerate(self.words)}


def read_word_vectors(
    path: str | os.PathLike[str],
    *,
    keep: Iterable[str] | None = None,
    max_vectors: int | None = None,
    progress: bool | None = None,
) -> WordVectors:
    """Read a GloVe / word2vec text / fastText ``.vec`` file, plain or gzipped.

    Args:
        path: the file.
        keep: words whose vectors are wanted, e.g. a training vocabulary; a word
            of the file is kept when it equals one of them as written or
            lowercased. None (and no ``max_vectors``): keep every word.
        max_vectors: also keep the first ``max_vectors`` words of the file
            (the most frequent ones, in GloVe and fastText files), whatever
            ``keep`` says. With ``keep=None`` and a ``max_vectors``: only those.
        progress: a tqdm bar on stderr counting the bytes read; None shows it
            only when stderr is a terminal.

    Returns:
        :class:`WordVectors`, words in file order.

    Raises:
        DataError: naming the file and the line: an empty file, a binary
            word2vec file, a ragged line (another count of numbers than the
            first line or the header), a non-number or a NaN/inf among the
            values of a kept line, a header whose count or dim does not match,
            invalid UTF-8 in a kept word, a broken gzip stream, an archive of
            another kind (zip, bz2, xz, zstd).
        OSError: the file cannot be opened (the message names it).
        ValueError: ``max_vectors`` is negative.

    Example::

        >>> glove = read_word_vectors("glove.6B.50d.txt.gz", keep=["Lisbon"])  # doctest: +SKIP
        >>> glove.words, glove.vectors.shape                                   # doctest: +SKIP
        (['lisbon'], (1, 50))
    """
    if max_vectors is not None and max_vectors < 0:
        raise ValueError(f"max_vectors must be >= 0 or None, got {max_vectors}")
    name = os.fspath(path)
    wanted = None if keep is None else _wanted_bytes(keep)
    if wanted is None and max_vectors is None:
        max_vectors = -1  # keep everything
    parser = _Parser(name, wanted, max_vectors if max_vectors is not None else 0)
    with open(name, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        with _progress_bar(name, size, progress) as bar:
            for number, lines in _blocks(name, raw, bar):
                parser.feed(number, lines)
    return parser.result()


def _wanted_bytes(keep: Iterable[str]) -> set[bytes]:
    wanted: set[bytes] = set()
    for word in keep:
        wanted.add(word.encode("utf-8", "surrogatepass"))
        wanted.add(word.lower().encode("utf-8", "surrogatepass"))
    return wanted


class _progress_bar:  # noqa: N801 (a context manager used like a function)
    """A tqdm bar over the file's bytes, or a no-op; imported only when shown."""

    def __init__(self, name: str, size: int, progress: bool | None) -> None:
        show = progress if progress is not None else _is_terminal(sys.stderr)
        self._bar = None
        if show:
            from tqdm import tqdm  # light, but only needed here

            self._bar = tqdm(
                total=size,
                desc=os.path.basename(name),
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
            )

    def __enter__(self) -> _progress_bar:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.close()

    def update(self, n: int) -> None:
        if self._bar is not None and n > 0:
            self._bar.update(n)


def _is_terminal(stream: object) -> bool:
    try:
        return bool(stream.isatty())  # type: ignore[attr-defined]
    except (AttributeError, ValueError):
        return False


def _blocks(name: str, raw: BinaryIO, bar: _progress_bar) -> Iterator[tuple[int, list[bytes]]]:
    """``(number of the first line, lines without their \\n)`` per chunk of the file."""
    magic = raw.read(6)
    raw.seek(0)
    for prefix, what in _MAGIC.items():
        if magic.startswith(prefix):
            raise DataError(name, None, f"is {what}")
    stream: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb") if magic[:2] == b"\x1f\x8b" else raw
    done = 0
    number = 1
    rest = b""
    first = True
    while True:
        try:
            chunk = stream.read(_CHUNK)
        except (EOFError, gzip.BadGzipFile, zlib.error) as e:
            reason = str(e) or type(e).__name__
            raise DataError(name, None, f"broken gzip data ({reason}); download it again") from None
        position = raw.tell()
        bar.update(position - done)
        done = position
        if first:
            chunk = chunk.removeprefix(b"\xef\xbb\xbf")
            _check_text(name, chunk[:_HEAD])
            first = False
        if not chunk:
            break
        lines = (rest + chunk).split(b"\n")
        rest = lines.pop()
        yield number, lines
        number += len(lines)
    if rest:
        yield number, [rest]


def _check_text(name: str, head: bytes) -> None:
    """Refuse a binary file (NUL bytes, or bad UTF-8 right after a header line)."""
    nul = head.find(b"\0")
    try:
        head.decode("utf-8")
        bad = -1
    except UnicodeDecodeError as e:
        # a character cut by the end of the head is not an error
        bad = -1 if e.reason == "unexpected end of data" else e.start
    if nul < 0 and bad < 0:
        return
    at = min(i for i in (nul, bad) if i >= 0)
    line = head.count(b"\n", 0, at) + 1
    first_line = head.split(b"\n", 1)[0].rstrip(b" \r").split(b" ")
    header = len(first_line) == 2 and all(f.isdigit() for f in first_line)
    if nul >= 0 or (header and line == 2):
        raise DataError(name, line, _BINARY)
    raise DataError(name, line, f"invalid UTF-8 byte 0x{head[bad]:02x}; expected UTF-8 text")


class _Parser:
    """The state of one read: the dimension, the header, the lines kept so far."""

    def __init__(self, name: str, wanted: set[bytes] | None, max_vectors: int) -> None:
        self.name = name
        self.wanted = wanted
        self.max_vectors = max_vectors  # -1: keep all
        self.dim: int | None = None
        self.dim_line = 0  # the line that fixed the dimension (header or first vector)
        self.header: tuple[int, int] | None = None
        self.total = 0  # vectors seen
        self.seen_any_line = False
        self.words: list[str] = []
        self.first_line: dict[str, int] = {}
        self.blocks: list[np.ndarray] = []
        self.positions: list[int] = []
        self.duplicates = 0
        self.duplicate_example: tuple[str, int, int] | None = None

    def feed(self, number: int, lines: list[bytes]) -> None:
        """Check every line of a block; convert the kept ones' numbers at once."""
        wanted, cap = self.wanted, self.max_vectors
        kept: list[tuple[bytes, bytes, int, int]] = []  # (word, numbers, line, position)
        for offset, line in enumerate(lines):
            line = line.rstrip(b" \r")
            if not line:
                continue
            if not self.seen_any_line and self._first_line(number + offset, line):
                continue  # the header
            space = line.find(b" ")
            if space <= 0 or line.count(b" ") != self.dim or b"  " in line:
                word, rest = self._irregular(number + offset, line)
            else:
                word, rest = line[:space], line[space + 1 :]
            if cap < 0 or self.total < cap or (wanted is not None and word in wanted):
                kept.append((word, rest, number + offset, self.total))
            self.total += 1
        if kept:
            self._convert(kept)

    def _first_line(self, number: int, line: bytes) -> bool:
        """Read the header, or the dimension from the first vector; True for a header."""
        self.seen_any_line = True
        fields = line.split(b" ")
        if len(fields) == 2 and fields[0].isdigit() and fields[1].isdigit():
            count, dim = int(fields[0]), int(fields[1])
            if dim < 1:
                raise DataError(
                    self.name, number, f"the header gives dimension {dim}; expected >= 1"
                )
            self.header, self.dim, self.dim_line = (count, dim), dim, number
            return True
        if self.dim is None:
            self.dim, self.dim_line = len(fields) - 1, number
            if self.dim < 1:
                raise DataError(
                    self.name, number, "expected a word and its numbers, got only one field"
                )
        return False

    def _irregular(self, number: int, line: bytes) -> tuple[bytes, bytes]:
        """A line that is not exactly ``word n1 ... nd``: a word with spaces, or an error."""
        dim = self.dim
        assert dim is not None
        if line.startswith(b" "):
            raise DataError(
                self.name, number, "the line starts with a space; expected a word first"
            )
        if b"  " in line:
            raise DataError(self.name, number, "two spaces in a row; expected single spaces")
        fields = line.split(b" ")
        got = len(fields) - 1
        if got == 0:
            tab = " (tab-separated? fields must be separated by spaces)" if b"\t" in line else ""
            raise DataError(
                self.name, number, f"expected a word and {dim} numbers, got one field{tab}"
            )
        extra = fields[1 : got + 1 - dim]  # the fields between the first and the last dim
        if got < dim or any(_is_number(f) for f in extra):
            where = "the header" if self.header else f"line {self.dim_line}"
            raise DataError(
                self.name, number, f"expected {dim} numbers after the word as on {where}, got {got}"
            )
        return b" ".join(fields[: got + 1 - dim]), b" ".join(fields[-dim:])

    def _convert(self, kept: list[tuple[bytes, bytes, int, int]]) -> None:
        """Parse the kept lines' numbers, decode their words, drop duplicates."""
        rests = [rest for _, rest, _, _ in kept]
        try:
            block = _numbers(rests)  # (rows, d)
        except ValueError as e:
            raise self._bad_number(kept, e) from None
        finite = np.isfinite(block)
        if not finite.all():
            row, col = np.argwhere(~finite)[0]
            value = rests[row].split(b" ")[col].decode("ascii", "replace")
            raise DataError(
                self.name,
                kept[row][2],
                f"value {col + 1} of the vector is {value!r}, not a finite float32 number",
            )
        rows = []
        for row, (raw, _, number, position) in enumerate(kept):
            try:
                word = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise DataError(
                    self.name, number, f"invalid UTF-8 byte 0x{raw[e.start]:02x} in the word"
                ) from None
            earlier = self.first_line.get(word)
            if earlier is not None:  # a duplicate: the first vector wins
                self.duplicates += 1
                if self.duplicate_example is None:
                    self.duplicate_example = (word, earlier, number)
                continue
            self.first_line[word] = number
            self.words.append(word)
            self.positions.append(position)
            rows.append(row)
        self.blocks.append(block if len(rows) == len(kept) else block[rows])

    def _bad_number(
        self, kept: list[tuple[bytes, bytes, int, int]], error: ValueError
    ) -> DataError:
        """The DataError for the first value of the block that is not a number."""
        for _, rest, number, _ in kept:
            for k, value in enumerate(rest.split(b" "), start=1):
                try:
                    _numbers([value])
                except ValueError:
                    shown = value.decode("utf-8", "replace")
                    return DataError(
                        self.name, number, f"value {k} of the vector, {shown!r}, is not a number"
                    )
        return DataError(self.name, kept[0][2], f"cannot read the numbers: {error}")

    def result(self) -> WordVectors:
        if not self.seen_any_line:
            raise DataError(self.name, None, "the file is empty; expected lines 'word v1 ... vd'")
        if self.header is not None and self.header[0] != self.total:
            count = self.header[0]
            raise DataError(
                self.name, 1, f"the header announces {count} vectors, the file has {self.total}"
            )
        if self.total == 0:
            raise DataError(
                self.name, None, "no vectors after the header; expected 'word v1 ... vd'"
            )
        if self.duplicates:
            word, first, again = self.duplicate_example  # type: ignore[misc]
            warnings.warn(
                f"{self.name}: {self.duplicates} duplicate words; kept the first vector of each "
                f"(e.g. {word!r} on lines {first} and {again})",
                stacklevel=3,
            )
        dim = self.dim or 0
        vectors = np.concatenate(self.blocks) if self.blocks else np.zeros((0, dim), np.float32)
        return WordVectors(
            path=self.name,
            words=self.words,
            vectors=vectors,
            positions=np.asarray(self.positions, dtype=np.int64),
            total=self.total,
            head=self.total if self.max_vectors < 0 else min(self.max_vectors, self.total),
            header=self.header,
        )


def _numbers(rests: list[bytes]) -> np.ndarray:
    """Space-separated numbers, one row per line -> float32 (rows, d); ValueError if not."""
    return np.loadtxt(
        rests, dtype=np.float32, delimiter=" ", comments=None, quotechar=None, ndmin=2
    )


def _is_number(field: bytes) -> bool:
    try:
        float(field)
    except ValueError:
        return False
    return True
