"""rnnseq.windows: long sequences cut into overlapping windows whose kept parts tile the
sequence once, each kept token with its context around it, read lazily."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnseq.windows import windows


@given(n=st.integers(0, 200), size=st.integers(1, 12), context=st.integers(0, 6))
def test_kept_parts_tile_the_sequence_once_in_order(n, size, context):
    cut = list(windows(iter(range(n)), size, context))
    kept = [x for items, a, b in cut for x in items[a:b]]
    assert kept == list(range(n))
    for items, a, b in cut:
        assert items == list(range(items[0], items[-1] + 1))  # a contiguous stretch
        assert len(items) <= size + 2 * context
        assert 0 <= a < b <= len(items)


@given(n=st.integers(0, 200), size=st.integers(1, 12), context=st.integers(0, 6))
def test_every_kept_token_sees_its_context_on_both_sides(n, size, context):
    for items, a, b in windows(iter(range(n)), size, context):
        for k in range(a, b):
            token = items[k]
            assert k >= min(context, token)  # left: all there is, up to context
            assert len(items) - 1 - k >= min(context, n - 1 - token)


def test_a_sequence_that_fits_one_window_is_kept_whole():
    assert list(windows(iter("abcde"), size=3, context=1)) == [(list("abcde"), 0, 5)]
    assert list(windows(iter(""), size=3, context=1)) == []
    assert len(list(windows(iter("abcdef"), size=3, context=1))) == 2


def test_tokens_are_pulled_as_the_windows_need_them():
    pulled = 0

    def tokens():
        nonlocal pulled
        for k in itertools.count():
            pulled += 1
            yield k

    cut = windows(tokens(), size=10, context=2)
    for _ in range(5):
        next(cut)
    assert pulled <= 5 * 10 + 2 * 2 + 1  # never the whole (endless) sequence


def test_bad_sizes_name_the_argument():
    with pytest.raises(ValueError, match="size"):
        list(windows(iter("ab"), size=0))
    with pytest.raises(ValueError, match="context"):
        list(windows(iter("ab"), size=1, context=-1))


def test_the_module_example_runs():
    import doctest

    import rnnseq.windows

    result = doctest.testmod(rnnseq.windows)
    assert result.attempted > 0 and result.failed == 0
