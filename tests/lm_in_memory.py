"""The in-memory language-model data path: the oracle token files must equal.

What ``rnnseq train --task lm`` did before it trained from token files, as the lm task
still does it in memory (``LanguageModelTask.read`` and ``prepare``): the whole text
read as units, the --holdout split, the vocabulary built from the training part, and
the ids."""

from __future__ import annotations

from rnnseq.data import Vocab
from rnnseq.tasks import get_task
from rnnseq.training.config import TrainConfig


def lm_in_memory(path, unit: str, *, min_freq: int = 1, holdout: float = 0.0):
    """(vocabulary, ids of the training part, ids of the whole text) of ``path``."""
    cfg = TrainConfig(
        task="lm", train=str(path), out="unused", unit=unit, min_freq=min_freq, holdout=holdout
    ).resolved()
    task = get_task("lm")
    units = task.read(str(path), cfg)
    train, dev = units, []
    if holdout > 0:
        cut = len(units) - max(1, int(round(len(units) * holdout)))
        train, dev = units[:cut], units[cut:]
    data = task.prepare(train, dev, None, cfg, None, task.schemes(train, cfg))
    vocab: Vocab = data.vocabs.words
    assert data.vocabs.labels == vocab
    train_ids = list(data.train)
    return vocab, train_ids, train_ids + vocab.encode(dev)
