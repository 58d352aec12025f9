"""rnnseq.data.token_file: a text encoded once into ids on disk, exactly as the
in-memory path encodes it, and mapped back."""

from __future__ import annotations

import hashlib
import json
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_in_memory import lm_in_memory
from rnnseq.data import DataError, Vocab, read_units
from rnnseq.data import token_file as tf
from rnnseq.data.token_file import encode_token_file, holdout_cut, open_token_file
from rnnseq.options import OptionError

TEXT = "First Citizen:\r\nBefore we proceed any further, hear me speak.\n\nAll: Speak, speak. é\n"
PARTS = ["ab", "b", "é", "𝄞", " ", "\n", "\r\n", "\r", "<eos>", "<unk>", "x y", "\ufeff"]


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8", newline="")
    return path


def _in_memory(path, unit, min_freq=1, holdout=0.0):
    """The lm task's vocabulary and the ids of the whole text (training part + held out)."""
    vocab, _, ids = lm_in_memory(path, unit, min_freq=min_freq, holdout=holdout)
    return vocab, ids


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(st.sampled_from(PARTS), min_size=1, max_size=40),
    unit=st.sampled_from(["char", "word"]),
    min_freq=st.integers(1, 3),
    holdout=st.sampled_from([0.0, 0.25]),
    chunk=st.integers(1, 9),
)
def test_token_file_holds_the_in_memory_ids_and_vocabulary_for_odd_text(
    tmp_path_factory, parts, unit, min_freq, holdout, chunk
):
    folder = tmp_path_factory.mktemp("t")
    path = folder / "x.txt"
    path.write_text("a b " + "".join(parts), encoding="utf-8")
    tokens = encode_token_file(
        path,
        folder / "x.tokens",
        unit=unit,
        min_freq=min_freq,
        holdout=holdout,
        chunk_bytes=chunk,
    )
    vocab, ids = _in_memory(path, unit, min_freq, holdout)
    assert tokens.vocab == vocab and tokens.ids.tolist() == ids


@pytest.mark.parametrize("unit", ["char", "word"])
def test_ids_are_a_read_only_map_of_the_smallest_type(source, tmp_path, unit):
    tokens = encode_token_file(source, tmp_path / "c.tokens", unit=unit)
    assert isinstance(tokens.ids, np.memmap) and tokens.ids.dtype == np.uint8
    assert not tokens.ids.flags.writeable and tokens.unit == unit
    assert len(tokens) == len(read_units(source, unit=unit))


def test_a_vocabulary_over_256_entries_takes_uint16(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text(" ".join(f"w{i % 300}" for i in range(1000)), encoding="utf-8")
    tokens = encode_token_file(path, tmp_path / "x.tokens", unit="word")
    assert tokens.ids.dtype == np.dtype("<u2") and tokens.header["dtype"] == "uint16"
    assert tokens.ids.tolist() == _in_memory(path, "word")[1]
    assert os.path.getsize(tokens.path) == 2 * len(tokens)


def test_header_describes_the_array_and_its_source(source, tmp_path):
    tokens = encode_token_file(source, tmp_path / "c.tokens", unit="word")
    header = json.loads(open(f"{tokens.path}.json", encoding="utf-8").read())
    assert header == tokens.header
    assert header["format"] == "rnnseq-token-file" and header["version"] == 1
    assert header["dtype"] == "uint8" and header["length"] == len(read_units(source, unit="word"))
    assert header["vocabulary_from"] == {"min_freq": 1, "holdout": 0.0}
    assert header["vocab_units"] == header["length"]
    assert Vocab.from_dict(header["vocabulary"]) == tokens.vocab
    assert header["source"]["sha256"] == hashlib.sha256(source.read_bytes()).hexdigest()
    assert header["source"]["path"] == str(source.resolve())
    assert header["source"]["size"] == source.stat().st_size
    assert header["source"]["mtime_ns"] == source.stat().st_mtime_ns
    assert os.path.getsize(tokens.path) == header["length"]


def test_holdout_builds_the_vocabulary_from_the_training_part_only(source, tmp_path):
    for unit in ("char", "word"):
        tokens = encode_token_file(source, tmp_path / f"{unit}.tokens", unit=unit, holdout=0.3)
        units = read_units(source, unit=unit)
        cut = len(units) - max(1, int(round(len(units) * 0.3)))
        assert (tokens.vocab, tokens.ids.tolist()) == _in_memory(source, unit, 1, 0.3)
        assert tokens.header["vocab_units"] == cut == holdout_cut(len(units), 0.3)
        assert len(tokens) == len(units)


def test_a_given_vocabulary_encodes_with_it(source, tmp_path):
    vocab = Vocab(["Speak,", "<eos>", "we"])
    tokens = encode_token_file(source, tmp_path / "g.tokens", unit="word", vocab=vocab)
    assert tokens.vocab == vocab
    assert tokens.ids.tolist() == vocab.encode(read_units(source, unit="word"))
    assert tokens.header["vocabulary_from"] == {"given": tf.vocab_digest(vocab)}
    assert tokens.header["vocab_units"] is None


def test_bad_text_is_a_data_error_naming_the_line_and_leaves_nothing(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine\nab\xffc\n")
    for unit in ("char", "word"):
        with pytest.raises(DataError, match=r"bad.txt:2: invalid UTF-8 byte 0xff at byte 3"):
            encode_token_file(path, tmp_path / "out" / "bad.tokens", unit=unit)
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"\xef\xbb\xbf")
    with pytest.raises(DataError, match="the file is empty"):
        encode_token_file(empty, tmp_path / "e.tokens")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.txt", "empty.txt", "out"]
    assert not list((tmp_path / "out").iterdir())


def test_a_file_changing_between_the_passes_is_a_data_error(source, tmp_path, monkeypatch):
    original = tf.encode_units

    def edit_first(*args, **kwargs):
        source.write_text(TEXT.upper(), encoding="utf-8", newline="")
        return original(*args, **kwargs)

    monkeypatch.setattr(tf, "encode_units", edit_first)
    with pytest.raises(DataError, match="corpus.txt: the file changed while it was being encoded"):
        encode_token_file(source, tmp_path / "c.tokens")
    assert not (tmp_path / "c.tokens").exists()


def test_a_holdout_leaving_too_little_is_an_option_error_naming_holdout(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("ab", encoding="utf-8")
    with pytest.raises(OptionError, match="holdout=0.5 leaves too little"):
        encode_token_file(path, tmp_path / "x.tokens", holdout=0.5)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"unit": "byte"}, "unit"), ({"min_freq": 0}, "min_freq"), ({"holdout": 1.0}, "holdout")],
)
def test_bad_options_are_value_errors_naming_them(source, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        encode_token_file(source, tmp_path / "c.tokens", **kwargs)


def test_open_token_file_maps_a_copied_file_without_its_source(source, tmp_path):
    built = encode_token_file(source, tmp_path / "c.tokens", unit="word")
    (tmp_path / "copy.tokens").write_bytes(built.path.read_bytes())
    (tmp_path / "copy.tokens.json").write_bytes(open(f"{built.path}.json", "rb").read())
    source.unlink()
    opened = open_token_file(tmp_path / "copy.tokens")
    assert opened.ids.tolist() == built.ids.tolist() and opened.vocab == built.vocab


def test_open_token_file_rejects_a_missing_header_or_a_short_array(source, tmp_path):
    with pytest.raises(DataError, match="none.tokens.json: expected an rnnseq token-file header"):
        open_token_file(tmp_path / "none.tokens")
    built = encode_token_file(source, tmp_path / "c.tokens")
    with open(built.path, "r+b") as f:
        f.truncate(2)
    with pytest.raises(DataError, match="has 2 bytes; its header says"):
        open_token_file(built.path)
    built.path.unlink()
    with pytest.raises(DataError, match="the token array is missing"):
        open_token_file(built.path)
