"""rnnseq.evaluation: metrics by hand, and span F1 scored as conlleval scores."""

import math

import pytest

from rnnseq.evaluation import (
    accuracy,
    classification_scores,
    confusion_matrix,
    per_type_span_scores,
    perplexity,
    span_scores,
    tagging_scores,
)
from rnnseq.tag_schemes import spans


def test_accuracy_and_macro_f1_by_hand():
    gold = ["a", "a", "b", "c"]
    pred = ["a", "b", "b", "b"]
    scores = classification_scores(gold, pred)
    assert scores["accuracy"] == 0.5
    # a: P=1 R=.5 F=2/3; b: P=1/3 R=1 F=.5; c: P=0 R=0 F=0
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 0.5 + 0) / 3)
    assert scores["per_class"]["b"] == pytest.approx(
        {"precision": 1 / 3, "recall": 1.0, "f1": 0.5, "support": 1}
    )


def test_accuracy_of_nothing_is_zero_and_lengths_must_match():
    assert accuracy([], []) == 0.0
    with pytest.raises(ValueError, match="same length"):
        accuracy(["a"], [])


def test_span_f1_counts_only_exact_spans():
    gold = [["B-PER", "I-PER", "O", "B-LOC"]]
    pred = [["B-PER", "O", "O", "B-LOC"]]  # PER boundary wrong, LOC right
    s = span_scores(gold, pred, "IOB2")
    assert s == pytest.approx({"precision": 0.5, "recall": 0.5, "f1": 0.5})


def test_iob1_gold_is_read_with_conlleval_chunks():
    # IOB1: I- starts a span; B-LOC splits two adjacent LOC spans.
    gold = [["I-PER", "I-PER", "O", "I-LOC", "B-LOC"]]
    assert spans(gold[0], "IOB1") == {("PER", 0, 2), ("LOC", 3, 4), ("LOC", 4, 5)}
    perfect = span_scores(gold, gold, "IOB1")
    assert perfect["f1"] == 1.0
    merged = [["I-PER", "I-PER", "O", "I-LOC", "I-LOC"]]  # one LOC span instead of two
    s = span_scores(gold, merged, "IOB1")
    assert s["precision"] == pytest.approx(1 / 2) and s["recall"] == pytest.approx(1 / 3)


def test_prediction_that_starts_with_i_counts_as_a_span_like_conlleval():
    gold = [["B-ORG", "I-ORG", "O"]]
    pred = [["I-ORG", "I-ORG", "O"]]
    assert span_scores(gold, pred, "IOB2")["f1"] == 1.0


def test_tagging_scores_report_span_f1_only_for_span_schemes():
    pos = tagging_scores([["DET", "NOUN"], ["VERB"]], [["DET", "VERB"], ["VERB"]])
    assert pos["accuracy"] == pytest.approx(2 / 3)
    assert "span_f1" not in pos and "tag_scheme" not in pos
    ner = tagging_scores([["I-PER", "O"]], [["O", "O"]])
    assert ner["tag_scheme"] == "IOB1" and ner["span_f1"] == 0.0
    iobes = tagging_scores([["S-PER", "O"]], [["S-PER", "O"]])
    assert iobes["tag_scheme"] == "IOBES" and iobes["span_f1"] == 1.0


def test_perplexity_is_exp_of_loss():
    assert perplexity(math.log(65)) == pytest.approx(65)
    assert perplexity(1e6) == math.inf


def test_per_type_scores_by_hand():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "B-LOC"]]
    pred = [["B-PER", "O", "O", "B-LOC", "B-ORG"]]
    # PER: predicted (0,1) vs gold (0,2): wrong; LOC: (3,4) right, (4,5) missed;
    # ORG: (4,5) predicted, never gold.
    scores = per_type_span_scores(gold, pred, "IOB2")
    assert list(scores) == ["LOC", "ORG", "PER"]
    assert scores["LOC"] == pytest.approx(
        {"precision": 1.0, "recall": 0.5, "f1": 2 / 3, "support": 2})
    assert scores["ORG"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert scores["PER"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert per_type_span_scores([["O"]], [["O"]], "IOB2") == {}
    with pytest.raises(ValueError, match="as many sentences"):
        per_type_span_scores([["O"]], [], "IOB2")


def test_tagging_scores_carry_span_precision_recall_and_per_type_for_span_tags_only():
    gold = [["I-PER", "I-PER", "O", "I-LOC"], ["I-ORG"]]
    pred = [["I-PER", "I-PER", "O", "O"], ["I-ORG"]]
    s = tagging_scores(gold, pred)
    assert s["span_precision"] == 1.0 and s["span_recall"] == pytest.approx(2 / 3)
    assert s["per_type"]["LOC"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert s["per_type"]["PER"]["f1"] == 1.0 and set(s["per_type"]) == {"LOC", "ORG", "PER"}
    assert "per_type" not in tagging_scores([["DET", "NOUN"]], [["DET", "VERB"]])


def test_confusion_matrix_rows_are_gold_columns_predicted():
    gold = ["a", "a", "b", "c", "c", "c"]
    pred = ["a", "b", "b", "a", "c", "z"]
    assert confusion_matrix(gold, pred, ["a", "b", "c"]) == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    # a label left out is not counted, in a row or in a column
    assert confusion_matrix(gold, pred, ["c", "a"]) == [[1, 1], [0, 1]]
    assert confusion_matrix([], [], []) == []
    with pytest.raises(ValueError, match="same length"):
        confusion_matrix(["a"], [], ["a"])
    with pytest.raises(ValueError, match="distinct"):
        confusion_matrix(["a"], ["a"], ["a", "a"])
