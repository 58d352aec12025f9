"""TokenSpan: a part of a token file, read from disk in chunks or windows."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnseq.data.token_cache import token_file
from rnnseq.data.token_span import TokenSpan


@pytest.fixture(scope="module")
def tokens(tmp_path_factory):
    folder = tmp_path_factory.mktemp("span")
    text = folder / "t.txt"
    text.write_text("".join(f"line {i} of the text\n" for i in range(40)), encoding="utf-8")
    return token_file(text, unit="char", cache_dir=folder / "cache", progress=False)


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_a_span_reads_and_counts_exactly_its_part_of_the_ids(tokens, data):
    n = len(tokens)
    start = data.draw(st.integers(0, n))
    stop = data.draw(st.integers(start, n))
    span = TokenSpan(tokens, start, stop)
    expected = np.asarray(tokens.ids[start:stop])
    assert len(span) == stop - start
    size = data.draw(st.integers(1, 50))
    chunks = list(span.chunks(size))
    joined = np.concatenate(chunks) if chunks else np.empty(0, tokens.ids.dtype)
    assert np.array_equal(joined, expected)
    unit = data.draw(st.integers(0, len(tokens.vocab) - 1))
    assert span.count(unit) == int(np.count_nonzero(expected == unit))
    assert span.last() == (int(expected[-1]) if len(expected) else None)


def test_split_cuts_a_span_in_two_that_join_to_it(tokens):
    whole = TokenSpan.whole(tokens)
    train, dev = whole.split(100)
    assert (train.start, train.stop, dev.start, dev.stop) == (0, 100, 100, len(tokens))
    inner, rest = dev.split(7)
    assert (inner.start, inner.stop, rest.start) == (100, 107, 107)
    assert train.vocab is tokens.vocab
    reader = rest.reader()
    assert np.array_equal(reader[0:5], tokens.ids[107:112])


@pytest.mark.parametrize("start, stop", [(-1, 3), (5, 4), (0, 10**9)])
def test_a_span_outside_its_token_file_is_refused(tokens, start, stop):
    with pytest.raises(ValueError, match="a span must satisfy 0 <= start <= stop"):
        TokenSpan(tokens, start, stop)
