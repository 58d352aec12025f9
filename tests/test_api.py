"""The Python API mirrors the command line: rnnseq.train(...), rnnseq.load(DIR) and its
predict / evaluate / explain; a saved folder predicts exactly as the model that wrote
it, also when copied elsewhere; the README's quick start; a real tagger on UD EWT."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import torch

import rnnseq
from real_data import require_shared_data
from rnnseq.cli import main
from rnnseq.data import read_dataset
from rnnseq.model_folder import FILES, create_folder, write_weights
from rnnseq.training.config import TrainConfig
from tiny_data import write_tiny_data

REPO = Path(__file__).resolve().parents[1]
TINY = {"hidden": 16, "embedding_dim": 16, "batch_size": 16, "epochs": 2, "threads": 1}
TINY["progress"] = False


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_tiny_data(tmp_path_factory.mktemp("api"), n=150, seed=8)


@pytest.fixture(scope="module")
def tagger(data) -> Path:
    result = rnnseq.train(task="tag", train=data / "tags.jsonl", out=data / "tagger", **TINY)
    return result.out


SENTENCES = ["the old dog runs .", "she thinks that the flies can fly .", "a", ""]


# ----------------------------------------------------------------------------- train


def test_train_takes_keywords_a_dict_or_a_config(data, tagger):
    assert tagger == data / "tagger" and (tagger / FILES["weights"]).exists()
    options = {"task": "classify", "train": str(data / "reviews.tsv"), **TINY}
    from_dict = rnnseq.train({**options, "out": str(data / "c1")})
    config = TrainConfig(out=str(data / "c2"), **options)
    from_config = rnnseq.train(config, epochs=1)  # keywords override the config
    assert [e["epoch"] for e in from_dict.metrics["epochs"]] == [1, 2]
    assert [e["epoch"] for e in from_config.metrics["epochs"]] == [1]
    saved = json.loads((data / "c2" / "config.json").read_text())
    assert saved["training"]["training"]["epochs"] == 1 and saved["task"] == "classify"


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda d: rnnseq.train(task="tag", train=d / "tags.jsonl"), "out"),
        (lambda d: rnnseq.train(["task", "tag"]), "config"),
        (lambda d: rnnseq.train(task="tag", train="x", out=d / "m", colour=True), "colour"),
        (
            lambda d: rnnseq.train(task="tag", train=d / "tags.jsonl", out=d / "m", epochs=0),
            "epochs",
        ),
        (lambda d: rnnseq.load(d / "absent"), "absent"),
        (lambda d: rnnseq.load(d / "tagger", batch_size=0), "batch_size"),
    ],
)
def test_api_misuse_is_a_value_error_naming_the_argument(data, tagger, call, match):
    with pytest.raises(ValueError, match=match):
        call(data)
    assert not (data / "m").exists()


# ------------------------------------------------------- load: the CLI's three commands


def test_load_predict_evaluate_explain_mirror_the_cli(data, tagger, tmp_path, capsys):
    model = rnnseq.load(tagger)
    predicted = model.predict(SENTENCES)
    (tmp_path / "in.txt").write_text("\n".join(SENTENCES) + "\n")
    assert main(["predict", "--model", str(tagger), str(tmp_path / "in.txt")]) == 0
    blocks, current = [], []
    for line in capsys.readouterr().out.split("\n")[:-1]:  # a blank line ends each input
        if line:
            current.append(line.split("\t")[1])
        else:
            blocks, current = [*blocks, current], []
    assert blocks == predicted and predicted[-1] == []

    result = model.evaluate(data / "tags.jsonl")
    assert (
        main(["evaluate", "--model", str(tagger), "--data", str(data / "tags.jsonl"), "--json"])
        == 0
    )
    cli = json.loads(capsys.readouterr().out)
    assert cli == {k: v for k, v in result.items() if k != "per_class"}

    expl = model.explain("the old dog runs .", ["DET", "ADJ", "NOUN", "VERB", "PUNCT"])
    argv = ["explain", "--model", str(tagger), "--text", "the old dog runs ."]
    assert main([*argv, "--labels", "DET ADJ NOUN VERB PUNCT", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == expl.to_dict()
    assert (
        model.explain("the old dog runs .", "DET ADJ NOUN VERB PUNCT").to_dict() == expl.to_dict()
    )


# ------------------------------------------------------------- save -> load -> predict


def _answers(model) -> tuple:
    expl = [model.explain(s).to_dict() for s in SENTENCES if s]
    return model.predict(SENTENCES), expl


def test_a_saved_model_predicts_exactly_as_the_one_in_memory(tagger, tmp_path):
    in_memory = rnnseq.load(tagger)
    with torch.no_grad():  # make it a model no folder holds yet
        for p in in_memory.model.parameters():
            p.add_(0.01 * torch.randn(p.shape, generator=torch.Generator().manual_seed(p.numel())))
    out = create_folder(
        tmp_path / "saved",
        in_memory.model.config,
        in_memory.vocabs,
        in_memory.meta,
        overwrite=False,
    )
    write_weights(out / FILES["weights"], in_memory.model)
    fresh = rnnseq.load(out)
    assert _answers(fresh) == _answers(in_memory)
    assert _answers(fresh) != _answers(rnnseq.load(tagger))  # the check can fail


def test_a_copied_folder_works_on_its_own_and_loads_without_pickle(
    tagger, tmp_path, monkeypatch, capsys
):
    expected = _answers(rnnseq.load(tagger))
    copy = tmp_path / "elsewhere" / "copy"
    shutil.copytree(tagger, copy)
    moved = tmp_path / "original"
    shutil.move(tagger, moved)  # the original location is gone while the copy is used
    try:

        def no_pickle(*args, **kwargs):
            raise AssertionError("a model folder must load without pickle")

        monkeypatch.setattr(pickle, "load", no_pickle)
        monkeypatch.setattr(pickle, "loads", no_pickle)
        monkeypatch.setattr(torch, "load", no_pickle)
        monkeypatch.chdir(tmp_path / "elsewhere")
        assert _answers(rnnseq.load("copy")) == expected
        assert main(["explain", "--model", "copy", "--text", "the old dog runs .", "--json"]) == 0
        assert json.loads(capsys.readouterr().out) == expected[1][0]
    finally:
        shutil.move(moved, tagger)


# ----------------------------------------------------------------------- quick start

QUICK_START = """\
import rnnseq
model = rnnseq.load("runs/demo/tagger")
print(model.predict(["she thinks that the flies can fly ."]))
"""


def test_the_readme_quick_start_runs_as_written(tagger, tmp_path):
    (tmp_path / "runs" / "demo").mkdir(parents=True)
    shutil.copytree(tagger, tmp_path / "runs" / "demo" / "tagger")
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")
    done = subprocess.run(
        [sys.executable, "-c", QUICK_START],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    (tags,) = eval(done.stdout)  # a printed list of lists of strings
    assert len(tags) == 8 and set(tags) <= set(rnnseq.load(tagger).vocabs.labels.tokens)


# --------------------------------------------------------------- a real tagger on EWT


@pytest.mark.slow
def test_a_tagger_trained_briefly_on_ud_ewt_beats_the_most_frequent_tag(tmp_path):
    shared = require_shared_data("no UD English EWT to train on")
    ewt = shared / "ud_english_ewt"
    train_file, dev_file = ewt / "en_ewt-ud-train.conllu", ewt / "en_ewt-ud-dev.conllu"
    rnnseq.train(
        task="tag",
        train=train_file,
        out=tmp_path / "pos",
        epochs=1,
        max_steps=300,
        batch_size=32,
        hidden=64,
        embedding_dim=64,
        lr=0.01,
        threads=1,
        progress=False,
    )
    scores = rnnseq.load(tmp_path / "pos").evaluate(dev_file)

    by_word: dict[str, Counter] = defaultdict(Counter)
    overall: Counter = Counter()
    for e in read_dataset(train_file, "tag"):
        for word, tag in zip(e.tokens, e.tags, strict=True):
            by_word[word][tag] += 1
            overall[tag] += 1
    fallback = overall.most_common(1)[0][0]  # unknown words get the most frequent tag
    guess = {word: tags.most_common(1)[0][0] for word, tags in by_word.items()}
    dev = read_dataset(dev_file, "tag")
    gold = [(w, t) for e in dev for w, t in zip(e.tokens, e.tags, strict=True)]
    baseline = sum(guess.get(w, fallback) == t for w, t in gold) / len(gold)

    assert scores["n_tokens"] == len(gold) and scores["n_examples"] == len(dev)
    assert 0.85 < baseline < 0.88  # EWT dev: 0.861
    assert scores["accuracy"] > baseline + 0.02, (scores["accuracy"], baseline)
