"""``--embeddings FILE``: pretrained word vectors into a run's vocabulary and embedding.

After the training vocabulary is built (classify, tag, lm with word units):

1. read the file's vectors for the vocabulary's words (as written or lowercased) and
   for its first ``max_vectors`` words (:func:`rnnseq.data.read_word_vectors`);
2. extend the vocabulary with those first words that training never saw
   (:func:`rnnseq.data.extend_vocab`; ``extend=False`` for a language model, whose
   vocabulary is also its output layer), so a saved model embeds them at prediction
   time from its own folder and never from the file;
3. build the embedding's initial weight, row i for word id i
   (:func:`rnnseq.data.embedding_matrix`), and print how the words were found.

Every process of a distributed run reads the same file with the same seed and so
builds the same weight; only rank 0 prints and shows the progress bar (which follows
``--progress``: by default, when stderr is a terminal).
"""

from __future__ import annotations

import sys

import numpy as np

from rnnseq.data import Coverage, Vocab, embedding_matrix, extend_vocab, read_word_vectors
from rnnseq.options import OptionError

__all__ = ["pretrained_vocabulary"]


def pretrained_vocabulary(words: Vocab, cfg, *, extend: bool) -> tuple[Vocab, np.ndarray]:
    """The vocabulary a model with ``cfg.model.embeddings`` carries, and its initial
    word-embedding weight.

    Args:
        words: the training vocabulary (``<pad>`` = 0, ``<unk>`` = 1 first).
        cfg: the run's resolved TrainConfig (``model.embeddings``, ``model.embedding_dim``,
            ``data.max_vectors``, ``training.seed``).
        extend: add the file's first ``data.max_vectors`` words that ``words`` lacks.

    Returns:
        ``(vocab, weight)``: the (extended) vocabulary and a float32 (len(vocab), d)
        matrix whose row 0 (``<pad>``) is zero.

    Raises:
        DataError: the file is malformed (naming it and the line) or holds none of the
            vocabulary's words.
        OptionError: ``embedding_dim`` was given and differs from the file's d.
    """
    path = cfg.model.embeddings
    cap = cfg.data.max_vectors if extend else 0
    main = _is_main_process()
    # The bar follows --progress/--no-progress (default: when stderr is a terminal).
    progress = cfg.training.progress if main else False
    vectors = read_word_vectors(path, keep=words.tokens, max_vectors=cap, progress=progress)
    if vectors.dim != cfg.model.embedding_dim:
        raise OptionError(
            f"{{0}} differs from the {vectors.dim} numbers per word of {path}; leave out {{1}} "
            "(the file gives it)",
            ("embedding_dim", cfg.model.embedding_dim),
            "embedding_dim",
        )
    vocab = extend_vocab(words, vectors, max_vectors=cap) if extend else words
    # The random rows' mean and spread come from the training words' vectors, so the
    # weight of every training word is the same whatever --max-vectors adds.
    weight, coverage = embedding_matrix(vocab, vectors, seed=cfg.training.seed, moments_of=words)
    if main:
        # Every added word is found as written: count the training words only.
        added = len(vocab) - len(words)
        trained = Coverage(coverage.exact - added, coverage.lowercased, coverage.missing)
        more = f"; {added:,} more words of the file for words training never saw" if extend else ""
        print(f"word vectors {path} (d = {vectors.dim}), training vocabulary of {trained}{more}",
              file=sys.stderr)  # fmt: skip
    return vocab, weight


def _is_main_process() -> bool:
    """False on the processes of a distributed run other than rank 0."""
    import torch.distributed as dist

    return not (dist.is_available() and dist.is_initialized()) or dist.get_rank() == 0
