"""Model folders written before the versioned schema (format 1) still load and answer
as they did: tests/fixtures/format_v1 holds three folders made by the code of that time
and what it predicted, explained and scored with them (expected.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rnnseq

FIXTURES = Path(__file__).parent / "fixtures" / "format_v1"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


def test_format_1_classifier_predicts_and_explains_as_before():
    model = rnnseq.load(FIXTURES / "classify")
    expected = EXPECTED["classify"]
    assert model.predict(["the acting was not good", "not bad at all"]) == expected["predict"]
    got = model.explain("not bad at all").to_dict()
    assert got["steps"][0]["label"] == expected["explain"]["steps"][0]["label"]
    assert got["sum"] == pytest.approx(expected["explain"]["sum"], rel=1e-5)


def test_format_1_crf_tagger_predicts_explains_and_scores_as_before():
    model = rnnseq.load(FIXTURES / "tag_crf")
    expected = EXPECTED["tag_crf"]
    assert model.predict(["Peter rejects Brussels call"]) == expected["predict"]
    got = model.explain("Peter rejects Brussels call").to_dict()
    assert [s["label"] for s in got["steps"]] == [s["label"] for s in expected["explain"]["steps"]]
    assert got["sum"] == pytest.approx(expected["explain"]["sum"], rel=1e-5)
    scores = model.evaluate(FIXTURES / "data" / "ner.conll")
    for key, value in expected["evaluate"].items():
        if isinstance(value, str):
            assert scores[key] == value, key
        else:
            assert scores[key] == pytest.approx(value, rel=1e-5), key


def test_format_1_language_model_continues_and_explains_as_before():
    model = rnnseq.load(FIXTURES / "lm")
    expected = EXPECTED["lm"]
    assert model.predict(["to be"], temperature=0.0, max_new=20) == expected["predict"]
    got = model.explain("to be").to_dict()
    assert got["sum"] == pytest.approx(expected["explain"]["sum"], rel=1e-5)
