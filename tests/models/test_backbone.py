"""RecurrentBackbone: the layers both models share keep the state-dict names that saved
model folders use."""

from __future__ import annotations

import pytest

from rnnseq.models import ModelConfig, SequenceClassifier, SequenceTagger
from rnnseq.models.backbone import RecurrentBackbone


@pytest.mark.parametrize(
    ("cls", "bidirectional"),
    [(SequenceClassifier, True), (SequenceTagger, True), (SequenceTagger, False)],
)
def test_both_models_share_the_backbone_and_its_weight_names(cls, bidirectional):
    cfg = ModelConfig(
        vocab_size=30, num_labels=5, hidden=8, embedding_dim=8, bidirectional=bidirectional
    )
    model = cls(cfg)
    assert isinstance(model, RecurrentBackbone)
    keys = set(model.state_dict())
    assert {"embedder.word.weight", "output.weight", "output.bias"} <= keys
    assert {k.split(".")[0] for k in keys} == {"embedder", "encoder", "output"}
    assert model.output.out_features == 5
    assert model.encoder.output_size == model.output.in_features
