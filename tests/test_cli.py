"""rnnseq's command line end to end, as a user runs it: small files of every format made
here -> train -> evaluate --json -> predict (FILE, stdin, --format) -> explain (table and
--json); `python -m rnnseq` and the console script; every option's --help line."""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import math
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from rnnseq.cli import build_parser, main
from rnnseq.data import read_dataset
from rnnseq.data.demo import demo_sentiment, demo_tagging
from rnnseq.tag_schemes import spans

REPO = Path(__file__).resolve().parents[1]
TINY = ["--epochs", "2", "--hidden", "16", "--embedding-dim", "16", "--batch-size", "16"]
TINY += ["--threads", "1", "--no-progress"]
WINDOW = {"lm": ["--bptt", "16"]}  # options of one task only


# --------------------------------------------------------------------------- data files


def _ner(n: int, seed: int) -> list[tuple[list[str], list[str]]]:
    """Sentences with entities tagged in IOB1, as the original CoNLL-2003 files are:
    every span starts with I- (no two spans of one type touch)."""
    rng = random.Random(seed)
    names = {
        "PER": [["John"], ["Mary", "Smith"], ["Ann"], ["Peter", "van", "Dyke"]],
        "LOC": [["Paris"], ["New", "York"], ["Berlin"], ["Sao", "Paulo"]],
        "ORG": [["Acme"], ["United", "Nations"], ["Reuters"]],
    }
    templates = [
        ["PER", "lives", "in", "LOC", "."],
        ["PER", "works", "for", "ORG", "in", "LOC", "."],
        ["the", "ORG", "office", "in", "LOC", "hired", "PER", "."],
        ["PER", "said", "on", "Monday", "."],
    ]
    out = []
    for _ in range(n):
        tokens, tags = [], []
        for slot in rng.choice(templates):
            words = rng.choice(names[slot]) if slot in names else [slot]
            tokens += words
            tags += [f"I-{slot}"] * len(words) if slot in names else ["O"]
        out.append((tokens, tags))
    return out


def _write_conllu(path: Path, tagged) -> None:
    """CoNLL-U with comments, an XPOS column, and (every 4th sentence) a multiword-token
    range and an empty node, which readers must skip."""
    lines = []
    for k, e in enumerate(tagged):
        lines += [f"# sent_id = s{k}", f"# text = {' '.join(e.tokens)}"]
        for i, (w, t) in enumerate(zip(e.tokens, e.tags, strict=True), 1):
            if k % 4 == 0 and i == 1 and len(e.tokens) > 1:
                lines.append(f"1-2\t{w}{e.tokens[1]}\t_\t_\t_\t_\t_\t_\t_\t_")
            lines.append(f"{i}\t{w}\t{w.lower()}\t{t}\tX{t}\t_\t0\tdep\t_\t_")
            if k % 4 == 0 and i == 1:
                lines.append("1.1\tghost\tghost\tNOUN\tXNOUN\t_\t_\t_\t0:dep\t_")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("data")
    tags = demo_tagging(160, seed=3)
    _write_conllu(d / "tags.conllu", tags)
    (d / "tags.conll").write_text(
        "".join(
            "".join(f"{w} {t}\n" for w, t in zip(e.tokens, e.tags, strict=True)) + "\n"
            for e in tags
        )
    )
    (d / "tags.jsonl").write_text(
        "".join(json.dumps({"tokens": e.tokens, "tags": e.tags}) + "\n" for e in tags)
    )
    # CoNLL-2003 style: no extension, 4 columns, -DOCSTART- lines, IOB1 tags.
    ner = _ner(160, seed=4)
    blocks = ["-DOCSTART- -X- -X- O\n"]
    for k, (tokens, tags_) in enumerate(ner):
        if k == 80:
            blocks.append("-DOCSTART- -X- -X- O\n")
        blocks.append("".join(f"{w} NNP I-NP {t}\n" for w, t in zip(tokens, tags_, strict=True)))
    (d / "eng_train").write_text("\n".join(blocks))

    reviews = demo_sentiment(240, seed=3)
    rows = [(" ".join(e.tokens), e.label) for e in reviews]
    (d / "reviews.tsv").write_text("".join(f"{t}\t{lab}\n" for t, lab in rows))
    (d / "reviews_header.tsv").write_text(
        "label\tsentence\n" + "".join(f"{lab}\t{t}\n" for t, lab in rows)
    )
    with open(d / "reviews.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["text", "label"])
        writer.writerows(rows)  # texts with "," are quoted
    (d / "reviews.jsonl").write_text(
        "".join(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows)
    )
    lines = ["to be or not to be, that is the question:", "whether tis nobler in the mind"]
    (d / "text.txt").write_text("\n".join(lines * 25) + "\n")
    return d


# case -> (task, file, extra train options, expected evaluate keys)
BASE = {"loss", "accuracy", "n_examples", "n_tokens"}
LABELS = BASE | {"macro_f1"}
SPANS = LABELS | {"span_f1", "tag_scheme", "span_precision", "span_recall", "per_type"}
LM = BASE | {"perplexity"}
NER = ["--epochs", "4", "--hidden", "32", "--batch-size", "8", "--lr", "0.01"]
CASES = {
    "conllu": ("tag", "tags.conllu", [], LABELS),
    "conllu-xpos": ("tag", "tags.conllu", ["--column", "XPOS"], LABELS),
    "conll": ("tag", "tags.conll", [], LABELS),
    "conll-iob1": ("tag", "eng_train", NER, SPANS),
    "tag-jsonl": ("tag", "tags.jsonl", [], LABELS),
    "crf": ("tag", "eng_train", ["--loss", "crf", *NER], SPANS),
    "tsv": ("classify", "reviews.tsv", [], LABELS),
    "tsv-header": ("classify", "reviews_header.tsv", [], LABELS),
    "csv": ("classify", "reviews.csv", [], LABELS),
    "classify-jsonl": ("classify", "reviews.jsonl", [], LABELS),
    "lm-char": ("lm", "text.txt", [], LM),
    "lm-word": ("lm", "text.txt", ["--unit", "word"], LM),
}


def _column(case: str) -> str | None:
    extra = CASES[case][2]
    return extra[extra.index("--column") + 1] if "--column" in extra else None


@pytest.fixture(scope="module")
def trained(files, tmp_path_factory):
    """case -> its model folder, trained (with --dev) on first use and shared."""
    root = tmp_path_factory.mktemp("models")
    folders: dict[str, Path] = {}

    def get(case: str) -> Path:
        if case not in folders:
            task, name, extra, _ = CASES[case]
            out = root / case
            data = str(files / name)
            argv = ["train", "--task", task, "--train", data, "--dev", data, "--out", str(out)]
            log = io.StringIO()  # keep training's summary and epoch lines out of the test's
            with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
                assert main([*argv, *TINY, *WINDOW.get(task, []), *extra]) == 0, log.getvalue()
            folders[case] = out
        return folders[case]

    return get


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _examples(files: Path, case: str):
    task, name, extra, _ = CASES[case]
    unit = "word" if "word" in extra else "char"
    kw = {"unit": unit} if task == "lm" else {"column": _column(case)}
    return read_dataset(files / name, task, **kw)


def _blocks(stdout: str) -> list[list[tuple[str, str]]]:
    """tag output -> one list of (token, tag) per input; every block ends in a blank line."""
    assert stdout.endswith("\n\n") or stdout == "\n" * stdout.count("\n")
    blocks, current = [], []
    for line in stdout.split("\n")[:-1]:
        if line == "":
            blocks.append(current)
            current = []
        else:
            token, tag = line.split("\t")
            current.append((token, tag))
    assert current == []
    return blocks


# --------------------------------------------------------------------------- train


@pytest.mark.parametrize("case", list(CASES))
def test_train_writes_a_model_folder_that_describes_itself(trained, case):
    out = trained(case)
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "vocab.json", "model.safetensors", "metrics.json"} <= names
    assert "loss_curve.png" in names and (out / "loss_curve.png").read_bytes()[:4] == b"\x89PNG"
    assert not any(n.endswith((".pt", ".pth", ".pkl", ".bin")) for n in names)
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == CASES[case][0]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] and metrics["best_epoch"] >= 1


def test_train_prints_one_json_summary_line(files, tmp_path, capsys):
    data = files / "reviews.tsv"
    code, out, err = run(
        capsys, "train", "--task", "classify", "--train", data, "--holdout", "0.2",
        "--out", tmp_path / "m", *TINY,
    )  # fmt: skip
    assert code == 0, err
    (line,) = out.splitlines()
    summary = json.loads(line)
    assert summary["out"] == str(tmp_path / "m") and 0 <= summary["dev_accuracy"] <= 1


# --------------------------------------------------------------------------- evaluate


@pytest.mark.parametrize("case", list(CASES))
def test_evaluate_json_has_exactly_the_contract_keys(trained, files, capsys, case):
    task, name, _, keys = CASES[case]
    column = ["--column", _column(case)] if _column(case) else []
    code, out, err = run(
        capsys, "evaluate", "--model", trained(case), "--data", files / name, "--json", *column
    )
    assert code == 0, err
    (line,) = out.splitlines()
    result = json.loads(line)
    assert set(result) == keys
    for rate in ("accuracy", "macro_f1", "span_f1"):
        if rate in result:
            assert 0.0 <= result[rate] <= 1.0
    assert result["loss"] > 0 and math.isfinite(result["loss"])
    examples = _examples(files, case)
    if task == "lm":
        assert result["perplexity"] == pytest.approx(math.exp(result["loss"]), rel=1e-9)
        assert result["n_examples"] == 50  # lines of text.txt
        assert result["n_tokens"] == len(examples) - 1  # every unit but the first
    elif task == "tag":
        assert result["n_examples"] == len(examples)
        assert result["n_tokens"] == sum(len(e.tokens) for e in examples)
    else:
        assert result["n_examples"] == result["n_tokens"] == 240


def test_evaluate_reports_iob1_input_as_iob1_and_scores_spans_strictly(trained, files, capsys):
    """span_f1 equals strict span F1 recomputed from `predict --format`'s output, with
    IOB1 read as conlleval reads it (an I- after O starts a span): scoring the raw IOB1
    tags in strict IOB2 would find no gold span at all."""
    for case in ("conll-iob1", "crf"):
        model, data = trained(case), files / "eng_train"
        code, out, err = run(capsys, "evaluate", "--model", model, "--data", data, "--json")
        assert code == 0, err
        result = json.loads(out)
        assert result["tag_scheme"] == "IOB1"
        code, out, err = run(capsys, "predict", "--model", model, data, "--format", "conll")
        assert code == 0, err
        predicted = [[t for _, t in block] for block in _blocks(out)]
        gold = [e.tags for e in read_dataset(data, "tag")]
        assert len(predicted) == len(gold) == 160
        assert all(t == "O" or t.startswith(("I-", "B-")) for p in predicted for t in p)
        hits = n_gold = n_pred = 0
        for g, p in zip(gold, predicted, strict=True):
            gs, ps = spans(g, "IOB1"), spans(p, "IOB1")
            hits, n_gold, n_pred = hits + len(gs & ps), n_gold + len(gs), n_pred + len(ps)
        expected = 2 * hits / (n_gold + n_pred)
        assert result["span_f1"] == pytest.approx(expected, abs=1e-9)
        assert result["span_f1"] > 0.5, case
        flat_gold, flat_pred = sum(gold, []), sum(predicted, [])
        acc = sum(map(str.__eq__, flat_gold, flat_pred)) / len(flat_gold)
        assert result["accuracy"] == pytest.approx(acc)


def test_evaluate_reads_the_column_the_model_was_trained_on_by_default(trained, files, capsys):
    model, data = trained("conllu-xpos"), files / "tags.conllu"
    named = run(capsys, "evaluate", "--model", model, "--data", data, "--json", "--column", "xpos")
    default = run(capsys, "evaluate", "--model", model, "--data", data, "--json")
    assert named[0] == default[0] == 0 and json.loads(named[1]) == json.loads(default[1])


@pytest.mark.parametrize("case", ["conllu", "tsv", "lm-char"])
def test_evaluate_without_json_prints_a_readable_report(trained, files, capsys, case):
    task, name, _, _ = CASES[case]
    code, out, err = run(capsys, "evaluate", "--model", trained(case), "--data", files / name)
    assert code == 0, err
    assert out.startswith(f"{files / name}: ")
    assert ("nats per example" if task == "classify" else "nats per step") in out
    assert "accuracy" in out and ("perplexity" in out) == (task == "lm")


# --------------------------------------------------------------------------- predict

INPUTS = {
    "tag": "the dog runs .\n\nthat watch plays with the old cat\n",
    "classify": "the acting was not good\nnot bad at all\n",
    "lm": "to be or\nwhether\n",
}


def _check_predictions(task: str, stdout: str, examples, text: str) -> None:
    lines = text.splitlines()
    if task == "tag":
        blocks = _blocks(stdout)
        assert [[w for w, _ in b] for b in blocks] == [line.split() for line in lines]
        known = {t for e in examples for t in e.tags}
        known |= {f"B-{t[2:]}" for t in known if t.startswith("I-")}  # IOB1's B- (touching)
        assert all(t in known for b in blocks for _, t in b)
    elif task == "classify":
        assert len(stdout.splitlines()) == len(lines) and stdout.endswith("\n")
        assert set(stdout.splitlines()) <= {e.label for e in examples}
    else:
        assert len(stdout.splitlines()) == len(lines) and stdout.endswith("\n")


@pytest.mark.parametrize("case", ["conllu", "crf", "tsv", "lm-char", "lm-word"])
def test_predict_reads_a_file_or_stdin_and_writes_the_contract_format(
    trained, files, tmp_path, capsys, monkeypatch, case
):
    task, model = CASES[case][0], trained(case)
    path = tmp_path / "in.txt"
    path.write_text(INPUTS[task])
    code, from_file, err = run(capsys, "predict", "--model", model, path)
    assert code == 0, err
    _check_predictions(task, from_file, _examples(files, case), INPUTS[task])
    monkeypatch.setattr(sys, "stdin", io.StringIO(INPUTS[task]))
    code, from_stdin, err = run(capsys, "predict", "--model", model, "-")
    assert code == 0, err
    assert from_stdin == from_file
    monkeypatch.setattr(sys, "stdin", io.StringIO(INPUTS[task]))
    code, default_stdin, err = run(capsys, "predict", "--model", model)
    assert code == 0 and default_stdin == from_file
    monkeypatch.setattr(sys, "stdin", _Terminal(INPUTS[task]))  # typed: answered line by line
    code, typed, err = run(capsys, "predict", "--model", model)
    assert code == 0 and typed == from_file


def test_predict_keeps_blank_input_lines_aligned_for_a_tagger(trained, tmp_path, capsys):
    path = tmp_path / "in.txt"
    path.write_text("the dog runs\n\nthat watch plays\n")
    code, out, err = run(capsys, "predict", "--model", trained("conll"), path)
    assert code == 0, err
    # 3 token lines + blank; the empty input's block is only its blank line; 3 + blank
    lines = out.split("\n")
    assert [bool(line) for line in lines] == [True] * 3 + [False] * 2 + [True] * 3 + [False] * 2


@pytest.mark.parametrize("case", ["tsv", "lm-char"])
def test_predict_gives_a_blank_result_for_a_blank_line(trained, tmp_path, capsys, case):
    path = tmp_path / "in.txt"
    path.write_text("not bad at all\n\n  \nthe plot was dull\n")
    code, out, err = run(capsys, "predict", "--model", trained(case), path)
    assert code == 0, err
    assert [bool(line) for line in out.split("\n")[:-1]] == [True, False, False, True]
    code, out, err = run(capsys, "predict", "--model", trained(case), path, "--output", "jsonl")
    assert code == 0, err
    objects = [json.loads(line) for line in out.splitlines()]
    assert len(objects) == 4 and objects[1] in ({"text": "", "label": None, "probability": None},
                                                {"prompt": "", "continuation": ""})  # fmt: skip


@pytest.mark.parametrize(
    ("case", "fmt"),
    [
        ("conllu", "conllu"),
        ("conll", "conll"),
        ("tag-jsonl", "jsonl"),
        ("tsv", "tsv"),
        ("csv", "csv"),
        ("classify-jsonl", "jsonl"),
    ],
)
def test_predict_format_reads_a_labelled_file(trained, files, capsys, case, fmt):
    task, name = CASES[case][:2]
    # --no-bf16: evaluate scores in float32, so predict must too for the counts to agree
    # (where the CPU has bfloat16 predict uses it by default, and near ties may flip)
    code, out, err = run(capsys, "predict", "--model", trained(case), files / name, "--format", fmt,
                         "--no-bf16")  # fmt: skip
    assert code == 0, err
    examples = read_dataset(files / name, task, format=fmt)
    if task == "tag":  # the file's tokens, multiword ranges and empty nodes skipped
        assert [[w for w, _ in b] for b in _blocks(out)] == [e.tokens for e in examples]
        accuracy = json.loads(
            run(capsys, "evaluate", "--model", trained(case), "--data", files / name, "--json")[1]
        )["accuracy"]
        predicted = [t for b in _blocks(out) for _, t in b]
        gold = [t for e in examples for t in e.tags]
        assert sum(map(str.__eq__, gold, predicted)) / len(gold) == pytest.approx(accuracy)
    else:
        assert len(out.splitlines()) == len(examples) == 240


def test_predict_format_text_for_lm_reads_prompts_line_by_line(trained, files, capsys):
    model, data = trained("lm-char"), files / "text.txt"
    short = ("--max-new", "5")
    code, with_format, err = run(
        capsys, "predict", "--model", model, data, "--format", "text", *short
    )
    assert code == 0, err
    code, without, _ = run(capsys, "predict", "--model", model, data, *short)
    assert with_format == without and len(without.splitlines()) == 50


def test_predict_lm_is_reproducible_and_bounded(trained, tmp_path, capsys):
    path = tmp_path / "in.txt"
    path.write_text("to be\n")
    model = trained("lm-char")
    args = ("predict", "--model", model, path, "--max-new", "7", "--temperature", "1.5")
    _, first, _ = run(capsys, *args, "--seed", "3")
    _, again, _ = run(capsys, *args, "--seed", "3")
    assert first == again and len(first.rstrip("\n")) <= 7 and first.count("\n") == 1
    _, zero, _ = run(capsys, "predict", "--model", model, path, "--max-new", "0")
    assert zero == "\n"


@pytest.mark.parametrize("case", ["conll-iob1", "crf"])
def test_predict_jsonl_gives_tags_probabilities_and_entities_with_offsets(trained, tmp_path,
                                                                          capsys, case):
    path = tmp_path / "in.txt"
    text = "Mary Smith works for Acme in Paris.\n\nJohn lives in New York\n"
    path.write_text(text)
    code, out, err = run(capsys, "predict", "--model", trained(case), path, "--output", "jsonl")
    assert code == 0, err
    lines = text.splitlines()
    objects = [json.loads(line) for line in out.splitlines()]
    assert [o["text"] for o in objects] == lines
    code, tsv, _ = run(capsys, "predict", "--model", trained(case), path)
    blocks = _blocks(tsv)
    for o, block in zip(objects, blocks, strict=True):
        assert [(t["text"], t["tag"]) for t in o["tokens"]] == block
        for t in o["tokens"]:
            assert o["text"][t["start"] : t["end"]] == t["text"] and 0 < t["probability"] <= 1
        for e in o["entities"]:
            assert o["text"][e["start"] : e["end"]] == e["text"] and 0 < e["score"] <= 1
    assert objects[1] == {"text": "", "tokens": [], "entities": []}
    assert [t["text"] for t in objects[0]["tokens"]][-2:] == ["Paris", "."]  # tokenized
    assert {e["text"] for o in objects for e in o["entities"]} & {"Mary Smith", "Acme", "Paris",
                                                                  "John", "New York"}


def test_predict_jsonl_top_k_for_a_classifier_and_a_tagger(trained, tmp_path, capsys):
    path = tmp_path / "in.txt"
    path.write_text("not bad at all\n")
    code, out, err = run(capsys, "predict", "--model", trained("tsv"), path, "--output", "jsonl",
                         "--top-k", "2")  # fmt: skip
    assert code == 0, err
    obj = json.loads(out)
    assert [c["label"] for c in obj["top_k"]][0] == obj["label"]
    assert sum(c["probability"] for c in obj["top_k"]) == pytest.approx(1.0, abs=1e-5)
    path.write_text("the dog runs .\n")
    code, out, err = run(capsys, "predict", "--model", trained("conllu"), path, "--output",
                         "jsonl", "--top-k", "3")  # fmt: skip
    assert code == 0, err
    for token in json.loads(out)["tokens"]:
        assert len(token["top_k"]) == 3 and token["top_k"][0]["tag"] == token["tag"]


@pytest.mark.parametrize("case", ["conllu", "conllu-xpos"])
def test_predict_conllu_fills_the_trained_column_and_keeps_every_other_byte(
    trained, files, capsys, case
):
    data = files / "tags.conllu"
    code, out, err = run(capsys, "predict", "--model", trained(case), data, "--output", "conllu")
    assert code == 0, err
    field = 3 if case == "conllu" else 4
    code, tsv, _ = run(capsys, "predict", "--model", trained(case), data, "--format", "conllu")
    predicted = iter(t for block in _blocks(tsv) for _, t in block)
    original = data.read_text().split("\n")
    filled = out.split("\n")
    assert len(original) == len(filled)
    for a, b in zip(original, filled, strict=True):
        fa, fb = a.split("\t"), b.split("\t")
        if len(fa) == 10 and fa[0].isdigit():
            assert fb[field] == next(predicted)
            assert fa[:field] + fa[field + 1 :] == fb[:field] + fb[field + 1 :]
        else:
            assert a == b  # comments, ranges, empty nodes, blank lines
    assert next(predicted, None) is None


@pytest.mark.parametrize(
    ("case", "extra", "message"),
    [
        ("conllu", ["--temperature", "0.5"], "--temperature does not apply to this model"),
        ("conllu", ["--stop", "x"], "--stop does not apply to this model"),
        ("tsv", ["--output", "conllu"], "--output conllu needs a model of task tag"),
        ("tsv", ["--top-k", "2"], "--top-k lists the K most probable labels in --output jsonl"),
        ("lm-char", ["--pretokenized"], "--pretokenized does not apply to this model"),
        ("conllu", ["--device", "gpu"], "--device must be one of auto, cpu, cuda"),
        ("conllu", ["--output", "conllu", "--format", "conll"], "--output conllu needs CoNLL-U"),
    ],
)
def test_predict_refuses_an_option_the_model_cannot_use_in_one_line(
    trained, tmp_path, capsys, case, extra, message
):
    path = tmp_path / "in.txt"
    path.write_text("the dog runs\n")
    code, out, err = run(capsys, "predict", "--model", trained(case), path, *extra)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert message in err


def test_predict_lm_runs_to_max_new_unless_a_stop_string_comes(trained, tmp_path, capsys):
    """A character model has no default stop (it goes on past line ends, written escaped
    on the one output line); --stop ends the continuation before the string."""
    path = tmp_path / "in.txt"
    path.write_text("to be\n")
    model = trained("lm-char")
    args = ("predict", "--model", model, path, "--max-new", "60", "--temperature", "0")
    _, out, _ = run(capsys, *args)
    line = out.rstrip("\n")
    assert out.count("\n") == 1 and len(line) >= 60  # escapes only lengthen it
    stop = line[10:13]
    _, stopped, _ = run(capsys, *args, "--stop", stop)
    assert stopped == line[: line.index(stop)] + "\n"
    _, word, _ = run(capsys, "predict", "--model", trained("lm-word"), path, "--temperature", "0")
    assert word.count("\n") == 1 and "\\n" not in word  # a word model stops at the line end


@pytest.mark.parametrize("command", ["evaluate", "predict", "explain"])
def test_threads_sets_torchs_cpu_threads(trained, files, tmp_path, capsys, command):
    import torch

    path = tmp_path / "in.txt"
    path.write_text("the dog runs\n")
    args = {
        "evaluate": ["--data", files / "tags.conllu"],
        "predict": [path],
        "explain": ["--text", "the dog runs"],
    }[command]
    code, _, err = run(capsys, command, "--model", trained("conllu"), *args, "--threads", "2")
    assert code == 0, err and torch.get_num_threads() == 2
    code, _, err = run(capsys, command, "--model", trained("conllu"), *args, "--threads", "0")
    assert code == 2 and "--threads must be an integer >= 1" in err


@pytest.mark.parametrize("case", ["conll-iob1", "tsv"])
def test_evaluate_writes_the_confusion_matrix_and_the_errors(trained, files, tmp_path, capsys,
                                                             case):  # fmt: skip
    data = files / CASES[case][1]
    png, errors = tmp_path / "c.png", tmp_path / "errors.txt"
    code, out, err = run(capsys, "evaluate", "--model", trained(case), "--data", data,
                         "--confusion", png, "--errors", errors, "--json")  # fmt: skip
    assert code == 0, err and set(json.loads(out)) == CASES[case][3]
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert errors.read_text().startswith("# rnnseq evaluate: ")
    code, _, err = run(capsys, "evaluate", "--model", trained("lm-char"), "--data",
                       files / "text.txt", "--errors", errors)  # fmt: skip
    assert code == 2 and "--errors does not apply to this model (task lm" in err


def _peak_rss_mib(argv: list[str]) -> tuple[int, float]:
    """Run the CLI in a child; its exit status and peak resident memory (MiB)."""
    child = subprocess.Popen([sys.executable, "-m", "rnnseq", *argv], env=_env(),
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)  # fmt: skip
    while child.stdout.read(1 << 20):  # keep the pipe flowing
        pass
    _, status, usage = os.wait4(child.pid, 0)
    return os.waitstatus_to_exitcode(status), usage.ru_maxrss / 1024


@pytest.mark.parametrize("task", ["tag", "classify"])
def test_one_long_line_takes_bounded_memory(tmp_path, task):
    """Issue 15: one 2M-token line crashed predict (oneDNN) and 1M tokens peaked at 5.2 GB.
    A tagger reads a long line in windows, a classifier its first --max-tokens tokens: a
    line 10 times longer costs only about its own bytes more."""
    from model_folder_factory import make_model_folder

    model = make_model_folder(tmp_path / "m", task)
    peaks = []
    for n in (20_000, 200_000):
        path = tmp_path / f"{n}.txt"
        path.write_text(" ".join(f"w{k % 997}" for k in range(n)) + "\n")
        code, peak = _peak_rss_mib(["predict", "--model", str(model), str(path), "--threads",
                                    "1", "--pretokenized", "--batch-size", "16"])  # fmt: skip
        assert code == 0
        peaks.append(peak)
    assert peaks[1] - peaks[0] < 40, peaks  # the line itself is ~1.2 MB


# --------------------------------------------------------------------------- explain


def _table_rows(table: str) -> list[list[str]]:
    lines = table.splitlines()
    assert lines[0].split()[:2] == ["step", "input"] and set(lines[1]) == {"-", " "}
    end = next(i for i in range(2, len(lines)) if set(lines[i]) == {"-", " "})
    return [line.split() for line in lines[2:end]]


@pytest.mark.parametrize(
    ("case", "with_labels"),
    [(c, w) for c in ("conllu", "conll-iob1", "crf", "tsv") for w in (True, False)]
    + [("lm-char", False), ("lm-word", False)],  # lm: the text's next units are the labels
)
def test_explain_shows_each_step_and_the_sum_and_mean_of_the_losses(
    trained, files, capsys, case, with_labels
):
    task, model = CASES[case][0], trained(case)
    if task == "lm":
        text = "to be or not" if case == "lm-char" else "to be or not <eos>"
        labels = None
    else:
        example = _examples(files, case)[1]
        text = " ".join(example.tokens)
        labels = (
            (" ".join(example.tags) if task == "tag" else example.label) if with_labels else None
        )
    extra = ["--labels", labels] if labels else []
    code, out, err = run(capsys, "explain", "--model", model, "--text", text, "--json", *extra)
    assert code == 0, err
    expl = json.loads(out)
    steps = expl["steps"]
    n = {"tag": len(text.split()), "classify": 1, "lm": len(text)}[task]
    if case == "lm-word":
        n = len(text.split())
    assert len(steps) == n
    assert expl["labels_given"] is (labels is not None or task == "lm")
    for s in steps:
        assert 0 < s["probability"] <= 1
        assert s["loss"] == pytest.approx(-math.log(s["probability"]), rel=1e-9, abs=1e-12)
    assert expl["sum"] == pytest.approx(sum(s["loss"] for s in steps), rel=1e-12)
    assert expl["mean"] == pytest.approx(expl["sum"] / len(steps), rel=1e-12)
    if labels is not None:
        assert [s["label"] for s in steps] == (labels.split() if task == "tag" else [labels])
    if task == "lm":
        assert [s["label"] for s in steps] == (list(text) if case == "lm-char" else text.split())

    code, table, err = run(capsys, "explain", "--model", model, "--text", text, *extra)
    assert code == 0, err
    assert "\033[" not in table  # not a terminal: no colour
    rows = _table_rows(table)
    assert len(rows) == len(steps)
    for row, s in zip(rows, steps, strict=True):
        assert float(row[-2]) == pytest.approx(s["probability"], abs=5e-5)
        assert float(row[-1]) == pytest.approx(s["loss"], abs=5e-5)
    tail = table.splitlines()[-2:]
    assert "sum" in tail[0] and float(tail[0].split()[-1]) == pytest.approx(expl["sum"], abs=5e-5)
    assert f"mean over {len(steps)} step(s)" in tail[1]
    assert float(tail[1].split()[-1]) == pytest.approx(expl["mean"], abs=5e-5)
    head = table.splitlines()[0]
    assert ("true label" in head) == (labels is not None) and "L_j = -ln p_j" in head


@pytest.mark.parametrize("case", ["conllu", "tsv"])
def test_explain_with_true_labels_sums_to_the_evaluated_loss(
    trained, files, tmp_path, capsys, case
):
    """For a cross-entropy model, Σ_j L_j of one example with its true labels is that
    example's loss: evaluate's loss (nats per counted step) × n_tokens on a one-example file."""
    task, model = CASES[case][0], trained(case)
    example = _examples(files, case)[2]
    one = tmp_path / "one.jsonl"
    row = {"tokens": example.tokens, "tags": example.tags} if task == "tag" else None
    row = row or {"text": " ".join(example.tokens), "label": example.label}
    one.write_text(json.dumps(row) + "\n")
    result = json.loads(run(capsys, "evaluate", "--model", model, "--data", one, "--json")[1])
    labels = " ".join(example.tags) if task == "tag" else example.label
    text = " ".join(example.tokens)
    code, out, err = run(
        capsys, "explain", "--model", model, "--text", text, "--labels", labels, "--json"
    )
    assert code == 0, err
    expl = json.loads(out)
    assert expl["sum"] == pytest.approx(result["loss"] * result["n_tokens"], rel=1e-5)


@pytest.mark.parametrize("case", ["conllu", "crf", "tsv"])
def test_explain_without_labels_shows_what_predict_predicts(trained, files, tmp_path, capsys, case):
    task, model = CASES[case][0], trained(case)
    text = "that watch plays with the old cat ." if task == "tag" else "not bad at all"
    if case == "crf":
        text = "Mary Smith works for Acme in Paris ."
    path = tmp_path / "in.txt"
    path.write_text(text + "\n")
    predicted = run(capsys, "predict", "--model", model, path)[1]
    expl = json.loads(run(capsys, "explain", "--model", model, "--text", text, "--json")[1])
    if task == "tag":
        assert [s["label"] for s in expl["steps"]] == [t for _, t in _blocks(predicted)[0]]
    else:
        assert [s["label"] for s in expl["steps"]] == predicted.split()


def test_explain_tokenizes_tag_text_as_predict_does(trained, capsys):
    model = trained("conllu")
    steps = json.loads(run(capsys, "explain", "--model", model, "--text", "the dog runs.",
                           "--json")[1])["steps"]  # fmt: skip
    assert [s["input"] for s in steps] == ["the", "dog", "runs", "."]
    steps = json.loads(run(capsys, "explain", "--model", model, "--text", "the dog runs.",
                           "--json", "--pretokenized")[1])["steps"]  # fmt: skip
    assert [s["input"] for s in steps] == ["the", "dog", "runs."]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("1", False), ("", True)])
def test_explain_colours_only_a_terminal_and_never_with_no_color(
    trained, monkeypatch, no_color, coloured
):
    monkeypatch.setenv("TERM", "xterm-256color")
    if no_color is None:
        monkeypatch.delenv("NO_COLOR", raising=False)
    else:
        monkeypatch.setenv("NO_COLOR", no_color)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["explain", "--model", str(trained("tsv")), "--text", "not bad at all"]) == 0
    assert ("\033[" in terminal.getvalue()) is coloured
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    main(["explain", "--model", str(trained("tsv")), "--text", "not bad", "--json"])
    assert "\033[" not in terminal.getvalue()  # JSON is never coloured


# --------------------------------------------------------------------------- entry points


def _env() -> dict:
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"), OMP_NUM_THREADS="1")
    env.pop("NO_COLOR", None)
    return env


def test_python_m_rnnseq_and_the_console_script_run_the_same_cli(trained, files, capsys):
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '[project.scripts]\nrnnseq = "rnnseq.cli:main"' in pyproject
    argv = ["evaluate", "--model", str(trained("tsv")), "--data", str(files / "reviews.tsv")]
    argv.append("--json")
    code, in_process, _ = run(capsys, *argv)
    assert code == 0
    commands = [[sys.executable, "-m", "rnnseq"]]
    script = Path(sys.executable).parent / "rnnseq"
    if script.exists():  # installed by `make` (pip install -e .)
        commands.append([str(script)])
    for command in commands:
        done = subprocess.run(
            [*command, *argv], capture_output=True, text=True, env=_env(), timeout=120
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout) == json.loads(in_process)


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_option_of_every_subcommand_has_a_help_line(capsys):
    parser = build_parser()
    commands = _subparsers(parser)
    assert set(commands) == {
        "train", "prepare", "evaluate", "predict", "explain", "serve", "demo", "download",
        "export",
    }  # fmt: skip
    for name, sub in commands.items():
        for action in sub._actions:
            assert action.help and action.help.strip(), f"rnnseq {name} {action.dest}: no help"
        with pytest.raises(SystemExit) as exit_:
            main([name, "--help"])
        assert exit_.value.code == 0
        text = capsys.readouterr().out
        for action in sub._actions:
            for flag in action.option_strings:
                assert flag in text, f"rnnseq {name} --help does not show {flag}"
    train = {f for a in commands["train"]._actions for f in a.option_strings}
    assert {"--epochs", "--batch-size", "--seed", "--format", "--column"} <= train


# --------------------------------------------------------------------------- bad usage


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--task", "tag", "--train", "/does/not/exist", "--out", "{tmp}/m"],
        ["train", "--task", "nope", "--train", "x", "--out", "{tmp}/m"],
        ["train", "--task", "tag", "--train", "{data}/reviews.tsv", "--out", "{tmp}/m"],
        ["evaluate", "--model", "{tmp}/absent", "--data", "{data}/tags.jsonl"],
        [
            "train",
            "--task",
            "classify",
            "--train",
            "{data}/reviews.tsv",
            "--out",
            "{tmp}/m",
            "--epochs",
            "0",
        ],
    ],
)
def test_bad_usage_exits_2_with_one_line_and_no_folder(tmp_path, files, capsys, argv):
    argv = [a.format(tmp=tmp_path, data=files) for a in argv]
    with pytest.raises(SystemExit) if argv[2] == "nope" else _nothing():
        code = main(argv)
        assert code == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["predict", "--model", "{tsv}", "-", "--format", "tsv"],
        ["predict", "--model", "{lm}", "{data}/reviews.tsv", "--format", "tsv"],
        ["predict", "--model", "{lm}", "{data}/text.txt", "--max-new", "-1"],
        ["predict", "--model", "{lm}", "{data}/text.txt", "--temperature", "-0.5"],
        ["predict", "--model", "{tsv}", "{data}/absent.txt"],
        ["explain", "--model", "{lm}", "--text", "to be", "--labels", "x"],
        ["explain", "--model", "{conllu}", "--text", "the dog", "--labels", "DET"],
        ["explain", "--model", "{conllu}", "--text", "the dog", "--labels", "DET NOPE"],
        ["explain", "--model", "{tsv}", "--text", "  "],
        ["evaluate", "--model", "{lm}", "--data", "{data}/text.txt", "--column", "x"],
    ],
)
def test_subcommand_misuse_exits_2_with_one_line(trained, files, capsys, argv):
    names = {"tsv": trained("tsv"), "lm": trained("lm-char"), "conllu": trained("conllu")}
    argv = [a.format(data=files, **names) for a in argv]
    code, out, err = run(capsys, *argv)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"rnnseq {argv[0]}: error: ")


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
