"""rnnseq.options: an option declared once gives its validation, task defaults, errors in
both vocabularies (Python fields, command-line flags) and its command-line argument."""

from __future__ import annotations

import argparse
import doctest
from dataclasses import dataclass

import pytest

import rnnseq.options
import rnnseq.training.config
from rnnseq.options import (
    OptionError,
    Per,
    add_arguments,
    check_section,
    integer,
    number,
    option,
)


@dataclass(kw_only=True)
class Section:
    size: int = option(8, "units", check=integer(1))
    rate: float | None = option(None, "a rate", check=number(0.0, low_open=True),
                                default=Per("kind", {"fast": 1.0}, otherwise=0.1))  # fmt: skip
    mode: str = option("a", "a mode", choices=("a", "b"), tasks=("tag",))
    flagged: bool = option(False, "a switch")
    either: bool | None = option(None, "tri-state", tasks=("tag", "lm"))
    pair: str = option("x", "needs mode b", choices=("x", "y"), requires={"mode": ("b",)})


def test_error_messages_name_fields_in_python_and_flags_on_the_command_line():
    e = OptionError("{0} needs {1}", ("reduction", "token_mean"), "time_reduction")
    assert str(e) == "reduction='token_mean' needs time_reduction"
    assert e.for_cli() == "--reduction token_mean needs --time-reduction"
    assert isinstance(e, ValueError)


def test_values_are_checked_by_type_range_and_choice():
    with pytest.raises(OptionError, match="size must be an integer >= 1, got 0"):
        check_section(Section(size=0), "tag", {})
    with pytest.raises(OptionError, match="size must be an integer >= 1, got True"):
        check_section(Section(size=True), "tag", {})
    with pytest.raises(OptionError, match="rate must be a finite number > 0, got nan"):
        check_section(Section(rate=float("nan")), "tag", {})
    with pytest.raises(OptionError, match="mode must be one of a, b"):
        check_section(Section(mode="c"), "tag", {})
    with pytest.raises(OptionError, match="flagged must be true or false"):
        check_section(Section(flagged="yes"), "tag", {})


def test_an_option_of_another_task_must_keep_its_default():
    check_section(Section(mode="a"), "classify", {})  # the default: accepted
    with pytest.raises(OptionError, match="mode does not apply to task='classify'"):
        check_section(Section(mode="b"), "classify", {})
    with pytest.raises(OptionError, match="either does not apply"):
        check_section(Section(either=True), "classify", {})


def test_requires_names_the_other_option_and_its_value():
    with pytest.raises(OptionError) as e:
        check_section(Section(pair="y"), "tag", {})
    assert e.value.for_cli() == "--pair y applies only with --mode b, not --mode a"


def test_per_picks_the_default_by_task_or_by_another_option():
    per = Per("task", {"lm": 1}, otherwise=2)
    assert (per.pick("lm"), per.pick("tag")) == (1, 2)
    assert per.describe() == "1 for task lm; 2 otherwise"


def test_the_command_line_takes_only_what_was_typed():
    parser = argparse.ArgumentParser()
    add_arguments(parser, Section)
    assert vars(parser.parse_args([])) == {}
    args = parser.parse_args(["--size", "3", "--flagged", "--no-either", "--mode", "b"])
    assert vars(args) == {"size": 3, "flagged": True, "either": False, "mode": "b"}
    helps = {a.dest: a.help for a in parser._actions}
    assert helps["size"] == "units (default 8)"
    assert helps["rate"] == "a rate (default 1 for kind fast; 0.1 otherwise)"
    assert helps["flagged"] == "a switch"
    with pytest.raises(SystemExit):
        parser.parse_args(["--mode", "c"])


@pytest.mark.parametrize("module", [rnnseq.options, rnnseq.training.config])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0
