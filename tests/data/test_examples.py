"""rnnseq.data.examples: the example types and the readers' collector pause."""

import gc

import pytest

from rnnseq.data import DataError, TagExample, read_dataset
from rnnseq.data.examples import builds_examples


def test_reader_pauses_the_collector_and_restores_it(tmp_path):
    seen = []

    @builds_examples
    def read():
        seen.append(gc.isenabled())
        return []

    assert gc.isenabled()
    read()
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        read()
        assert not gc.isenabled()  # a caller's own pause is kept
    finally:
        gc.enable()


def test_collector_is_restored_after_a_data_error(tmp_path):
    path = tmp_path / "bad.conll"
    path.write_text("EU B-ORG\nrejects\n")
    with pytest.raises(DataError):
        read_dataset(path, "tag")
    assert gc.isenabled()


def test_source_tags_do_not_change_equality():
    a = TagExample(["EU"], ["S-ORG"], 1, source_tags=["B-ORG"])
    assert a == TagExample(["EU"], ["S-ORG"]) and "source_tags" not in repr(a)
