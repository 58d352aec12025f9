"""rnnseq.error_listing: each wrong example, gold and predicted side by side."""

from __future__ import annotations

import pytest

from rnnseq.error_listing import (
    classification_errors,
    tagging_errors,
    write_classification_errors,
    write_tagging_errors,
)


def test_tagging_block_lines_up_gold_and_predicted_and_marks_each_wrong_tag():
    tokens = [["John", "lives"], ["John", "lives", "in", "Paris"]]
    gold = [["B-PER", "O"], ["B-PER", "O", "O", "B-LOC"]]
    pred = [["B-PER", "O"], ["B-PER", "O", "B-LOC", "I-LOC"]]
    blocks = list(tagging_errors(tokens, gold, pred, where=["dev.conll:1", "dev.conll:5"]))
    assert blocks == [
        "# sentence 2 (dev.conll:5): 2 of 4 tags wrong\n"
        "John   B-PER  B-PER\n"
        "lives  O      O\n"
        "in     O      B-LOC  *\n"
        "Paris  B-LOC  I-LOC  *"
    ]


def test_tokens_with_tabs_or_newlines_stay_on_their_line():
    (block,) = tagging_errors([["a\tb", "c\nd"]], [["X", "Y"]], [["X", "Z"]])
    assert block.splitlines()[1:] == ["a\\tb  X  X", "c\\nd  Y  Z  *"]
    assert block.startswith("# sentence 1: 1 of 2 tags wrong")


def test_classification_block_shows_text_gold_and_predicted():
    blocks = list(classification_errors(["good fun", "dull"], ["pos", "neg"], ["pos", "pos"],
                                        where=[None, "test.tsv:3"]))
    assert blocks == ["# example 2 (test.tsv:3)\ntext       dull\ngold       neg\n"
                      "predicted  pos"]


def test_written_file_has_a_header_and_one_block_per_wrong_example(tmp_path):
    path = tmp_path / "errors.txt"
    n = write_tagging_errors(path, [["a"], ["b"], ["c"]], [["X"], ["X"], ["X"]],
                             [["Y"], ["X"], ["Y"]])
    text = path.read_text(encoding="utf-8")
    assert n == 2 and text.count("# sentence") == 2
    assert text.startswith("# rnnseq evaluate: tokens, gold tag, predicted tag")
    assert text.split("\n\n")[1] == "# sentence 1: 1 of 1 tags wrong\na  X  Y  *"
    assert write_classification_errors(path, ["t"], ["a"], ["a"]) == 0
    assert "# no wrong example" in path.read_text(encoding="utf-8")


def test_mismatched_lengths_are_reported():
    with pytest.raises(ValueError, match="as many gold and predicted"):
        list(tagging_errors([["a"]], [], []))
    with pytest.raises(ValueError, match="sentence 1: 1 tokens, 2 gold"):
        list(tagging_errors([["a"]], [["X", "Y"]], [["X"]]))
    with pytest.raises(ValueError, match="where must name every input"):
        list(classification_errors(["a"], ["x"], ["y"], where=[]))
