"""rnnseq.data.textfile: UTF-8 decoding with located errors, and line numbering."""

import pytest

from rnnseq.data import DataError
from rnnseq.data.textfile import numbered_lines, read_text


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
