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
from dataclasses import dataclass

import torch

from rnnseq.data.batching import PAD_ID, Batch
from rnnseq.data.buckets import bucket_batches
from rnnseq.data.encoded import MAX_WORD_LEN

__all__ = ["Distinct", "length_batches", "rows_batch", "WordFeatures"]

SPELLINGS = 1 << 17  # words whose character ids a cache keeps


@dataclass
class Distinct:
    """The distinct words of a batch: the word at row i, step t is ``words[where[i,
    t]]`` (``where`` is ``len(words)`` at padded steps)."""

    words: list[str]  # (U,) each distinct word
    where: torch.Tensor  # (N, T) indices into words; U at padded steps
    vocabs: object  # the Vocabularies that spell the words
    spellings: dict  # word -> character ids, kept between batches

    def spell(self, indices: list[int]) -> torch.Tensor:
        """The character ids of ``words[k]`` for k in ``indices``: (K, W) left-aligned,
        padded with 0, at least one column; each word's first ``MAX_WORD_LEN``."""
        if len(self.spellings) >= SPELLINGS:
            self.spellings.clear()
        known, encode = self.spellings, self.vocabs.chars.encode
        spelled = []
        for k in indices:
            w = self.words[k]
            ids = known.get(w)
            if ids is None:
                ids = known[w] = encode(w[:MAX_WORD_LEN])
            spelled.append(ids)
        sizes = torch.tensor([len(x) for x in spelled], dtype=torch.long)  # (K,)
        width = max(1, int(sizes.max())) if spelled else 1
        table = torch.full((len(spelled), width), PAD_ID, dtype=torch.long)  # (K, W)
        at = torch.arange(width).unsqueeze(0) < sizes.unsqueeze(1)  # (K, W) bool
        table[at] = torch.tensor(list(itertools.chain.from_iterable(spelled)),
                                 dtype=torch.long)  # fmt: skip
        return table

    def chars(self) -> torch.Tensor:
        """The batch's (N, T, W) character ids."""
        table = self.spell(list(range(len(self.words))))  # (U, W)
        table = torch.cat([table, table.new_zeros(1, table.shape[1])])  # (U + 1, W)
        return table[self.where]


def rows_batch(rows: list[list[str]], vocabs, spellings: dict | None = None, *,
               spelled: bool = True) -> tuple[Batch, Distinct | None]:  # fmt: skip
    """A Batch of the (non-empty) token lists ``rows``, rows in the given order, and its
    distinct words (None without character features). ``spellings``: a dict kept
    between calls, word -> its character ids (emptied when it holds ``SPELLINGS``).
    ``spelled=False``: the batch's chars are a placeholder, (N, T, 1) zeros, for a
    call under :meth:`WordFeatures.used_by`, which spells only the words it needs.

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
    where = torch.full((n, t), len(words), dtype=torch.long)  # (N, T): padding
    where[real] = position
    distinct = Distinct(words, where, vocabs, {} if spellings is None else spellings)
    chars = distinct.chars() if spelled else torch.zeros(n, t, 1, dtype=torch.long)
    return Batch(tokens, lengths, None, chars, list(range(n))), distinct


def length_batches(lengths: list[int], batch_size: int, max_tokens: int) -> list[list[int]]:
    """Batches of row indices for prediction, rows of one length together where they fill
    a batch.

    A batch of rows of length T holds ``c = min(batch_size, max_tokens // T)`` rows (one
    at least). The rows of each length (in input order) give as many batches of exactly
    c rows as they fill: no padding, so a bidirectional encoder runs them without
    reversing rows one by one or masking (``RecurrentEncoder``), and the batch shapes
    repeat, so oneDNN's kernels for them are built once (building one costs as much as
    running a batch). The rows left over, sorted by length, are cut as
    :func:`rnnseq.data.bucket_batches` cuts evaluation batches (at most ``batch_size``
    rows and ``max_tokens`` padded tokens). Every index appears once.
    """
    groups: dict[int, list[int]] = {}
    for i, n in enumerate(lengths):
        groups.setdefault(n, []).append(i)
    batches, rest = [], []
    for n in sorted(groups):
        rows = groups[n]
        cap = max(1, min(batch_size, max_tokens // max(n, 1)))
        full = len(rows) - len(rows) % cap
        batches += [rows[s : s + cap] for s in range(0, full, cap)]
        rest += rows[full:]
    if rest:
        left = bucket_batches([lengths[i] for i in rest], batch_size, shuffle=False,
                              max_tokens=max_tokens)  # fmt: skip
        batches += [[rest[k] for k in part] for part in left]
    return batches


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
        if module is None or distinct is None:
            yield
            return
        n, t = distinct.where.shape
        if len(distinct.words) > self.capacity:  # too many to keep: spell them all
            with _input_replaced(module, (n, t), distinct.chars):
                yield
            return
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
            rows = distinct.spell(new).to(chars.device)  # (K, W)
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


@contextlib.contextmanager
def _input_replaced(module: torch.nn.Module, shape: tuple[int, int], make):
    """Within the context, a call of ``module`` on ids of (N, T) ``shape`` reads
    ``make()`` instead (the batch's real character ids)."""

    def before(_module, args):
        chars, *rest = args
        if chars.shape[:2] != shape:
            return None
        return (make().to(chars.device), *rest)

    hook = module.register_forward_pre_hook(before)
    try:
        yield
    finally:
        hook.remove()
