"""A tag or classify training file above the streaming size is read in passes, encoded to
arrays on disk and mapped: the run is bit for bit the in-memory run of the same file
(``RNNSEQ_STREAM_BYTES=0`` streams every file; the default reads these small ones)."""

from __future__ import annotations

import json
import os
import random
import shutil

import pytest
from runs import assert_same_run

from conftest import train_argv
from rnnseq.cli import main
from rnnseq.data.encoded import STREAM_BYTES, stream_bytes


def _span_conll(path, n: int, seed: int):
    """``n`` sentences of IOB2 entity tags in a CoNLL file (learned as IOBES by default)."""
    rng = random.Random(seed)
    words = ["Paris", "Anna", "the", "bank", "of", "Rome", "saw", "big", "IBM", "rain"]
    kinds = ["PER", "LOC", "ORG"]
    lines = []
    for _ in range(n):
        for _ in range(rng.randint(1, 9)):
            tag = "O" if rng.random() < 0.5 else f"B-{rng.choice(kinds)}"
            lines.append(f"{rng.choice(words)} {tag}")
            if tag != "O" and rng.random() < 0.5:
                lines.append(f"{rng.choice(words)} I-{tag[2:]}")
        lines.append("")
    path.write_text("\n".join(lines) + "\n")
    return path


def _runs(tmp_path, monkeypatch, argv_of, cache):
    """Train twice, streamed and in memory; the two folders."""
    streamed, in_memory = tmp_path / "streamed", tmp_path / "in_memory"
    with monkeypatch.context() as m:
        m.setenv("RNNSEQ_STREAM_BYTES", "0")
        assert main(argv_of(streamed)) == 0
    assert main(argv_of(in_memory)) == 0
    assert list(cache.glob("*.examples")), "the streamed run wrote no cache entry"
    return streamed, in_memory


@pytest.mark.parametrize(
    "task, extra",
    [
        ("tag", ["--char-features", "cnn"]),
        ("tag", ["--holdout", "0.2", "--lowercase", "--min-freq", "2", "--max-length", "6"]),
        ("classify", ["--holdout", "0.25", "--class-weights", "balanced"]),
    ],
    ids=["tag-chars-dev", "tag-holdout-lowercase-cut", "classify-holdout"],
)
def test_a_streamed_run_equals_the_in_memory_run(data, tmp_path, monkeypatch, task, extra):
    cache = tmp_path / "cache"

    def argv_of(out):
        argv = train_argv(task, data, out, "--epochs", 2, "--token-cache", cache, *extra)
        if "--holdout" in extra:  # no --dev
            at = argv.index("--dev")
            del argv[at : at + 2]
        return argv

    assert_same_run(*_runs(tmp_path, monkeypatch, argv_of, cache))


def test_span_tags_rewritten_for_learning_stream_to_the_same_run(data, tmp_path, monkeypatch):
    """IOB2 tags learned as IOBES (chosen from the data, with a CRF): the tag vocabulary
    is only known after encoding, and the provisional ids are renumbered."""
    train = _span_conll(tmp_path / "ner.conll", 150, seed=1)
    cache = tmp_path / "cache"

    def argv_of(out):
        return ["train", "--task", "tag", "--train", str(train), "--holdout", "0.1", "--out",
                str(out), "--hidden", "8", "--embedding-dim", "8", "--no-progress",
                "--threads", "1", "--epochs", "2", "--batch-size", "8",
                "--token-cache", str(cache)]  # fmt: skip

    streamed, in_memory = _runs(tmp_path, monkeypatch, argv_of, cache)
    assert_same_run(streamed, in_memory)
    config = json.loads((streamed / "config.json").read_text())
    assert "IOBES" in json.dumps(config)


def test_a_second_run_maps_the_entry_and_a_changed_file_is_read_again(data, tmp_path, monkeypatch):
    train = tmp_path / "tags.jsonl"
    train.write_text((data / "tags.jsonl").read_text())
    cache = tmp_path / "cache"
    monkeypatch.setenv("RNNSEQ_STREAM_BYTES", "0")

    def run(out):
        argv = train_argv("tag", data, tmp_path / out, "--epochs", 1, "--token-cache", cache)
        argv[argv.index("--train") + 1] = str(train)
        assert main(argv) == 0

    run("first")
    (entry,) = cache.glob("*.examples")
    (arrays,) = entry.glob("arrays.*")
    made = arrays.stat().st_mtime_ns
    run("second")
    assert [p.stat().st_mtime_ns for p in entry.glob("arrays.*")] == [made]
    assert_same_run(tmp_path / "first", tmp_path / "second")

    lines = train.read_text().splitlines(True)
    train.write_text("".join(lines[:-30]))  # a changed file: another size, another scan
    run("third")
    scan = json.loads((entry / "scan.json").read_text())
    assert scan["examples"] == len(lines) - 30
    metrics = json.loads((tmp_path / "third" / "metrics.json").read_text())
    assert metrics["train_examples"] == len(lines) - 30


def test_the_streaming_size_is_64_mib_unless_the_environment_says(monkeypatch):
    monkeypatch.delenv("RNNSEQ_STREAM_BYTES", raising=False)
    assert stream_bytes() == STREAM_BYTES == 64 << 20
    monkeypatch.setenv("RNNSEQ_STREAM_BYTES", "1000")
    assert stream_bytes() == 1000
    monkeypatch.setenv("RNNSEQ_STREAM_BYTES", "lots")
    with pytest.raises(ValueError, match="RNNSEQ_STREAM_BYTES"):
        stream_bytes()
    assert os.environ["RNNSEQ_STREAM_BYTES"] == "lots"


@pytest.mark.slow
def test_a_streamed_run_killed_mid_run_resumes_to_the_same_weights_from_the_same_arrays(
    tmp_path, monkeypatch
):
    """Span tags rewritten for learning: the resumed run's saved tag vocabulary finds the
    arrays whose tags were numbered while encoding (nothing is encoded again)."""
    import signal
    import subprocess
    import sys
    import time

    from procs import env

    train = _span_conll(tmp_path / "ner.conll", 400, seed=2)
    cache = tmp_path / "cache"
    monkeypatch.setenv("RNNSEQ_STREAM_BYTES", "0")

    def argv(out, *extra):
        return ["train", "--task", "tag", "--train", str(train), "--holdout", "0.1", "--out",
                str(out), "--hidden", "8", "--embedding-dim", "8", "--no-progress",
                "--threads", "1", "--epochs", "3", "--batch-size", "8",
                "--checkpoint-every", "5", "--token-cache", str(cache), *extra]  # fmt: skip

    whole, parts = tmp_path / "whole", tmp_path / "parts"
    assert main(argv(whole)) == 0
    (entry,) = cache.glob("*.examples")
    made = sorted(p.name for p in entry.glob("arrays.*"))
    proc = subprocess.Popen([sys.executable, "-m", "rnnseq", *argv(parts)], env=env(),
                            stdout=subprocess.DEVNULL)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not (parts / "resume.safetensors").exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(0.1)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
    assert main(argv(parts, "--resume")) == 0
    assert_same_run(whole, parts)
    assert sorted(p.name for p in entry.glob("arrays.*")) == made


def test_the_streaming_passes_show_a_bar_with_progress_and_none_without(
    tmp_path, monkeypatch, capsys
):
    """Scanning, counting (for --holdout) and encoding a big file take minutes: with
    --progress each pass shows a bar of the examples read; --no-progress shows none."""
    train = _span_conll(tmp_path / "ner.conll", 60, seed=3)
    monkeypatch.setenv("RNNSEQ_STREAM_BYTES", "0")
    seen, cache = {}, tmp_path / "cache"
    for flag in ("--progress", "--no-progress"):
        shutil.rmtree(cache, ignore_errors=True)  # both runs make the entry
        argv = ["train", "--task", "tag", "--train", str(train), "--holdout", "0.2", "--out",
                str(tmp_path / flag), "--hidden", "8", "--embedding-dim", "8", flag,
                "--threads", "1", "--epochs", "1", "--token-cache", str(cache)]  # fmt: skip
        assert main(argv) == 0
        seen[flag] = capsys.readouterr().err
    for what in ("counting ner.conll", "scanning ner.conll", "encoding ner.conll"):
        assert what in seen["--progress"], what
        assert what not in seen["--no-progress"], what
