"""Prediction batches built fast: token lists -> :class:`~rnnseq.data.Batch`, and each
distinct word's character features computed once per batch.

:func:`rows_batch` gives the same batch as ``collate(EncodedDataset.from_tokens(rows,
...), range(len(rows)))`` — token ids padded with 0; each word's first
``MAX_WORD_LEN`` characters as ids, left-aligned, padded with 0 — but looks each
distinct word of the batch up once (sentences repeat their words: "the", ",", ".")
and pads by tensor indexing instead of nested Python lists. It also returns the
batch's :class:`Distinct` words.

:func:`distinct_words` makes the model's character-feature module read each distinct
word once: character features are a function of the word alone
(``rnnseq.models.char_features``: one row of character ids in, one vector out), so
the features of the batch's (N, T, W) ids are those of its U distinct words,
gathered back. A forward pre-hook hands the module the (1, U + 1, W) distinct rows
(the last one all padding) and a forward hook gathers its output back to (N, T, F);
the module, its weights and its state-dict keys are untouched, and the hooks are
removed on leaving the context.
"""

from __future__ import annotations

import contextlib
from typing import NamedTuple

import torch

from rnnseq.data.batching import PAD_ID, Batch
from rnnseq.data.encoded import MAX_WORD_LEN

__all__ = ["Distinct", "rows_batch", "distinct_words"]


class Distinct(NamedTuple):
    """The distinct words of a batch: ``chars[where[i, t]]`` are the character ids of
    the word at row i, step t (the padding row, all 0, at padded steps)."""

    chars: torch.Tensor  # (U + 1, W): each distinct word, then the padding row
    where: torch.Tensor  # (N, T) indices into chars


SPELLINGS = 1 << 17  # words whose character ids a cache keeps


def rows_batch(rows: list[list[str]], vocabs, spellings: dict | None = None
               ) -> tuple[Batch, Distinct | None]:  # fmt: skip
    """A Batch of the (non-empty) token lists ``rows``, rows in the given order, and its
    distinct words (None without character features). ``spellings``: a dict kept
    between calls, word -> its character ids (emptied when it holds ``SPELLINGS``).

    Shape: tokens (N, T), lengths (N,), chars (N, T, W) or None; ``targets`` None.
    """
    lengths = torch.tensor([len(r) for r in rows], dtype=torch.long)  # (N,)
    n, t = len(rows), int(lengths.max())
    real = torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)  # (N, T) bool
    types: dict[str, int] = {}
    flat = [types.setdefault(w, len(types)) for row in rows for w in row]  # (P,)
    words = list(types)
    ids = torch.tensor(vocabs.words.encode(words), dtype=torch.long)  # (U,)
    position = torch.tensor(flat, dtype=torch.long)  # (P,)
    tokens = torch.full((n, t), PAD_ID, dtype=torch.long)  # (N, T)
    tokens[real] = ids[position]
    if vocabs.chars is None:
        return Batch(tokens, lengths, None, None, list(range(n))), None
    if spellings is None or len(spellings) >= SPELLINGS:
        spellings = {} if spellings is None else spellings
        spellings.clear()
    encode = vocabs.chars.encode
    spelled = [spellings.get(w) or spellings.setdefault(w, encode(w[:MAX_WORD_LEN]))
               for w in words]  # fmt: skip
    width = max(1, max(len(s) for s in spelled))
    padded = [s + [PAD_ID] * (width - len(s)) for s in spelled] + [[PAD_ID] * width]
    table = torch.tensor(padded, dtype=torch.long)  # (U + 1, W)
    where = torch.full((n, t), len(words), dtype=torch.long)  # (N, T): padding row
    where[real] = position
    chars = table[where]  # (N, T, W)
    return Batch(tokens, lengths, None, chars, list(range(n))), Distinct(table, where)


@contextlib.contextmanager
def distinct_words(module: torch.nn.Module | None, distinct: Distinct | None):
    """Within the context, ``module`` (a character-feature module: (N, T, W) ids ->
    (N, T, F)) computes the features of ``distinct.chars`` only and gathers them back,
    when it is called on ids of the batch's shape. None for either: no-op."""
    if module is None or distinct is None:
        yield
        return
    n, t = distinct.where.shape
    table = distinct.chars.unsqueeze(0)  # (1, U + 1, W)
    used = []

    def before(_module, args):
        chars, *rest = args
        if chars.shape[:2] != (n, t):  # not this batch: leave it alone
            return None
        used.append(True)
        return (table.to(chars.device), *rest)

    def after(_module, _args, output):
        if not used:
            return None
        used.pop()
        return output[0][distinct.where.to(output.device)]  # (N, T, F)

    hooks = [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
    try:
        yield
    finally:
        for h in hooks:
            h.remove()
