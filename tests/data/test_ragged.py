"""rnnseq.data.ragged: rows of ints as flat values + offsets, in the smallest types."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from rnnseq.data.ragged import Ragged, compact, dtype_for


@given(st.lists(st.lists(st.integers(-(2**40), 2**40), max_size=6), max_size=8))
def test_rows_read_back_as_the_lists_they_came_from(rows):
    r = Ragged.from_rows(rows)
    assert len(r) == len(rows) and r.tolist() == rows and r == rows
    assert r.lengths.tolist() == [len(x) for x in rows]
    assert all(r[i] == rows[i] for i in range(-len(rows), len(rows)))


@pytest.mark.parametrize(
    "low, high, dtype",
    [
        (0, 255, "uint8"),
        (0, 256, "uint16"),
        (0, 70000, "uint32"),
        (-100, 127, "int8"),
        (-100, 128, "int16"),
        (0, 2**40, "uint64"),
    ],
)
def test_values_take_the_smallest_type_that_holds_them(low, high, dtype):
    assert dtype_for(low, high).name == dtype
    assert compact(np.array([low, high])).dtype.name == dtype


def test_offsets_take_the_smallest_unsigned_type():
    r = Ragged.from_lengths(np.zeros(300, np.int64), np.array([100, 0, 200]))
    assert r.offsets.dtype == np.uint16 and r.offsets.tolist() == [0, 100, 100, 300]
    assert r.values.dtype == np.uint8 and r.nbytes == 300 + 8


def test_equality_with_ragged_lists_and_other_things():
    r = Ragged.from_rows([[1, 2], [3]])
    assert r == Ragged.from_rows([(1, 2), (3,)]) and r != Ragged.from_rows([[1], [2, 3]])
    assert r != [[1, 2]] and r != [1, 2] and r != "ab"


@pytest.mark.parametrize(
    "values, offsets, match",
    [
        ([1, 2], [0, 3], "rise from 0 to len"),
        ([1, 2], [1, 2], "rise from 0"),
        ([1, 2], [0, 2, 1, 2], "rise"),
        ([1, 2], np.array([0, 2, 1, 2], dtype=np.uint8), "rise"),  # no unsigned wrap-around
        ([[1]], [0, 1], "one-dimensional"),
        ([1.5], [0, 1], "integers"),
    ],
)
def test_bad_arrays_are_value_errors(values, offsets, match):
    with pytest.raises(ValueError, match=match):
        Ragged(np.array(values), np.asarray(offsets))


def test_rows_are_indexed_by_one_integer_in_range():
    r = Ragged.from_rows([[1], [2]])
    with pytest.raises(IndexError):
        r[2]
    with pytest.raises(TypeError, match="one integer"):
        r[0:1]


def test_concat_joins_rows_in_order_and_promotes_types():
    a, b = Ragged.from_rows([[1, 2], []]), Ragged.from_rows([[300], [4]])
    joined = Ragged.concat([a, b])
    assert joined == [[1, 2], [], [300], [4]] and joined.values.dtype == np.uint16
    assert Ragged.concat([]) == []

