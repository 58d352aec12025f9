"""rnnseq.data.word_vectors: GloVe / word2vec text / fastText .vec files, plain or gzipped."""

from __future__ import annotations

import gzip
import io
import itertools
import os
import sys
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rnnseq.data import DataError, WordVectors, read_word_vectors
from rnnseq.data import word_vectors as module

FUZZ = settings(
    max_examples=int(os.environ.get("RNNSEQ_FUZZ_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def write(path, text: str | bytes, *, gz: bool = False):
    data = text.encode("utf-8") if isinstance(text, str) else text
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def error(path, **kw) -> DataError:
    with pytest.raises(DataError) as info:
        read_word_vectors(path, **kw)
    assert "\n" not in str(info.value)
    assert str(info.value).startswith(str(path))
    return info.value


GLOVE = "the 0.1 0.2 0.3\n, -1 2.5e-1 3\nParis 1 2 3\nlisbon 4 5 6\n"


# ---- the three formats and their variants ---------------------------------------------


def test_glove_text_gives_words_in_file_order_and_a_float32_matrix(tmp_path):
    v = read_word_vectors(write(tmp_path / "g.txt", GLOVE))
    assert isinstance(v, WordVectors)
    assert v.words == ["the", ",", "Paris", "lisbon"]
    assert v.vectors.dtype == np.float32 and v.vectors.shape == (4, 3) and v.dim == 3
    np.testing.assert_array_equal(v.vectors[1], np.float32([-1, 0.25, 3]))
    assert v.positions.tolist() == [0, 1, 2, 3] and v.total == 4 and v.head == 4
    assert v.header is None and v.path == str(tmp_path / "g.txt")
    assert v.index["lisbon"] == 3 and len(v) == 4


def test_fasttext_header_is_read_and_its_trailing_spaces_ignored(tmp_path):
    text = "2 3 \nthe 0.1 0.2 0.3 \nof 1 2 3 \n"  # fastText writes a space before each \n
    v = read_word_vectors(write(tmp_path / "w.vec", text))
    assert v.header == (2, 3) and v.words == ["the", "of"] and v.dim == 3


def test_header_count_that_does_not_match_the_lines_is_an_error_on_line_1(tmp_path):
    e = error(write(tmp_path / "w.vec", "3 2\na 1 2\nb 3 4\n"))
    assert e.line == 1 and "announces 3 vectors, the file has 2" in str(e)


def test_header_dim_that_does_not_match_the_vectors_names_the_line(tmp_path):
    e = error(write(tmp_path / "w.vec", "2 3\na 1 2\nb 3 4\n"))
    assert e.line == 2 and "expected 3 numbers after the word as on the header, got 2" in str(e)


def test_gzip_is_recognised_by_its_bytes_not_its_name(tmp_path):
    plain = read_word_vectors(write(tmp_path / "g.txt", GLOVE))
    for name in ("g.txt.gz", "g.txt", "g.vec"):
        (tmp_path / "z").mkdir(exist_ok=True)
        packed = read_word_vectors(write(tmp_path / "z" / name, GLOVE, gz=True))
        assert packed.words == plain.words
        np.testing.assert_array_equal(packed.vectors, plain.vectors)


def test_windows_line_ends_byte_order_mark_and_blank_lines_are_tolerated(tmp_path):
    text = "\ufeffthe 1 2\r\n\r\nof 3 4\r\n\n"
    v = read_word_vectors(write(tmp_path / "g.txt", text))
    assert v.words == ["the", "of"]
    np.testing.assert_array_equal(v.vectors, np.float32([[1, 2], [3, 4]]))


def test_a_last_line_without_newline_is_read(tmp_path):
    assert read_word_vectors(write(tmp_path / "g.txt", "a 1\nb 2")).words == ["a", "b"]


def test_words_keep_unicode_spaces_tabs_and_control_characters(tmp_path):
    # GloVe's twitter file has a word that is U+0085 (NEL); str.split() would lose it.
    words = ["\x85", "a\u00a0b", "c\td", "\u3000", "#", "-DOCSTART-", "1.5", "日本"]
    text = "".join(f"{w} {i} {i}\n" for i, w in enumerate(words))
    v = read_word_vectors(write(tmp_path / "g.txt", text))
    assert v.words == words


def test_words_with_spaces_as_in_glove_840b_are_read_from_the_last_dim_fields(tmp_path):
    text = "a 1 2\n. . . 3 4\nat name@domain.com 5 6\n"
    v = read_word_vectors(write(tmp_path / "g.txt", text))
    assert v.words == ["a", ". . .", "at name@domain.com"]
    np.testing.assert_array_equal(v.vectors[1:], np.float32([[3, 4], [5, 6]]))


# ---- filters ---------------------------------------------------------------------------


def test_keep_selects_words_as_written_or_lowercased_in_file_order(tmp_path):
    path = write(tmp_path / "g.txt", GLOVE)
    v = read_word_vectors(path, keep=["Lisbon", "Paris", "absent"])
    assert v.words == ["Paris", "lisbon"] and v.positions.tolist() == [2, 3]
    assert v.total == 4 and v.head == 0
    np.testing.assert_array_equal(v.vectors, np.float32([[1, 2, 3], [4, 5, 6]]))


def test_max_vectors_keeps_the_first_words_plus_the_kept_ones(tmp_path):
    path = write(tmp_path / "g.txt", GLOVE)
    assert read_word_vectors(path, max_vectors=2).words == ["the", ","]
    v = read_word_vectors(path, keep=["lisbon"], max_vectors=1)
    assert v.words == ["the", "lisbon"] and v.positions.tolist() == [0, 3] and v.head == 1
    assert read_word_vectors(path, max_vectors=10).head == 4
    assert read_word_vectors(path, keep=[], max_vectors=0).words == []


def test_negative_max_vectors_is_a_value_error_naming_it(tmp_path):
    with pytest.raises(ValueError, match="max_vectors"):
        read_word_vectors(write(tmp_path / "g.txt", GLOVE), max_vectors=-1)


def test_lines_not_kept_are_checked_for_their_shape_but_not_parsed(tmp_path):
    path = write(tmp_path / "g.txt", "a 1 2\nb x y\nc 1\n")
    assert "line 1, got 1" in str(error(path, keep=["a"]))  # ragged line 3: always found
    path = write(tmp_path / "g.txt", "a 1 2\nb x y\n")
    assert read_word_vectors(path, keep=["a"]).words == ["a"]  # "x y": never converted
    assert "'x', is not a number" in str(error(path))


# ---- malformed files: one-line errors with the line ------------------------------------


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("a 1 2\nb 1 2 3\n", 2, "expected 2 numbers after the word as on line 1, got 3"),
        ("a 1 2\nb 1\n", 2, "expected 2 numbers after the word as on line 1, got 1"),
        ("a 1 2\nb\n", 2, "expected a word and 2 numbers, got one field"),
        ("a 1 2\nb\t1\t2\n", 2, "tab-separated?"),
        ("a\n", 1, "got only one field"),
        ("a 1 2\n 1 2\n", 2, "starts with a space"),
        ("a 1 2\nb 1  2\n", 2, "two spaces in a row"),
        ("a 1 2\nb 1 two\n", 2, "value 2 of the vector, 'two', is not a number"),
        ("a 1 2\nb 1,5 2\n", 2, "value 1 of the vector, '1,5', is not a number"),
        ("a 1 2\nb nan 2\n", 2, "value 1 of the vector is 'nan', not a finite float32 number"),
        ("a 1 2\nb 1 -inf\n", 2, "value 2 of the vector is '-inf'"),
        ("a 1 2\nb 1 1e39\n", 2, "value 2 of the vector is '1e39'"),
        ("2 0\n", 1, "dimension 0"),
    ],
)
def test_malformed_line_is_a_data_error_naming_line_and_problem(tmp_path, text, line, message):
    e = error(write(tmp_path / "bad.txt", text))
    assert e.line == line and message in str(e)


def test_ragged_line_after_a_word_with_spaces_is_not_mistaken_for_one(tmp_path):
    e = error(write(tmp_path / "g.txt", "a 1 2\nb 7 1 2\n"))  # "b 7" is not a word
    assert e.line == 2 and "got 3" in str(e)


@pytest.mark.parametrize("text", ["", "\n\n", "\ufeff", "   \n"])
def test_empty_file_is_a_data_error(tmp_path, text):
    e = error(write(tmp_path / "empty.txt", text))
    assert e.line is None and "empty" in str(e)


def test_header_without_vectors_is_a_data_error(tmp_path):
    assert "no vectors after the header" in str(error(write(tmp_path / "w.vec", "0 50\n")))


def test_binary_word2vec_file_is_recognised(tmp_path):
    rng = np.random.default_rng(0)
    body = b"".join(w + b" " + rng.normal(size=300).astype(np.float32).tobytes() for w in [b"a"])
    e = error(write(tmp_path / "GoogleNews.bin", b"1 300\n" + body))
    assert e.line == 2 and "looks like a binary word2vec file; convert it to text" in str(e)
    e = error(write(tmp_path / "w.txt", b"a 1 2\nb\x00 1 2\n"))  # NUL bytes: binary too
    assert "binary word2vec" in str(e)


def test_latin1_text_is_an_invalid_utf8_error_not_called_binary(tmp_path):
    e = error(write(tmp_path / "g.txt", "a 1 2\nb 1 2\ncaf\xe9 1 2\n".encode("latin-1")))
    assert e.line == 3 and "invalid UTF-8 byte 0xe9" in str(e) and "binary" not in str(e)


def test_invalid_utf8_in_a_kept_word_far_into_the_file_names_the_line(tmp_path, monkeypatch):
    monkeypatch.setattr(module, "_HEAD", 8)  # the head check looks at 8 bytes only
    path = write(tmp_path / "g.txt", b"a 1 2\nb 1 2\ncaf\xe9 1 2\n")
    e = error(path)
    assert e.line == 3 and "invalid UTF-8 byte 0xe9 in the word" in str(e)
    assert read_word_vectors(path, keep=["a"]).words == ["a"]  # not kept: not decoded


@pytest.mark.parametrize(
    "magic, what", [(b"PK\x03\x04", "zip"), (b"BZh91AY", "bzip2"), (b"\xfd7zXZ\x00", "xz")]
)
def test_other_archives_are_named(tmp_path, magic, what):
    e = error(write(tmp_path / "glove.6B.zip", magic + b"rest"))
    assert what in str(e)


def test_truncated_or_corrupt_gzip_is_a_data_error(tmp_path):
    packed = gzip.compress(GLOVE.encode() * 100)
    assert "broken gzip data" in str(error(write(tmp_path / "cut.gz", packed[:-30])))
    broken = packed[:20] + bytes(b ^ 0xFF for b in packed[20:40]) + packed[40:]
    assert "broken gzip data" in str(error(write(tmp_path / "bad.gz", broken)))


def test_missing_file_raises_os_error_naming_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        read_word_vectors(tmp_path / "nope.txt")


def test_duplicate_words_keep_the_first_vector_with_one_warning(tmp_path):
    path = write(tmp_path / "g.txt", "a 1 1\nb 2 2\na 3 3\nb 4 4\na 5 5\n")
    with pytest.warns(UserWarning, match=r"3 duplicate words.*'a' on lines 1 and 3") as record:
        v = read_word_vectors(path)
    assert len(record) == 1
    assert v.words == ["a", "b"] and v.positions.tolist() == [0, 1] and v.total == 5
    np.testing.assert_array_equal(v.vectors, np.float32([[1, 1], [2, 2]]))


def test_blocks_are_seamless_across_chunk_boundaries(tmp_path, monkeypatch):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 4)).astype(np.float32)
    text = "".join(
        f"w{i} " + " ".join(repr(float(v)) for v in row) + "\n" for i, row in enumerate(x)
    )
    whole = read_word_vectors(write(tmp_path / "g.txt", text))
    monkeypatch.setattr(module, "_CHUNK", 37)  # lines cut anywhere, many blocks
    for gz in (False, True):
        v = read_word_vectors(write(tmp_path / f"c{gz}.txt", text, gz=gz))
        assert v.words == whole.words
        np.testing.assert_array_equal(v.vectors, x)
    with pytest.raises(DataError) as info:
        read_word_vectors(write(tmp_path / "r.txt", text + "last 1 2\n"))
    assert info.value.line == 201


def test_progress_bar_writes_to_stderr_only_when_asked(tmp_path, monkeypatch):
    path = write(tmp_path / "g.txt", GLOVE)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    read_word_vectors(path)  # stderr is not a terminal: no bar
    assert err.getvalue() == ""
    read_word_vectors(path, progress=True)
    assert "g.txt" in err.getvalue() and "B" in err.getvalue()


# ---- properties ------------------------------------------------------------------------

WORD = st.text(
    alphabet=st.characters(blacklist_characters=" \n\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=8,
).filter(lambda w: not w.endswith("\r") and not w.startswith("\ufeff"))


@FUZZ
@given(
    words=st.lists(WORD, min_size=1, max_size=12, unique=True),
    dim=st.integers(1, 5),
    header=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_written_vectors_read_back_exactly_plain_and_gzipped(tmp_path, words, dim, header, seed):
    if not header and dim == 1 and words[0].isdigit() and words[0].isascii():
        words[0] = "w" + words[0]  # "7 0.5" as a first line would be a header
    x = np.random.default_rng(seed).normal(size=(len(words), dim)).astype(np.float32)
    lines = [f"{len(words)} {dim}"] if header else []
    lines += [w + " " + " ".join(str(v) for v in row) for w, row in zip(words, x, strict=True)]
    text = "\n".join(lines) + "\n"
    for gz in (False, True):
        v = read_word_vectors(write(tmp_path / "p.txt", text, gz=gz))
        assert v.words == words
        np.testing.assert_array_equal(v.vectors, x)  # float32 -> shortest repr -> same float32


@FUZZ
@given(data=st.binary(max_size=300))
def test_random_bytes_give_vectors_or_a_data_error(tmp_path, data):
    for gz in (False, True):
        path = write(tmp_path / "r.bin", data, gz=gz)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # duplicate words
                v = read_word_vectors(path)
        except DataError as e:
            assert "\n" not in str(e) and str(e).startswith(str(path))
        else:
            assert v.vectors.shape == (len(v.words), v.dim) and np.isfinite(v.vectors).all()


@FUZZ
@given(lengths=st.lists(st.integers(0, 4), min_size=2, max_size=8), keep=st.booleans())
def test_ragged_lines_are_found_at_their_line_kept_or_not(tmp_path, lengths, keep):
    lines = [" ".join([f"w{i}"] + ["1"] * n) for i, n in enumerate(lengths)]
    path = write(tmp_path / "r.txt", "\n".join(lines) + "\n")
    kw = {"keep": ["w0"]} if keep else {}
    bad = next((i for i, n in enumerate(lengths) if n != lengths[0] or n == 0), None)
    if bad is None:
        assert read_word_vectors(path, **kw).total == len(lengths)
    else:
        assert error(path, **kw).line == bad + 1


# ---- the real GloVe file (a slice, read in the test) -----------------------------------


def test_real_glove_slice_reads_like_a_plain_split(tmp_path, shared_data):
    source = shared_data / "glove_6b_50d" / "glove.6B.50d.txt.gz"
    if not source.exists():
        pytest.skip(f"{source} is absent")
    with gzip.open(source, "rb") as f:
        head = list(itertools.islice(f, 2000))
    path = write(tmp_path / "glove.2000.txt", b"".join(head))
    v = read_word_vectors(path)
    expected = [line.decode("utf-8").rstrip("\n").split(" ") for line in head]
    assert v.words == [row[0] for row in expected] and v.dim == 50
    np.testing.assert_array_equal(v.vectors, np.float32([row[1:] for row in expected]))
    np.testing.assert_array_equal(v.vectors[0, :3], np.float32([0.418, 0.24968, -0.41242]))
    packed = read_word_vectors(write(tmp_path / "glove.2000.txt.gz", b"".join(head), gz=True))
    np.testing.assert_array_equal(packed.vectors, v.vectors)
    kept = read_word_vectors(path, keep=["London", "The"])
    assert kept.words == ["the", "london"] and kept.positions[0] == 0
