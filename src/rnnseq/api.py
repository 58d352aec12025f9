"""The Python API, mirroring the command line.

>>> import rnnseq
>>> result = rnnseq.train(task="tag", train="train.conllu", dev="dev.conllu",
...                       out="runs/pos")                                  # doctest: +SKIP
>>> model = rnnseq.load("runs/pos")                                       # doctest: +SKIP
>>> model.predict(["The cat sat on the mat ."])                            # doctest: +SKIP
[['DET', 'NOUN', 'VERB', 'ADP', 'DET', 'NOUN', 'PUNCT']]
"""

from __future__ import annotations

import os

from rnnseq.inference import Predictor
from rnnseq.training.config import TrainConfig
from rnnseq.training.loop import TrainResult
from rnnseq.training.loop import train as _train

__all__ = ["train", "load"]


def train(config: TrainConfig | dict | None = None, **options) -> TrainResult:
    """Train a model and write its folder, like ``rnnseq train``.

    Pass a :class:`TrainConfig`, a dict of its fields, or its fields as keyword
    arguments (``task=``, ``train=``, ``out=``, ``epochs=``, ... — the options of
    ``rnnseq train`` with ``_`` for ``-``); keyword arguments override the config.
    Paths may be ``str`` or ``os.PathLike``. Returns the folder and its metrics.
    """
    if isinstance(config, TrainConfig):
        fields = config.options() | options
    elif config is None or isinstance(config, dict):
        fields = dict(config or {}) | options
    else:
        raise ValueError(f"config must be a TrainConfig or a dict, got {type(config).__name__}")
    missing = [name for name in ("task", "train", "out") if fields.get(name) is None]
    if missing:
        raise ValueError(f"train() needs {', '.join(missing)}: what to learn, from which file, "
                         "into which folder")
    for name in ("train", "dev", "out"):
        if isinstance(fields.get(name), os.PathLike):
            fields[name] = os.fspath(fields[name])
    return _train(TrainConfig.from_dict(fields))


def load(folder: str | os.PathLike, device: str = "cpu", batch_size: int = 64) -> Predictor:
    """Load a model folder written by :func:`train` (or ``rnnseq train``).

    The :class:`~rnnseq.inference.Predictor` mirrors the command line:
    ``predict(texts)`` (``rnnseq predict``), ``evaluate(path)`` (the keys of
    ``rnnseq evaluate --json``, plus "per_class"), ``explain(text, labels)``
    (``rnnseq explain``; ``.to_dict()`` is its ``--json``). ``device="auto"`` picks a
    GPU when there is one.
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an integer >= 1, got {batch_size!r}")
    return Predictor.load(folder, device=device, batch_size=batch_size)
