"""rnnseq.data.token_cache: encode once, map later; a changed source is never read
through an old encoding."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from lm_in_memory import lm_in_memory
from rnnseq.data import Vocab, read_units
from rnnseq.data import token_cache as tc
from rnnseq.data.token_cache import token_file

TEXT = "First Citizen:\r\nBefore we proceed any further, hear me speak.\n\nAll: Speak, speak.\n"


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8", newline="")
    return path


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def passes(monkeypatch):
    """Counts what the cache does: encodings (built vocabulary or given) and hash checks."""
    seen = {"build": 0, "given": 0, "check": 0}
    encode, hash_file = tc.encode_token_file, tc.hash_file

    def counted_encode(*args, **kwargs):
        seen["given" if kwargs.get("vocab") is not None else "build"] += 1
        return encode(*args, **kwargs)

    def counted_hash(*args, **kwargs):
        seen["check"] += 1
        return hash_file(*args, **kwargs)

    monkeypatch.setattr(tc, "encode_token_file", counted_encode)
    monkeypatch.setattr(tc, "hash_file", counted_hash)
    return seen


@pytest.fixture
def trust_now(monkeypatch):
    """Trust a stat taken right after the file was written (tests write files just now)."""
    monkeypatch.setattr(tc, "RACY_NS", 0)


def _ids(path, unit="char"):
    """The lm task's vocabulary and ids of ``path``."""
    vocab, ids, _ = lm_in_memory(path, unit)
    return vocab, ids


def test_a_second_use_maps_the_entry_without_reading_the_text(source, cache, passes, trust_now):
    first = token_file(source, cache_dir=cache)
    again = token_file(source, cache_dir=cache)
    assert passes == {"build": 1, "given": 0, "check": 0}
    assert again.path == first.path and again.ids.tolist() == first.ids.tolist() == _ids(source)[1]
    assert first.path.parent == cache and first.path.name.startswith("corpus.txt.char.")


def test_a_file_changed_within_two_seconds_of_its_stat_is_hashed_not_trusted(source, cache, passes):
    token_file(source, cache_dir=cache)  # the source was written just before: racy
    token_file(source, cache_dir=cache)
    assert passes == {"build": 1, "given": 0, "check": 1}


def test_a_hash_check_refreshes_the_recorded_stat(source, cache, passes, monkeypatch):
    first = token_file(source, cache_dir=cache)
    checked = first.header["checked_ns"]
    old = time.time() - 60
    os.utime(source, (old, old))  # same content, new mtime and ctime: hashed, then trusted
    token_file(source, cache_dir=cache)
    header = json.loads(open(f"{first.path}.json").read())
    assert header["checked_ns"] > checked
    assert header["source"]["mtime_ns"] == source.stat().st_mtime_ns
    monkeypatch.setattr(tc, "RACY_NS", 0)  # ctime is recent (utime set it): trust anyway
    token_file(source, cache_dir=cache)
    assert passes == {"build": 1, "given": 0, "check": 1}


def test_new_content_of_the_same_size_and_mtime_is_encoded_again(source, cache, passes, trust_now):
    first = token_file(source, cache_dir=cache)
    stat = source.stat()
    source.write_text(TEXT.replace("speak", "SPEAK"), encoding="utf-8", newline="")
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # as cp -p / rsync -a leave it
    assert source.stat().st_size == stat.st_size and source.stat().st_mtime_ns == stat.st_mtime_ns
    again = token_file(source, cache_dir=cache)
    assert passes == {"build": 2, "given": 0, "check": 1}  # ctime moved: hashed, differs
    assert again.path == first.path and "K" in again.vocab
    assert (again.vocab, again.ids.tolist()) == _ids(source)


def test_a_new_size_is_encoded_again_without_hashing(source, cache, passes):
    token_file(source, cache_dir=cache)
    source.write_text(TEXT + "more\n", encoding="utf-8", newline="")
    assert token_file(source, cache_dir=cache).ids.tolist() == _ids(source)[1]
    assert passes == {"build": 2, "given": 0, "check": 0}


def test_a_truncated_array_or_a_broken_header_is_encoded_again(source, cache, passes, trust_now):
    first = token_file(source, cache_dir=cache)
    with open(first.path, "r+b") as f:
        f.truncate(3)
    assert token_file(source, cache_dir=cache).ids.tolist() == _ids(source)[1]
    with open(f"{first.path}.json", "w") as f:
        f.write("{not json")
    assert token_file(source, cache_dir=cache).ids.tolist() == _ids(source)[1]
    assert passes["build"] == 3


def test_equal_options_written_differently_share_an_entry(source, cache):
    assert (
        token_file(source, holdout=0, cache_dir=cache).path
        == token_file(source, holdout=0.0, min_freq=1.0, cache_dir=cache).path
    )


def test_units_and_vocabulary_options_have_entries_of_their_own(source, cache):
    paths = {
        token_file(source, unit=u, min_freq=m, holdout=h, cache_dir=cache).path
        for u in ("char", "word")
        for m in (1, 2)
        for h in (0.0, 0.1)
    }
    assert len(paths) == 8


def test_a_given_vocabulary_reuses_the_built_entry_when_it_is_the_same(
    source, cache, passes, trust_now
):
    built = token_file(source, unit="word", cache_dir=cache)
    again = token_file(source, unit="word", vocab=built.vocab, cache_dir=cache)
    assert again.path == built.path and passes == {"build": 1, "given": 0, "check": 0}


def test_a_given_vocabulary_is_encoded_once_under_its_own_entry(source, cache, passes, trust_now):
    vocab = Vocab(["Speak,", "<eos>", "we"])
    tokens = token_file(source, unit="word", vocab=vocab, cache_dir=cache)
    assert tokens.vocab == vocab
    assert tokens.ids.tolist() == vocab.encode(read_units(source, unit="word"))
    token_file(source, unit="word", vocab=vocab, cache_dir=cache)
    assert passes == {"build": 0, "given": 1, "check": 0}


def test_a_resumed_run_whose_text_changed_keeps_its_saved_vocabulary(
    source, cache, passes, trust_now
):
    saved = token_file(source, unit="word", cache_dir=cache).vocab
    source.write_text(TEXT + "brand new words\n", encoding="utf-8", newline="")
    resumed = token_file(source, unit="word", vocab=saved, cache_dir=cache)
    assert resumed.vocab == saved and "brand" not in resumed.vocab
    assert resumed.ids.tolist() == saved.encode(read_units(source, unit="word"))


def test_concurrent_processes_wait_for_one_encoding(source, cache, passes, monkeypatch):
    encode = tc.encode_token_file

    def slow(*args, **kwargs):
        time.sleep(0.3)  # the others arrive while this one encodes
        return encode(*args, **kwargs)

    monkeypatch.setattr(tc, "encode_token_file", slow)
    results = []
    threads = [
        threading.Thread(target=lambda: results.append(token_file(source, cache_dir=cache)))
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert passes["build"] == 1 and len(results) == 3
    assert len({r.path for r in results}) == 1
    assert all(r.ids.tolist() == _ids(source)[1] for r in results)


def test_a_missing_source_is_an_os_error_naming_it(tmp_path, cache):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        token_file(tmp_path / "nope.txt", cache_dir=cache)


def test_the_default_cache_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNSEQ_CACHE_DIR", str(tmp_path / "c"))
    assert tc.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RNNSEQ_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "x"))
    assert tc.default_cache_dir() == tmp_path / "x" / "rnnseq" / "tokens"
