"""Today's in-memory language-model data path: the oracle token files must equal.

``read_run_data`` (rnnseq.training.setup), as ``rnnseq train --task lm`` runs it: the
whole text read as units, the --holdout split, the lm task's vocabulary built from
the training part, and the ids."""

from __future__ import annotations

from rnnseq.data import Vocab
from rnnseq.training.config import TrainConfig
from rnnseq.training.setup import read_run_data


def lm_in_memory(path, unit: str, *, min_freq: int = 1, holdout: float = 0.0):
    """(vocabulary, ids of the training part, ids of the whole text) of ``path``."""
    cfg = TrainConfig(
        task="lm", train=str(path), out="unused", unit=unit, min_freq=min_freq, holdout=holdout
    ).resolved()
    data = read_run_data(cfg)
    vocab: Vocab = data.vocabs.words
    assert data.vocabs.labels == vocab
    train = list(data.train)
    return vocab, train, train + vocab.encode(data.dev or [])
