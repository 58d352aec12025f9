"""rnnseq.data.jsonl_reader: one JSON object per line, for classify or tag."""

import json

import pytest

from rnnseq.data import ClassifyExample, DataError, TagExample, read_jsonl


@pytest.fixture
def write(tmp_path):
    def write(*lines: str):
        path = tmp_path / "x.jsonl"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    return write


def test_classify_objects_store_integer_labels_as_strings(write):
    path = write(
        '{"text": "a fine  film", "label": 1, "id": 3}', "", '{"text": "meh", "label": "neg"}'
    )
    assert read_jsonl(path, "classify") == [
        ClassifyExample(["a", "fine", "film"], "1"),
        ClassifyExample(["meh"], "neg"),
    ]


def test_tag_objects_keep_tokens_and_tags(write):
    path = write(json.dumps({"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}))
    assert read_jsonl(path, "tag") == [TagExample(["EU", "rejects"], ["B-ORG", "O"])]


def test_tags_and_tokens_of_different_length_name_the_line(write):
    path = write('{"tokens": ["a"], "tags": ["O"]}', '{"tokens": ["a", "b"], "tags": ["O"]}')
    with pytest.raises(DataError) as info:
        read_jsonl(path, "tag")
    assert str(info.value) == f"{path}:2: expected one tag per token, got 2 tokens, 1 tags"


def test_invalid_json_names_the_line(write):
    path = write('{"text": "ok", "label": 1}', '{"text": "broken", ')
    with pytest.raises(DataError, match=r":2: expected one JSON object per line"):
        read_jsonl(path, "classify")


@pytest.mark.parametrize(
    "line, task, reason",
    [
        ("[1, 2]", "classify", "expected one JSON object per line, got a list"),
        ('{"text": "x", "label": true}', "classify", '"label" to be a string or an integer'),
        ('{"text": "x", "label": 1.5}', "classify", '"label" to be a string or an integer'),
        ('{"text": "  ", "label": 1}', "classify", "expected a text"),
        ('{"text": 5, "label": 1}', "classify", '"text" to be a string'),
        ('{"text": "x", "label": ""}', "classify", "expected a label"),
        ('{"tokens": [], "tags": []}', "tag", "expected at least one token"),
        ('{"tokens": ["a", 1], "tags": ["O", "O"]}', "tag", '"tokens" to be a list of non-empty'),
        ('{"tokens": ["a"]}', "tag", '"tags" to be a list'),
        ('{"text": "x", "label": 1}', "tag", '"tokens" to be a list'),
        ('{"label": ' + "9" * 5000 + "}", "classify", "expected one JSON object per line"),
        ("[" * 100_000, "classify", "expected one JSON object per line"),
    ],
)
def test_malformed_objects_are_data_errors_on_their_line(write, line, task, reason):
    with pytest.raises(DataError, match=":1: ") as info:
        read_jsonl(write(line), task)
    assert reason in info.value.reason


def test_task_must_be_classify_or_tag(write):
    with pytest.raises(ValueError, match="task"):
        read_jsonl(write('{"text": "x", "label": 1}'), "lm")


@pytest.mark.parametrize("lines", [(), ("", "  ")])
def test_file_without_objects_is_a_data_error(tmp_path, lines):
    path = tmp_path / "x.jsonl"
    path.write_text("\n".join(lines))
    with pytest.raises(DataError, match="no JSON objects found"):
        read_jsonl(path, "classify")
