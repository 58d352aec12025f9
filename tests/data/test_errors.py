"""rnnseq.data.errors: one-line messages naming file, line and expectation."""

import pickle

from rnnseq.data import DataError


def test_data_error_message_names_file_line_and_reason():
    e = DataError("train.conllu", 17, "expected 10 tab-separated fields, got 9")
    assert str(e) == "train.conllu:17: expected 10 tab-separated fields, got 9"
    assert (e.path, e.line, e.reason) == ("train.conllu", 17, e.reason)
    assert isinstance(e, ValueError)


def test_data_error_without_line_names_only_the_file():
    assert str(DataError("x.tsv", None, "no rows found")) == "x.tsv: no rows found"


def test_data_error_message_is_one_line_even_if_reason_has_newlines():
    assert "\n" not in str(DataError("a", 1, "two\nlines"))


def test_data_error_survives_pickling_with_its_attributes():
    e = pickle.loads(pickle.dumps(DataError("a.txt", 3, "bad")))
    assert (e.path, e.line, e.reason, str(e)) == ("a.txt", 3, "bad", "a.txt:3: bad")
