"""rnnseq.data.unit_stream: the units of read_units, piece by piece, in bounded memory."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnseq.data import EOS, DataError, read_units
from rnnseq.data.unit_stream import codepoints, stream_units


def _joined(path, unit, chunk):
    pieces = list(stream_units(path, unit, chunk_bytes=chunk))
    assert all(pieces)  # no empty piece
    if unit == "char":
        assert all(isinstance(p, str) for p in pieces)
        return list("".join(pieces))
    return [w for p in pieces for w in p]


def _outcome(read):
    try:
        return read()
    except DataError as e:
        return ("error", str(e))


@settings(max_examples=200, deadline=None)
@given(
    parts=st.lists(
        st.sampled_from(["ab", "é", "𝄞", " ", "\t", "\n", "\r", "\r\n", "\u2028", "\x1c", "<eos>"]),
        max_size=30,
    ),
    bom=st.booleans(),
    unit=st.sampled_from(["char", "word"]),
    chunk=st.integers(1, 7),
)
def test_streamed_units_equal_read_units_for_odd_text(tmp_path_factory, parts, bom, unit, chunk):
    """Unicode, \\r\\n cut by a chunk, no final newline, empty lines, a BOM, words cut by
    a chunk, a literal "<eos>", whitespace that is not a line end."""
    path = tmp_path_factory.mktemp("u") / "x.txt"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + "".join(parts).encode())
    expected = _outcome(lambda: read_units(path, unit=unit))
    assert _outcome(lambda: _joined(path, unit, chunk)) == expected


@pytest.mark.parametrize("unit", ["char", "word"])
def test_a_word_longer_than_many_chunks_is_one_word(tmp_path, unit):
    path = tmp_path / "x.txt"
    path.write_text("x" * 1000 + " y\n" + "z" * 999, encoding="utf-8")
    assert _joined(path, unit, 7) == read_units(path, unit=unit)
    if unit == "word":
        assert _joined(path, unit, 7) == ["x" * 1000, "y", EOS, "z" * 999, EOS]


def test_a_single_line_of_many_chunks_streams_word_by_word(tmp_path):
    path = tmp_path / "x.txt"
    path.write_text("ab " * 10_000, encoding="utf-8")  # one line, no line end
    pieces = list(stream_units(path, "word", chunk_bytes=64))
    # The first piece is the 4 KiB head (read whole to tell UTF-16); then 64 bytes each.
    assert len(pieces) > 400 and max(len(p) for p in pieces[1:]) <= 22
    assert [w for p in pieces for w in p] == ["ab"] * 10_000 + [EOS]


@pytest.mark.parametrize(
    "text, unit, message",
    [
        ("", "char", "the file is empty; expected text"),
        (" \r\n\t", "char", "the file is only blank lines; expected text"),
        ("", "word", "no words found"),
        ("\n \n\t\n", "word", "no words found"),
    ],
)
def test_a_file_without_units_is_the_data_error_of_read_units(tmp_path, text, unit, message):
    path = tmp_path / "x.txt"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(DataError, match=message) as streamed:
        list(stream_units(path, unit, chunk_bytes=2))
    with pytest.raises(DataError) as whole:
        read_units(path, unit=unit)
    assert str(streamed.value) == str(whole.value)


def test_unknown_unit_is_a_value_error_naming_unit(tmp_path):
    with pytest.raises(ValueError, match="unit must be one of char, word, got 'byte'"):
        stream_units(tmp_path / "x.txt", "byte")


def test_codepoints_are_bytes_for_ascii_and_utf32_otherwise():
    ascii_ = codepoints("ab\n")
    assert ascii_.dtype == np.uint8 and ascii_.tolist() == [97, 98, 10]
    wide = codepoints("a€𝄞")
    assert wide.dtype == np.uint32 and wide.tolist() == [97, 0x20AC, 0x1D11E]
