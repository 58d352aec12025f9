"""rnnseq.inference.Predictor: predict (with probabilities, top-k, spans), predict_lines,
generate, explain and evaluate on tiny models trained here, including the edges (blank
inputs, long lines read in windows, lm line starts and stop strings, CRF marginals)."""

from __future__ import annotations

import inspect
import json
import math

import pytest
import torch

import rnnseq
from model_folder_factory import NER
from rnnseq.api import train
from rnnseq.inference import Predictor, native_bf16
from rnnseq.options import OptionError
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
    (d / "ner.jsonl").write_text("".join(json.dumps({"tokens": e.tokens, "tags": e.tags}) + "\n"
                                         for e in NER * 20))  # fmt: skip
    runs = {
        "tag": dict(task="tag", train=d / "tags.jsonl", epochs=2),
        "crf": dict(task="tag", train=d / "tags.jsonl", epochs=2, loss="crf"),
        "classify": dict(task="classify", train=d / "reviews.tsv", epochs=2),
        "lm-char": dict(task="lm", train=d / "ab.txt", epochs=4, bptt=16, lr=0.01),
        "lm-word": dict(task="lm", train=d / "cat.txt", unit="word", epochs=4, bptt=8, lr=0.01),
        "lm-flat": dict(task="lm", train=d / "no_newline.txt", epochs=1, bptt=16),
        "ner": dict(task="tag", train=d / "ner.jsonl", epochs=3, lr=0.01),
        "ner-crf": dict(task="tag", train=d / "ner.jsonl", epochs=3, lr=0.01, loss="crf"),
    }
    out = {}
    for name, options in runs.items():
        train(out=d / name, **TINY, **options)
        out[name] = Predictor.load(d / name, device="cpu")
    out["dir"] = d
    return out


# ----------------------------------------------------------------------------- predict


def _float32(p: Predictor) -> Predictor:
    """The same model predicting in float32 (explain's precision), for exact comparisons."""
    return Predictor(p.model, p.vocabs, p.meta, p.device, p.batch_size, bf16=False)


def test_predict_gives_a_label_per_text_and_a_tag_per_token(models):
    tags = models["tag"].predict(["the dog runs .", ["a", "cat"], ""])
    assert [len(t) for t in tags] == [4, 2, 0]
    assert all(t in models["tag"].vocabs.labels for sent in tags for t in sent)
    labels = models["classify"].predict(["not bad at all", "the plot was dull"])
    assert set(labels) <= {"positive", "negative"} and len(labels) == 2


def test_a_blank_text_gives_a_blank_answer_for_every_task(models):
    assert models["classify"].predict(["good", "   ", ""]) [1:] == [None, None]
    assert models["tag"].predict(["", " \t "]) == [[], []]
    assert models["lm-char"].predict(["", "  "], temperature=0) == ["", ""]
    with pytest.raises(ValueError, match="texts"):
        models["tag"].predict("the dog runs .")


def test_tag_text_is_tokenized_unless_it_is_pretokenized(models):
    tag = models["tag"]
    (raw,) = tag.predict(["the dog runs."])
    (split,) = tag.predict(["the dog runs."], pretokenized=True)
    assert len(raw) == 4 and len(split) == 3  # "runs" "." against "runs."


def test_classify_text_is_split_on_whitespace_unless_asked_to_tokenize(models):
    model = _float32(models["classify"])
    same = model.predict(["not bad at all."], probs=True)
    assert same == model.predict([["not", "bad", "at", "all."]], probs=True)
    tokenized = model.predict(["not bad at all."], probs=True, pretokenized=False)
    assert tokenized == model.predict([["not", "bad", "at", "all", "."]], probs=True)


@pytest.mark.parametrize("name", ["tag", "crf", "classify", "ner-crf"])
def test_probabilities_are_those_explain_shows_for_the_predicted_labels(models, name):
    model = _float32(models[name])
    text = "the old dog runs ." if name != "ner-crf" else "Peter Blackburn said"
    (answer,) = model.predict([text], probs=True)
    steps = model.explain(text).steps
    pairs = [answer] if name == "classify" else answer
    assert [label for label, _ in pairs] == [s.label for s in steps]
    for (_, p), step in zip(pairs, steps, strict=True):
        assert p == pytest.approx(step.probability, rel=1e-5)


@pytest.mark.parametrize("name", ["tag", "classify"])
def test_top_k_lists_the_most_probable_labels_first(models, name):
    model = _float32(models[name])
    (best,) = model.predict(["the old dog runs ."])
    (top,) = model.predict(["the old dog runs ."], top_k=3)
    rows = [top] if name == "classify" else top
    firsts = [best] if name == "classify" else best
    for row, first in zip(rows, firsts, strict=True):
        assert len(row) == min(3, len(model.labels)) and row[0][0] == first
        assert [p for _, p in row] == sorted((p for _, p in row), reverse=True)
        assert sum(p for _, p in row) <= 1 + 1e-6


@pytest.mark.parametrize("name", ["ner", "ner-crf"])
def test_spans_carry_character_offsets_into_the_text(models, name):
    texts = ["Peter Blackburn said: EU rejects German call.", "", "EU rejects German call"]
    found = models[name].predict_spans(texts)
    assert len(found) == 3 and found[1] == []
    assert any(found[0]) and any(found[2])
    for text, entities in zip(texts, found, strict=True):
        for e in entities:
            assert text[e["start"] : e["end"]] == e["text"]
            assert e["label"] in {"PER", "ORG", "MISC"} and 0 < e["score"] <= 1
    tokens = [["EU", "rejects", "German", "call"]]
    for e in models[name].predict_spans(tokens)[0]:
        assert " ".join(tokens[0])[e["start"] : e["end"]] == e["text"]
    with pytest.raises(ValueError, match="span tags"):
        models["tag"].predict_spans(["the dog"])


def test_labels_are_written_in_the_training_files_scheme(models):
    assert set(models["classify"].labels) == {"positive", "negative"}
    assert set(models["ner"].labels) == {"O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-MISC",
                                         "I-MISC"}  # learned as IOBES, written as IOB2
    assert set(models["tag"].labels) == set(models["tag"].vocabs.labels.tokens)


def test_an_option_of_another_task_is_refused_naming_the_field(models):
    with pytest.raises(OptionError, match="temperature does not apply to this model"):
        models["tag"].predict(["the dog"], temperature=0.5)
    with pytest.raises(OptionError, match="top_k lists the K most probable labels in output"):
        list(models["classify"].predict_lines(["good"], top_k=2))
    with pytest.raises(OptionError, match="max_tokens must be an integer >= 1"):
        models["classify"].predict(["good"], max_tokens=0)


def test_one_device_default_and_one_line_for_a_bad_device(models):
    for load in (rnnseq.load, Predictor.load):
        assert inspect.signature(load).parameters["device"].default == "auto"
    with pytest.raises(OptionError) as e:
        rnnseq.load(models["dir"] / "tag", device="gpu")
    assert str(e.value) == "device must be one of auto, cpu, cuda (or cuda:N), got 'gpu'"


def test_bf16_is_used_where_the_cpu_has_it_and_agrees_with_float32(models):
    model = models["tag"]
    assert model.bf16 == native_bf16(torch.device("cpu"))
    texts = ["the old dog runs .", "she thinks that the cat flies", "a cat"] * 5
    fast = Predictor(model.model, model.vocabs, model.meta, "cpu", bf16=True).predict(texts)
    exact = _float32(model).predict(texts)
    same = sum(a == b for x, y in zip(fast, exact, strict=True) for a, b in zip(x, y, strict=True))
    assert same / sum(map(len, exact)) >= 0.9


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


def _set_window(monkeypatch, name: str, value: int) -> None:
    """Shrink the windows of a long input, where predict (tag_lines) and evaluate (tag)
    read them."""
    import rnnseq.tasks.tag as tag_module
    import rnnseq.tasks.tag_lines as tag_lines

    for module in (tag_module, tag_lines):
        monkeypatch.setattr(module, name, value)


@pytest.mark.parametrize("name", ["tag", "ner-crf"])
def test_a_long_line_is_tagged_in_windows_and_stays_aligned(models, name, monkeypatch):
    model = _float32(models[name])
    words = ("the old dog runs . Peter Blackburn said EU rejects German call . " * 8).split()
    text = " ".join(words)
    spans = model.meta.schemes.source is not None
    whole = model.predict([text], probs=True)[0]
    spans_whole = model.predict_spans([text]) if spans else None
    _set_window(monkeypatch, "SIZE", 7)
    _set_window(monkeypatch, "CONTEXT", 3)
    cut = model.predict([text], probs=True)[0]
    assert len(cut) == len(words)
    agree = sum(a[0] == b[0] for a, b in zip(cut, whole, strict=True)) / len(words)
    assert agree >= 0.6  # misaligned windows would agree by chance only
    (jsonl,) = list(model.predict_lines([text], output="jsonl"))
    obj = json.loads(jsonl)
    assert [t["text"] for t in obj["tokens"]] == words
    assert all(text[t["start"] : t["end"]] == t["text"] for t in obj["tokens"])
    assert all(text[e["start"] : e["end"]] == e["text"] for e in obj.get("entities", []))
    _set_window(monkeypatch, "CONTEXT", len(words))  # windows that see everything
    assert [a[0] for a in model.predict([text], probs=True)[0]] == [a[0] for a in whole]
    if spans:
        assert model.predict_spans([text]) == spans_whole


@pytest.mark.parametrize("name", ["tag", "ner-crf"])
def test_evaluate_reads_a_row_longer_than_a_batch_in_the_windows_predict_uses(
    models, name, monkeypatch, tmp_path
):
    import rnnseq.tasks.tag as tag_module

    model = _float32(models[name])
    tokens = ("the old dog runs . Peter Blackburn said EU rejects German call . " * 8).split()
    tags = model.predict([tokens])[0]
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps({"tokens": tokens, "tags": tags}) + "\n")
    whole = model.evaluate(path)
    assert whole["accuracy"] == 1.0  # scored against its own whole-row predictions
    monkeypatch.setattr(tag_module, "EVAL_TOKENS", 20)  # the row no longer fits a batch
    _set_window(monkeypatch, "SIZE", 7)
    _set_window(monkeypatch, "CONTEXT", len(tokens))  # windows that see everything
    seen = model.evaluate(path)
    assert seen["accuracy"] == 1.0 and seen["n_tokens"] == len(tokens)
    assert seen["loss"] == pytest.approx(whole["loss"], rel=1e-5)
    _set_window(monkeypatch, "CONTEXT", 3)
    cut = model.evaluate(path)
    assert cut["n_tokens"] == len(tokens) and cut["accuracy"] >= 0.6
    if model.model.crf is None:  # per-token argmax: evaluate's windows are predict's
        windowed = model.predict([tokens])[0]
        agree = sum(a == b for a, b in zip(windowed, tags, strict=True)) / len(tokens)
        assert cut["accuracy"] == pytest.approx(agree)


def test_labelled_input_keeps_tokens_with_spaces_as_one_token(models):
    from rnnseq.data import TagExample

    (block,) = models["tag"].predict_labelled([TagExample(["New York", "runs"], ["X", "X"])])
    assert [line.split("\t")[0] for line in block.splitlines()[:2]] == ["New York", "runs"]


# ----------------------------------------------------------------------------- generate


def test_generate_continues_a_prompt_until_a_stop_string_or_max_new(models):
    char, word = models["lm-char"], models["lm-word"]
    assert char.generate("a", temperature=0, stop="\n") == "b"
    assert char.generate("", temperature=0, stop="\n") == "ab"  # a line from scratch
    assert char.generate("ab", temperature=0, stop="\n") == ""  # the model ends the line
    # A character model has no default stop: it goes on into the next lines.
    assert char.generate("a", temperature=0, max_new=7) == "b\nab\nab"
    assert char.generate("", max_new=1, temperature=0) == "a"
    assert char.generate("a", temperature=0, max_new=7, stop="b\na") == ""
    # A word model stops at the end of its line (a sentence) unless told otherwise.
    assert word.generate("the", temperature=0) == "cat sat"
    assert word.generate("", temperature=0) == "the cat sat"
    assert word.generate("the", temperature=0, max_new=6, stop="") == "cat sat\nthe cat sat"
    assert word.predict(["the cat", "the"], temperature=0) == ["sat", "cat sat"]
    assert "".join(char.predict_lines(["a\n", "\n"], temperature=0, max_new=4)) == "b\\nab\n\n"
    jsonl = list(char.predict_lines(["a"], temperature=0, max_new=4, output="jsonl"))
    assert json.loads(jsonl[0]) == {"prompt": "a", "continuation": "b\nab"}


def test_top_k_sampling_draws_among_the_k_most_likely_units(models):
    flat = models["lm-flat"]
    greedy = flat.generate("ab", max_new=20, temperature=0)
    assert flat.generate("ab", max_new=20, temperature=5.0, top_k=1, seed=3) == greedy
    with pytest.raises(ValueError, match="top_k"):
        flat.generate("ab", top_k=0)


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


def test_evaluate_of_span_tags_has_span_precision_recall_and_per_type(models):
    result = models["ner"].evaluate(models["dir"] / "ner.jsonl")
    assert {"span_f1", "span_precision", "span_recall", "per_type", "tag_scheme"} <= set(result)
    assert set(result["per_type"]) <= {"PER", "ORG", "MISC"}
    p, r, f = result["span_precision"], result["span_recall"], result["span_f1"]
    assert f == pytest.approx(2 * p * r / (p + r) if p + r else 0.0)


@pytest.mark.parametrize("name", ["tag", "classify"])
def test_evaluate_draws_the_confusion_matrix_and_lists_the_errors(models, name, tmp_path):
    data = models["dir"] / ("tags.jsonl" if name == "tag" else "reviews.tsv")
    png, errors = tmp_path / "c.png", tmp_path / "errors.txt"
    result = models[name].evaluate(data, confusion=png, errors=errors)
    assert png.read_bytes()[:4] == b"\x89PNG"
    listing = errors.read_text()
    assert listing.startswith("# rnnseq evaluate:")
    blocks = listing.count("\n# sentence ") + listing.count("\n# example ")
    if result["accuracy"] < 1:
        assert blocks >= 1 and f"{data}:" in listing  # each block names its file and line
    with pytest.raises(OptionError, match="confusion does not apply"):
        models["lm-char"].evaluate(models["dir"] / "ab.txt", confusion=png)
