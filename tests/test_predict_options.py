"""rnnseq.predict_options: evaluate/predict/explain options declared once; values checked
before loading, options of another task refused after, task defaults filled in."""

from __future__ import annotations

import argparse
import dataclasses

import pytest

from rnnseq.options import OptionError
from rnnseq.predict_options import (
    COMMANDS,
    Generation,
    ModelUse,
    PredictOutput,
    PredictSettings,
    Tokens,
    add_command_arguments,
    check_for_task,
    check_values,
    sections_from,
    unescape,
)
from rnnseq.tasks import get_task


def test_every_command_gets_one_flag_per_field_with_a_help_line():
    for command, sections in COMMANDS.items():
        parser = argparse.ArgumentParser()
        add_command_arguments(parser, command)
        flags = {f for a in parser._actions for f in a.option_strings}
        for section in sections:
            for f in dataclasses.fields(section):
                assert "--" + f.name.replace("_", "-") in flags, (command, f.name)
        assert all(a.help for a in parser._actions)


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ({"device": "gpu"}, "device must be one of auto, cpu, cuda (or cuda:N), got 'gpu'"),
        ({"batch_size": 0}, "batch_size must be an integer >= 1"),
        ({"top_k": 0}, "top_k must be an integer >= 1"),
        ({"temperature": -1.0}, "temperature must be a finite number >= 0"),
        ({"output": "xml"}, "output must be one of tsv, jsonl, conllu"),
    ],
)
def test_bad_values_are_refused_before_any_model_is_loaded(given, message):
    sections = sections_from("predict", {"model": "m", **given})
    with pytest.raises(OptionError) as e:
        check_values(sections.values())
    assert message in str(e.value)


@pytest.mark.parametrize(
    ("task", "given", "cli"),
    [
        ("tag", {"temperature": 0.5}, "--temperature does not apply to this model (task tag"),
        ("classify", {"stop": "."}, "--stop does not apply to this model (task classify"),
        ("lm", {"pretokenized": True}, "--pretokenized does not apply to this model (task lm"),
        ("lm", {"max_tokens": 5}, "--max-tokens does not apply"),
        ("classify", {"output": "conllu"}, "--output conllu needs a model of task tag"),
    ],
)
def test_an_option_of_another_task_is_refused_with_its_flag(task, given, cli):
    sections = sections_from("predict", {"model": "m", **given})
    with pytest.raises(OptionError) as e:
        check_for_task(sections.values(), task)
    assert cli in e.value.for_cli()


def test_task_defaults_fill_in_tokenization():
    for task, expected in (("tag", False), ("classify", True), ("lm", None)):
        sections = sections_from("predict", {"model": "m"})
        check_for_task(sections.values(), task)
        assert sections[Tokens].pretokenized is expected
    sections = sections_from("predict", {"model": "m", "pretokenized": False})
    check_for_task(sections.values(), "classify")
    assert sections[Tokens].pretokenized is False


def test_settings_resolve_for_a_task_and_refuse_what_it_cannot_use():
    tag, lm = get_task("tag"), get_task("lm")
    settings = PredictSettings.resolve(tag)
    assert settings.output == "tsv" and settings.pretokenized is False and settings.top_k is None
    with pytest.raises(OptionError, match="top_k lists the K most probable tags"):
        PredictSettings.resolve(tag, top_k=3, lines=True)  # written lines: jsonl only
    assert PredictSettings.resolve(tag, top_k=3, output="jsonl", lines=True).top_k == 3
    assert PredictSettings.resolve(tag, top_k=3).top_k == 3  # Python answers: any output
    assert PredictSettings.resolve(lm, top_k=3).top_k == 3  # lm: sampling from the top 3
    with pytest.raises(OptionError, match="nope is not an option of predict"):
        PredictSettings.resolve(lm, nope=1)


def test_the_defaults_are_one_declaration():
    assert ModelUse().device == "auto"  # as rnnseq train, rnnseq.load and Predictor.load
    assert PredictOutput().output == "tsv" and Generation().stop is None


def test_stop_strings_read_backslash_escapes():
    assert unescape(r"\n") == "\n" and unescape(r"a\tb\\n") == "a\tb\\n"
    assert unescape("ROMEO:") == "ROMEO:" and unescape("\\") == "\\"
