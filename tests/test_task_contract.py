"""One contract every task keeps, end to end: train -> save -> load -> predict -> evaluate
-> explain (Flair's BaseModelTest does the same for its models).

Each subclass names a task, its training file and a few options; the tests are the
base class's. A new task gets them by adding a subclass.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

import rnnseq
from rnnseq.cli import main
from rnnseq.tasks import TASK_NAMES, get_task

TINY = {"hidden": 12, "embedding_dim": 12, "batch_size": 16, "epochs": 2, "progress": False}


class TaskContract:
    task: str = ""
    data_file: str = ""
    options: dict = {}
    inputs: list = []  # raw inputs for predict

    @pytest.fixture(scope="class")
    @classmethod
    def folder(cls, tiny_data, tmp_path_factory) -> Path:
        out = tmp_path_factory.mktemp(f"contract-{cls.__name__}") / "model"
        result = rnnseq.train(
            task=cls.task, train=tiny_data / cls.data_file, dev=cls._dev(tiny_data), out=out,
            **TINY, **cls.options,
        )  # fmt: skip
        assert result.out == out
        return out

    @classmethod
    def _dev(cls, tiny_data):
        return tiny_data / cls.data_file

    def test_the_folder_holds_what_the_contract_lists_and_no_pickle(self, folder):
        names = {p.name for p in folder.iterdir()}
        assert {"config.json", "vocab.json", "model.safetensors", "metrics.json"} <= names
        assert "loss_curve.png" in names
        assert not any(n.endswith((".pt", ".pth", ".pkl", ".bin")) for n in names)
        config = json.loads((folder / "config.json").read_text())
        assert config["task"] == self.task and "task" not in config["training"]

    def test_a_loaded_model_predicts_one_answer_per_input(self, folder):
        model = rnnseq.load(folder)
        assert model.task == self.task
        answers = model.predict(self.inputs, **self._predict_options())
        assert len(answers) == len(self.inputs)

    def test_evaluate_gives_the_contract_keys(self, folder, tiny_data):
        scores = rnnseq.load(folder).evaluate(tiny_data / self.data_file)
        for key in ("loss", "accuracy", "n_examples", "n_tokens"):
            assert key in scores
        assert 0 <= scores["accuracy"] <= 1 and math.isfinite(scores["loss"])

    def test_explain_sums_the_per_step_losses(self, folder):
        expl = rnnseq.load(folder).explain(self._explain_text())
        assert expl.steps and expl.total == pytest.approx(sum(s.loss for s in expl.steps))
        for step in expl.steps:
            assert step.loss == pytest.approx(-math.log(step.probability))

    def test_the_command_line_agrees_with_python(self, folder, tiny_data, capsys):
        code = main(["evaluate", "--model", str(folder), "--data",
                     str(tiny_data / self.data_file), "--json"])  # fmt: skip
        out, err = capsys.readouterr()
        assert code == 0, err
        cli = json.loads(out)
        python = rnnseq.load(folder).evaluate(tiny_data / self.data_file)
        assert cli["loss"] == pytest.approx(python["loss"])
        assert cli["accuracy"] == pytest.approx(python["accuracy"])

    def _predict_options(self) -> dict:
        return {}

    def _explain_text(self) -> str:
        return self.inputs[0]


class TestClassify(TaskContract):
    task, data_file = "classify", "reviews.tsv"
    inputs = ["the acting was not good", "not bad at all"]


class TestTag(TaskContract):
    task, data_file = "tag", "tags.jsonl"
    inputs = ["the old dog runs .", "she thinks"]


class TestTagWithCRF(TestTag):
    options = {"loss": "crf"}


class TestLanguageModel(TaskContract):
    task, data_file = "lm", "text.txt"
    options = {"bptt": 16}
    inputs = ["the", ""]

    @classmethod
    def _dev(cls, tiny_data):
        return None

    def _predict_options(self) -> dict:
        return {"max_new": 5, "temperature": 0.0}

    def test_evaluate_gives_the_contract_keys(self, folder, tiny_data):
        super().test_evaluate_gives_the_contract_keys(folder, tiny_data)
        scores = rnnseq.load(folder).evaluate(tiny_data / self.data_file)
        assert scores["perplexity"] == pytest.approx(math.exp(scores["loss"]))


def test_every_registered_task_has_a_contract_subclass():
    covered = {cls.task for cls in TaskContract.__subclasses__()}
    assert covered == set(TASK_NAMES)
    for name in TASK_NAMES:
        assert get_task(name).name == name
