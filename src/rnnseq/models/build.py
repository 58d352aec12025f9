"""``build_model``: the model class a config describes."""

from __future__ import annotations

from torch import nn

from rnnseq.models.classifier import SequenceClassifier
from rnnseq.models.config import ModelConfig
from rnnseq.models.tagger import SequenceTagger


def build_model(config: ModelConfig) -> nn.Module:
    """A freshly initialised SequenceClassifier (task "classify") or SequenceTagger
    (task "tag" or "lm") for ``config``; load weights into it to restore a saved model.
    """
    config.validate()
    if config.task == "classify":
        return SequenceClassifier(config)
    return SequenceTagger(config)
