"""rnnseq.conllu_fill: the predicted column filled in, every other byte of the CoNLL-U
file kept (comments, other fields, CRLF, a byte-order mark, no final newline)."""

from __future__ import annotations

import pytest

from rnnseq.conllu_fill import fill_conllu
from rnnseq.data.errors import DataError

FILE = (
    "# sent_id = 1\n"
    "# text = Don't stop\n"
    "1-2\tDon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "1\tDo\tdo\tAUX\tVBP\t_\t3\taux\t_\t_\n"
    "2\tn't\tnot\tPART\tRB\t_\t3\tadvmod\t_\t_\n"
    "2.1\tghost\tghost\tNOUN\tNN\t_\t_\t_\t0:dep\t_\n"
    "3\tstop\tstop\tVERB\tVB\t_\t0\troot\t_\tSpaceAfter=No\n"
    "\n"
    "# sent_id = 2\n"
    "1\tGo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n"
    "\n"
)


def _tag(calls):
    def tag(sentences):
        calls.append([list(s) for s in sentences])
        return [[f"T{len(w)}" for w in s] for s in sentences]

    return tag


def _fill(path, column="upos", chunk=256) -> bytes:
    calls: list = []
    return b"".join(fill_conllu(path, column, _tag(calls), chunk=chunk)), calls


def test_only_the_column_changes_and_only_on_word_lines(tmp_path):
    path = tmp_path / "in.conllu"
    path.write_text(FILE, encoding="utf-8")
    out, calls = _fill(path)
    assert calls == [[["Do", "n't", "stop"], ["Go"]]]  # ranges and empty nodes skipped
    lines_in, lines_out = FILE.split("\n"), out.decode().split("\n")
    assert len(lines_in) == len(lines_out)
    for a, b in zip(lines_in, lines_out, strict=True):
        fa, fb = a.split("\t"), b.split("\t")
        if len(fa) == 10 and fa[0].isdigit():
            assert fb[3] == f"T{len(fa[1])}" and fa[:3] + fa[4:] == fb[:3] + fb[4:]
        else:
            assert a == b


@pytest.mark.parametrize("chunk", [1, 2, 256])
def test_crlf_a_byte_order_mark_and_no_final_newline_are_kept(tmp_path, chunk):
    (tmp_path / "lf.conllu").write_text(FILE, encoding="utf-8")
    lf, _ = _fill(tmp_path / "lf.conllu")
    path = tmp_path / "crlf.conllu"
    path.write_bytes(b"\xef\xbb\xbf" + FILE.replace("\n", "\r\n").rstrip("\r\n").encode())
    out, _ = _fill(path, chunk=chunk)
    assert out == b"\xef\xbb\xbf" + lf.replace(b"\n", b"\r\n").rstrip(b"\r\n")


def test_another_column_is_filled_by_name_and_a_word_first_line_keeps_its_mark(tmp_path):
    path = tmp_path / "in.conllu"
    path.write_bytes(b"\xef\xbb\xbf1\tGo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n")
    out, _ = _fill(path, column="XPOS")
    assert out == b"\xef\xbb\xbf1\tGo\tgo\tVERB\tT2\t_\t0\troot\t_\t_\n"
    with pytest.raises(ValueError, match="column must be a CoNLL-U field"):
        _fill(path, column="form")


def test_bad_lines_name_the_file_and_line(tmp_path):
    path = tmp_path / "in.conllu"
    path.write_text("1\tGo\tgo\tVERB\n")
    with pytest.raises(DataError, match=r"in.conllu:1: expected 10 tab-separated fields"):
        _fill(path)
    path.write_text("# c\nx\tGo\tgo\tVERB\tVB\t_\t0\troot\t_\t_\n")
    with pytest.raises(DataError, match=r"in.conllu:2: expected an ID"):
        _fill(path)
    path.write_bytes(b"")
    with pytest.raises(DataError, match="no sentences"):
        _fill(path)
