"""rnnseq.data.textfile: UTF-8 decoding with located errors, and line numbering."""

import pytest

from rnnseq.data import DataError
from rnnseq.data.textfile import decode, numbered_lines, read_text, wide_encoding


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
