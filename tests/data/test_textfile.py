"""rnnseq.data.textfile: UTF-8 decoding with located errors, and line numbering."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnseq.data import DataError
from rnnseq.data.textfile import decode, numbered_lines, read_text, stream_text, wide_encoding


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


TEXT = "EU rejects German call\tB-ORG\n"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be"])
def test_utf16_is_named_with_what_to_do(tmp_path, codec):
    path = tmp_path / "a.txt"
    path.write_bytes(TEXT.encode(codec))  # "utf-16" writes a byte-order mark
    with pytest.raises(DataError) as info:
        read_text(path)
    assert info.value.line is None
    assert "is UTF-16" in str(info.value) and "save it as UTF-8" in str(info.value)


@pytest.mark.parametrize("codec, name", [("utf-32", "UTF-32"), ("utf-32-le", "UTF-32LE")])
def test_utf32_is_named(tmp_path, codec, name):
    path = tmp_path / "a.txt"
    path.write_bytes(TEXT.encode(codec))
    with pytest.raises(DataError, match=f"is {name}"):
        read_text(path)


@pytest.mark.parametrize(
    "codec, expected",
    [
        ("utf-16-le", "UTF-16LE"),
        ("utf-16-be", "UTF-16BE"),
        ("utf-32-le", "UTF-32LE"),
        ("utf-32-be", "UTF-32BE"),
    ],
)
def test_wide_encoding_tells_byte_order_without_a_mark(codec, expected):
    assert wide_encoding(TEXT.encode(codec)) == expected
    # Accented Latin text too: every character is still below U+0100.
    assert wide_encoding("Müller café\tB-PER\n".encode(codec)) == expected


def test_wide_encoding_leaves_utf8_alone():
    assert wide_encoding(TEXT.encode()) is None
    assert wide_encoding("北京 Ελλάδα 🙂\n".encode()) is None
    assert wide_encoding(b"a\x00b\tO\n") is None  # one stray NUL is not UTF-16


def test_nul_byte_names_its_line_and_byte(tmp_path):
    path = tmp_path / "nul.txt"
    path.write_bytes(b"fine\tO\nab\x00c\tO\n")
    with pytest.raises(DataError) as info:
        read_text(path)
    assert info.value.line == 2
    assert str(info.value).startswith(f"{path}:2: NUL byte at byte 3 of the line")


def test_decode_of_a_chunk_names_the_line_it_started_at():
    """predict reads its input in chunks of lines: errors name the line in the stream."""
    assert decode(b"\xef\xbb\xbfhi\n", "in.txt") == "hi\n"
    assert decode(b"\xef\xbb\xbfhi\n", "in.txt", first_line=7) == "\ufeffhi\n"
    with pytest.raises(DataError, match=r"^<stdin>:8: NUL byte at byte 1"):
        decode(b"ok\n\x00\n", "<stdin>", first_line=7)
    with pytest.raises(DataError, match=r"^<stdin>:7: invalid UTF-8 byte 0xff"):
        decode(b"\xff\xfeok\n", "<stdin>", first_line=7)  # past line 1: no UTF-16 guess


# ---------------------------------------------------------------- stream_text

ODD_TEXT = st.text(
    alphabet=st.sampled_from(["a", " ", "\n", "\r", "é", "€", "𝄞", "\ufeff", "\u2028", "\x00"]),
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
    bom=st.sampled_from([b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff\x00"]),
    chunk=st.integers(1, 9),
)
def test_stream_text_agrees_with_read_text_on_text_errors_and_boms(
    tmp_path_factory, prefix, junk, suffix, bom, chunk
):
    """Invalid UTF-8 anywhere, NUL bytes before or after it, byte-order marks of UTF-8
    and of UTF-16/32, characters cut by chunk boundaries."""
    data = bom + prefix.encode() + junk + suffix.encode()
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


def test_stream_text_names_utf16_before_yielding_anything(tmp_path):
    path = tmp_path / "wide.txt"
    path.write_bytes(("x" * 5000 + "\n").encode("utf-16-le"))  # no mark: the NULs tell
    with pytest.raises(DataError, match="is UTF-16LE") as info:
        next(stream_text(path, chunk_bytes=100))
    assert str(info.value) == str(pytest.raises(DataError, read_text, path).value)


def test_stream_text_reports_the_first_nul_at_the_end_unless_utf8_is_invalid_later(tmp_path):
    path = tmp_path / "nul.txt"
    data = b"ab\ncd\x00e\n" + b"f" * 5000 + b"\x00"
    path.write_bytes(data)
    pieces = []
    with pytest.raises(DataError, match="NUL byte at byte 3 of the line") as info:
        pieces.extend(stream_text(path, chunk_bytes=8))
    assert info.value.line == 2 and "".join(pieces) == data.decode()  # all read first
    assert str(info.value) == str(pytest.raises(DataError, read_text, path).value)
    path.write_bytes(b"ab\ncd\x00e\n" + b"f" * 5000 + b"\xff")
    with pytest.raises(DataError, match="invalid UTF-8 byte 0xff"):
        list(stream_text(path, chunk_bytes=8))
