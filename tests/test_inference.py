"""rnnseq.inference.Predictor: predict, predict_lines, generate, explain and evaluate on
tiny models trained here, including the edges (blank inputs, lm line starts, CRF)."""

from __future__ import annotations

import math

import pytest
import torch

from rnnseq.api import train
from rnnseq.inference import Predictor
from tiny_data import write_tiny_data

TINY = {"hidden": 16, "embedding_dim": 16, "batch_size": 8, "threads": 1, "progress": False}


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    """Tiny trained models, loaded: tag (CE and CRF), classify, and three lms."""
    d = write_tiny_data(tmp_path_factory.mktemp("inference"))
    # Lines a small lm learns exactly: after "a" comes "b", after "b" the line ends.
    (d / "ab.txt").write_text("ab\n" * 300)
    (d / "cat.txt").write_text("the cat sat\n" * 200)
    (d / "no_newline.txt").write_text("ab" * 300)
    runs = {
        "tag": dict(task="tag", train=d / "tags.jsonl", epochs=2),
        "crf": dict(task="tag", train=d / "tags.jsonl", epochs=2, loss="crf"),
        "classify": dict(task="classify", train=d / "reviews.tsv", epochs=2),
        "lm-char": dict(task="lm", train=d / "ab.txt", epochs=4, bptt=16, lr=0.01),
        "lm-word": dict(task="lm", train=d / "cat.txt", unit="word", epochs=4, bptt=8, lr=0.01),
        "lm-flat": dict(task="lm", train=d / "no_newline.txt", epochs=1, bptt=16),
    }
    out = {}
    for name, options in runs.items():
        train(out=d / name, **TINY, **options)
        out[name] = Predictor.load(d / name, device="cpu")
    out["dir"] = d
    return out


# ----------------------------------------------------------------------------- predict


def test_predict_gives_a_label_per_text_and_a_tag_per_token(models):
    tags = models["tag"].predict(["the dog runs .", ["a", "cat"], ""])
    assert [len(t) for t in tags] == [4, 2, 0]
    assert all(t in models["tag"].vocabs.labels for sent in tags for t in sent)
    labels = models["classify"].predict(["not bad at all", "the plot was dull"])
    assert set(labels) <= {"positive", "negative"} and len(labels) == 2


def test_predict_refuses_a_bare_string_and_an_empty_text_to_classify(models):
    with pytest.raises(ValueError, match="texts"):
        models["tag"].predict("the dog runs .")
    with pytest.raises(ValueError, match=r"texts\[1\] is empty"):
        models["classify"].predict(["good", "   "])


@pytest.mark.parametrize("name", ["tag", "crf", "classify"])
def test_predict_lines_streams_in_chunks_without_changing_the_answers(models, name):
    lines = [
        "the dog runs .\n",
        "\n",
        "that watch plays with the cat\n",
        "she thinks that it flies .\n",
        "a\n",
    ]
    whole = "".join(models[name].predict_lines(lines))
    assert "".join(models[name].predict_lines(lines, chunk=2)) == whole
    blocks = list(models[name].predict_lines(lines, chunk=1))
    assert len(blocks) == len(lines)
    assert blocks[1] == "\n"  # a blank input keeps its place: an empty block (no label)
    if name == "classify":
        assert [b.strip() for b in blocks[0:1] + blocks[2:]] == models[name].predict(
            [line for line in lines if line.strip()]
        )
    else:
        first = blocks[0].splitlines()
        assert blocks[0].endswith("\n\n") and len(first) == 5 and first[-1] == ""
        assert [line.split("\t")[1] for line in first[:4]] == models[name].predict(
            ["the dog runs ."]
        )[0]


def test_labelled_input_keeps_tokens_with_spaces_as_one_token(models):
    from rnnseq.data import TagExample

    (block,) = models["tag"].predict_labelled([TagExample(["New York", "runs"], ["X", "X"])])
    assert [line.split("\t")[0] for line in block.splitlines()[:2]] == ["New York", "runs"]


# ----------------------------------------------------------------------------- generate


def test_generate_continues_a_prompt_to_the_end_of_its_line(models):
    char, word = models["lm-char"], models["lm-word"]
    assert char.generate("a", temperature=0) == "b"
    assert char.generate("", temperature=0) == "ab"  # a line from scratch
    assert char.generate("ab", temperature=0) == ""  # the model ends the line at once
    assert char.generate("", max_new=1, temperature=0) == "a"
    assert word.generate("the", temperature=0) == "cat sat"
    assert word.generate("", temperature=0) == "the cat sat"
    assert word.predict(["the cat", "the"], temperature=0) == ["sat", "cat sat"]
    assert "".join(char.predict_lines(["a\n", "\n"], temperature=0)) == "b\nab\n"


def test_generate_is_reproducible_never_draws_specials_and_checks_its_arguments(models):
    flat = models["lm-flat"]  # barely trained: samples are varied
    a = flat.generate("ab", max_new=30, temperature=2.0, seed=7)
    assert a == flat.generate("ab", max_new=30, temperature=2.0, seed=7)
    samples = {flat.generate("ab", max_new=30, temperature=2.0, seed=s) for s in range(5)}
    assert len(samples) > 1 and all(set(s) <= {"a", "b"} and len(s) <= 30 for s in samples)
    for kwargs, name in [
        ({"max_new": -1}, "max_new"),
        ({"max_new": 2.5}, "max_new"),
        ({"temperature": -1.0}, "temperature"),
        ({"temperature": math.nan}, "temperature"),
    ]:
        with pytest.raises(ValueError, match=name):
            flat.generate("ab", **kwargs)
    with pytest.raises(ValueError, match="language model"):
        models["tag"].generate("the")


# ----------------------------------------------------------------------------- explain


def test_explain_lm_scores_every_unit_from_the_line_start(models):
    expl = models["lm-char"].explain("abab")
    assert [(s.input, s.label) for s in expl.steps] == [
        ("\n", "a"),
        ("a", "b"),
        ("b", "a"),
        ("a", "b"),
    ]
    assert expl.steps[1].probability > 0.5  # "b" after "a" is learned
    assert expl.steps[2].probability < 0.5  # after "b" the line ends: "a" is unlikely
    word = models["lm-word"].explain("the cat sat <eos>")
    assert [(s.input, s.label) for s in word.steps] == [
        ("<eos>", "the"),
        ("the", "cat"),
        ("cat", "sat"),
        ("sat", "<eos>"),
    ]
    assert word.labels_given and word.total == pytest.approx(sum(s.loss for s in word.steps))


def test_explain_lm_without_a_line_start_uses_the_first_unit_as_context(models):
    expl = models["lm-flat"].explain("abab")
    assert [(s.input, s.label) for s in expl.steps] == [("a", "b"), ("b", "a"), ("a", "b")]
    with pytest.raises(ValueError, match="text"):
        models["lm-flat"].explain("a")
    with pytest.raises(ValueError, match="labels"):
        models["lm-char"].explain("ab", ["b"])


def test_explain_probabilities_are_the_model_distribution(models):
    for name in ("tag", "crf"):
        p = models[name]
        expl = p.explain("the old dog runs .")
        assert [s.label for s in expl.steps] == p.predict(["the old dog runs ."])[0]
        assert all(0 < s.probability <= 1 for s in expl.steps)
        given = p.explain("the old dog runs .", "DET ADJ NOUN VERB PUNCT")
        assert [s.label for s in given.steps] == ["DET", "ADJ", "NOUN", "VERB", "PUNCT"]
        assert given.labels_given and not expl.labels_given
    # CRF marginals: a distribution at every step (∂ log Z / ∂ emissions)
    crf = models["crf"]
    from rnnseq.data import collate

    tag = crf.meta.task
    encoded = tag.encode_tokens([["the", "old", "dog", "runs", "."], ["a"]], crf.vocabs)
    batch = collate(encoded, [0, 1])
    scores, _ = crf.model.scores(batch)
    probs = tag.probabilities(crf.model, scores, batch.lengths)  # (N, T, C)
    assert probs[0].sum(-1) == pytest.approx(torch.ones(5), abs=1e-5)
    assert probs[1, 0].sum() == pytest.approx(1.0, abs=1e-5)


def test_explain_classify_scores_the_text_as_the_model_read_it(models):
    expl = models["classify"].explain("  not   bad at all ", "positive")
    (step,) = expl.steps
    assert step.input == "not bad at all" and step.label == "positive"
    other = models["classify"].explain("not bad at all", ["negative"])
    assert step.probability + other.steps[0].probability == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="one label"):
        models["classify"].explain("not bad", ["positive", "negative"])
    with pytest.raises(ValueError, match="not one this model knows"):
        models["classify"].explain("not bad", "neutral")


# ----------------------------------------------------------------------------- evaluate


def test_evaluate_lm_counts_lines_with_or_without_a_final_newline(models, tmp_path):
    for text, lines in [("ab\nab\n", 2), ("ab\nab", 2), ("ab\n\nab\n", 3)]:
        path = tmp_path / "t.txt"
        path.write_text(text)
        for name in ("lm-char", "lm-word"):
            result = models[name].evaluate(path)
            assert result["n_examples"] == lines, (text, name)
    path.write_text("ab\nab\n")
    result = models["lm-char"].evaluate(path)
    assert result["n_tokens"] == 5 and result["perplexity"] == pytest.approx(
        math.exp(result["loss"])
    )
    assert result["accuracy"] == pytest.approx(1.0)  # the pattern is learned


def test_evaluate_returns_the_cli_keys_plus_a_per_class_report(models):
    result = models["tag"].evaluate(models["dir"] / "tags.jsonl")
    assert set(result) == {
        "loss",
        "accuracy",
        "macro_f1",
        "n_examples",
        "n_tokens",
        "per_class",
    }
    assert result["n_examples"] == 120
    assert sum(r["support"] for r in result["per_class"].values()) == result["n_tokens"]
