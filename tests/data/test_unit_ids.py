"""rnnseq.data.unit_ids: streamed ids equal Vocab.encode of the whole unit stream."""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnseq.data import Vocab, read_units
from rnnseq.data.unit_ids import encode_units, first_appearance_ids, id_dtype, remap_ids

PARTS = ["ab", "b", "é", "€", "𝄞", " ", "\n", "\r\n", "\r", "<eos>", "<unk>", "<pad>", "q"]


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(st.sampled_from(PARTS), min_size=1, max_size=40),
    known=st.lists(st.sampled_from(PARTS + ["a", "\n", "<eos>"]), unique=True),
    unit=st.sampled_from(["char", "word"]),
    chunk=st.integers(1, 9),
)
def test_streamed_ids_equal_vocab_encode_with_unknown_units_as_unk(
    tmp_path_factory, parts, known, unit, chunk
):
    path = tmp_path_factory.mktemp("i") / "x.txt"
    path.write_text("a" + "".join(parts), encoding="utf-8")
    vocab = Vocab([t for t in known if t not in ("<pad>", "<unk>")])
    out = io.BytesIO()
    n = encode_units(path, unit, vocab, out, chunk_bytes=chunk)
    ids = np.frombuffer(out.getvalue(), dtype=id_dtype(len(vocab)))
    expected = vocab.encode(read_units(path, unit=unit))
    assert n == len(expected) and ids.tolist() == expected


@pytest.mark.parametrize(
    "size, dtype",
    [(1, "uint8"), (256, "uint8"), (257, "uint16"), (65536, "uint16"), (65537, "uint32")],
)
def test_ids_take_the_smallest_unsigned_type_that_holds_them(size, dtype):
    assert id_dtype(size).name == dtype and id_dtype(size).byteorder in "<|="


def test_a_large_vocabulary_writes_little_endian_uint16(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text(" ".join(f"w{i}" for i in range(300)), encoding="utf-8")
    vocab = Vocab.build([read_units(path, unit="word")])
    out = io.BytesIO()
    encode_units(path, "word", vocab, out)
    assert len(out.getvalue()) == 2 * 301
    assert np.frombuffer(out.getvalue(), "<u2").tolist() == vocab.encode(
        read_units(path, unit="word")
    )


def test_a_vocabulary_without_unk_is_a_value_error(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("a", encoding="utf-8")
    with pytest.raises(ValueError, match="<unk>"):
        encode_units(path, "char", Vocab(["a"], specials=()), io.BytesIO())


@pytest.mark.parametrize("unit", ["char", "word"])
@pytest.mark.parametrize(
    "flags", [{"lowercase": True}, {"lowercase_fallback": True}], ids=["lowercase", "fallback"]
)
def test_a_lowercasing_vocabulary_encodes_by_its_own_rule(tmp_path, unit, flags):
    path = tmp_path / "x.txt"
    path.write_text("Lisbon lisbon PORTO İ é É\n", encoding="utf-8")
    vocab = Vocab(["lisbon", "porto", "l", "i", "é", "p"], **flags)
    out = io.BytesIO()
    encode_units(path, unit, vocab, out)
    expected = vocab.encode(read_units(path, unit=unit))
    assert np.frombuffer(out.getvalue(), dtype=id_dtype(len(vocab))).tolist() == expected
    assert expected.count(vocab.unk_id) < len(expected) - 3  # the rule found some


@settings(max_examples=150, deadline=None)
@given(parts=st.lists(st.sampled_from(PARTS), min_size=1, max_size=40), chunk=st.integers(1, 9))
def test_first_appearance_ids_number_the_words_as_they_come(tmp_path_factory, parts, chunk):
    path = tmp_path_factory.mktemp("f") / "x.txt"
    path.write_text("a" + "".join(parts), encoding="utf-8")
    out = io.BytesIO()
    words = first_appearance_ids(path, out, chunk_bytes=chunk)
    units = read_units(path, unit="word")
    assert words == list(dict.fromkeys(units))
    ids = np.frombuffer(out.getvalue(), dtype="<u4")
    assert [words[i] for i in ids] == units


def test_remap_ids_writes_the_table_lookup_chunk_by_chunk():
    ids = np.array([3, 0, 2, 2, 1, 3, 0], dtype="<u4")
    table = np.array([10, 11, 12, 13], dtype="u1")
    out = io.BytesIO()
    remap_ids([ids[:3], ids[3:6], ids[6:]], table, out)
    assert list(out.getvalue()) == [13, 10, 12, 12, 11, 13, 10]
