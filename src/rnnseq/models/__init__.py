"""PyTorch models: config, encoder, classifier, tagger / language model.

Names load on first use, so ``import rnnseq.models.<module>`` of a NumPy-only module in
this package does not import torch.
"""

from __future__ import annotations

import importlib

# name -> module that defines it
_LAZY = {
    "ModelConfig": "rnnseq.models.config",
    "ModelOptions": "rnnseq.models.config",
    "CharCNN": "rnnseq.models.char_features",
    "CharBiLSTM": "rnnseq.models.char_features",
    "TokenEmbedder": "rnnseq.models.embedding",
    "RecurrentEncoder": "rnnseq.models.encoder",
    "pool": "rnnseq.models.pooling",
    "SequenceClassifier": "rnnseq.models.classifier",
    "SequenceTagger": "rnnseq.models.tagger",
}

__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnseq.models' has no attribute {name!r}")
