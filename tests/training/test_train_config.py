"""rnnseq.training.config: what a resumed run may change, and contradictory options."""

from __future__ import annotations

import pytest

from rnnseq.training.config import TrainConfig, resumed_config


def _saved(**kw) -> dict:
    return TrainConfig(task="tag", train="a.conllu", out="m", hidden=16, **kw).resolved().to_dict()


def test_a_resumed_run_keeps_its_options_and_takes_this_sessions():
    given = TrainConfig(
        task="tag", train="moved/a.conllu", out="m", hidden=16, epochs=20, threads=2, resume=True
    )
    cfg = resumed_config(given, _saved(epochs=10))
    assert (cfg.epochs, cfg.threads, cfg.train, cfg.resume) == (20, 2, "moved/a.conllu", True)
    assert cfg.hidden == 16 and cfg.lr == 1e-3


def test_a_resumed_run_refuses_every_changed_option_by_name():
    given = TrainConfig(task="tag", train="a.conllu", out="m", hidden=32, lr=0.01, resume=True)
    with pytest.raises(ValueError) as e:
        resumed_config(given, _saved())
    message = str(e.value)
    assert "--hidden 32 (the run has 16)" in message and "--lr 0.01 (the run has 0.001)" in message
    assert "--epochs" in message.split("only")[1]  # says what may change


def test_resume_with_overwrite_is_a_value_error_naming_both():
    with pytest.raises(ValueError, match="--resume .* --overwrite"):
        TrainConfig(task="tag", train="a", out="m", resume=True, overwrite=True).resolved()


def test_bucket_pool_must_be_a_positive_integer_and_is_kept_on_resume():
    with pytest.raises(ValueError, match="--bucket-pool must be an integer >= 1"):
        TrainConfig(task="tag", train="a", out="m", bucket_pool=0).resolved()
    given = TrainConfig(task="tag", train="a.conllu", out="m", hidden=16, resume=True)
    with pytest.raises(ValueError, match="--bucket-pool 100 \\(the run has 1\\)"):
        resumed_config(given, _saved(bucket_pool=1))
