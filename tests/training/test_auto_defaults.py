"""rnnseq.training.auto_defaults and its use: defaults chosen from the training data for
the options a user left unset, never for one the user set (command line or Python),
recorded resolved in config.json, kept on --resume, told in one line."""

from __future__ import annotations

import json

import pytest

import rnnseq
from rnnseq.cli import main
from rnnseq.tasks import get_task
from rnnseq.training.auto_defaults import (
    FROM_DATA,
    MAX_EPOCHS,
    MIN_EPOCHS,
    PATIENCE,
    DataSummary,
    choose_defaults,
    epoch_limit,
    summarize_tags,
    token_budget,
)
from rnnseq.training.config import TrainConfig, resumed_config

SPAN = DataSummary(examples=14_041, tokens=203_621, labels=9, tag_scheme="IOB1")
POS = DataSummary(examples=12_544, tokens=204_578, labels=17)
FAST = ["--max-steps", "2", "--threads", "1", "--no-progress", "--embedding-dim", "8"]


def _cfg(**options) -> TrainConfig:
    return TrainConfig(task="tag", train="t.conll", out="m", dev="d.conll", **options)


# ----------------------------------------------------------------------- the choice


def test_span_tags_get_a_crf_learned_in_iobes_and_the_ner_recipe():
    o = choose_defaults(SPAN).options
    assert (o["loss"], o["tag_scheme"], o["lowercase"], o["min_freq"]) == ("crf", "iobes", True, 1)
    assert (o["hidden"], o["dropout"], o["word_dropout"]) == (200, 0.5, 0.1)
    assert (o["lr"], o["batch_size"], o["patience"]) == (1e-3, 16, PATIENCE)
    assert o["epochs"] == 23  # ceil(20000 / 878 steps an epoch)
    assert "batch_tokens" not in o  # trailed batches of sentences (docs/DEFAULTS.md)


def test_other_tags_get_cross_entropy_and_the_pos_recipe():
    o = choose_defaults(POS).options
    assert (o["loss"], o["lowercase"], o["min_freq"], o["word_dropout"]) == ("ce", True, 1, 0.25)
    assert (o["hidden"], o["dropout"], o["lr"], o["batch_size"]) == (128, 0.25, 2e-3, 32)
    assert o["epochs"] == 52  # 392 steps an epoch
    assert "tag_scheme" not in o
    assert set(o) <= set(FROM_DATA)


def test_the_epoch_limit_takes_the_step_budget_within_its_bounds():
    assert epoch_limit(100, 32) == MAX_EPOCHS
    assert epoch_limit(1_000_000, 32) == MIN_EPOCHS
    assert epoch_limit(12_544, 32) == 52  # 392 steps an epoch
    with pytest.raises(ValueError, match="examples and batch_size"):
        epoch_limit(0, 32)


def test_without_dev_the_run_takes_min_epochs_and_nothing_to_stop_on():
    o = choose_defaults(DataSummary(examples=500, tokens=5000, has_dev=False)).options
    assert o["epochs"] == MIN_EPOCHS and "patience" not in o


def test_what_the_user_set_is_left_out_and_shapes_the_rest():
    o = choose_defaults(POS, {"hidden": 64, "batch_size": 64, "optimizer": "sgd"}).options
    assert "hidden" not in o and "batch_size" not in o
    assert "lr" not in o  # the rates were measured with Adam only
    assert o["epochs"] == epoch_limit(12_544, 64)


def test_the_token_budget_is_batch_size_sentences_of_mean_length():
    assert token_budget(POS, 32) == 522  # EWT
    assert token_budget(DataSummary(examples=3, tokens=1), 1) == 1
    with pytest.raises(ValueError, match="examples and batch_size"):
        token_budget(POS, 0)


def test_summarize_tags_finds_the_span_scheme():
    s = summarize_tags([(["John", "ran"], ["B-PER", "O"]), (["x"], ["O"])], has_dev=False)
    assert (s.examples, s.tokens, s.labels, s.tag_scheme, s.has_dev) == (2, 3, 2, "IOB2", False)
    assert summarize_tags([(["a", "b"], ["DET", "NOUN"])]).tag_scheme is None


# ----------------------------------------------------------- the config applies it


def test_resolved_fills_only_the_options_left_unset():
    r = _cfg(hidden=64, lowercase=False, lr=0.05).resolved(SPAN)
    assert (r.model.hidden, r.data.lowercase, r.training.lr) == (64, False, 0.05)
    assert r.objective.loss == "crf" and r.model.dropout == 0.5
    assert set(r.chosen.options) == set(FROM_DATA) - {"hidden", "lowercase", "lr"}
    assert "--hidden" not in r.chosen.description and "--loss crf" in r.chosen.description


def test_a_chosen_crf_gives_way_to_an_option_that_needs_cross_entropy():
    r = _cfg(label_smoothing=0.1).resolved(SPAN)
    assert r.objective.loss == "ce" and "loss" not in r.chosen.options
    assert "--loss" not in r.chosen.description and r.model.hidden == 200


def test_without_data_the_fixed_defaults_stand():
    r = _cfg().resolved()
    assert r.chosen is None
    assert (r.objective.loss, r.data.lowercase, r.data.min_freq) == ("ce", False, 2)
    assert (r.model.hidden, r.model.word_dropout, r.training.lr) == (128, 0.0, 1e-3)
    assert (r.training.epochs, r.training.batch_size, r.training.batch_tokens) == (10, 32, 0)
    assert r.training.patience == 3


def test_classify_and_lm_choose_nothing_from_their_data():
    assert get_task("classify").data_summary([], has_dev=True) is None
    assert get_task("lm").data_summary([], has_dev=True) is None


def test_a_resumed_run_keeps_the_values_the_data_chose():
    saved = _cfg().resolved(POS)
    cfg = resumed_config(_cfg(resume=True), saved)
    for name in FROM_DATA:
        assert cfg.options()[name] == saved.options()[name], name
    assert resumed_config(_cfg(resume=True, epochs=7), saved).training.epochs == 7


def test_help_says_which_defaults_come_from_the_data(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert "(default 128; tag: from the data)" in out and "--batch-tokens" in out
    assert "an option you give is always kept" in out


# -------------------------------------------------------------------- whole runs


def _train(capsys, argv) -> tuple[int, str]:
    code = main(["train", *map(str, argv)])
    return code, capsys.readouterr().err


def test_train_prints_one_line_and_saves_what_it_chose(data, tmp_path, capsys):
    out = tmp_path / "m"
    tags = data / "tags.jsonl"
    code, err = _train(capsys, ["--task", "tag", "--train", tags, "--dev", tags, "--out", out,
                                "--hidden", 8, *FAST])  # fmt: skip
    assert code == 0, err
    lines = [line for line in err.splitlines() if line.startswith("defaults for")]
    assert len(lines) == 1 and lines[0].startswith("defaults for tags that are not span tags")
    assert "--lowercase" in lines[0] and "--hidden" not in lines[0]
    assert lines[0].endswith("; set any of them to override")
    saved = json.loads((out / "config.json").read_text())["training"]
    assert saved["model"]["hidden"] == 8 and saved["data"]["lowercase"] is True
    assert saved["training"]["lr"] == 2e-3 and saved["training"]["epochs"] == 100
    assert saved["training"]["patience"] == PATIENCE
    # resumed with no options: the saved choices stand, nothing is chosen again
    code, err = _train(capsys, ["--task", "tag", "--train", tags, "--dev", tags, "--out", out,
                                "--hidden", 8, "--embedding-dim", 8, "--resume", "--max-steps", 3,
                                "--threads", 1, "--no-progress"])  # fmt: skip
    assert code == 0, err
    again = json.loads((out / "config.json").read_text())["training"]
    assert again["model"] == saved["model"] and again["data"] == saved["data"]
    assert again["training"]["epochs"] == saved["training"]["epochs"]


def test_options_set_on_the_command_line_are_never_replaced(data, tmp_path, capsys):
    out = tmp_path / "m"
    tags = data / "tags.jsonl"
    code, err = _train(capsys, ["--task", "tag", "--train", tags, "--dev", tags, "--out", out,
                                "--hidden", 8, "--no-lowercase", "--patience", 2,
                                "--min-freq", 3, "--lr", 0.01, *FAST])  # fmt: skip
    assert code == 0, err
    saved = json.loads((out / "config.json").read_text())["training"]
    assert saved["data"]["lowercase"] is False and saved["data"]["min_freq"] == 3
    assert saved["training"]["patience"] == 2 and saved["training"]["lr"] == 0.01
    line = next(x for x in err.splitlines() if x.startswith("defaults for"))
    assert not any(f in line for f in ("--lowercase", "--min-freq", "--lr ", "--patience"))


def test_options_set_in_python_are_never_replaced(data, tmp_path):
    tags = data / "tags.jsonl"
    result = rnnseq.train(task="tag", train=tags, dev=tags, out=tmp_path / "m", hidden=8,
                          embedding_dim=8, word_dropout=0.0, epochs=1, max_steps=2,
                          threads=1, progress=False)  # fmt: skip
    saved = json.loads((result.out / "config.json").read_text())["training"]
    assert saved["model"]["word_dropout"] == 0.0 and saved["training"]["epochs"] == 1
    assert saved["model"]["dropout"] == 0.25 and saved["data"]["min_freq"] == 1  # chosen


def test_span_tags_train_with_the_crf_in_iobes(tmp_path, capsys):
    rows = [(["John", "Smith", "ran", "."], ["B-PER", "I-PER", "O", "O"]),
            (["Mary", "saw", "Paris", "."], ["B-PER", "O", "B-LOC", "O"])] * 10  # fmt: skip
    path = tmp_path / "ner.jsonl"
    path.write_text("".join(json.dumps({"tokens": t, "tags": g}) + "\n" for t, g in rows))
    out = tmp_path / "m"
    code, err = _train(capsys, ["--task", "tag", "--train", path, "--dev", path, "--out", out,
                                "--hidden", 8, *FAST])  # fmt: skip
    assert code == 0, err
    assert "defaults for span tags (IOB2 found, 20 sentences): --loss crf --tag-scheme iobes" in err
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["objective"]["loss"] == "crf"
    assert config["training"]["data"]["tag_scheme"] == "iobes"
