"""rnnseq: recurrent networks for sequence classification and sequence labeling.

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
