"""rnnseq.data.table_reader: TSV/CSV text and label columns, header optional."""

import csv

import pytest

from rnnseq.data import ClassifyExample, DataError, read_csv, read_tsv


@pytest.fixture
def write(tmp_path):
    def write(text: str, name: str = "x.tsv"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8", newline="")
        return path

    return write


def test_sst2_rows_strip_the_space_before_the_tab(write):
    path = write('it \'s a " charming " film \t1\nno .\t0\n')
    assert read_tsv(path) == [
        ClassifyExample(["it", "'s", "a", '"', "charming", '"', "film"], "1"),
        ClassifyExample(["no", "."], "0"),
    ]


def test_header_row_naming_the_columns_is_skipped(write):
    assert read_tsv(write("Text\tLabel\ngood\tpos\n")) == [ClassifyExample(["good"], "pos")]


def test_csv_header_puts_columns_in_any_order_and_quotes_work(write):
    path = write('id,label,sentence\n7,neg,"bad, really\nbad"\n8,pos,fine\n', "x.csv")
    assert read_csv(path) == [
        ClassifyExample(["bad,", "really", "bad"], "neg"),
        ClassifyExample(["fine"], "pos"),
    ]


def test_without_header_text_is_first_and_label_last(write):
    assert read_tsv(write("good film\tmeta\tpos\n")) == [ClassifyExample(["good", "film"], "pos")]


def test_column_names_the_label_column_of_a_header(write):
    path = write("review,stars\ngreat,5\n", "x.csv")
    assert read_csv(path, column="Stars") == [ClassifyExample(["great"], "5")]


def test_column_without_matching_header_is_a_data_error(write):
    with pytest.raises(DataError, match=r":1: expected a header row naming the column 'stars'"):
        read_tsv(write("great\t5\n"), column="stars")


def test_row_with_other_field_count_names_its_line(write):
    path = write("a\t1\n\nb\t2\tx\n")
    with pytest.raises(DataError) as info:
        read_tsv(path)
    assert str(info.value) == f"{path}:3: expected 2 fields as on line 1, got 3"


def test_csv_record_after_a_quoted_newline_reports_its_first_line(write):
    path = write('"a\nb",1\nc,1,2\n', "x.csv")
    with pytest.raises(DataError, match=r":3: expected 2 fields"):
        read_csv(path)


@pytest.mark.parametrize(
    "text, reason",
    [(" \t1\n", "expected a text, got an empty one"), ("good\t \n", "expected a label")],
)
def test_empty_text_or_label_is_a_data_error(write, text, reason):
    with pytest.raises(DataError, match=f":1: {reason}"):
        read_tsv(write(text))


def test_single_column_is_a_data_error(write):
    with pytest.raises(DataError, match=r":1: expected a text and a label column"):
        read_tsv(write("just text\n"))


@pytest.mark.parametrize("text", ["", "\n\n \n", "text\tlabel\n"])
@pytest.mark.parametrize("reader, name", [(read_tsv, "x.tsv"), (read_csv, "x.csv")])
def test_file_without_examples_is_a_data_error(write, text, reader, name):
    with pytest.raises(DataError, match="no (rows|examples) found"):
        reader(write(text.replace("\t", "," if name.endswith("csv") else "\t"), name))


def test_one_megabyte_line_is_read_and_csv_limit_is_restored(write):
    text = " ".join(["word"] * 200_000)
    limit = csv.field_size_limit()
    assert len(read_tsv(write(f"{text}\t1\n"))[0].tokens) == 200_000
    assert len(read_csv(write(f"{text},1\n", "x.csv"))[0].tokens) == 200_000
    assert csv.field_size_limit() == limit


def test_unterminated_quote_is_a_data_error(write):
    with pytest.raises(DataError):
        read_csv(write('"never closed,1\nmore,2\n', "x.csv"))
