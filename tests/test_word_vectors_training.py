"""--embeddings FILE through training, the model folder and prediction: a word only the
vectors file knows keeps its vector in a saved folder whose file is gone; frozen rows
stay as the file gives them; --max-vectors changes nothing but the added rows; the file
gives the embedding size; every task, the CRF and the character features take them; bad
files and options are one line and exit status 2, with no folder left behind."""

from __future__ import annotations

import gzip
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

import rnnseq
from rnnseq.cli import main
from rnnseq.data import read_dataset
from rnnseq.serialization import load_tensors
from rnnseq.training.config import TrainConfig, TrainingOptions
from rnnseq.training.optim import make_optimizer
from tiny_data import write_tiny_data

DIM = 8
# Words of the vectors file that the tiny training data never uses.
UNSEEN = ["lisbon", "zebra", "quietly"]
TINY = {"hidden": 8, "batch_size": 16, "epochs": 2, "threads": 1, "progress": False}
WEIGHT = "net.embedder.word.weight"
ADDED = "net.embedder.added_vectors"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    return write_tiny_data(tmp_path_factory.mktemp("vectors"), n=120, seed=5)


def write_vectors(path: Path, words: list[str], seed: int = 0) -> dict[str, np.ndarray]:
    """A GloVe-style text file: one ``word v1 ... v8`` line per word; returns the vectors."""
    rng = np.random.default_rng(seed)
    table = {w: rng.normal(size=DIM).astype(np.float32) for w in words}
    path.write_text("".join(f"{w} {' '.join(repr(float(x)) for x in v)}\n"
                            for w, v in table.items()))  # fmt: skip
    return table


@pytest.fixture(scope="module")
def vectors(data) -> tuple[Path, dict[str, np.ndarray]]:
    """Lowercase vectors (as GloVe's) for the training words and for UNSEEN, which come
    first in the file (most frequent)."""
    train = read_dataset(str(data / "tags.jsonl"), "tag")
    words = sorted({w.lower() for e in train for w in e.tokens})
    path = data / "vectors.txt"
    return path, write_vectors(path, UNSEEN + words)


def rows_of(folder: Path) -> torch.Tensor:
    """The (V, E) word rows of a saved model: the trained ones, then the added ones."""
    tensors, _ = load_tensors(folder / "model.safetensors")
    return torch.cat([tensors[WEIGHT], tensors.get(ADDED, tensors[WEIGHT][:0])])


def row_of(folder: Path, word: str) -> torch.Tensor:
    tokens = json.loads((folder / "vocab.json").read_text())["words"]["tokens"]
    return rows_of(folder)[tokens.index(word)]


def train(data, out, vectors_path, task="tag", **options):
    files = {"tag": "tags.jsonl", "classify": "reviews.tsv", "lm": "text.txt"}
    options = {**TINY, "embeddings": str(vectors_path), **options}
    return rnnseq.train(task=task, train=data / files[task], out=out, overwrite=True, **options)


# ------------------------------------------------------------------ prediction path


def test_a_word_only_the_file_knows_keeps_its_vector_when_the_file_is_gone(
    data, vectors, tmp_path
):
    source, table = vectors
    path = tmp_path / "copy.txt"
    shutil.copy(source, path)
    out = train(data, tmp_path / "m", path, epochs=3).out
    path.unlink()  # the folder must not need it
    model = rnnseq.load(out)
    words = model.vocabs.words
    assert words.lowercase_fallback
    ids = words.encode(["Lisbon", "zebra", "unheardof"])
    assert ids[0] != words.unk_id and ids[1] != words.unk_id and ids[2] == words.unk_id
    with torch.no_grad():
        rows = model.model.net.embedder.word_vectors(torch.tensor([ids]))[0]  # (3, E)
    # The added words' rows are the file's, bit for bit; an unknown word reads <unk>'s.
    np.testing.assert_array_equal(rows[0].numpy(), table["lisbon"])
    np.testing.assert_array_equal(rows[1].numpy(), table["zebra"])
    assert not torch.equal(rows[2], rows[0])
    (tags,) = model.predict([["the", "zebra", "runs", "."]])
    assert len(tags) == 4
    config = json.loads((out / "config.json").read_text())
    assert config["training"]["model"]["embedding_dim"] == DIM
    assert config["sizes"]["vocab_size"] == len(words)


def test_max_vectors_bounds_the_added_words_in_file_order(data, vectors, tmp_path):
    path, _ = vectors
    out = train(data, tmp_path / "m", path, max_vectors=2, epochs=1).out
    tokens = json.loads((out / "vocab.json").read_text())["words"]["tokens"]
    assert tokens[-2:] == ["lisbon", "zebra"] and "quietly" not in tokens
    none = train(data, tmp_path / "n", path, max_vectors=0, epochs=1).out
    assert not set(UNSEEN) & set(json.loads((none / "vocab.json").read_text())["words"]["tokens"])


def test_max_vectors_changes_only_the_added_rows_of_the_trained_model(data, vectors, tmp_path):
    """With --min-freq 1 the added words never occur in training: two caps train the
    same network, bit for bit (what benchmarks/embeddings_caps.py relies on)."""
    path, _ = vectors
    small = train(data, tmp_path / "a", path, max_vectors=1, min_freq=1).out
    large = train(data, tmp_path / "b", path, max_vectors=3, min_freq=1).out
    a, _ = load_tensors(small / "model.safetensors")
    b, _ = load_tensors(large / "model.safetensors")
    assert (a[ADDED].shape[0], b[ADDED].shape[0]) == (1, 3)
    for name in a:
        assert torch.equal(a[name], b[name][: a[name].shape[0]]), name


def test_the_added_rows_are_a_buffer_so_the_optimizer_never_sees_them(data, vectors, tmp_path):
    path, _ = vectors
    sizes = {}
    for cap in (0, 3):
        out = train(data, tmp_path / str(cap), path, max_vectors=cap, epochs=1).out
        model = rnnseq.load(out).model
        sizes[cap] = sum(p.numel() for p in model.parameters())
        config = json.loads((out / "config.json").read_text())
        assert config["sizes"].get("added_words", 0) == cap
        vocab = json.loads((out / "vocab.json").read_text())
        assert vocab.get("added_words", 0) == cap
    assert sizes[0] == sizes[3]


# --------------------------------------------------------------- freeze, fine-tune


def test_frozen_embeddings_keep_the_files_vectors_and_fine_tuned_ones_move(
    data, vectors, tmp_path
):
    path, table = vectors
    frozen = train(data, tmp_path / "f", path, freeze_embeddings=True, lr=0.01).out
    tuned = train(data, tmp_path / "t", path, lr=0.01).out
    for word in ("the", "dog", "lisbon"):
        np.testing.assert_array_equal(row_of(frozen, word).numpy(), table[word])
    assert not np.array_equal(row_of(tuned, "the").numpy(), table["the"])
    np.testing.assert_array_equal(row_of(tuned, "lisbon").numpy(), table["lisbon"])
    np.testing.assert_array_equal(row_of(frozen, "<pad>").numpy(), 0.0)


def test_weight_decay_never_reaches_the_pretrained_rows(data, vectors, tmp_path):
    path, table = vectors
    out = train(data, tmp_path / "m", path, weight_decay=0.5, lr=0.01).out
    np.testing.assert_array_equal(row_of(out, "zebra").numpy(), table["zebra"])
    model = rnnseq.load(out).model
    opt = make_optimizer(model.parameters(), TrainingOptions(lr=0.1, weight_decay=0.5), "cpu")
    decays = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    assert decays[id(model.net.embedder.word.weight)] == 0.0
    assert decays[id(model.net.output.weight)] == 0.5


# ------------------------------------------------------------- tasks and features


def test_crf_with_character_features_and_embeddings_trains_and_predicts(
    data, vectors, tmp_path
):
    path, table = vectors
    out = train(data, tmp_path / "m", path, loss="crf", char_features="lstm",
                word_dropout=0.1, freeze_embeddings=True).out  # fmt: skip
    model = rnnseq.load(out)
    assert model.model.crf is not None and model.model.net.embedder.chars is not None
    assert model.model.net.embedder.output_size == DIM + 50
    (tags,) = model.predict([["Lisbon", "sleeps", "."]])
    assert len(tags) == 3
    np.testing.assert_array_equal(row_of(out, "lisbon").numpy(), table["lisbon"])


def test_a_classifier_takes_the_vectors_and_the_unseen_words(data, vectors, tmp_path):
    path, table = vectors
    out = train(data, tmp_path / "m", path, task="classify").out
    model = rnnseq.load(out)
    assert model.vocabs.words.encode(["zebra"]) != [model.vocabs.words.unk_id]
    np.testing.assert_array_equal(row_of(out, "zebra").numpy(), table["zebra"])
    assert len(model.predict(["the zebra is happy"])) == 1


def test_a_word_language_model_takes_input_vectors_without_new_words(data, tmp_path):
    text = read_dataset(str(data / "text.txt"), "lm", unit="word")
    words = sorted(set(text) - {"<eos>"})
    path = tmp_path / "v.txt"
    table = write_vectors(path, ["zebra", *words])
    out = rnnseq.train(task="lm", unit="word", train=data / "text.txt", out=tmp_path / "m",
                       embeddings=str(path), freeze_embeddings=True, bptt=8,
                       **TINY).out  # fmt: skip
    vocab = json.loads((out / "vocab.json").read_text())["words"]
    assert "zebra" not in vocab["tokens"] and "lowercase_fallback" not in vocab
    np.testing.assert_array_equal(row_of(out, words[0]).numpy(), table[words[0]])
    assert rnnseq.load(out).predict(["the"], max_new=3)


# ----------------------------------------------------------- options and refusals


def test_the_file_gives_the_embedding_size(vectors, data):
    cfg = TrainConfig(task="tag", train="t", out="o", embeddings=str(vectors[0])).resolved()
    assert cfg.model.embedding_dim == DIM
    assert TrainConfig(task="tag", train="t", out="o").resolved().model.embedding_dim == 100


def _refused(argv, capsys) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


def test_bad_options_are_one_line_and_leave_no_folder(data, vectors, tmp_path, capsys):
    path = str(vectors[0])
    out = tmp_path / "m"
    base = ["train", "--task", "tag", "--train", str(data / "tags.jsonl"), "--out", str(out),
            "--epochs", "1", "--threads", "1", "--no-progress"]  # fmt: skip
    err = _refused([*base, "--embeddings", path, "--embedding-dim", "5"], capsys)
    assert "--embedding-dim 5" in err and path in err and f"{DIM} numbers per word" in err
    err = _refused([*base, "--freeze-embeddings"], capsys)
    assert "--freeze-embeddings applies only with --embeddings" in err
    err = _refused([*base, "--max-vectors", "10"], capsys)
    assert "--max-vectors applies only with --embeddings" in err
    lm = ["train", "--task", "lm", "--train", str(data / "text.txt"), "--out", str(out)]
    err = _refused([*lm, "--embeddings", path], capsys)
    assert "--embeddings needs --unit word" in err
    err = _refused([*lm, "--unit", "word", "--embeddings", path, "--max-vectors", "5"], capsys)
    assert "--max-vectors does not apply to --task lm" in err
    err = _refused([*base, "--embeddings", str(tmp_path / "absent.txt")], capsys)
    assert "absent.txt" in err
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("the 1 2 3\nof 1 2\n", 2, "expected 3 numbers after the word as on line 1, got 2"),
        ("the 1 2 3\nof 1 x 3\n", 2, "value 2 of the vector, 'x', is not a number"),
        ("", None, "the file is empty"),
    ],
)
def test_a_malformed_vectors_file_is_one_line_naming_file_and_line(
    data, tmp_path, capsys, text, line, message
):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    out = tmp_path / "m"
    argv = ["train", "--task", "tag", "--train", str(data / "tags.jsonl"), "--out", str(out),
            "--embeddings", str(path), "--threads", "1", "--no-progress"]  # fmt: skip
    err = _refused(argv, capsys)
    assert str(path) in err and message in err
    if line is not None:
        assert f":{line}:" in err or f"line {line}" in err
    assert not out.exists()


# ------------------------------------------------------- the real file, a slice of it


def test_a_slice_of_the_real_glove_file_trains_a_tagger_that_predicts_without_it(
    shared_data, data, tmp_path, capsys
):
    source = shared_data / "glove_6b_50d" / "glove.6B.50d.txt.gz"
    if not source.exists():
        pytest.skip(f"{source} is absent")
    path = tmp_path / "glove.2000.txt.gz"
    with gzip.open(source, "rb") as f, gzip.open(path, "wb") as g:
        g.write(b"".join(itertools.islice(f, 2000)))
    argv = ["train", "--task", "tag", "--train", str(data / "tags.jsonl"), "--out",
            str(tmp_path / "m"), "--embeddings", str(path), "--epochs", "1", "--hidden", "8",
            "--threads", "1", "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "word vectors" in err and "(d = 50)" in err and "more words of the file" in err
    path.unlink()
    model = rnnseq.load(tmp_path / "m")
    words = model.vocabs.words
    assert len(words) > 2000 - 100  # the training words and the file's first 2,000
    # "government" is among GloVe's first 2,000 words, never in the tiny data.
    (gid,) = words.encode(["Government"])
    assert gid != words.unk_id
    with torch.no_grad():
        row = model.model.net.embedder.word_vectors(torch.tensor([[gid]]))[0, 0].numpy()
    assert row.shape == (50,) and np.abs(row).sum() > 0
    assert len(model.predict([["The", "Government", "runs", "."]])[0]) == 4
