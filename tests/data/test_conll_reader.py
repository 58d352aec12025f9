"""rnnseq.data.conll_reader: token ... tag columns, -DOCSTART- skipped, IOB1 allowed."""

import pytest

from rnnseq.data import DataError, TagExample, read_conll

CONLL2003 = """\
-DOCSTART- -X- O O

EU NNP I-NP I-ORG
rejects VBZ I-VP O
German JJ I-NP I-MISC

Peter NNP I-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- O O

BRUSSELS NNP I-NP I-LOC
"""


@pytest.fixture
def write(tmp_path):
    def write(text: str, name: str = "x.conll"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_reads_token_and_last_column_skipping_docstart(write):
    assert read_conll(write(CONLL2003)) == [
        TagExample(["EU", "rejects", "German"], ["I-ORG", "O", "I-MISC"]),
        TagExample(["Peter", "Blackburn"], ["I-PER", "I-PER"]),
        TagExample(["BRUSSELS"], ["I-LOC"]),
    ]


def test_iob1_entity_starting_with_i_is_accepted_as_written(write):
    assert read_conll(write("Peter I-PER\nsaid O\n"))[0].tags == ["I-PER", "O"]


def test_tab_separated_columns_keep_spaces_inside_a_token(write):
    text = "New York\tB-LOC\ncity\tO\n"
    assert read_conll(write(text)) == [TagExample(["New York", "city"], ["B-LOC", "O"])]


def test_docstart_inside_a_sentence_ends_it(write):
    text = "a O\n-DOCSTART- -X- O O\nb O\n"
    assert [e.tokens for e in read_conll(write(text))] == [["a"], ["b"]]


def test_several_blank_lines_make_no_empty_sentences(write):
    assert len(read_conll(write("\n\na O\n\n\n\nb O\n\n"))) == 2


def test_inconsistent_column_count_names_the_line(write):
    path = write("EU NNP I-ORG\nrejects O\n")
    with pytest.raises(DataError) as info:
        read_conll(path)
    assert str(info.value) == f"{path}:2: expected 3 columns as on line 1, got 2"


def test_single_column_is_an_error(write):
    with pytest.raises(DataError, match=r":2: expected a token and a tag column"):
        read_conll(write("\nlonely\n"))


def test_empty_tab_field_is_an_error(write):
    with pytest.raises(DataError, match=r":1: expected a value in every column"):
        read_conll(write("\tO\n"))


@pytest.mark.parametrize("text", ["", "\n \n\t\n", "-DOCSTART- -X- O O\n\n"])
def test_file_without_sentences_is_a_data_error(write, text):
    with pytest.raises(DataError, match="no sentences found"):
        read_conll(write(text))
