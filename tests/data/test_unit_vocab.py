"""rnnseq.data.unit_vocab: the language-model vocabulary counted in one streaming pass
is the in-memory one, entry for entry and id for id."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lm_in_memory import lm_in_memory
from rnnseq.data import Vocab, read_units
from rnnseq.data.unit_vocab import count_ids, count_units, lm_vocab

PARTS = ["ab", "b", "é", "€", "𝄞", "世界", " ", "\t", "\n", "\r\n", "\r", "\u2028", "<eos>", "x y"]


def _in_memory(path, unit, min_freq, limit=None):
    """The vocabulary of the lm task, from the first ``limit`` units (all: None)."""
    if limit is None:
        return lm_in_memory(path, unit, min_freq=min_freq)[0]
    return Vocab.build([read_units(path, unit=unit)[:limit]], min_freq=min_freq)


@settings(max_examples=150, deadline=None)
@given(
    parts=st.lists(st.sampled_from(PARTS), min_size=1, max_size=40),
    unit=st.sampled_from(["char", "word"]),
    min_freq=st.integers(1, 3),
    chunk=st.integers(1, 9),
)
def test_streamed_vocabulary_equals_the_lm_tasks(
    tmp_path_factory, parts, unit, min_freq, chunk
):
    path = tmp_path_factory.mktemp("v") / "x.txt"
    path.write_text("x" + "".join(parts), encoding="utf-8")  # "x": never without units
    counted = count_units(path, unit, chunk_bytes=chunk)
    expected = _in_memory(path, unit, min_freq)
    assert lm_vocab(counted, min_freq=min_freq) == expected
    assert counted.n_units == len(read_units(path, unit=unit))


@settings(max_examples=100, deadline=None)
@given(
    parts=st.lists(st.sampled_from(PARTS), min_size=1, max_size=40),
    unit=st.sampled_from(["char", "word"]),
    fraction=st.floats(0, 1),
)
def test_a_limit_counts_the_first_units_only(tmp_path_factory, parts, unit, fraction):
    path = tmp_path_factory.mktemp("v") / "x.txt"
    path.write_text("x" + "".join(parts), encoding="utf-8")
    limit = int(len(read_units(path, unit=unit)) * fraction)
    counted = count_units(path, unit, limit=limit, chunk_bytes=3)
    assert counted.n_units == limit
    assert lm_vocab(counted) == _in_memory(path, unit, 1, limit)


def test_many_new_characters_in_one_piece_keep_their_first_appearance_order(tmp_path):
    text = "".join(chr(c) for c in range(0x4E00 + 300, 0x4E00, -1)) + "ba" * 3
    path = tmp_path / "x.txt"
    path.write_text(text, encoding="utf-8")
    counted = count_units(path, "char")
    assert list(counted.counts) == list(dict.fromkeys(text))
    assert lm_vocab(counted) == Vocab.build([list(text)])


def test_counting_stops_reading_at_the_limit(tmp_path):
    path = tmp_path / "x.txt"
    path.write_bytes(b"abc" * 10_000 + b"\xff")  # invalid UTF-8 past the limit: never read
    assert count_units(path, "char", limit=5, chunk_bytes=4).counts == {"a": 2, "b": 2, "c": 1}


def test_a_negative_limit_is_a_value_error_naming_it(tmp_path):
    with pytest.raises(ValueError, match="limit"):
        count_units(tmp_path / "x.txt", "char", limit=-1)


@pytest.mark.parametrize("limit", [None, 0, 1, 4, 7, 100])
def test_count_ids_counts_first_appearance_ids_up_to_the_limit(limit):
    units = ["b", "a", "c", "a", "d", "b", "a"]
    words = list(dict.fromkeys(units))
    ids = np.array([words.index(u) for u in units], dtype="<u4")
    counted = count_ids([ids[:3], ids[3:6], ids[6:]], words, limit=limit)
    prefix = units if limit is None else units[:limit]
    assert counted.counts == dict(Counter(prefix)) and list(counted.counts) == list(
        dict.fromkeys(prefix)
    )
    assert counted.n_units == len(prefix)
