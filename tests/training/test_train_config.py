"""rnnseq.training.config: one declaration per option — task defaults, refusals of options
that do not apply, what a resumed run may change; Python names fields, the CLI flags."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from rnnseq.models.config import ModelOptions
from rnnseq.options import OptionError, spec_of
from rnnseq.training.config import (
    SECTIONS,
    TrainConfig,
    add_train_arguments,
    resumed_config,
)


def _saved(**kw) -> TrainConfig:
    return TrainConfig(task="tag", train="a.conllu", out="m", hidden=16, **kw).resolved()


def test_a_resumed_run_keeps_its_options_and_takes_this_sessions():
    given = TrainConfig(
        task="tag", train="moved/a.conllu", out="m", hidden=16, epochs=20, threads=2, resume=True
    )
    cfg = resumed_config(given, _saved(epochs=10))
    t = cfg.training
    assert (t.epochs, t.threads, cfg.train, t.resume) == (20, 2, "moved/a.conllu", True)
    assert cfg.model.hidden == 16 and t.lr == 1e-3


def test_a_resumed_run_refuses_every_changed_option_by_name():
    given = TrainConfig(task="tag", train="a.conllu", out="m", hidden=32, lr=0.01, resume=True)
    with pytest.raises(OptionError) as e:
        resumed_config(given, _saved())
    message = str(e.value)
    assert "hidden 32 (the run has 16)" in message and "lr 0.01 (the run has 0.001)" in message
    assert "epochs" in message.split("only")[1]  # says what may change
    cli = e.value.for_cli()
    assert "--hidden 32 (the run has 16)" in cli and "--epochs" in cli.split("only")[1]


def test_resume_with_overwrite_is_refused_naming_both():
    with pytest.raises(OptionError, match="resume .* overwrite") as e:
        TrainConfig(task="tag", train="a", out="m", resume=True, overwrite=True).resolved()
    assert e.value.for_cli().startswith("--resume keeps the folder and --overwrite")


def test_bucket_pool_must_be_a_positive_integer_and_is_kept_on_resume():
    with pytest.raises(OptionError, match="bucket_pool must be an integer >= 1"):
        TrainConfig(task="tag", train="a", out="m", bucket_pool=0).resolved()
    given = TrainConfig(task="tag", train="a.conllu", out="m", hidden=16, resume=True)
    with pytest.raises(OptionError, match="bucket_pool 100 \\(the run has 1\\)"):
        resumed_config(given, _saved(bucket_pool=1))


@pytest.mark.parametrize(
    ("task", "options", "named"),
    [
        ("classify", {"reduction": "token_mean"}, "reduction"),
        ("classify", {"time_reduction": "mean"}, "time_reduction"),
        ("tag", {"loss": "crf", "time_reduction": "mean"}, "time_reduction"),
        ("tag", {"loss": "crf", "label_smoothing": 0.1}, "label_smoothing"),
        ("tag", {"loss": "crf", "class_weights": "balanced"}, "class_weights"),
        ("classify", {"loss": "crf"}, "loss"),
        ("lm", {"bidirectional": True}, "bidirectional"),
        ("lm", {"char_features": "cnn"}, "char_features"),
        ("lm", {"lowercase": True}, "lowercase"),
        ("lm", {"max_length": 50}, "max_length"),
        ("lm", {"bucket_pool": 1}, "bucket_pool"),
        ("tag", {"pooling": "mean"}, "pooling"),
        ("tag", {"tie_embeddings": True}, "tie_embeddings"),
        ("tag", {"bptt": 16}, "bptt"),
        ("tag", {"unit": "word"}, "unit"),
        ("classify", {"tag_scheme": "iob2"}, "tag_scheme"),
    ],
)
def test_an_option_that_does_not_apply_to_the_task_is_refused_naming_it(task, options, named):
    cfg = TrainConfig(task=task, train="t", out="m", **options)
    with pytest.raises(OptionError) as e:
        cfg.resolved()
    assert str(e.value).startswith(named), str(e.value)
    assert e.value.for_cli().startswith("--" + named.replace("_", "-"))
    assert "\n" not in str(e.value)


def test_an_option_at_its_default_for_the_task_is_accepted_everywhere():
    TrainConfig(task="classify", train="t", out="m", time_reduction="sum").resolved()
    TrainConfig(task="lm", train="t", out="m", bidirectional=False).resolved()
    TrainConfig(task="tag", train="t", out="m", loss="crf", time_reduction="sum").resolved()


def test_python_errors_name_fields_and_the_cli_names_flags():
    with pytest.raises(OptionError) as e:
        TrainConfig(task="lm", train="t", out="m", lr=float("inf")).resolved()
    assert str(e.value) == "lr must be a finite number > 0, got inf"
    assert e.value.for_cli() == "--lr must be a finite number > 0, got inf"


def test_task_defaults_are_filled_in_once_resolved():
    tag = TrainConfig(task="tag", train="t", out="m").resolved()
    assert tag.model.char_features == "cnn" and tag.model.bidirectional is True
    assert tag.data.min_freq == 2 and tag.training.lr == 1e-3
    lm = TrainConfig(task="lm", train="t", out="m", optimizer="sgd").resolved()
    assert lm.model.bidirectional is False and lm.model.char_features == "none"
    assert lm.data.min_freq == 1 and lm.training.lr == 1.0
    cls = TrainConfig(task="classify", train="t", out="m").resolved()
    assert cls.model.char_features == "none" and cls.model.bidirectional is True


def test_flat_options_and_sections_build_the_same_config():
    flat = TrainConfig(task="tag", train="t", out="m", hidden=64, epochs=3, loss="crf")
    sections = TrainConfig(task="tag", train="t", out="m", model=ModelOptions(hidden=64))
    sections.set(epochs=3, loss="crf")
    assert flat == sections
    assert TrainConfig.from_dict(flat.to_dict()) == flat
    assert TrainConfig.from_dict(flat.options()) == flat
    with pytest.raises(OptionError, match="colour is not an option"):
        TrainConfig(task="tag", train="t", out="m", colour="red")


def test_every_option_is_declared_once_with_a_help_line_and_reaches_the_cli():
    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    dests = {a.dest for a in parser._actions}
    for cls, _ in SECTIONS.values():
        for f in dataclasses.fields(cls):
            spec = spec_of(f)
            assert spec.help, f.name
            assert (f.name in dests) == spec.cli, f.name
    args = parser.parse_args(["--task", "tag", "--train", "t", "--out", "m", "--hidden", "7"])
    assert vars(args) == {"task": "tag", "train": "t", "out": "m", "hidden": 7}
