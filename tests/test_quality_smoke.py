"""CI-sized versions of the five quality benchmarks (benchmarks/quality/).

Each test cuts a slice of the real dataset into tmp_path, with the file names the
benchmark expects, runs ``benchmarks/quality/run.py <dataset>`` on it (the real
``rnnseq train`` and ``rnnseq evaluate`` commands, with the dataset's config: its
format, tag scheme, loss, units and split) with a small model for a few hundred
steps, and asserts that the test figure clearly beats a trivial baseline computed
here: the most frequent tag or class, all-O for named entities, the unigram
distribution for language models. A pipeline that breaks (a reader, a scheme
conversion, a loss, the lm stream, the split) fails here.
"""

from __future__ import annotations

import gzip
import itertools
import json
import math
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from real_data import require_shared_data

REPO = Path(__file__).resolve().parents[1]
RUNNER = REPO / "benchmarks" / "quality" / "run.py"

# Small and quick: one thread (CI has 2 cores and runs 2 workers), no bf16 (CI CPUs
# may lack it; tests/models/test_precision.py covers that path).
SMALL = ["threads=1", "bf16=false", "embedding-dim=64", "hidden=64", "layers=1"]


def _blocks(path: Path) -> list[str]:
    """Blank-line-separated blocks of a CoNLL-style file, each ending in a blank line."""
    text = path.read_text(encoding="utf-8").strip("\n")
    return [block.strip("\n") + "\n\n" for block in text.split("\n\n")]


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _run(dataset: str, data: Path, runs: Path, settings: list[str]) -> dict:
    argv = [sys.executable, str(RUNNER), dataset, "--data", str(data), "--runs", str(runs)]
    for item in SMALL + settings:
        argv += ["--set", item]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads((runs / dataset / "result.json").read_text(encoding="utf-8"))


def _folder_json(runs: Path, dataset: str, name: str) -> dict:
    return json.loads((runs / dataset / "model" / name).read_text(encoding="utf-8"))


def _tags(block: str, column: int, skip_ids: bool) -> list[str]:
    tags = []
    for line in block.splitlines():
        if not line or line.startswith("#") or line.startswith("-DOCSTART-"):
            continue
        fields = line.split("\t") if skip_ids else line.split()
        if skip_ids and not fields[0].isdigit():
            continue  # multiword-token ranges and empty nodes
        tags.append(fields[column])
    return tags


@pytest.mark.slow
def test_ewt_tagger_beats_the_most_frequent_tag(tmp_path):
    source = require_shared_data() / "ud_english_ewt"
    data = tmp_path / "data"
    names = {"train": 3000, "dev": 300, "test": 600}
    parts = {}
    for split, n in names.items():
        parts[split] = _blocks(source / f"en_ewt-ud-{split}.conllu")[:n]
        _write(data / "ud_english_ewt" / f"en_ewt-ud-{split}.conllu", "".join(parts[split]))
    result = _run("ewt", data, tmp_path / "runs", ["epochs=1", "max-steps=150"])

    train_tags = Counter(t for b in parts["train"] for t in _tags(b, 3, True))
    test_tags = [t for b in parts["test"] for t in _tags(b, 3, True)]
    majority = test_tags.count(train_tags.most_common(1)[0][0]) / len(test_tags)
    assert result["test"]["n_tokens"] == len(test_tags)
    assert majority < 0.25
    assert result["value"] > majority + 0.5


@pytest.mark.slow
def test_conll2003_crf_tagger_finds_entities_that_all_o_misses(tmp_path):
    source = require_shared_data() / "conll2003"
    data = tmp_path / "data"
    sizes = {"eng.train": 3000, "eng.testa": 300, "eng.testb": 600}
    parts = {}
    for name, n in sizes.items():
        parts[name] = _blocks(source / name)[:n]
        _write(data / "conll2003" / name, "".join(parts[name]))
    settings = ["epochs=2", "max-steps=300", "lr=3e-3", "dropout=0.3"]
    result = _run("conll2003", data, tmp_path / "runs", settings)

    test_tags = [t for b in parts["eng.testb"] for t in _tags(b, -1, False)]
    all_o = test_tags.count("O") / len(test_tags)  # all-O: this accuracy and span F1 0
    assert result["test"]["tag_scheme"] == "IOB1"
    assert result["test"]["accuracy"] > all_o
    assert result["value"] > 0.3  # span F1


@pytest.mark.slow
def test_conll2003_glove_config_trains_from_a_slice_of_the_real_vectors(tmp_path):
    """conll2003_glove.conf with the first 2,000 lines of GloVe 6B 50d (the file's name
    as the config expects it): the vectors give the embedding size, the folder keeps the
    file's words, and the tagger beats all-O."""
    shared = require_shared_data()
    vectors = shared / "glove_6b_50d" / "glove.6B.50d.txt.gz"
    if not vectors.exists():
        pytest.skip(f"{vectors} is absent")
    data = tmp_path / "data"
    sizes = {"eng.train": 3000, "eng.testa": 300, "eng.testb": 600}
    parts = {}
    for name, n in sizes.items():
        parts[name] = _blocks(shared / "conll2003" / name)[:n]
        _write(data / "conll2003" / name, "".join(parts[name]))
    sliced = data / "glove_6b_50d" / "glove.6B.50d.txt.gz"
    sliced.parent.mkdir(parents=True)
    with gzip.open(vectors, "rb") as f, gzip.open(sliced, "wb") as g:
        g.write(b"".join(itertools.islice(f, 2000)))
    settings = ["embedding-dim=50", "epochs=2", "max-steps=300", "lr=3e-3", "dropout=0.3"]
    result = _run("conll2003_glove", data, tmp_path / "runs", settings)

    config = _folder_json(tmp_path / "runs", "conll2003_glove", "config.json")
    assert config["training"]["model"]["embedding_dim"] == 50
    assert config["training"]["model"]["embeddings"] == str(sliced)
    vocab = _folder_json(tmp_path / "runs", "conll2003_glove", "vocab.json")
    assert "government" in vocab["words"]["tokens"] and vocab["words"]["lowercase"]
    test_tags = [t for b in parts["eng.testb"] for t in _tags(b, -1, False)]
    assert result["test"]["accuracy"] > test_tags.count("O") / len(test_tags)
    assert result["value"] > 0.3  # span F1


@pytest.mark.slow
def test_sst2_classifier_beats_the_majority_class(tmp_path):
    source = require_shared_data() / "sst2"
    data = tmp_path / "data"
    rows = {
        "train": source.joinpath("sentiment-train").read_text(encoding="utf-8").splitlines()[::8],
        "dev": source.joinpath("sentiment-dev").read_text(encoding="utf-8").splitlines(),
        "test": source.joinpath("sentiment-test").read_text(encoding="utf-8").splitlines(),
    }
    for split, lines in rows.items():
        _write(data / "sst2" / f"sentiment-{split}", "\n".join(lines) + "\n")
    settings = ["epochs=3", "max-steps=350", "lr=3e-3", "dropout=0.2", "word-dropout=0"]
    result = _run("sst2", data, tmp_path / "runs", settings)

    majority_label = Counter(r.rsplit("\t", 1)[1] for r in rows["train"]).most_common(1)[0][0]
    test_labels = [r.rsplit("\t", 1)[1] for r in rows["test"]]
    majority = test_labels.count(majority_label) / len(test_labels)
    assert result["test"]["n_examples"] == 1821
    assert result["value"] > majority + 0.1


def _unigram_loss(train: list[str], test: list[str], unk: str | None = None) -> float:
    """Mean -ln p(unit) of ``test`` under ``train``'s unit frequencies; an unseen unit
    counts as ``unk`` (PTB's <unk>, as the model's vocabulary maps it) or else as seen once."""
    counts = Counter(train)
    total = sum(counts.values())
    seen = [counts[u] if u in counts else counts.get(unk, 1) for u in test]
    return -sum(math.log(c / total) for c in seen) / len(test)


@pytest.mark.slow
def test_tinyshakespeare_char_lm_beats_the_unigram_distribution(tmp_path):
    source = require_shared_data() / "tinyshakespeare" / "input.txt"
    text = source.read_text(encoding="utf-8")[:200_000]
    data = tmp_path / "data"
    _write(data / "tinyshakespeare" / "input.txt", text)
    settings = ["epochs=1", "max-steps=200", "hidden=128", "batch-size=32", "bptt=64"]
    result = _run("tinyshakespeare", data, tmp_path / "runs", settings)

    cut = int(len(text) * 0.9)  # nanoGPT's split
    train, val = list(text[:cut]), list(text[cut:])
    assert result["test"]["n_tokens"] == len(val) - 1  # every val character but the first
    unigram = _unigram_loss(train, val[1:])
    assert unigram > 3.0
    assert result["value"] < unigram - 0.6  # nats per character


@pytest.mark.slow
def test_ptb_word_lm_beats_unigram_perplexity(tmp_path):
    source = require_shared_data() / "ptb_word"
    data = tmp_path / "data"
    lines = {
        "train": source.joinpath("ptb.train.txt").read_text(encoding="utf-8").splitlines()[:6000],
        "valid": source.joinpath("ptb.valid.txt").read_text(encoding="utf-8").splitlines()[:300],
        "test": source.joinpath("ptb.test.txt").read_text(encoding="utf-8").splitlines()[:400],
    }
    for split, rows in lines.items():
        _write(data / "ptb_word" / f"ptb.{split}.txt", "\n".join(rows) + "\n")
    settings = ["epochs=2", "max-steps=380", "hidden=128", "embedding-dim=128", "lr=4e-3"]
    settings += ["dropout=0.2"]
    result = _run("ptb", data, tmp_path / "runs", settings)

    def units(rows):
        return [u for row in rows for u in [*row.split(), "<eos>"]]

    test = units(lines["test"])
    assert result["test"]["n_tokens"] == len(test) - 1
    unigram = math.exp(_unigram_loss(units(lines["train"]), test[1:], unk="<unk>"))
    assert unigram > 400
    assert result["value"] < 0.75 * unigram  # perplexity
