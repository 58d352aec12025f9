from __future__ import annotations

import json

import pytest
from model_checks import VARIANTS

from rnnseq.models import ModelConfig


@pytest.mark.parametrize("cfg", [cfg for _, cfg in VARIANTS], ids=[n for n, _ in VARIANTS])
def test_config_survives_a_json_round_trip(cfg):
    again = ModelConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg
    assert again.to_dict() == cfg.to_dict()


def test_config_defaults_follow_the_task():
    tag = ModelConfig(task="tag", vocab_size=100, num_labels=17, char_vocab_size=60)
    assert tag.bidirectional is True and tag.char_features == "cnn" and tag.cell == "lstm"
    assert tag.encoder_output_size == 2 * tag.hidden
    assert tag.char_output_size == tag.char_hidden
    plain_tag = ModelConfig(task="tag", vocab_size=100, num_labels=17)
    assert plain_tag.char_features == "none" and plain_tag.char_output_size == 0
    cls = ModelConfig(task="classify", vocab_size=100, num_labels=2, char_vocab_size=60)
    assert cls.bidirectional is True and cls.char_features == "none"
    lm = ModelConfig(task="lm", vocab_size=100, num_labels=100)
    assert lm.bidirectional is False and lm.directions == 1 and not lm.tie_embeddings


def test_saved_config_holds_concrete_values_not_task_defaults():
    d = ModelConfig(task="tag", vocab_size=100, num_labels=17, char_vocab_size=60).to_dict()
    assert d["bidirectional"] is True and d["char_features"] == "cnn"


def test_from_dict_accepts_a_minimal_dict():
    cfg = ModelConfig.from_dict({"task": "classify", "vocab_size": 9, "num_labels": 2})
    assert cfg == ModelConfig(task="classify", vocab_size=9, num_labels=2)


BASE = {"task": "tag", "vocab_size": 50, "num_labels": 5, "char_vocab_size": 20}


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"task": "translate"}, "task"),
        ({"task": None}, "task"),
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
        ({"implementation": "fast"}, "implementation"),
    ],
)
def test_from_dict_rejects_bad_values_naming_the_field(change, field):
    with pytest.raises(ValueError, match=field):
        ModelConfig.from_dict({**BASE, **change})


def test_from_dict_rejects_missing_fields_and_non_dicts():
    with pytest.raises(ValueError, match="num_labels"):
        ModelConfig.from_dict({"task": "tag", "vocab_size": 5})
    with pytest.raises(ValueError, match="dict"):
        ModelConfig.from_dict([("task", "tag")])


def test_language_model_must_be_unidirectional():
    with pytest.raises(ValueError, match="bidirectional"):
        ModelConfig(task="lm", vocab_size=10, num_labels=10, bidirectional=True)


def test_tied_embeddings_need_matching_sizes():
    ok = ModelConfig(
        task="lm", vocab_size=10, num_labels=10, embedding_dim=8, hidden=8, tie_embeddings=True
    )
    assert ok.tie_embeddings
    with pytest.raises(ValueError, match="embedding_dim"):
        ModelConfig(task="lm", vocab_size=10, num_labels=10, hidden=8, tie_embeddings=True)
    with pytest.raises(ValueError, match="num_labels"):
        ModelConfig(
            task="lm", vocab_size=10, num_labels=7, embedding_dim=8, hidden=8, tie_embeddings=True
        )


def test_error_messages_are_one_line():
    with pytest.raises(ValueError) as err:
        ModelConfig.from_dict({**BASE, "hidden": 0})
    assert "\n" not in str(err.value)
