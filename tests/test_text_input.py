"""rnnseq.text_input: raw lines decoded one at a time, and tokens produced a piece of the
line at a time with offsets that slice the line, exactly as tokenizing it whole."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnseq.data.errors import DataError
from rnnseq.data.tokenize import pretokenized, tokenize
from rnnseq.text_input import input_lines, line_tokens, strip_line_end

PIECES = st.sampled_from(
    [*"ab .,-'!?\té\u200b\x1c\u2028\xa0", "don't", "U.S.", "3-4", "  ", "Paris"]
)


@settings(max_examples=60, deadline=None)
@given(text=st.lists(PIECES, max_size=30).map("".join), piece=st.integers(1, 12))
def test_tokens_read_in_pieces_are_the_tokens_of_the_whole_line(text, piece):
    for flag, whole in ((True, pretokenized), (False, tokenize)):
        got = list(line_tokens(text, pretokenized=flag, piece=piece))
        assert got == whole(text)
        assert all(text[start:end] == word for word, start, end in got)


def test_pretokenized_splits_on_whitespace_and_the_tokenizer_splits_punctuation():
    line = "Obama visited Paris yesterday."
    assert [t[0] for t in line_tokens(line, pretokenized=True)][-1] == "yesterday."
    assert [t[0] for t in line_tokens(line, pretokenized=False)][-2:] == ["yesterday", "."]


def test_input_lines_drop_line_ends_and_a_byte_order_mark():
    lines = list(input_lines([b"\xef\xbb\xbfa b\r\n", b"\n", b"c"], "in.txt"))
    assert lines == ["a b", "", "c"]
    assert strip_line_end("x\r\n") == "x" and strip_line_end("x\r") == "x\r"


def test_input_lines_name_the_line_of_bad_utf8_and_refuse_utf16_and_no_input():
    with pytest.raises(DataError, match=r"in.txt:2: invalid UTF-8 byte 0xff at byte 3"):
        list(input_lines([b"ok\n", b"ab\xff\n"], "in.txt"))
    with pytest.raises(DataError, match="UTF-16LE"):
        list(input_lines(["a\n".encode("utf-16")], "in.txt"))
    with pytest.raises(DataError, match="no input"):
        list(input_lines([], "<stdin>"))
