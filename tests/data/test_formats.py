"""rnnseq.data.formats: format detection and the read_dataset entry point."""

import pytest

from rnnseq.data import (
    ClassifyExample,
    DataError,
    TagExample,
    detect_format,
    read_dataset,
)

CONLLU_LINE = "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n"
SAMPLES = {  # format -> (task, content of a small valid file, what it reads as)
    "conllu": ("tag", f"# sent_id = a\n{CONLLU_LINE}\n", [TagExample(["Hi"], ["INTJ"])]),
    "conll": ("tag", "-DOCSTART- -X- O O\n\nEU NNP I-ORG\n", [TagExample(["EU"], ["I-ORG"])]),
    "tsv": ("classify", "good film \t1\n", [ClassifyExample(["good", "film"], "1")]),
    "csv": ("classify", "good film,1\n", [ClassifyExample(["good", "film"], "1")]),
    "jsonl": ("classify", '{"text": "good", "label": 1}\n', [ClassifyExample(["good"], "1")]),
    "text": ("lm", "hi\n", ["h", "i", "\n"]),
}


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


@pytest.mark.parametrize(
    "name, task, expected",
    [
        ("a.conllu", "tag", "conllu"),
        ("a.CONLL", "tag", "conll"),
        ("a.tsv", "classify", "tsv"),
        ("a.csv", "classify", "csv"),
        ("a.jsonl", "tag", "jsonl"),
        ("a.json", "classify", "jsonl"),
        ("a.txt", "tag", "conll"),
        ("a.txt", "lm", "text"),
        ("a.conllu", "lm", "text"),
    ],
)
def test_extension_decides_the_format(tmp_path, name, task, expected):
    assert detect_format(write(tmp_path, name, ""), task) == expected


@pytest.mark.parametrize(
    "content, task, expected",
    [
        ("-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\n", "tag", "conll"),  # like eng.train
        (f"# newdoc\n# sent_id = 1\n{CONLLU_LINE}", "tag", "conllu"),
        (CONLLU_LINE, "tag", "conllu"),
        ('{"tokens": ["a"], "tags": ["O"]}\n', "tag", "jsonl"),
        ("hide new secretions \t0\n", "classify", "tsv"),  # like sentiment-train
        ("text,label\nok,1\n", "classify", "csv"),
        ('\n{"text": "a", "label": 0}\n', "classify", "jsonl"),
        ("", "classify", "tsv"),
        ("anything at all\n", "lm", "text"),
    ],
)
def test_files_without_extension_are_sniffed(tmp_path, content, task, expected):
    assert detect_format(write(tmp_path, "data", content), task) == expected


def test_txt_for_classify_is_sniffed(tmp_path):
    assert detect_format(write(tmp_path, "a.txt", "good\t1\n"), "classify") == "tsv"


def test_unrecognisable_classification_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match=r"data:1: cannot tell the format"):
        detect_format(write(tmp_path, "data", "just words\n"), "classify")


@pytest.mark.parametrize("fmt", sorted(SAMPLES))
def test_read_dataset_reads_every_format(tmp_path, fmt):
    task, content, expected = SAMPLES[fmt]
    assert read_dataset(write(tmp_path, "data", content), task, format=fmt) == expected


def test_read_dataset_detects_the_format_and_passes_column_and_unit(tmp_path):
    conllu = write(tmp_path, "a.conllu", CONLLU_LINE)
    assert read_dataset(conllu, "tag", column="xpos") == [TagExample(["Hi"], ["UH"])]
    text = write(tmp_path, "a.txt", "a b\n")
    assert read_dataset(text, "lm", unit="word") == ["a", "b", "<eos>"]


@pytest.mark.parametrize(
    "kwargs, task, match",
    [
        ({"format": "xml"}, "tag", "format must be one of conllu, conll, tsv, csv, jsonl, text"),
        ({"format": "conllu"}, "classify", "format 'conllu' cannot feed task 'classify'"),
        ({"format": "text"}, "tag", "format 'text' cannot feed task 'tag'"),
        ({"format": "jsonl", "column": "x"}, "tag", "column applies to conllu"),
        ({"unit": "byte"}, "lm", "unit must be"),
        ({}, "parse", "task must be one of classify, tag, lm"),
    ],
)
def test_bad_arguments_are_value_errors_naming_them(tmp_path, kwargs, task, match):
    path = write(tmp_path, "data", CONLLU_LINE)
    with pytest.raises(ValueError, match=match) as info:
        read_dataset(path, task, **kwargs)
    assert not isinstance(info.value, DataError)


# Robustness of every reader, through the entry point.
FORMATS = sorted(SAMPLES)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("content", [b"", b"\n\n  \n"])
def test_empty_or_blank_file_is_a_data_error_for_every_format(tmp_path, fmt, content):
    task = SAMPLES[fmt][0]
    path = write(tmp_path, "data", content)
    with pytest.raises(DataError) as info:
        read_dataset(path, task, format=fmt)
    assert str(info.value).startswith(f"{path}: ")


@pytest.mark.parametrize("fmt", FORMATS)
def test_invalid_utf8_is_a_data_error_with_line_for_every_format(tmp_path, fmt):
    task, content, _ = SAMPLES[fmt]
    path = write(tmp_path, "data", content.encode() + b"\xc3\x28\n")
    with pytest.raises(DataError, match="invalid UTF-8 byte 0xc3") as info:
        read_dataset(path, task, format=fmt)
    assert info.value.line == content.count("\n") + 1


@pytest.mark.parametrize(
    "fmt, content, line",
    [
        ("conllu", CONLLU_LINE + "2\tthere\tINTJ\n", 2),
        ("conll", "EU NNP I-ORG\nrejects O\n", 2),
        ("tsv", "a\t1\nb\t1\t2\n", 2),
        ("csv", "a,1\nb\n", 2),
    ],
)
def test_wrong_column_count_names_the_line(tmp_path, fmt, content, line):
    path = write(tmp_path, "data", content)
    with pytest.raises(DataError) as info:
        read_dataset(path, SAMPLES[fmt][0], format=fmt)
    assert info.value.line == line and str(info.value).startswith(f"{path}:{line}: expected")


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_megabyte_single_line_reads_or_fails_cleanly(tmp_path, fmt):
    task = SAMPLES[fmt][0]
    long = "x" * 1_000_000
    content = {
        "conllu": f"1\t{long}\t_\tX\t_\t_\t0\troot\t_\t_\n",
        "conll": f"{long} O\n",
        "tsv": f"{long}\t1\n",
        "csv": f"{long},1\n",
        "jsonl": f'{{"text": "{long}", "label": 1}}\n',
        "text": long,
    }[fmt]
    data = read_dataset(write(tmp_path, "data", content), task, format=fmt)
    assert len(data) == (1_000_000 if fmt == "text" else 1)


def test_classification_with_empty_text_is_a_data_error_in_every_format(tmp_path):
    for name, content in [
        ("a.tsv", "\t1\n"),
        ("a.csv", ",1\n"),
        ("a.jsonl", '{"text":"","label":1}'),
    ]:
        with pytest.raises(DataError, match=":1: expected a text"):
            read_dataset(write(tmp_path, name, content), "classify")


def test_examples_remember_their_source_line(tmp_path):
    conll = tmp_path / "a.conll"
    conll.write_text("-DOCSTART- O\n\nEU I-ORG\nrejects O\n\nPeter I-PER\n")
    assert [e.line for e in read_dataset(conll, "tag")] == [3, 6]
    tsv = tmp_path / "a.tsv"
    tsv.write_text("text\tlabel\ngood film\t1\nbad film\t0\n")
    assert [e.line for e in read_dataset(tsv, "classify")] == [2, 3]
    jsonl = tmp_path / "a.jsonl"
    jsonl.write_text('{"text": "a b", "label": 1}\n\n{"text": "c", "label": 0}\n')
    assert [e.line for e in read_dataset(jsonl, "classify")] == [1, 3]
    conllu = tmp_path / "a.conllu"
    conllu.write_text(
        "# sent_id = 1\n1\tHi\thi\tINTJ\t_\t_\t0\troot\t_\t_\n\n"
        "# sent_id = 2\n1-2\tdon't\t_\t_\t_\t_\t_\t_\t_\t_\n"
        "1\tdo\tdo\tAUX\t_\t_\t0\troot\t_\t_\n2\tn't\tnot\tPART\t_\t_\t1\tadvmod\t_\t_\n"
    )
    assert [e.line for e in read_dataset(conllu, "tag")] == [2, 6]


# Encodings: a UTF-8 byte-order mark is nothing; UTF-16 and UTF-32 are named.
SAMPLES_WITH_HEADER = {  # a second look at the readers whose first line is special
    "tsv-header": ("tsv", "classify", "text\tlabel\ngood film\t1\n"),
    "csv-header": ("csv", "classify", "text,label\ngood film,1\n"),
    "conllu-plus": ("conllu", "tag", "# global.columns = ID FORM UPOS\n1\tHi\tINTJ\n"),
    "conll-docstart": ("conll", "tag", "-DOCSTART- -X- O O\n\nEU NNP I-ORG\n"),
    "jsonl-tag": ("jsonl", "tag", '{"tokens": ["EU"], "tags": ["B-ORG"]}\n'),
    "text-word": ("text", "lm", "hi there\n"),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_utf8_byte_order_mark_reads_as_without_it_in_every_format(tmp_path, fmt):
    task, content, expected = SAMPLES[fmt]
    path = write(tmp_path, "data", b"\xef\xbb\xbf" + content.encode())
    assert read_dataset(path, task, format=fmt) == expected
    assert read_dataset(path, task) == expected  # and through format detection


@pytest.mark.parametrize("case", sorted(SAMPLES_WITH_HEADER))
def test_utf8_byte_order_mark_before_a_header_or_first_line(tmp_path, case):
    fmt, task, content = SAMPLES_WITH_HEADER[case]
    plain = read_dataset(write(tmp_path, "plain", content), task, format=fmt)
    marked = read_dataset(write(tmp_path, "marked", "\ufeff" + content), task, format=fmt)
    assert marked == plain and marked
    assert all("\ufeff" not in "".join(e.tokens) for e in marked if not isinstance(e, str))


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-be"])
@pytest.mark.parametrize("fmt", [*FORMATS, None])
def test_utf16_and_utf32_are_named_by_every_reader_and_by_detection(tmp_path, fmt, codec):
    task, content, _ = SAMPLES[fmt or "tsv"]
    path = write(tmp_path, "data", content.encode(codec))  # no extension: sniffed when None
    with pytest.raises(DataError) as info:
        read_dataset(path, task, format=fmt)
    assert str(info.value).startswith(f"{path}: the file is UTF-")
    assert "save it as UTF-8" in str(info.value)


@pytest.mark.parametrize("fmt", FORMATS)
def test_nul_byte_is_a_data_error_with_line_for_every_format(tmp_path, fmt):
    task, content, _ = SAMPLES[fmt]
    path = write(tmp_path, "data", content.encode() + b"a\x00b\n")
    with pytest.raises(DataError, match="NUL byte at byte 2 of the line") as info:
        read_dataset(path, task, format=fmt)
    assert info.value.line == content.count("\n") + 1


# A format that cannot feed the task: say what to pass instead.
@pytest.mark.parametrize(
    "name, content, task, fmt, says",
    [
        (  # the case: token<TAB>tag columns saved as .tsv
            "ner.tsv",
            "EU\tB-ORG\nrejects\tO\n\nPeter\tB-PER\n",
            "tag",
            None,
            "format 'tsv' (from the extension .tsv) cannot feed task 'tag' (it feeds classify);"
            " the file looks like CoNLL token/tag columns: use format 'conll' (--format conll)",
        ),
        (
            "ner.txt",
            "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\nrejects VBZ I-VP O\n",
            "tag",
            "csv",
            "format 'csv' cannot feed task 'tag' (it feeds classify); the file looks like CoNLL "
            "token/tag columns: use format 'conll' (--format conll)",
        ),
        ("ud.tsv", CONLLU_LINE, "tag", None, "looks like CoNLL-U: use format 'conllu'"),
        (
            "sst.conll",
            "text\tlabel\nhide new secretions \t0\ngood fun\t1\n",
            "classify",
            None,
            "format 'conll' (from the extension .conll) cannot feed task 'classify' (it feeds "
            "tag); the file looks like text and label rows: use format 'tsv' (--format tsv)",
        ),
        ("sst.txt", "a fine film,1\nbad one,0\n", "classify", "conll", "use format 'csv'"),
        ("ud.conllu", CONLLU_LINE, "lm", "conllu", "lm reads any file as plain text"),
        (
            "sst.tsv",
            "hide new secretions \t0\n",
            "tag",
            None,
            "cannot feed task 'tag' (it feeds classify); for task 'tag' give one of the formats "
            "conllu, conll, jsonl",
        ),
    ],
)
def test_format_that_cannot_feed_the_task_says_what_to_use(
    tmp_path, name, content, task, fmt, says
):
    path = write(tmp_path, name, content)
    with pytest.raises(ValueError) as info:
        read_dataset(path, task, format=fmt)
    assert not isinstance(info.value, DataError)
    assert says in str(info.value) and "\n" not in str(info.value)


def test_format_hint_for_a_missing_file_is_the_general_one(tmp_path):
    with pytest.raises(ValueError, match="give one of the formats conllu, conll, jsonl$"):
        read_dataset(tmp_path / "absent.tsv", "tag")


def test_read_dataset_passes_column_to_conll_files(tmp_path):
    path = write(tmp_path, "eng.testa", "-DOCSTART- -X- O O\n\nEU NNP I-NP I-ORG\n")
    assert read_dataset(path, "tag", column="pos") == [TagExample(["EU"], ["NNP"])]
    assert read_dataset(path, "tag", format="conll", column="3") == [TagExample(["EU"], ["I-NP"])]
