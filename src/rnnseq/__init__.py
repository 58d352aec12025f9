"""rnnseq: recurrent networks for sequence classification and sequence labeling.

Training and using a model (as ``rnnseq train``, ``predict``, ``evaluate``, ``explain``):

    train(task=..., train=..., out=..., **options) -> TrainResult
        Train a model and write its folder, like ``rnnseq train``; the options are
        those of ``rnnseq train`` with ``_`` for ``-`` (``epochs=5``, ``dev=...``).
    load(folder) -> Predictor
        Load a model folder written by train(); its predict(), evaluate() and
        explain() mirror the command line.
    TrainConfig
        Everything train() needs, as one typed object (its fields are the options).
    Predictor
        A trained model ready for use (what load() returns).

The losses (PyTorch; ``rnnseq.losses``, the NumPy reference in ``rnnseq.reference``):

    sequence_classification_loss, SequenceClassificationLoss
        Cross-entropy of one label per sequence.
    sequence_labeling_loss, SequenceLabelingLoss
        Cross-entropy of one label per time step, reduced over time, then over the batch.
    linear_sequence_labeling_loss
        The same of the logits h Wᵀ + b, without forming the (N, T, C) logits.
    sequence_classification_loss_terms, sequence_labeling_loss_terms,
    linear_sequence_labeling_loss_terms, LossTerms
        Each loss as a (total, count) pair: loss = total / count.

The package root stays light (NumPy-only modules such as :mod:`rnnseq.reference`
import without torch); the PyTorch-backed API is loaded on first use.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# name -> module that defines it; imported lazily by __getattr__ below.
_LAZY = {
    "train": "rnnseq.api",
    "load": "rnnseq.api",
    "TrainConfig": "rnnseq.training.config",
    "Predictor": "rnnseq.inference",
    "sequence_classification_loss": "rnnseq.losses",
    "sequence_labeling_loss": "rnnseq.losses",
    "linear_sequence_labeling_loss": "rnnseq.losses",
    "sequence_classification_loss_terms": "rnnseq.losses",
    "sequence_labeling_loss_terms": "rnnseq.losses",
    "linear_sequence_labeling_loss_terms": "rnnseq.losses",
    "LossTerms": "rnnseq.losses",
    "SequenceClassificationLoss": "rnnseq.losses",
    "SequenceLabelingLoss": "rnnseq.losses",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnseq' has no attribute {name!r}")
