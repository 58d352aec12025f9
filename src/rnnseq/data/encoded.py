"""Examples turned into ids once, before training: the input of :func:`collate`.

Flat NumPy arrays, no torch and no Python object per token: word ids, tag ids
and character ids are each one :class:`~rnnseq.data.ragged.Ragged` (values +
offsets, each in the smallest integer type that holds it), so a sentence of T
words of w characters costs about T·(2 + 1 + w + 4) bytes (word ids, tag ids,
character ids, character offsets) instead of a few hundred bytes of lists per
word. ``benchmarks/flat_examples.py`` measures both.

A dataset too large to keep in memory is written once as raw array files and
mapped back (:meth:`EncodedDataset.save`, :meth:`EncodedDataset.load`,
:class:`rnnseq.data.encoded_file.EncodedWriter` a chunk at a time); a training run
does so for a training file larger than :func:`stream_bytes`
(:mod:`rnnseq.tasks.streamed_examples`).

Rows read as lists (``dataset.tokens[i]`` is a list of ints, ``chars[i][j]``
one word's character ids), so code written for lists of lists keeps working;
:func:`rnnseq.data.batching.collate` reads the arrays directly.
"""

from __future__ import annotations

import json
import mmap
import os
from collections.abc import Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path

import numpy as np

from rnnseq.data.errors import DataError
from rnnseq.data.examples import ClassifyExample, TagExample
from rnnseq.data.ragged import Ragged, compact, dtype_for
from rnnseq.data.vocab import Vocab

__all__ = ["EncodedDataset", "CharRows", "MAX_WORD_LEN", "STREAM_BYTES", "stream_bytes"]

MAX_WORD_LEN = 20  # characters kept per word for character features (the first ones)
_FORMAT = "rnnseq-encoded-dataset-1"  # what dataset.json of save() says it is
# A training file larger than this is streamed: encoded a chunk at a time into arrays on
# disk and mapped (docs/TOKEN_FILES.md says why 64 MiB); $RNNSEQ_STREAM_BYTES overrides it.
STREAM_BYTES = 64 << 20
_CHUNK = 1 << 15  # examples encoded at a time (bounds the temporary lists)


def stream_bytes() -> int:
    """The size in bytes above which a training file of examples is streamed from disk:
    ``$RNNSEQ_STREAM_BYTES`` when set (tests and benchmarks force either path with it),
    else :data:`STREAM_BYTES`."""
    given = os.environ.get("RNNSEQ_STREAM_BYTES")
    if not given:
        return STREAM_BYTES
    try:
        value = int(given)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"RNNSEQ_STREAM_BYTES must be a number of bytes >= 0, got {given!r}")
    return value


class CharRows(Sequence[list[list[int]]]):
    """The character ids of every word, grouped by example: ``chars[i][j]`` is a list.

    words: one row per word of the dataset (all examples' words in order).
    offsets: (n + 1,) where each example's words start in ``words`` (the
        offsets of the dataset's tokens).
    """

    __slots__ = ("words", "offsets")

    def __init__(self, words: Ragged, offsets: np.ndarray) -> None:
        if int(offsets[-1]) != len(words):
            raise ValueError(f"offsets must end at the {len(words)} words, got {int(offsets[-1])}")
        self.words, self.offsets = words, offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, i: int) -> list[list[int]]:  # type: ignore[override]
        n = len(self)
        i = int(i) + n if i < 0 else int(i)
        if not 0 <= i < n:
            raise IndexError(f"row {i} of {n}")
        return [self.words[j] for j in range(int(self.offsets[i]), int(self.offsets[i + 1]))]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, CharRows):
            return self.words == other.words and np.array_equal(self.offsets, other.offsets)
        if not isinstance(other, Sequence):
            return NotImplemented
        return [self[i] for i in range(len(self))] == [[list(w) for w in row] for row in other]

    __hash__ = None  # type: ignore[assignment]


class EncodedDataset:
    """A dataset as flat id arrays.

    Args / attributes:
        per_step: True when there is one target per token (tagging), False for one per
            example (classification).
        tokens: word ids of each example, ``tokens[i][j]`` (a :class:`Ragged`;
            lists of lists are converted).
        targets: classify: (n,) label ids, ``targets[i]``; tag: a :class:`Ragged`
            of tag ids, row i as long as ``tokens[i]`` (may hold -100, a step the
            loss ignores); None for unlabelled input (prediction). Lists are
            converted; assigning later converts too.
        chars: character ids of each word, ``chars[i][j][k]`` (at most
            ``max_word_len`` per word; a :class:`CharRows`), or None.
    """

    def __init__(
        self,
        per_step: bool,
        tokens: Ragged | Sequence[Sequence[int]],
        targets: np.ndarray | Ragged | Sequence | None = None,
        chars: CharRows | Sequence[Sequence[Sequence[int]]] | None = None,
    ) -> None:
        if not isinstance(per_step, (bool, np.bool_)):
            raise ValueError(f"per_step must be True or False, got {per_step!r}")
        self.per_step = bool(per_step)
        self.tokens = tokens if isinstance(tokens, Ragged) else Ragged.from_rows(tokens)
        # A set mapped from disk: its rows read with pread (EncodedDataset.load), which
        # collate uses so that batches leave no mapped pages behind; else None.
        self.file_rows = None
        self.targets = targets
        self.chars = chars

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        kind = "per step" if self.per_step else "per example"
        return f"EncodedDataset({len(self)} examples, targets {kind}, {self.nbytes:,} bytes)"

    @property
    def lengths(self) -> list[int]:
        """Tokens per example (what :func:`bucket_batches` sorts by)."""
        return self.tokens.lengths.tolist()

    @property
    def targets(self) -> np.ndarray | Ragged | None:
        return self._targets

    @targets.setter
    def targets(self, targets) -> None:
        if targets is None or (self.per_step and isinstance(targets, Ragged)):
            pass
        elif not self.per_step:
            targets = compact(np.asarray(targets, dtype=np.int64).reshape(-1))  # (n,)
        else:
            targets = Ragged.from_rows(targets)
        if targets is not None:
            lengths = targets.lengths if isinstance(targets, Ragged) else None
            if len(targets) != len(self) or (
                lengths is not None and not np.array_equal(lengths, self.tokens.lengths)
            ):
                per = "tag per token" if self.per_step else "label per example"
                raise ValueError(f"targets must hold one {per}")
        self._targets = targets

    @property
    def chars(self) -> CharRows | None:
        return self._chars

    @chars.setter
    def chars(self, chars) -> None:
        if chars is not None and not isinstance(chars, CharRows):
            chars = list(chars)
            words = Ragged.from_rows(list(chain.from_iterable(chars)))
            counts = np.fromiter(map(len, chars), np.int64, len(chars))
            if not np.array_equal(counts, self.tokens.lengths):
                raise ValueError("chars must hold one list of character ids per token")
            chars = CharRows(words, self.tokens.offsets)
        if chars is not None and not np.array_equal(chars.offsets, self.tokens.offsets):
            raise ValueError("chars must hold one list of character ids per token")
        self._chars = chars

    @property
    def nbytes(self) -> int:
        """Bytes held by the arrays."""
        total = self.tokens.nbytes
        if self.targets is not None:
            total += self.targets.nbytes
        if self.chars is not None:
            total += self.chars.words.nbytes
        return total

    @classmethod
    def from_examples(
        cls,
        examples: Sequence[ClassifyExample] | Sequence[TagExample],
        vocab: Vocab,
        labels: Vocab,
        *,
        char_vocab: Vocab | None = None,
        max_word_len: int = MAX_WORD_LEN,
    ) -> EncodedDataset:
        """Encode labelled examples (all ClassifyExample or all TagExample).

        Args:
            examples: what a reader returned.
            vocab: word vocabulary (unknown words -> ``<unk>``).
            labels: label or tag vocabulary, usually without specials; a label
                it does not hold is a ValueError naming that label.
            char_vocab: character vocabulary whose ``<pad>`` is id 0, or None.
            max_word_len: characters kept per word.
        """
        if all(isinstance(e, ClassifyExample) for e in examples):
            per_step = False
            targets: np.ndarray | Ragged = np.asarray(labels.encode([e.label for e in examples]))
        elif all(isinstance(e, TagExample) for e in examples):
            per_step = True
            targets = _encode_rows(labels, _chunks([e.tags for e in examples]))
        else:
            raise ValueError("examples must be all ClassifyExample or all TagExample")
        encoded = cls.from_tokens(
            [e.tokens for e in examples],
            vocab,
            per_step=per_step,
            char_vocab=char_vocab,
            max_word_len=max_word_len,
        )
        encoded.targets = targets
        return encoded

    @classmethod
    def from_tokens(
        cls,
        sentences: Sequence[Sequence[str]],
        vocab: Vocab,
        *,
        per_step: bool,
        char_vocab: Vocab | None = None,
        max_word_len: int = MAX_WORD_LEN,
    ) -> EncodedDataset:
        """Encode unlabelled token lists (``targets`` is None), e.g. for prediction;
        ``per_step`` as the field of that name."""
        if max_word_len < 1:
            raise ValueError(f"max_word_len must be >= 1, got {max_word_len}")
        if char_vocab is not None and char_vocab.pad_id != 0:
            raise ValueError("char_vocab must have <pad> as id 0 (char padding is 0)")
        encoded = cls(per_step, _encode_rows(vocab, _chunks(sentences)))
        if char_vocab is not None:
            words = ([w[:max_word_len] for s in chunk for w in s] for chunk in _chunks(sentences))
            encoded.chars = CharRows(_encode_rows(char_vocab, words), encoded.tokens.offsets)
        return encoded

    @classmethod
    def concat(cls, parts: Sequence[EncodedDataset]) -> EncodedDataset:
        """The examples of ``parts`` (encoded with the same vocabularies), in order: a
        large set encoded a chunk at a time, without all its examples read at once.
        Memory peaks at the parts plus the result."""
        if not parts or len({p.per_step for p in parts}) != 1:
            raise ValueError("parts must be one or more datasets with the same per_step")
        for name in ("targets", "chars"):
            if len({getattr(p, name) is None for p in parts}) != 1:
                raise ValueError(f"parts must all have {name} or all lack them")
        first = parts[0]
        data = cls(first.per_step, Ragged.concat([p.tokens for p in parts]))
        if first.targets is not None and first.per_step:
            data.targets = Ragged.concat([p.targets for p in parts])
        elif first.targets is not None:  # one label per example
            labels = np.concatenate([p.targets for p in parts]).astype(np.int64, copy=False)
            data.targets = compact(labels)
        if first.chars is not None:
            words = Ragged.concat([p.chars.words for p in parts])
            data.chars = CharRows(words, data.tokens.offsets)
        return data

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Write each array as a raw little-endian ``NAME.bin`` and their types and
        lengths in ``dataset.json`` (nothing that can unpickle: no ``.npy``)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        described = {}
        for name, array in self._arrays().items():
            little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<"))
            little.tofile(folder / f"{name}.bin")
            described[name] = {"dtype": little.dtype.str, "length": len(little)}
        meta = {"format": _FORMAT, "per_step": self.per_step, "arrays": described}
        (folder / "dataset.json").write_text(json.dumps(meta) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, folder: str | os.PathLike[str], *, mmap: bool = True) -> EncodedDataset:
        """Read a dataset written by :meth:`save`; ``mmap``: map the arrays, read nothing yet
        (batches then read their rows with ``pread``: :mod:`rnnseq.data.encoded_rows`).

        Raises:
            DataError: ``dataset.json`` is not one of ours, or an array file's size
                is not the one it records.
        """
        folder = Path(folder)
        meta_path = folder / "dataset.json"
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            arrays = meta["arrays"]
            if meta.get("format") != _FORMAT or not isinstance(meta["per_step"], bool):
                raise ValueError("not an encoded dataset")
            a = {name: _read_array(folder / f"{name}.bin", d, mmap) for name, d in arrays.items()}
        except (ValueError, KeyError, TypeError) as e:
            raise DataError(meta_path, None, f"expected an encoded dataset: {e}") from None
        check = not mmap  # mapped: no pass that reads every offset (see release())
        try:
            data = cls(meta["per_step"], Ragged(a["tokens"], a["token_offsets"], check=check))
            if "targets" in a:
                offsets = a.get("target_offsets")
                targets = a["targets"]
                if offsets is not None:
                    targets = Ragged(targets, offsets, check=check)
                if mmap and len(targets) == len(data):  # same offsets: written by one writer
                    data._targets = targets
                else:
                    data.targets = targets
            if "chars" in a:
                words = Ragged(a["chars"], a["char_offsets"], check=check)
                data.chars = CharRows(words, data.tokens.offsets)
        except ValueError as e:
            raise DataError(meta_path, None, f"expected an encoded dataset: {e}") from None
        if mmap:
            from rnnseq.data.encoded_rows import FileRows

            data.file_rows = FileRows(folder, arrays, data.per_step)
        return data

    def release(self) -> None:
        """Let the pages of mapped arrays that were read go from this process's resident
        set (``madvise(MADV_DONTNEED)``; they stay in the page cache, and are read again
        from there when needed). Pages a process reads through a map count as its own
        until unmapped, so a run over a mapped set would otherwise grow to the set's
        size; arrays in memory are left alone."""
        for array in self._arrays().values():
            base = array.base
            while base is not None and not isinstance(base, mmap.mmap):
                base = getattr(base, "obj", None) or getattr(base, "base", None)
            if isinstance(base, mmap.mmap) and hasattr(mmap, "MADV_DONTNEED"):
                base.madvise(mmap.MADV_DONTNEED)

    def _arrays(self) -> dict[str, np.ndarray]:
        arrays = {"tokens": self.tokens.values, "token_offsets": self.tokens.offsets}
        if isinstance(self.targets, Ragged):
            arrays |= {"targets": self.targets.values, "target_offsets": self.targets.offsets}
        elif self.targets is not None:
            arrays["targets"] = self.targets
        if self.chars is not None:
            arrays |= {"chars": self.chars.words.values, "char_offsets": self.chars.words.offsets}
        return arrays


def _read_array(path: Path, described: dict, use_map: bool) -> np.ndarray:
    """One array file written by :meth:`EncodedDataset.save`, checked against its record."""
    dtype, n = np.dtype(described["dtype"]), described["length"]
    if dtype.kind not in "iu" or dtype.byteorder == ">" or not isinstance(n, int) or n < 0:
        raise ValueError(f"{path.name}: expected little-endian integers, got {described}")
    if path.stat().st_size != n * dtype.itemsize:
        raise ValueError(f"{path.name} has {path.stat().st_size} bytes, not {n * dtype.itemsize}")
    if use_map and n:
        with open(path, "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        return np.frombuffer(mapped, dtype=dtype, count=n)  # read-only, .base the map
    return np.fromfile(path, dtype=dtype, count=n)


def _chunks(rows: Sequence) -> Iterator[Sequence]:
    return (rows[start : start + _CHUNK] for start in range(0, len(rows), _CHUNK))


def _encode_rows(vocab: Vocab, chunks: Iterable[Sequence[Sequence[str]]]) -> Ragged:
    """Ids of rows of strings, a chunk of rows at a time (no list per row is kept)."""
    dtype = dtype_for(0, max(len(vocab) - 1, 0))
    parts = [Ragged.from_rows([])]
    for rows in chunks:
        lengths = np.fromiter(map(len, rows), np.int64, len(rows))  # (chunk,)
        ids = np.array(vocab.encode(chain.from_iterable(rows)), dtype=dtype)  # (Σ lengths,)
        parts.append(Ragged.from_lengths(ids, lengths))
    return Ragged.concat(parts)
