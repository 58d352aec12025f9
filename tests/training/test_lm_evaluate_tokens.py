"""``rnnseq evaluate`` of a language model reads its text through a token file (encoded
streaming with the model's vocabulary, read window by window): the same scores as the
text read into memory, to the last digit."""

from __future__ import annotations

import json

import pytest

from conftest import train_argv
from rnnseq.cli import main
from rnnseq.data import read_dataset
from rnnseq.inference import Predictor
from rnnseq.tasks.lm import TextFile


@pytest.mark.parametrize("unit", ["char", "word"])
def test_evaluating_from_a_token_file_scores_as_the_text_in_memory(
    data, tmp_path, capsys, unit
):
    model, cache = tmp_path / "lm", tmp_path / "cache"
    assert main(train_argv("lm", data, model, "--epochs", 1, "--unit", unit)) == 0
    text = tmp_path / "eval.txt"  # with units training never saw: <unk>
    text.write_text("".join(data.joinpath("text.txt").read_text().splitlines(True)[:40]) + "§€\n")
    predictor = Predictor.load(model, device="cpu")
    assert isinstance(predictor.meta.task.read_labelled(
        str(text), format=None, column=None, config=predictor.meta.config), TextFile)  # fmt: skip
    in_memory = predictor.evaluate_data(read_dataset(text, "lm", unit=unit), str(text))
    streamed = predictor.evaluate_data(TextFile(str(text), unit, str(cache)), str(text))
    assert streamed == in_memory
    assert len(list(cache.glob("eval.txt.*.tokens"))) == 1

    capsys.readouterr()
    assert main(["evaluate", "--model", str(model), "--data", str(text), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["loss"] == in_memory["loss"] and printed["n_tokens"] == in_memory["n_tokens"]


def test_evaluating_a_language_model_on_a_csv_file_is_refused_before_reading(data, tmp_path):
    model = tmp_path / "lm"
    assert main(train_argv("lm", data, model, "--epochs", 1)) == 0
    predictor = Predictor.load(model, device="cpu")
    with pytest.raises(ValueError, match="cannot feed task 'lm'"):
        predictor.evaluate(data / "text.txt", format="csv")
