"""rnnseq.report: the explain table's layout and colour, and the evaluation report."""

from __future__ import annotations

import io
import math

import pytest

from rnnseq.inference import ExplainedStep, Explanation
from rnnseq.report import evaluation_report, explanation_table, use_colour


def _expl(rows, given=True) -> Explanation:
    return Explanation([ExplainedStep(i, lab, p, -math.log(p)) for i, lab, p in rows], given)


def test_table_rows_hold_step_input_label_p_and_loss_with_sum_and_mean_aligned():
    table = explanation_table(_expl([("John", "B-PER", 0.7), ("lives", "O", 0.6), (".", "O", 0.9)]))
    lines = table.splitlines()
    assert lines[0].split() == ["step", "input", "true", "label", "p_j", "L_j", "=", "-ln", "p_j"]
    assert lines[2].split() == ["1", "John", "B-PER", "0.7000", "0.3567"]
    assert lines[4].split() == ["3", ".", "O", "0.9000", "0.1054"]
    assert lines[6].endswith("0.9729") and "sum  Σ_j L_j" in lines[6]  # 0.3567+0.5108+0.1054
    assert lines[7].endswith("0.3243") and "mean over 3 step(s)" in lines[7]
    right = len(lines[0])  # numbers end under the end of "L_j = -ln p_j"
    assert all(len(line) == right for line in lines[2:5] + lines[6:8])
    p_end = lines[0].index("p_j") + 3
    assert all(line[p_end - 6 : p_end] in {"0.7000", "0.6000", "0.9000"} for line in lines[2:5])
    assert lines[1] == lines[5] and set(lines[1]) == {"-", " "}


def test_table_names_the_label_column_by_where_the_labels_came_from():
    rows = [("a", "X", 0.5)]
    assert "true label" in explanation_table(_expl(rows, True)).splitlines()[0]
    assert "predicted label" in explanation_table(_expl(rows, False)).splitlines()[0]
    lm = Explanation(_expl(rows, True).steps, True, label_head="next unit")
    assert "next unit" in explanation_table(lm).splitlines()[0]


def test_table_escapes_whitespace_and_clips_long_inputs():
    long = "word " * 20
    table = explanation_table(_expl([("\n", " ", 0.5), ("a\tb", "x", 0.5), (long, "pos", 0.5)]))
    rows = table.splitlines()[2:5]
    assert rows[0].split()[1:3] == ["'\\n'", "'"]  # repr of "\n" and of " "
    assert "a\\tb" in rows[1] and "\t" not in table
    clipped = rows[2][6:46]
    assert clipped.endswith("…") and len(clipped) == 40 and clipped.startswith("word word")


def test_table_shows_an_infinite_loss_as_inf():
    table = explanation_table(Explanation([ExplainedStep("a", "X", 0.0, math.inf)], True))
    assert table.splitlines()[2].split()[-1] == "inf" and table.endswith("inf")


def test_colour_marks_each_row_by_its_probability_and_nothing_else():
    expl = _expl([("a", "X", 0.95), ("b", "Y", 0.5), ("c", "Z", 0.1)])
    plain = explanation_table(expl).splitlines()
    coloured = explanation_table(expl, colour=True).splitlines()
    assert [coloured[k][:5] for k in (2, 3, 4)] == ["\033[32m", "\033[33m", "\033[31m"]
    assert [line.replace("\033[0m", "")[5:] for line in coloured[2:5]] == plain[2:5]
    assert coloured[:2] + coloured[5:] == plain[:2] + plain[5:]


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.parametrize(
    ("tty", "env", "expected"),
    [
        (True, {}, True),
        (False, {}, False),
        (True, {"NO_COLOR": "1"}, False),
        (True, {"NO_COLOR": ""}, True),  # no-color.org: only a non-empty value counts
        (True, {"TERM": "dumb"}, False),
    ],
)
def test_use_colour_only_on_a_terminal_without_no_color(monkeypatch, tty, env, expected):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert use_colour(_Stream(tty)) is expected
    monkeypatch.setattr("sys.stdout", _Stream(tty))  # the default is the stdout of the call
    assert use_colour() is expected
    assert use_colour(object()) is False  # no isatty at all


def test_evaluation_report_lists_the_scores_and_aligns_the_per_class_table():
    result = {
        "loss": 0.25,
        "accuracy": 0.9,
        "macro_f1": 0.85,
        "span_f1": 0.8,
        "tag_scheme": "IOB1",
        "n_examples": 3,
        "n_tokens": 12,
        "per_class": {
            "B-LOC": {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2},
            "O": {"precision": 0.9, "recall": 1.0, "f1": 0.947, "support": 10},
        },
    }
    text = evaluation_report(result, "dev.conll")
    assert text.startswith("dev.conll: 3 examples, 12 counted steps")
    assert "0.2500 nats per step" in text and "span F1     0.8000  (IOB1 tags, strict)" in text
    table = text.split("\n\n")[1].splitlines()
    assert table[0].split() == ["class", "precision", "recall", "F1", "support"]
    assert table[1].split() == ["B-LOC", "1.0000", "0.5000", "0.6667", "2"]
    assert len({len(line) for line in table}) == 1  # every column right-aligned
    assert "entities" not in text  # no per_type, no entity block
    assert "nats per example" in evaluation_report(result, "x.tsv", "example")
    lm = {"loss": 1.0, "accuracy": 0.5, "perplexity": math.e, "n_examples": 1, "n_tokens": 9}
    assert "perplexity  2.72" in evaluation_report(lm, "t.txt")


def test_evaluation_report_prints_entity_scores_in_conlleval_layout():
    result = {
        "loss": 0.25, "accuracy": 0.9, "macro_f1": 0.85, "n_examples": 3, "n_tokens": 12,
        "tag_scheme": "IOB2", "span_precision": 0.7035, "span_recall": 0.92831,
        "span_f1": 0.80044,
        "per_type": {
            "LOC": {"precision": 0.72008, "recall": 0.93765, "f1": 0.81459, "support": 1668},
            "MISC": {"precision": 0.5, "recall": 1.0, "f1": 2 / 3, "support": 2},
        },
        "per_class": {"O": {"precision": 0.9, "recall": 1.0, "f1": 0.947, "support": 10}},
    }
    blocks = evaluation_report(result, "test.conll").split("\n\n")
    entity = blocks[1].splitlines()
    assert entity[0] == "  entities (IOB2 tags, strict spans, as conlleval scores them)"
    assert entity[1] == ("            overall: precision:  70.35%; recall:  92.83%; "
                         "FB1:  80.04  support 1670")
    assert entity[2] == ("                LOC: precision:  72.01%; recall:  93.77%; "
                         "FB1:  81.46  support 1668")
    assert entity[3].endswith("MISC: precision:  50.00%; recall: 100.00%; FB1:  66.67  "
                              "support    2")
    assert blocks[2].splitlines()[0].split() == ["class", "precision", "recall", "F1", "support"]
