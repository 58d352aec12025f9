"""Pretrained word vectors -> the rows of a model's word embedding (NumPy only).

Two steps, after :func:`rnnseq.data.read_word_vectors`:

1. :func:`extend_vocab`: the training vocabulary plus the file's most frequent
   words that training never saw, so that a model can embed them at prediction
   time from its own folder (vocab.json and the weights), never from the file.
2. :func:`embedding_matrix`: row i = the vector of vocabulary word i.

    >>> from rnnseq.data import Vocab, read_word_vectors, extend_vocab, embedding_matrix
    >>> words = Vocab.build(sentences, min_freq=2)                              # doctest: +SKIP
    >>> glove = read_word_vectors("glove.6B.50d.txt.gz", keep=words.tokens,
    ...                           max_vectors=100_000)                          # doctest: +SKIP
    >>> words = extend_vocab(words, glove, max_vectors=100_000)                 # doctest: +SKIP
    >>> weight, coverage = embedding_matrix(words, glove, seed=1)               # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rnnseq.data.errors import DataError
from rnnseq.data.vocab import Vocab
from rnnseq.data.word_vectors import WordVectors

__all__ = ["Coverage", "embedding_matrix", "extend_vocab"]


@dataclass(frozen=True)
class Coverage:
    """How the vocabulary's words (specials excluded) found their vectors.

    Attributes:
        exact: words found in the file as written.
        lowercased: words found only through their lowercase.
        missing: words the file lacks (random rows).
    """

    exact: int
    lowercased: int
    missing: int

    @property
    def total(self) -> int:
        return self.exact + self.lowercased + self.missing

    def __str__(self) -> str:
        share = self.missing / self.total if self.total else 0.0
        return (
            f"{self.total} words: {self.exact} found as written, {self.lowercased} lowercased, "
            f"{self.missing} not in the file ({share:.1%}, initialised at random)"
        )


def embedding_matrix(
    vocab: Vocab, vectors: WordVectors, *, seed: int
) -> tuple[np.ndarray, Coverage]:
    """The initial word-embedding weight for ``vocab``: float32, shape (V, d).

    Row i, for the vocabulary's word w_i:

        E_i = v(w_i)                  if the file has w_i as written
            = v(lower(w_i))           else, if it has the lowercase
            = x_i ~ N(mu, diag(s^2))  else (a word the file lacks, and ``<unk>``)
        E_0 = 0                       (``<pad>``, id 0)

    where mu and s are the per-dimension mean and standard deviation of the
    vectors read, so a missing word looks like a typical pretrained vector in
    scale and offset. The alternatives: zeros (Flair's one shared ``<unk>`` row)
    make every missing word the same input, which a model cannot tell apart even
    when fine-tuning; uniform(-sqrt(3/d), sqrt(3/d)) (NCRF++, Ma & Hovy 2016)
    ignores the file's scale: for GloVe 6B 50d its standard deviation is 0.14
    against the file's 0.64, and it misses dimension means as far from 0 as -0.81
    (docs/EMBEDDINGS.md), so those rows stand out. AllenNLP also draws from
    N(mean, std), with one scalar mean and std for all dimensions.

    Args:
        vocab: the word vocabulary (``<pad>`` = 0 and ``<unk>`` = 1 first); its
            specials are never looked up in the file.
        vectors: from :func:`rnnseq.data.read_word_vectors`.
        seed: seeds the random rows (same seed, vocabulary and file: same matrix,
            so every process of a distributed run builds the same weight).

    Returns:
        ``(matrix, coverage)``: the (V, d) float32 matrix and the counts.

    Raises:
        DataError: none of the vocabulary's words is in the file (the wrong
            file, or a language mismatch): naming the vectors file.
    """
    table = vectors.index
    specials = set(vocab.specials)
    if len(vectors) == 0:
        raise DataError(vectors.path, None, "no vectors were read; cannot initialise embeddings")
    data = vectors.vectors.astype(np.float64)  # (n, d)
    mu, s = data.mean(axis=0), data.std(axis=0)  # (d,), (d,)
    rng = np.random.default_rng(seed)
    matrix = rng.normal(mu, s, size=(len(vocab), vectors.dim)).astype(np.float32)  # (V, d)
    exact = lowercased = missing = 0
    for i, word in enumerate(vocab.tokens):
        if word in specials:
            continue
        row = table.get(word)
        if row is not None:
            exact += 1
        else:
            row = table.get(word.lower())
            if row is None:
                missing += 1
                continue
            lowercased += 1
        matrix[i] = vectors.vectors[row]
    if vocab.pad_id is not None:
        matrix[vocab.pad_id] = 0.0
    if exact + lowercased == 0 and missing > 0:
        raise DataError(
            vectors.path,
            None,
            f"none of the {missing} vocabulary words (nor its lowercase) has a vector in the file; "
            "is it the right file for this language?",
        )
    return matrix, Coverage(exact, lowercased, missing)


def extend_vocab(vocab: Vocab, vectors: WordVectors, *, max_vectors: int) -> Vocab:
    """The vocabulary a model with pretrained vectors carries: ``vocab``, then the
    first ``max_vectors`` words of the vectors file that ``vocab`` lacks.

    The training words keep their ids (the new words come after them, in file
    order, most frequent first), and the result looks words up as written, then
    lowercased (``lowercase_fallback``), so that ``"Lisbon"``, never seen in
    training, finds the row of GloVe's ``"lisbon"``. A file word is added unless
    ``vocab`` holds it exactly (``"paris"`` is added even when training saw
    ``"Paris"``, because a lowercase ``"paris"`` in new text would not find
    ``"Paris"``). With ``vocab.lowercase``, file words are added lowercased.

    Args:
        vocab: the training vocabulary (e.g. ``Vocab.build(..., min_freq=2)``).
        vectors: read with at least this ``max_vectors`` (the words at file
            positions below ``max_vectors`` are added).
        max_vectors: how many of the file's first words to consider; 0 adds none.

    Raises:
        ValueError: ``max_vectors`` is negative, or larger than what ``vectors``
            was read with (its first ``max_vectors`` positions are not all there).
    """
    if max_vectors < 0:
        raise ValueError(f"max_vectors must be >= 0, got {max_vectors}")
    if max_vectors > vectors.head and vectors.head < vectors.total:
        raise ValueError(
            f"max_vectors={max_vectors}, but only the file's first {vectors.head} vectors were "
            f"read; read it with max_vectors >= {max_vectors}"
        )
    head = vectors.positions < max_vectors  # (n,) bool
    tokens = vocab.tokens
    present = set(tokens)
    added: list[str] = []
    for i in np.flatnonzero(head):
        word = vectors.words[i]
        if vocab.lowercase:
            word = word.lower()
        if word not in present:
            present.add(word)
            added.append(word)
    return Vocab(
        tokens[len(vocab.specials) :] + added,
        specials=vocab.specials,
        lowercase=vocab.lowercase,
        lowercase_fallback=True,
    )
