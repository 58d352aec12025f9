from __future__ import annotations

import dataclasses

import pytest
import torch
from model_checks import RAGGED, make_batch

from rnnseq.models import ModelConfig, SequenceClassifier, SequenceTagger
from rnnseq.models.precision import OutputLayer, full_precision

CONFIGS = {
    "tag-lstm-cnn": (
        SequenceTagger,
        ModelConfig(
            vocab_size=30,
            num_labels=6,
            char_vocab_size=15,
            char_features="cnn",
            embedding_dim=6,
            hidden=5,
        ),
    ),
    "classify-gru-max": (
        SequenceClassifier,
        ModelConfig(vocab_size=30, num_labels=3, cell="gru", embedding_dim=6, hidden=5),
    ),
    "lm-lstm-tied": (
        SequenceTagger,
        ModelConfig(
            vocab_size=30,
            num_labels=30,
            embedding_dim=8,
            hidden=8,
            layers=2,
            bidirectional=False,
            tie_embeddings=True,
        ),
    ),
}


def _pair(name: str):
    """The same weights with and without bf16, dropout off; and the config."""
    net, cfg = CONFIGS[name]
    cfg = dataclasses.replace(cfg, dropout=0.0)
    torch.manual_seed(0)
    plain = net(cfg)
    mixed = net(cfg, bf16=True)
    mixed.load_state_dict(plain.state_dict())
    return plain, mixed, cfg


def _logits(model, cfg, batch):
    return model(batch.tokens, batch.lengths, batch.chars)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_bf16_changes_nothing_in_eval_mode(name):
    plain, mixed, cfg = _pair(name)
    batch = make_batch(cfg, RAGGED)
    assert torch.equal(_logits(plain.eval(), cfg, batch), _logits(mixed.eval(), cfg, batch))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_bf16_training_gives_float32_logits_close_to_float32_ones(name):
    plain, mixed, cfg = _pair(name)
    batch = make_batch(cfg, RAGGED)
    want = _logits(plain.train(), cfg, batch)
    got = _logits(mixed.train(), cfg, batch)
    assert got.dtype == torch.float32
    assert not torch.equal(got, want)  # the products really ran in bfloat16
    torch.testing.assert_close(got, want, atol=3e-2, rtol=3e-2)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_bf16_gradients_are_float32_and_reach_every_parameter(name):
    _, mixed, cfg = _pair(name)
    batch = make_batch(cfg, RAGGED)
    _logits(mixed.train(), cfg, batch).square().mean().backward()
    for pname, p in mixed.named_parameters():
        if pname.endswith("word.weight") or "embedding" in pname:
            continue  # padding rows aside, embeddings are reached only by the ids present
        assert p.grad is not None and p.grad.dtype == torch.float32, pname
        assert torch.isfinite(p.grad).all(), pname


def test_bf16_language_model_state_stays_float32_across_windows():
    net, cfg = CONFIGS["lm-lstm-tied"]
    model = net(cfg, bf16=True).train()
    tokens = torch.randint(2, 30, (3, 7))
    _, state = model.features(tokens, torch.full((3,), 7))
    assert all(s.dtype == torch.float32 for s in state)
    hidden, _ = model.features(tokens, torch.full((3,), 7), state=state)
    assert hidden.dtype == torch.float32


def test_output_layer_has_linear_keys_and_keeps_float64():
    layer = OutputLayer(4, 3, bf16=True).double().train()
    assert set(layer.state_dict()) == {"weight", "bias"}
    x = torch.randn(2, 4, dtype=torch.float64)
    assert layer.eval()(x).dtype == torch.float64
    assert full_precision(None) is None
    assert full_precision(torch.ones(2, dtype=torch.bfloat16)).dtype == torch.float32


def test_bf16_must_be_a_bool():
    from rnnseq.training.config import TrainConfig

    with pytest.raises(ValueError, match="bf16"):
        TrainConfig(task="lm", train="a.txt", out="m", bf16="yes").resolved()
