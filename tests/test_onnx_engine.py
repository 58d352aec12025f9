"""rnnseq predict on the ONNX engine: the torch engine's output, without torch.

Needs onnx and onnxruntime (``pip install 'rnnseq[onnx]'``); skips without them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from model_folder_factory import NER, make_model_folder
from rnnseq.cli import main
from rnnseq.data import demo_sentiment, demo_tagging
from rnnseq.data.examples import TagExample

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

REPO = Path(__file__).resolve().parents[1]
LINES = [
    "the old dog runs .",
    "",
    "Peter Blackburn said EU rejects German call .",
    "   ",
    "Zebras UNSEEN words with a verylongwordofmorethantwentycharacters , don't they ?",
    "EU",
    "\tPeter  said:\u00a0\"German\" (call) \u2026 Blackburn",
]
NER_DATA = NER * 3 + [
    TagExample(["the", "Blackburn", "dog"], ["O", "B-LOC", "O"]),
    TagExample(["German", "EU", "call"], ["B-MISC", "B-ORG", "O"]),
]
FOLDERS = {  # name -> (task, data, options)
    "tag": ("tag", demo_tagging(40, seed=5), {}),
    "ner-crf": ("ner", NER_DATA, {"loss": "crf"}),
    "ner-iob2-lstm": ("ner", NER_DATA, {"tag_scheme": "iob2", "char_features": "lstm"}),
    "ner-nochars": ("ner", NER_DATA, {"char_features": "none"}),
    "classify": ("classify", demo_sentiment(40, seed=5), {}),
}


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> dict[str, Path]:
    """Each model as a training folder (no graph) and exported with --onnx."""
    from rnnseq.export import export_folder

    base = tmp_path_factory.mktemp("onnx_engine")
    out = {}
    for name, (task, data, options) in FOLDERS.items():
        source = make_model_folder(base / name, task, data=data, seed=3, **options)
        out[name] = export_folder(source, base / f"{name}-x", onnx=True).out
        out[f"{name}-plain"] = source
    return out


@pytest.fixture(scope="module")
def lines_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("input") / "lines.txt"
    path.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    return path


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def _both(capsys, folder, *argv) -> tuple[str, str]:
    """predict's output on the torch engine (float32) and on the ONNX engine."""
    code, torch_out, err = run(capsys, "predict", "--model", folder, "--engine", "torch",
                               "--no-bf16", *argv)  # fmt: skip
    assert code == 0, err
    code, onnx_out, err = run(capsys, "predict", "--model", folder, "--engine", "onnx", *argv)
    assert code == 0, err
    return torch_out, onnx_out


def _same_json(a, b) -> None:
    """Equal JSON values, numbers to 1e-5 (probabilities: float32 rounding)."""
    if isinstance(a, float) or isinstance(b, float):
        assert a == pytest.approx(b, abs=1e-5)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for k in a:
            _same_json(a[k], b[k])
    elif isinstance(a, list):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _same_json(x, y)
    else:
        assert a == b


@pytest.mark.parametrize("name", ["tag", "ner-crf", "ner-iob2-lstm", "ner-nochars", "classify"])
@pytest.mark.parametrize("pretokenized", [False, True])
def test_onnx_engine_writes_the_tsv_the_torch_engine_writes(exported, lines_file, capsys, name,
                                                             pretokenized):  # fmt: skip
    flag = ["--pretokenized"] if pretokenized else ["--no-pretokenized"]
    torch_out, onnx_out = _both(capsys, exported[name], lines_file, *flag)
    assert onnx_out == torch_out
    lines = onnx_out.split("\n")[:-1]
    results = len(lines) if name == "classify" else lines.count("")  # tag: a blank line each
    assert results == len(LINES)  # one result per input line, blank ones included


@pytest.mark.parametrize("name", ["tag", "ner-crf", "ner-iob2-lstm", "classify"])
def test_onnx_engine_writes_the_jsonl_the_torch_engine_writes_top_k_included(
    exported, lines_file, capsys, name
):
    torch_out, onnx_out = _both(capsys, exported[name], lines_file, "--output", "jsonl",
                                "--top-k", "3")  # fmt: skip
    torch_lines, onnx_lines = torch_out.splitlines(), onnx_out.splitlines()
    assert len(onnx_lines) == len(LINES)
    for a, b in zip(torch_lines, onnx_lines, strict=True):
        _same_json(json.loads(a), json.loads(b))


@pytest.mark.parametrize("name", ["ner-crf", "ner-iob2-lstm"])
def test_span_offsets_slice_the_input_line_on_the_onnx_engine(exported, lines_file, capsys, name):
    code, out, err = run(capsys, "predict", "--model", exported[name], "--engine", "onnx",
                         lines_file, "--output", "jsonl")  # fmt: skip
    assert code == 0, err
    found = 0
    for text, line in zip(LINES, out.splitlines(), strict=True):
        obj = json.loads(line)
        assert obj["text"] == text
        for item in obj["tokens"] + obj["entities"]:
            assert text[item["start"] : item["end"]] == item["text"]
        found += len(obj["entities"])
        if not text.strip():
            assert obj["tokens"] == [] and obj["entities"] == []
    assert found > 0


def test_conllu_output_and_labelled_input_equal_the_torch_engine(exported, tmp_path, capsys):
    conllu = tmp_path / "in.conllu"
    conllu.write_text(
        "# sent_id = 1\n# text = the old dog runs .\n"
        "1\tthe\tthe\t_\t_\t_\t0\t_\t_\t_\n2\told\told\t_\t_\t_\t0\t_\t_\t_\n"
        "3-4\tdogruns\t_\t_\t_\t_\t_\t_\t_\t_\n3\tdog\tdog\t_\t_\t_\t0\t_\t_\t_\n"
        "4\truns\trun\t_\t_\t_\t0\t_\t_\t_\n5\t.\t.\t_\t_\t_\t0\t_\t_\t_\n\n",
        encoding="utf-8",
    )
    torch_out, onnx_out = _both(capsys, exported["tag"], conllu, "--output", "conllu")
    assert onnx_out == torch_out and "dogruns" in onnx_out
    labelled = tmp_path / "tags.jsonl"
    labelled.write_text("".join(json.dumps({"tokens": e.tokens, "tags": e.tags}) + "\n"
                                for e in NER_DATA), encoding="utf-8")  # fmt: skip
    torch_out, onnx_out = _both(capsys, exported["ner-crf"], labelled, "--format", "jsonl")
    assert onnx_out == torch_out


def test_a_long_line_is_read_in_the_same_windows_on_both_engines(exported, tmp_path, capsys,
                                                                monkeypatch):  # fmt: skip
    import rnnseq.tasks.tag_lines as tag_lines

    monkeypatch.setattr(tag_lines, "SIZE", 7)
    monkeypatch.setattr(tag_lines, "CONTEXT", 3)
    path = tmp_path / "long.txt"
    path.write_text("Peter Blackburn said EU rejects German call . " * 12 + "\n", encoding="utf-8")
    for name in ("ner-crf", "tag"):
        torch_out, onnx_out = _both(capsys, exported[name], path, "--output", "jsonl")
        _same_json(json.loads(torch_out), json.loads(onnx_out))


def test_classify_cuts_long_texts_at_max_tokens_on_both_engines(exported, tmp_path, capsys):
    path = tmp_path / "long.txt"
    path.write_text("good " * 50 + "bad\n\nbad film\n", encoding="utf-8")
    torch_out, onnx_out = _both(capsys, exported["classify"], path, "--max-tokens", "5",
                                "--output", "jsonl")  # fmt: skip
    assert [json.loads(x)["label"] for x in onnx_out.splitlines()] == [
        json.loads(x)["label"] for x in torch_out.splitlines()
    ]


# ---------------------------------------------------------------- which engine runs


def _imported_modules(stderr: str) -> set[str]:
    """The modules ``python -X importtime`` reports as imported."""
    return {m.group(1) for m in re.finditer(r"^import time:.*\|\s*(\S+)\s*$", stderr, re.M)}


def _predict_subprocess(folder: Path, *argv: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "rnnseq", "predict", "--model", str(folder),
         *argv],
        input="Peter Blackburn said EU rejects German call .\n\nthe dog\n",
        capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip


@pytest.mark.parametrize("pretokenized", ["--pretokenized", "--no-pretokenized"])
def test_predict_on_an_exported_folder_never_imports_torch(exported, pretokenized):
    done = _predict_subprocess(exported["ner-crf"], "--output", "jsonl", pretokenized)
    assert done.returncode == 0, done.stderr[-2000:]
    assert len(done.stdout.splitlines()) == 3
    modules = _imported_modules(done.stderr)
    assert "onnxruntime" in modules
    assert not {m for m in modules if m.split(".")[0] == "torch" and m != "torch"}
    # the check can fail: the torch engine, the same way, does import torch
    done = _predict_subprocess(exported["ner-crf"], "--engine", "torch", pretokenized)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "torch._C" in _imported_modules(done.stderr)


def test_a_folder_without_the_graph_runs_on_torch_silently(exported, lines_file, capsys):
    code, plain, err = run(capsys, "predict", "--model", exported["ner-crf-plain"], lines_file,
                           "--no-bf16")  # fmt: skip
    assert code == 0 and err == ""
    code, shipped, err = run(capsys, "predict", "--model", exported["ner-crf"], lines_file)
    assert code == 0 and err == "" and shipped == plain


@pytest.mark.parametrize(
    ("name", "extra", "message"),
    [
        ("ner-crf-plain", [], "--engine onnx needs the ONNX graph in "),
        ("ner-crf", ["--bf16"], "--engine onnx computes in float32; leave out --bf16"),
        ("ner-crf", ["--device", "cuda"], "--engine onnx runs on the CPU, not --device cuda"),
    ],
)
def test_engine_onnx_that_cannot_run_is_one_line_and_exit_2(exported, lines_file, capsys, name,
                                                           extra, message):  # fmt: skip
    code, out, err = run(capsys, "predict", "--model", exported[name], "--engine", "onnx",
                         lines_file, *extra)  # fmt: skip
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err, err


def test_engine_onnx_refuses_a_language_model(tmp_path, capsys):
    folder = make_model_folder(tmp_path / "lm", "lm")
    code, out, err = run(capsys, "predict", "--model", folder, "--engine", "onnx")
    assert code == 2 and "--engine onnx serves tag and classify models, not task lm" in err


def test_predict_help_says_which_engine_runs_and_how_to_force_torch(capsys):
    with pytest.raises(SystemExit):
        main(["predict", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--engine {auto,torch,onnx}" in text and "torch: always torch" in text


def test_a_vocabulary_that_does_not_fit_the_graph_is_one_line_and_exit_2(exported, tmp_path,
                                                                        capsys):  # fmt: skip
    import shutil

    folder = tmp_path / "tampered"
    shutil.copytree(exported["ner-nochars"], folder)
    vocab = json.loads((folder / "vocab.json").read_text())
    vocab["words"]["tokens"] += [f"extra{k}" for k in range(50)]
    (folder / "vocab.json").write_text(json.dumps(vocab))
    line = tmp_path / "in.txt"
    line.write_text("extra49 said\n")
    code, out, err = run(capsys, "predict", "--model", folder, "--engine", "onnx", line)
    assert code == 2 and err.count("\n") == 1
    assert "onnxruntime could not run the model's graph" in err
