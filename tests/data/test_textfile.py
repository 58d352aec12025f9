"""rnnseq.data.textfile: UTF-8 decoding with located errors, and line numbering."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnseq.data import DataError
from rnnseq.data.textfile import numbered_lines, read_text, stream_text


def test_invalid_utf8_names_line_and_byte(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine\nab\xffc\n")
    with pytest.raises(DataError) as info:
        read_text(path)
    assert info.value.line == 2
    assert str(info.value).startswith(f"{path}:2: invalid UTF-8 byte 0xff at byte 3 of the line")
    assert "byte offset 7" in str(info.value)


def test_byte_order_mark_is_dropped(tmp_path):
    path = tmp_path / "bom.txt"
    path.write_bytes("\ufeffhello".encode())
    assert read_text(path) == "hello"


def test_numbered_lines_strips_line_ends_and_counts_from_one():
    assert list(numbered_lines("a\r\nb\n\nc")) == [(1, "a"), (2, "b"), (3, ""), (4, "c")]
    assert list(numbered_lines("a\n")) == [(1, "a")]
    assert list(numbered_lines("")) == []


def test_numbered_lines_splits_on_newline_only_as_editors_count():
    assert list(numbered_lines("a\u2028b\x0cc\n")) == [(1, "a\u2028b\x0cc")]


def test_missing_file_raises_os_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        read_text(tmp_path / "nope")


# ---------------------------------------------------------------- stream_text

ODD_TEXT = st.text(
    alphabet=st.sampled_from(["a", " ", "\n", "\r", "\t", "é", "€", "𝄞", "\ufeff", "\u2028"]),
    max_size=40,
)


def _read_or_error(read, path):
    try:
        return read(path)
    except DataError as e:
        return ("error", str(e), e.line)


@settings(max_examples=150, deadline=None)
@given(
    prefix=ODD_TEXT,
    junk=st.binary(max_size=4),
    suffix=ODD_TEXT,
    bom=st.booleans(),
    chunk=st.integers(1, 9),
)
def test_stream_text_agrees_with_read_text_on_text_errors_and_boms(
    tmp_path_factory, prefix, junk, suffix, bom, chunk
):
    data = (b"\xef\xbb\xbf" if bom else b"") + prefix.encode() + junk + suffix.encode()
    path = tmp_path_factory.mktemp("s") / "x.txt"
    path.write_bytes(data)
    pieces: list[str] = []

    def streamed(p):
        pieces.extend(stream_text(p, chunk_bytes=chunk))
        return "".join(pieces)

    assert _read_or_error(streamed, path) == _read_or_error(read_text, path)
    assert all(pieces)  # never an empty piece


def test_stream_text_reports_the_bad_byte_of_a_later_chunk_with_its_line(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"x" * 10 + b"\nabc\n\xe2\x82" + b"z\n")  # a cut euro sign on line 3
    with pytest.raises(DataError) as info:
        list(stream_text(path, chunk_bytes=4))
    assert str(info.value) == str(pytest.raises(DataError, read_text, path).value)
    assert info.value.line == 3 and "byte offset 15" in str(info.value)


def test_stream_text_hands_every_raw_chunk_to_on_bytes(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes("\ufeffhé\nllo".encode())
    seen: list[bytes] = []
    text = "".join(stream_text(path, chunk_bytes=3, on_bytes=seen.append))
    assert text == "hé\nllo" and b"".join(seen) == path.read_bytes()
    assert max(len(c) for c in seen) == 3


def test_stream_text_rejects_a_chunk_size_below_one(tmp_path):
    with pytest.raises(ValueError, match="chunk_bytes"):
        list(stream_text(tmp_path / "x", chunk_bytes=0))
