"""Prediction batches built fast, and each word's character features computed once.

:func:`rows_batch` gives the same batch as ``collate(EncodedDataset.from_tokens(rows,
...), range(len(rows)))`` — token ids padded with 0; each word's first
``MAX_WORD_LEN`` characters as ids, left-aligned, padded with 0 — but looks each
distinct word of the batch up once (sentences repeat their words: "the", ",", ".")
and pads by tensor indexing instead of nested Python lists. It also returns the
batch's :class:`Distinct` words.

:class:`WordFeatures` makes the model's character-feature module compute each word's
features once per run: character features are a function of the word alone
(``rnnseq.models.char_features``: one row of character ids in, one vector out), so
they are kept, word by word, and a batch computes only the words it is the first to
meet. A forward pre-hook hands the module the (1, K, W) character ids of those K new
words, and a forward hook stores their features and returns the batch's (N, T, F),
gathered from the store. The module, its weights and its state-dict keys are
untouched, and the hooks are removed after the call.
"""

from __future__ import annotations

import contextlib
import itertools
from typing import NamedTuple

import torch

from rnnseq.data.batching import PAD_ID, Batch
from rnnseq.data.encoded import MAX_WORD_LEN

__all__ = ["Distinct", "rows_batch", "WordFeatures"]

SPELLINGS = 1 << 17  # words whose character ids a cache keeps


class Distinct(NamedTuple):
    """The distinct words of a batch: ``chars[where[i, t]]`` are the character ids of
    the word at row i, step t (the padding row, all 0, at padded steps)."""

    words: list[str]  # (U,) each distinct word, in the order of chars' rows
    chars: torch.Tensor  # (U + 1, W): their character ids, then the padding row
    where: torch.Tensor  # (N, T) indices into chars


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
    sizes = torch.tensor([len(s) for s in spelled], dtype=torch.long)  # (U,)
    width = max(1, int(sizes.max()))
    table = torch.full((len(words) + 1, width), PAD_ID, dtype=torch.long)  # (U + 1, W)
    spelled_at = torch.arange(width).unsqueeze(0) < sizes.unsqueeze(1)  # (U, W) bool
    table[:-1][spelled_at] = torch.tensor(list(itertools.chain.from_iterable(spelled)),
                                          dtype=torch.long)  # fmt: skip
    where = torch.full((n, t), len(words), dtype=torch.long)  # (N, T): padding row
    where[real] = position
    chars = table[where]  # (N, T, W)
    return Batch(tokens, lengths, None, chars, list(range(n))), Distinct(words, table, where)


class WordFeatures:
    """Each word's character features, computed once and kept (up to ``capacity``
    words; then the store starts over).

    Args:
        capacity: words kept.
    """

    def __init__(self, capacity: int = 1 << 16):
        self.capacity = capacity
        self.index: dict[str, int] = {}  # word -> row of store
        self.store: torch.Tensor | None = None  # (capacity + 1, F); the last row is 0
        self.key: object = None  # how the kept features were computed

    @contextlib.contextmanager
    def used_by(self, module: torch.nn.Module | None, distinct: Distinct | None,
                key: object = None):  # fmt: skip
        """Within the context, a call of ``module`` (a character-feature module: (N, T,
        W) ids -> (N, T, F)) on the batch ``distinct`` describes computes only the
        words not yet kept. ``key`` says how features are computed (precision, device):
        another key starts the store over. None for module or distinct: no-op."""
        if module is None or distinct is None or len(distinct.words) > self.capacity:
            yield
            return
        n, t = distinct.where.shape
        new = [k for k, w in enumerate(distinct.words) if w not in self.index]
        if key != self.key or len(self.index) + len(new) > self.capacity:
            self.index.clear()
            self.store, self.key = None, key
            new = list(range(len(distinct.words)))
        state: list = []

        def before(_module, args):
            chars, *rest = args
            if chars.shape[:2] != (n, t):  # not this batch: leave it alone
                return None
            state.append(True)
            rows = distinct.chars[new].to(chars.device)  # (K, W)
            return (rows.unsqueeze(0), *rest)  # (1, K, W)

        def after(_module, _args, output):
            if not state:
                return None
            state.pop()
            found = output[0]  # (K, F)
            if self.store is None:  # the index is empty: every word was new
                self.store = found.new_zeros(self.capacity + 1, found.shape[1])
            start = len(self.index)
            self.store[start : start + len(new)] = found
            for k, j in enumerate(new):
                self.index[distinct.words[j]] = start + k
            rows = [self.index[w] for w in distinct.words] + [self.capacity]  # (U + 1,)
            chosen = torch.tensor(rows, device=found.device)
            return self.store[chosen][distinct.where.to(found.device)]  # (N, T, F)

        hooks = [module.register_forward_pre_hook(before), module.register_forward_hook(after)]
        try:
            yield
        finally:
            for h in hooks:
                h.remove()
