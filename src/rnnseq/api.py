"""The Python API, mirroring the command line.

    >>> import rnnseq
    >>> result = rnnseq.train(task="tag", train="train.conllu", dev="dev.conllu",
    ...                       out="runs/pos")                                  # doctest: +SKIP
    >>> model = rnnseq.load("runs/pos")                                       # doctest: +SKIP
    >>> model.predict(["The cat sat on the mat ."])                            # doctest: +SKIP
    [['DET', 'NOUN', 'VERB', 'ADP', 'DET', 'NOUN', 'PUNCT']]
"""

from __future__ import annotations

from pathlib import Path

from rnnseq.inference import Predictor
from rnnseq.training.config import TrainConfig
from rnnseq.training.loop import TrainResult
from rnnseq.training.loop import train as _train

__all__ = ["train", "load"]


def train(config: TrainConfig | dict | None = None, **options) -> TrainResult:
    """Train a model, like ``rnnseq train``: pass a :class:`TrainConfig`, a dict of its
    fields, or its fields as keyword arguments (``task=``, ``train=``, ``out=``, ...)."""
    if isinstance(config, TrainConfig):
        fields = config.to_dict() | options
    else:
        fields = dict(config or {}) | options
    return _train(TrainConfig.from_dict(fields))


def load(folder: str | Path, device: str = "cpu", batch_size: int = 64) -> Predictor:
    """Load a model folder written by :func:`train` for ``predict``, ``evaluate`` and
    ``explain`` (``device="auto"`` picks a GPU when there is one)."""
    return Predictor.load(folder, device=device, batch_size=batch_size)
