"""rnnseq.data.text_reader: characters or words (+ <eos>) as one stream."""

import pytest

from rnnseq.data import EOS, DataError, read_units


@pytest.fixture
def write(tmp_path):
    def write(text: str):
        path = tmp_path / "x.txt"
        path.write_bytes(text.encode())
        return path

    return write


def test_characters_include_newlines_and_read_crlf_as_newline(write):
    assert read_units(write("ab\r\nc\n")) == ["a", "b", "\n", "c", "\n"]


def test_words_end_every_line_with_eos_as_ptb_does(write):
    path = write(" the cat \n\n sat\n")
    assert read_units(path, unit="word") == ["the", "cat", EOS, EOS, "sat", EOS]


def test_last_line_without_newline_still_gets_eos(write):
    assert read_units(write("a b"), unit="word") == ["a", "b", EOS]


def test_unknown_unit_is_a_value_error_naming_unit(write):
    with pytest.raises(ValueError, match="unit must be one of char, word, got 'byte'"):
        read_units(write("x"), unit="byte")


@pytest.mark.parametrize(
    "text, unit",
    [("", "char"), ("", "word"), ("\n \n\t\n", "word"), ("\n\n", "char"), (" \r\n\t", "char")],
)
def test_file_without_units_is_a_data_error(write, text, unit):
    with pytest.raises(DataError, match="empty|no words|only blank lines"):
        read_units(write(text), unit=unit)


def test_blank_lines_are_characters_of_a_char_stream(write):
    assert read_units(write("a\n\n")) == ["a", "\n", "\n"]


def test_one_megabyte_line_is_read_in_both_units(write):
    path = write("ab " * 350_000)
    assert len(read_units(path)) == 1_050_000
    assert len(read_units(path, unit="word")) == 350_001
