"""rnnseq.data.id_file: ids read from a raw array file by slice or chunk, not mapped."""

from __future__ import annotations

import numpy as np
import pytest

from rnnseq.data.id_file import IdReader, read_chunks


@pytest.fixture
def ids(tmp_path):
    values = np.arange(1000, dtype="<u2") * 7
    path = tmp_path / "ids.bin"
    values.tofile(path)
    return path, values


def test_slices_read_the_same_ids_as_the_array(ids):
    path, values = ids
    reader = IdReader(path, "<u2")
    assert len(reader) == 1000 and reader[:].tolist() == values.tolist()
    for a, b in [(0, 1), (17, 300), (999, 1000), (500, 400), (-3, None)]:
        assert reader[a:b].tolist() == values[a:b].tolist()
    assert reader[5:9].dtype == np.dtype("<u2")


def test_a_window_of_the_file_is_indexed_from_its_start(ids):
    path, values = ids
    part = IdReader(path, "<u2", start=100, stop=200)
    assert len(part) == 100 and part[0:3].tolist() == values[100:103].tolist()
    assert part[90:150].tolist() == values[190:200].tolist()  # clipped at stop, as a slice is


def test_bad_positions_and_indexing_are_errors(ids):
    path, _ = ids
    with pytest.raises(ValueError, match="start and stop"):
        IdReader(path, "<u2", start=10, stop=2000)
    reader = IdReader(path, "<u2")
    with pytest.raises(TypeError, match="contiguous slices"):
        reader[3]
    with pytest.raises(TypeError, match="step 1"):
        reader[::2]
    reader.close()


def test_chunks_cover_the_file_in_order(ids):
    path, values = ids
    chunks = list(read_chunks(path, "<u2", chunk=300))
    assert [len(c) for c in chunks] == [300, 300, 300, 100]
    assert np.concatenate(chunks).tolist() == values.tolist()
