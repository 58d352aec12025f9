"""Streaming readers (``stream_dataset``, ``stream_lines``) agree with the whole-file
readers on any input: the same examples, or the same DataError (for a file that is
not UTF-8 text, a DataError: a stream may meet a bad line before the bad byte)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnseq.data import DataError, read_dataset
from rnnseq.data.formats import stream_dataset
from rnnseq.data.textfile import numbered_lines, read_text, stream_lines

ODD = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SEEDS = {  # (format, task): lines of a well-formed file
    ("conllu", "tag"): ["# sent_id = 1", "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_", "",
                        "1\tyes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_", ""],
    ("conll", "tag"): ["-DOCSTART- -X- O O", "", "EU NNP I-NP I-ORG", "rejects VBZ I-VP O", ""],
    ("tsv", "classify"): ["text\tlabel", "a fine film \t1", "dull \t0"],
    ("csv", "classify"): ["text,label", '"a ""fine"" film",1', "dull,0"],
    ("jsonl", "tag"): [json.dumps({"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]})],
    ("jsonl", "classify"): [json.dumps({"text": "a fine film", "label": 1})],
}  # fmt: skip
PIECES = st.sampled_from(["\n", "\r\n", "\r", "\t", " ", "", "_", "1", "x", "#", '"', ",",
                          "\ufeff", "é", "{", "}", "\x00"])  # fmt: skip


def _outcome(read):
    """The examples, or the DataError's message."""
    try:
        return list(read())
    except DataError as e:
        return f"DataError: {e}"


@st.composite
def edited(draw, lines: list[str]) -> bytes:
    """The seed lines with random pieces inserted, lines dropped or doubled; sometimes
    an invalid UTF-8 byte."""
    lines = list(lines)
    for _ in range(draw(st.integers(0, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["insert", "drop", "double"]))
        if op == "insert":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(PIECES) + lines[i][at:]
        elif op == "drop" and len(lines) > 1:
            del lines[i]
        else:
            lines.insert(i, lines[i])
    data = "\n".join(lines).encode() + draw(st.sampled_from([b"", b"\n", b"\r\n"]))
    if draw(st.integers(0, 9)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + b"\xff" + data[at:]
    return data


@pytest.mark.parametrize("fmt, task", list(SEEDS), ids=[f"{f}-{t}" for f, t in SEEDS])
@ODD
@given(data=st.data())
def test_a_streamed_file_gives_the_examples_or_the_error_of_the_whole_read(
    tmp_path, fmt, task, data
):
    path = tmp_path / f"f.{fmt}"
    path.write_bytes(data.draw(edited(SEEDS[fmt, task])))
    whole = _outcome(lambda: read_dataset(path, task, format=fmt))
    streamed = _outcome(lambda: stream_dataset(path, task, format=fmt))
    if fmt == "csv" and b"\r" in path.read_bytes().replace(b"\r\n", b""):
        return  # a lone \r ends a CSV line in a whole read only (stream_csv says so)
    if isinstance(whole, str) and ("NUL byte" in whole or "UTF-8" in whole):
        # not text: the whole read says so first; a stream may meet a bad line before
        assert isinstance(streamed, str) and streamed.startswith("DataError")
        return
    assert streamed == whole


@ODD
@given(raw=st.binary(max_size=60) | st.text(max_size=40).map(str.encode),
       chunk=st.integers(1, 9))  # fmt: skip
def test_stream_lines_cut_anywhere_are_the_numbered_lines_of_the_whole_text(tmp_path, raw, chunk):
    path = tmp_path / "t.txt"
    path.write_bytes(raw)
    whole = _outcome(lambda: numbered_lines(read_text(path)))
    assert _outcome(lambda: stream_lines(path, chunk_bytes=chunk)) == whole


def test_stream_dataset_refuses_a_language_model_file(tmp_path):
    path = tmp_path / "t.txt"
    path.write_text("some text\n")
    with pytest.raises(ValueError, match="classify' or 'tag'"):
        stream_dataset(path, "lm")
