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


def _copy(name: str, tmp_path: Path) -> Path:
    import shutil

    folder = tmp_path / name
    shutil.copytree(FIXTURES / name, folder)
    return folder


def _edit(folder: Path, change) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def test_a_format_1_folder_whose_two_tasks_disagree_is_refused_with_one_line(tmp_path):
    from rnnseq.serialization import ModelFolderError

    folder = _copy("classify", tmp_path)
    _edit(folder, lambda c: c.update(task="tag"))
    with pytest.raises(ModelFolderError, match="task says 'tag' but model.task says 'classify'"):
        rnnseq.load(folder)


def test_a_format_2_folder_stores_the_task_once_and_refuses_a_second_one(tmp_path):
    from rnnseq.model_folder import load_model_folder
    from rnnseq.serialization import ModelFolderError

    folder = _copy("tag_crf", tmp_path)
    loaded = load_model_folder(folder)  # format 1, read as format 2
    assert loaded.meta.task.name == "tag" and loaded.meta.loss == "crf"
    assert loaded.meta.config.data.unit == "char" and loaded.model.crf is not None
    out = tmp_path / "v2"
    result = rnnseq.train(
        task="classify", train=FIXTURES / "data" / "cls.jsonl", out=out, epochs=1, hidden=8,
        embedding_dim=8, progress=False,
    )  # fmt: skip
    config = json.loads((result.out / "config.json").read_text())
    assert config["format_version"] == 2 and config["task"] == "classify"
    assert "task" not in config["training"] and "model" not in config
    _edit(out, lambda c: c["training"].update(task="classify"))
    with pytest.raises(ModelFolderError, match="the task is stored once"):
        rnnseq.load(out)
    _edit(out, lambda c: (c["training"].pop("task"), c.update(tag_scheme={
        "source": "IOB2", "learned": "IOBES"})))  # fmt: skip
    with pytest.raises(ModelFolderError, match="tag_scheme applies to task tag only"):
        rnnseq.load(out)
