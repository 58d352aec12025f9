from __future__ import annotations

import json

import pytest
from model_checks import VARIANTS

from rnnseq.models import ModelConfig


@pytest.mark.parametrize("cfg", [v.config for _, v in VARIANTS], ids=[n for n, _ in VARIANTS])
def test_config_survives_a_json_round_trip(cfg):
    again = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert again.to_dict() == cfg.to_dict()


def test_unset_choices_mean_both_directions_and_no_character_features():
    cfg = ModelConfig(vocab_size=100, num_labels=17, char_vocab_size=60)
    assert cfg.bidirectional is True and cfg.char_features == "none" and cfg.cell == "lstm"
    assert cfg.encoder_output_size == 2 * cfg.hidden and cfg.char_output_size == 0
    chars = ModelConfig(vocab_size=100, num_labels=17, char_vocab_size=60, char_features="cnn")
    assert chars.char_output_size == chars.char_hidden


def test_saved_config_holds_concrete_values():
    d = ModelConfig(vocab_size=100, num_labels=17).to_dict()
    assert d["bidirectional"] is True and d["char_features"] == "none"
    assert "task" not in d and "implementation" not in d and "bf16" not in d


def test_from_dict_accepts_a_minimal_dict():
    cfg = ModelConfig.from_dict({"vocab_size": 9, "num_labels": 2})
    assert cfg == ModelConfig(vocab_size=9, num_labels=2)


BASE = {"vocab_size": 50, "num_labels": 5, "char_vocab_size": 20}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"task": "tag"}, "task"),
        ({"vocab_size": "50"}, "vocab_size"),
        ({"vocab_size": 50.0}, "vocab_size"),
        ({"vocab_size": True}, "vocab_size"),
        ({"vocab_size": 1}, "vocab_size"),
        ({"vocab_size": 10**12}, "vocab_size"),
        ({"num_labels": 0}, "num_labels"),
        ({"char_vocab_size": -1}, "char_vocab_size"),
        ({"cell": "transformer"}, "cell"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"hidden": -4}, "hidden"),
        ({"hidden": 10**9}, "hidden"),
        ({"layers": 0}, "layers"),
        ({"layers": 2.5}, "layers"),
        ({"bidirectional": "yes"}, "bidirectional"),
        ({"bidirectional": 1}, "bidirectional"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"dropout": float("nan")}, "dropout"),
        ({"dropout": "0.1"}, "dropout"),
        ({"pooling": "sum"}, "pooling"),
        ({"char_features": "bpe"}, "char_features"),
        ({"char_features": "cnn", "char_vocab_size": 0}, "char_vocab_size"),
        ({"char_features": "lstm", "char_hidden": 25}, "char_hidden"),
        ({"char_dim": 0}, "char_dim"),
        ({"char_kernel": 4}, "char_kernel"),
        ({"tie_embeddings": "false"}, "tie_embeddings"),
        ({"tie_embeddings": True}, "tie_embeddings"),
        ({"implementation": "padded"}, "implementation"),
    ],
)
def test_from_dict_rejects_bad_values_naming_the_field(change, field):
    with pytest.raises(ValueError, match=field):
        ModelConfig.from_dict({**BASE, **change})


def test_from_dict_rejects_missing_fields_and_non_dicts():
    with pytest.raises(ValueError, match="num_labels"):
        ModelConfig.from_dict({"vocab_size": 5})
    with pytest.raises(ValueError, match="dict"):
        ModelConfig.from_dict([("vocab_size", 5)])


def test_tied_embeddings_need_matching_sizes():
    one_way = {"bidirectional": False, "tie_embeddings": True}
    ok = ModelConfig(vocab_size=10, num_labels=10, embedding_dim=8, hidden=8, **one_way)
    assert ok.tie_embeddings
    with pytest.raises(ValueError, match="embedding_dim"):
        ModelConfig(vocab_size=10, num_labels=10, hidden=8, **one_way)
    with pytest.raises(ValueError, match="num_labels"):
        ModelConfig(vocab_size=10, num_labels=7, embedding_dim=8, hidden=8, **one_way)


def test_error_messages_are_one_line():
    with pytest.raises(ValueError) as err:
        ModelConfig.from_dict({**BASE, "hidden": 0})
    assert "\n" not in str(err.value)
