"""A language model's text turned into unit ids, streamed into a binary file.

The ids are those of ``vocab.encode(read_units(path, unit=unit))`` (a unit the
vocabulary lacks becomes ``<unk>``), written as a flat little-endian array of
the smallest unsigned integer type that holds every id (:func:`id_dtype`), one
piece at a time: memory is a few chunks, whatever the size of the file.

Characters are looked up by code point in a table of all 0x110000 code points
(NumPy fancy indexing, one C loop per piece); words through a dict, by
``np.fromiter`` over ``map(dict.get, ...)``.

Words can also be encoded before their vocabulary is known, in one pass
(:func:`first_appearance_ids`: word k to appear gets id k), then renumbered
(:func:`remap_ids`) once the vocabulary has been built from the counts of those
ids (:func:`rnnseq.data.unit_vocab.count_ids`): one pass over the text instead
of two, as splitting and looking up words is what costs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from itertools import repeat
from typing import BinaryIO

import numpy as np

from rnnseq.data.textfile import CHUNK_BYTES
from rnnseq.data.unit_stream import codepoints, stream_units
from rnnseq.data.vocab import Vocab

__all__ = ["id_dtype", "encode_units", "first_appearance_ids", "remap_ids"]

N_CODEPOINTS = 0x110000


def id_dtype(vocab_size: int) -> np.dtype:
    """The smallest little-endian unsigned type holding ids 0 .. vocab_size - 1."""
    for name in ("u1", "<u2", "<u4"):
        if vocab_size - 1 <= np.iinfo(name).max:
            return np.dtype(name)
    raise ValueError(f"a vocabulary of {vocab_size} entries does not fit 32-bit ids")


def encode_units(
    path: str | os.PathLike[str],
    unit: str,
    vocab: Vocab,
    out: BinaryIO,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    on_bytes: Callable[[bytes], object] | None = None,
) -> int:
    """Write the ids of the units of ``path`` to ``out``; returns how many were written.

    Args:
        unit: "char" or "word".
        vocab: a language-model vocabulary, with ``<unk>``; units are looked up by
            its own rule (``Vocab.encode``: lowercasing, if it lowercases).
        out: a binary file open for writing; receives ``n · itemsize`` bytes of
            ``id_dtype(len(vocab))``.
        chunk_bytes, on_bytes: as in :func:`rnnseq.data.textfile.stream_text`.

    Raises:
        ValueError: a vocabulary without ``<unk>``.
        DataError: invalid UTF-8, or a file without units (as :func:`read_units`).
    """
    if vocab.unk_id is None:
        raise ValueError("vocab must have <unk>: a language model maps unseen units to it")
    dtype = id_dtype(len(vocab))
    lookup = _char_ids(vocab, dtype) if unit == "char" else _word_ids(vocab, dtype)
    n = 0
    for piece in stream_units(path, unit, chunk_bytes=chunk_bytes, on_bytes=on_bytes):
        ids = lookup(piece)  # (len(piece),)
        out.write(memoryview(ids))
        n += len(ids)
    return n


def _as_written(vocab: Vocab) -> bool:
    """Does the vocabulary look strings up exactly as written (no lowercasing)?"""
    return not vocab.lowercase and not getattr(vocab, "lowercase_fallback", False)


def _char_ids(vocab: Vocab, dtype: np.dtype) -> Callable[[str], np.ndarray]:
    if _as_written(vocab):
        table = np.full(N_CODEPOINTS, vocab.unk_id, dtype=dtype)  # code point -> id
        for i, token in enumerate(vocab.tokens):
            if len(token) == 1:  # the specials ("<pad>", "<unk>") are never one character
                table[ord(token)] = i
    else:  # Vocab.encode's own rule for every code point (about a second, once)
        table = np.array(vocab.encode(map(chr, range(N_CODEPOINTS))), dtype=dtype)
    return lambda piece: table[codepoints(piece)]


def _word_ids(vocab: Vocab, dtype: np.dtype) -> Callable[[list[str]], np.ndarray]:
    if not _as_written(vocab):
        return lambda words: np.array(vocab.encode(words), dtype=dtype)
    stoi = {token: i for i, token in enumerate(vocab.tokens)}
    unk = vocab.unk_id
    return lambda words: np.fromiter(map(stoi.get, words, repeat(unk)), dtype, len(words))


def first_appearance_ids(
    path: str | os.PathLike[str],
    out: BinaryIO,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    on_bytes: Callable[[bytes], object] | None = None,
) -> list[str]:
    """Write the words of ``path`` as little-endian uint32 ids in order of first appearance.

    The k-th distinct word to appear gets id k. Returns the distinct words in
    that order (so ``words[id]`` is the word); ``out`` receives 4 bytes per word.

    Raises:
        DataError: invalid UTF-8, or no words (as :func:`read_units`).
    """
    index: dict[str, int] = {}
    for words in stream_units(path, "word", chunk_bytes=chunk_bytes, on_bytes=on_bytes):
        ids = np.fromiter(map(index.get, words, repeat(-1)), np.int64, len(words))  # (n,)
        missing = np.flatnonzero(ids < 0)  # first appearances, and their repeats
        if len(missing):
            new = [words[i] for i in missing.tolist()]
            for word in dict.fromkeys(new):  # in order of first appearance
                index[word] = len(index)
            ids[missing] = np.fromiter(map(index.__getitem__, new), np.int64, len(new))
        out.write(memoryview(ids.astype("<u4")))
    return list(index)


def remap_ids(chunks: Iterable[np.ndarray], table: np.ndarray, out: BinaryIO) -> None:
    """Write ``table[ids]`` to ``out`` for each chunk of ids, in order.

    Shape: each chunk (m,) integers in [0, len(table)); table (V,) of the output type.
    """
    for ids in chunks:
        out.write(memoryview(table[ids]))
