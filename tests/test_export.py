"""rnnseq export: a folder to hand over (no resume state, a model card) and its ONNX graph.

The ONNX tests need onnx and onnxruntime (``pip install 'rnnseq[onnx]'``) and skip
without them.
"""

from __future__ import annotations

import doctest
import functools
import hashlib
import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnseq
from model_folder_factory import NER, make_model_folder
from rnnseq.cli import build_parser, main
from rnnseq.data import demo_sentiment, demo_tagging
from rnnseq.export import export_folder
from rnnseq.model_folder import (
    FILES,
    load_model_folder,
)
from rnnseq.tag_schemes import SCHEMES, convert
from rnnseq.task_model import TaskModel
from rnnseq.tasks import get_task
from rnnseq.train_command import train_command
from rnnseq.training.config import TrainConfig
from tiny_data import write_reviews_tsv, write_tags_jsonl

needs_onnxruntime = pytest.mark.skipif(
    importlib.util.find_spec("onnxruntime") is None, reason="needs onnxruntime (rnnseq[onnx])"
)
DOC = Path(__file__).resolve().parents[1] / "docs" / "EXPORT.md"
SMALL = {"min_freq": 1, "embedding_dim": 8, "hidden": 8, "char_dim": 4, "char_hidden": 6}


def make_folder(out: Path, task: str, data: list, *, seed: int = 0, **options) -> Path:
    """A loadable folder (:func:`model_folder_factory.make_model_folder`: vocabularies from
    ``data``, random weights, a CRF's too) that still holds a training state to leave out."""
    make_model_folder(out, task, seed=seed, data=data, **{**SMALL, **options})
    (out / FILES["resume"]).write_bytes(b"\0" * 64)  # stands in for the training state
    return out


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    """A tagger trained for one epoch on 40 generated sentences, with holdout dev data."""
    folder = tmp_path_factory.mktemp("trained")
    train = write_tags_jsonl(folder / "tags.jsonl", 40, seed=3)
    out = folder / "model"
    rnnseq.train(
        task="tag",
        train=str(train),
        out=str(out),
        holdout=0.25,
        epochs=1,
        hidden=8,
        embedding_dim=8,
        threads=1,
        progress=False,
    )
    return out


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("folders")
    return {
        "tag": make_folder(base / "tag", "tag", demo_tagging(30, seed=5)),
        "classify": make_folder(base / "classify", "classify", demo_sentiment(30, seed=5)),
        "ner-crf": make_folder(base / "ner-crf", "tag", NER * 3, loss="crf"),
        "ner-iob2": make_folder(
            base / "ner-iob2", "tag", NER * 3, tag_scheme="iob2", char_features="lstm"
        ),
    }


# ---------------------------------------------------------------- the folder


def test_exported_folder_has_no_resume_state_and_config_lists_its_files(trained, tmp_path):
    assert (trained / "resume.safetensors").exists()
    out = export_folder(trained, tmp_path / "ship").out
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "README.md",
        "config.json",
        "loss_curve.png",
        "metrics.json",
        "model.safetensors",
        "vocab.json",
    ]
    config = json.loads((out / "config.json").read_text())
    assert "resume" not in config["files"]
    assert sorted(config["files"].values()) == sorted(n for n in names if n != "config.json")
    source = json.loads((trained / "config.json").read_text())
    assert config["training"] == source["training"]
    for name in ("model.safetensors", "vocab.json", "metrics.json", "loss_curve.png"):
        assert (out / name).read_bytes() == (trained / name).read_bytes()


def test_exported_folder_predicts_and_evaluates_exactly_as_the_source(folders, tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    files = {
        "tag": write_tags_jsonl(data / "t.jsonl", 20, seed=9),
        "classify": write_reviews_tsv(data / "r.tsv", 20, seed=9),
    }
    for task, path in files.items():
        out = export_folder(folders[task], tmp_path / task).out
        before, after = rnnseq.load(folders[task]), rnnseq.load(out)
        texts = [" ".join(e.tokens) for e in (demo_tagging(15, seed=11))]
        assert after.predict(texts) == before.predict(texts)
        assert after.evaluate(path) == before.evaluate(path)


def test_card_says_task_labels_network_data_command_scores_and_versions(trained, tmp_path):
    card = export_folder(trained, tmp_path / "ship").out.joinpath("README.md").read_text()
    config = json.loads((trained / "config.json").read_text())
    labels = json.loads((trained / "vocab.json").read_text())["labels"]["tokens"]
    assert card.startswith("# ship: an rnnseq tag model")
    assert all(f"`{label}`" in card for label in labels)
    assert "| encoder | LSTM, 1 layer(s), both directions, 8 units per direction |" in card
    digest = hashlib.sha256(Path(config["training"]["train"]).read_bytes())
    assert f"SHA-256 `{digest.hexdigest()}`" in card
    assert "dev data: the last 25% of the training file" in card
    # the options given, and those the data chose (docs/DEFAULTS.md), written explicitly
    assert "--holdout 0.25 --lowercase --min-freq 1 --embedding-dim 8 --hidden 8" in card
    assert "--word-dropout 0.25 --lr 0.002 --epochs 1 --patience 4 --threads 1" in card
    metrics = json.loads((trained / "metrics.json").read_text())
    assert f"| accuracy | {metrics['best']['dev_accuracy']:.4f} | not measured |" in card
    assert "Test: not measured" in card
    for version in (
        "rnnseq (training) | 0.1.0",
        f"torch | {torch.__version__}",
        "model folder format | 2",
    ):
        assert version in card
    # No HTML: outside code, a bare <unk> would read as a tag.
    prose = re.sub(r"`[^`]*`", "", re.sub(r"```.*?```", "", card, flags=re.S))
    assert re.search(r"(?<!\\)<", prose) is None


def test_card_scores_a_test_file_as_evaluate_does_and_names_missing_data(folders, tmp_path):
    test = write_tags_jsonl(tmp_path / "test.jsonl", 12, seed=4)
    result = export_folder(folders["tag"], tmp_path / "ship", test=test)
    assert result.test_scores == rnnseq.load(folders["tag"]).evaluate(test)
    card = (result.out / "README.md").read_text()
    assert f"| accuracy | not measured | {result.test_scores['accuracy']:.4f} |" in card
    assert "`(generated)` (file not found at export time)" in card
    assert "Test: `test.jsonl`, scored at export time" in card


def test_card_of_span_tags_names_entity_types_and_the_scheme_written(folders, tmp_path):
    test = tmp_path / "test.jsonl"
    test.write_text("".join(json.dumps({"tokens": e.tokens, "tags": e.tags}) + "\n" for e in NER))
    result = export_folder(folders["ner-crf"], tmp_path / "ship", test=test)
    text = (result.out / "README.md").read_text()
    span_f1 = result.test_scores["span_f1"]
    assert (
        f"| span F1 (type and both boundaries exact, as conlleval) | not measured | "
        f"{span_f1:.4f} |" in text
    )
    # per_type: the contract's per-entity-type scores, where evaluate reports them
    assert ("Test spans per type:" in text) == ("per_type" in result.test_scores)
    assert "Entity types (3): MISC, ORG, PER." in text
    assert (
        "span tags in IOB2, the scheme of its training file (the model learned them as "
        "IOBES)" in text
    )
    assert "then a linear-chain CRF" in text
    assert "label-smoothing" not in text  # needs --loss ce: not an option of this run


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"optimizer": "sgd"},  # lr's default follows the optimizer: no --lr
        {"optimizer": "sgd", "lr": 0.3, "bidirectional": False, "cell": "gru"},
        {"loss": "crf", "tag_scheme": "iob2", "char_features": "none", "lowercase": True},
        {"holdout": 0.1, "dev": None, "max_length": 50, "word_dropout": 0.1, "bf16": True},
    ],
)
def test_train_command_reproduces_the_recorded_options(options):
    recorded = TrainConfig(
        task="tag", train="data/train file.conllu", out="runs/x", char_dim=16, **options
    ).resolved()
    command = train_command(recorded)
    assert command.api_only == {"char_dim": 16}  # no command-line flag
    args = build_parser().parse_args(command.argv[1:])
    given = {k: v for k, v in vars(args).items() if k not in ("run", "command")}
    again = TrainConfig(**given, char_dim=16).resolved()
    assert again == recorded
    shown = [a for a in command.argv if a.startswith("--")]
    assert len(shown) == 3 + len([k for k in options if k != "dev"])  # task, train, out


def test_train_command_docstring_example_runs():
    import rnnseq.train_command

    result = doctest.testmod(rnnseq.train_command)
    assert result.attempted > 0 and result.failed == 0


def test_train_command_leaves_out_how_the_folder_was_handled():
    recorded = TrainConfig(task="classify", train="t.tsv", out="o", resume=True).resolved()
    command = train_command(recorded)
    assert command.resumed and "--resume" not in command.argv


# ---------------------------------------------------------------- errors


def _cli(argv, capsys) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    return code, err


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if ".partial-" in p.name or ".old-" in p.name]


def test_export_errors_are_one_line_exit_2_and_leave_nothing(folders, tmp_path, capsys):
    code, err = _cli(["export", "--model", tmp_path / "nowhere", "--out", tmp_path / "a"], capsys)
    assert code == 2 and err.count("\n") == 1 and "nowhere" in err
    assert not (tmp_path / "a").exists()

    taken = tmp_path / "taken"
    taken.mkdir()
    code, err = _cli(["export", "--model", folders["tag"], "--out", taken], capsys)
    assert code == 2 and "already exists; use --overwrite" in err and err.count("\n") == 1

    (tmp_path / "plain.txt").write_text("x")
    code, err = _cli(
        ["export", "--model", folders["tag"], "--out", tmp_path / "plain.txt" / "m"], capsys
    )
    assert code == 2 and "cannot create" in err and err.count("\n") == 1

    code, err = _cli(
        [
            "export",
            "--model",
            folders["tag"],
            "--out",
            tmp_path / "b",
            "--test",
            tmp_path / "missing.jsonl",
        ],
        capsys,
    )
    assert code == 2 and "missing.jsonl" in err and err.count("\n") == 1
    assert not (tmp_path / "b").exists()
    assert _leftovers(tmp_path) == []


def test_overwrite_replaces_a_model_folder_but_never_another_folder(folders, tmp_path, capsys):
    out = export_folder(folders["tag"], tmp_path / "ship").out
    export_folder(folders["classify"], out, overwrite=True)
    assert json.loads((out / "config.json").read_text())["task"] == "classify"
    other = tmp_path / "home"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    code, err = _cli(["export", "--model", folders["tag"], "--out", other, "--overwrite"], capsys)
    assert code == 2 and "is not a model folder" in err
    assert (other / "notes.txt").read_text() == "mine"


def test_onnx_without_its_packages_is_one_line_naming_what_to_install(
    folders, tmp_path, capsys, monkeypatch
):
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "onnxruntime" else real(name, *a),
    )
    code, err = _cli(
        ["export", "--model", folders["tag"], "--out", tmp_path / "x", "--onnx"], capsys
    )
    assert code == 2 and err.count("\n") == 1
    assert "needs onnxruntime" in err and "pip install 'rnnseq[onnx]'" in err
    assert not (tmp_path / "x").exists()


# ---------------------------------------------------------------- ONNX


@pytest.fixture(scope="module")
def ort():
    pytest.importorskip("onnx")
    return pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def onnx_folders(folders, tmp_path_factory, ort) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("onnx")
    return {name: export_folder(src, base / name, onnx=True).out for name, src in folders.items()}


def _network(task: str, **options) -> TaskModel:
    """A TaskModel with random weights for the given architecture options."""
    from rnnseq.models import ModelConfig

    sizes = {"vocab_size": 30, "num_labels": 5}
    if options.get("char_features", "none") != "none":
        sizes["char_vocab_size"] = 12
    config = ModelConfig(embedding_dim=6, hidden=5, char_dim=3, char_hidden=4, **sizes, **options)
    torch.manual_seed(1)
    return TaskModel(get_task(task), config).eval()


NETWORKS = {
    "tagger, char CNN": ("tag", {"char_features": "cnn"}),
    "tagger, char BiLSTM, 2 GRU layers": (
        "tag",
        {"char_features": "lstm", "cell": "gru", "layers": 2},
    ),
    "tagger, Elman RNN, one direction": ("tag", {"cell": "rnn", "bidirectional": False}),
    "classifier, max pooling": ("classify", {}),
    "classifier, last, 2 layers": ("classify", {"pooling": "last", "layers": 2}),
    "classifier, mean, char CNN, one direction": (
        "classify",
        {"pooling": "mean", "char_features": "cnn", "bidirectional": False},
    ),
    "language model": ("lm", {"bidirectional": False}),
}


@pytest.mark.parametrize("name", list(NETWORKS))
def test_onnx_scores_equal_pytorch_to_1e_4_at_real_steps_max_abs(name, tmp_path, ort):
    from rnnseq.onnx_export import check_onnx, export_onnx

    task, options = NETWORKS[name]
    model = _network(task, **options)
    path = tmp_path / "model.onnx"
    check = export_onnx(model, path)
    assert check.max_abs_diff <= 1e-4
    shapes = [(1, 1, 1), (3, 7, 20), (9, 4, 2), (5, 17, 8), (2, 40, 5)]
    again = check_onnx(model, path, shapes=shapes, seed=7)  # batches the export never saw
    model.net.encoder.implementation = "packed"  # and against the other implementation
    packed = check_onnx(model, path, shapes=shapes, seed=7)
    worst = max(again.max_abs_diff, packed.max_abs_diff)
    print(
        f"\n{name}: max |onnxruntime - torch| {worst:.2e} at real steps, "
        f"{again.max_abs_diff_padding:.2e} at padded steps"
    )
    assert worst <= 1e-4


def test_onnx_graph_has_dynamic_batch_and_length_axes(onnx_folders):
    import onnx

    graph = onnx.load(str(onnx_folders["tag"] / "model.onnx")).graph
    dims = {
        v.name: [d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in [*graph.input, *graph.output]
    }
    assert dims["tokens"] == ["batch", "length"]
    assert dims["lengths"] == ["batch"]
    assert dims["chars"] == ["batch", "length", "word_length"]
    assert dims["scores"][:2] == ["batch", "length"]
    classify = onnx.load(str(onnx_folders["classify"] / "model.onnx")).graph
    assert [i.name for i in classify.input] == ["tokens", "lengths"]  # no characters


def test_onnx_manifest_and_crf_tables_describe_the_graph(onnx_folders):
    info = json.loads((onnx_folders["ner-crf"] / "onnx.json").read_text())
    assert info["crf"] == "crf.json" and "Viterbi" in info["decode"]
    assert info["check"]["max_abs_diff"] <= 1e-4
    crf = json.loads((onnx_folders["ner-crf"] / "crf.json").read_text())
    loaded = load_model_folder(onnx_folders["ner-crf"])
    assert crf["tags"] == loaded.vocabs.labels.tokens
    allowed = loaded.model.crf.allowed_transitions
    trans = torch.tensor(crf["transitions"])
    assert bool((trans[~allowed] == crf["forbidden"]).all())
    assert torch.allclose(trans[allowed], loaded.model.crf.transitions[allowed].double().float())
    config = json.loads((onnx_folders["ner-crf"] / "config.json").read_text())
    assert {"onnx", "onnx_manifest", "crf", "model_card"} <= set(config["files"])
    assert "## ONNX graph" in (onnx_folders["ner-crf"] / "README.md").read_text()


@functools.cache
def _doc_example() -> dict:
    """The first Python block of docs/EXPORT.md, run: its OnnxModel, viterbi, rewrite."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)
    namespace: dict = {"__name__": "export_doc_example"}
    exec(compile(blocks[0], str(DOC), "exec"), namespace)  # noqa: S102
    return namespace


@pytest.mark.parametrize("name", ["tag", "classify", "ner-crf", "ner-iob2"])
def test_doc_example_with_onnxruntime_predicts_what_rnnseq_predicts(onnx_folders, name):
    doc = _doc_example()
    model = doc["OnnxModel"](str(onnx_folders[name]))
    if name.startswith("ner"):
        sentences = [e.tokens for e in NER] + [
            ["Peter", "EU", "German", "Blackburn", "said"],
            ["unseen", "words", "here"],
        ]
    else:
        data = demo_tagging(25, seed=2) if name == "tag" else demo_sentiment(25, seed=2)
        sentences = [e.tokens for e in data] + [["Zebras", "UNSEEN", "x" * 30]]
    expected = rnnseq.load(onnx_folders[name]).predict(sentences)
    assert model.predict(sentences) == expected


@needs_onnxruntime
@settings(max_examples=200, deadline=None)
@given(
    tags=st.lists(
        st.sampled_from(
            ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "E-B", "S-B", "I-A-x", "U-A", "L-B"]
        ),
        max_size=12,
    ),
    target=st.sampled_from(SCHEMES),
)
def test_doc_example_rewrite_equals_rnnseq_scheme_conversion(tags, target):
    assert _doc_example()["rewrite"](tags, target) == convert(tags, "IOBES", target)


def test_doc_example_viterbi_equals_rnnseq_viterbi(onnx_folders):
    doc = _doc_example()
    crf = json.loads((onnx_folders["ner-crf"] / "crf.json").read_text())
    model = load_model_folder(onnx_folders["ner-crf"]).model
    generator = torch.Generator().manual_seed(3)
    for t in (1, 2, 5, 11):
        emissions = torch.randn(1, t, len(crf["tags"]), generator=generator) * 3
        expected = model.crf.viterbi_decode(emissions, torch.tensor([t]))[0]
        assert doc["viterbi"](emissions[0].numpy(), crf) == expected


def test_failed_onnx_check_fails_the_export_and_leaves_nothing(folders, tmp_path, ort, monkeypatch):
    import rnnseq.onnx_export as onnx_export

    monkeypatch.setattr(onnx_export, "TOLERANCE", -1.0)  # no graph can pass
    with pytest.raises(ValueError, match="differ from PyTorch's"):
        export_folder(folders["tag"], tmp_path / "ship", onnx=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
