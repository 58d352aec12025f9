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


# column: which tag column, by number counted from 1 (the token) or by layout name.
@pytest.mark.parametrize(
    "column, first",
    [
        (None, ["I-ORG", "O", "I-MISC"]),
        ("ner", ["I-ORG", "O", "I-MISC"]),
        ("NE", ["I-ORG", "O", "I-MISC"]),
        ("tag", ["I-ORG", "O", "I-MISC"]),
        ("4", ["I-ORG", "O", "I-MISC"]),
        ("chunk", ["I-NP", "I-VP", "I-NP"]),
        ("3", ["I-NP", "I-VP", "I-NP"]),
        ("POS", ["NNP", "VBZ", "JJ"]),
        (2, ["NNP", "VBZ", "JJ"]),
    ],
)
def test_column_chooses_the_tag_column_by_number_or_name(write, column, first):
    examples = read_conll(write(CONLL2003), column=column)
    assert examples[0] == TagExample(["EU", "rejects", "German"], first)
    assert [e.tokens for e in examples] == [
        ["EU", "rejects", "German"],
        ["Peter", "Blackburn"],
        ["BRUSSELS"],
    ]


@pytest.mark.parametrize(
    "layout, column, expected",
    [
        ("EU B-ORG", "ner", "B-ORG"),  # CoNLL-2002 Spanish: token NER
        ("EU NNP B-NP", "chunk", "B-NP"),  # CoNLL-2000: token POS chunk
        ("EU NNP B-ORG", "ner", "B-ORG"),  # CoNLL-2002 Dutch: token POS NER
        ("EU NNP B-ORG", "pos", "NNP"),
        ("EU eu NE I-NC B-ORG", "ner", "B-ORG"),  # CoNLL-2003 German: token lemma POS chunk NER
        ("EU eu NE I-NC B-ORG", "lemma", "eu"),
        ("EU eu NE I-NC B-ORG", "pos", "NE"),
        ("EU eu NE I-NC B-ORG", "chunk", "I-NC"),
    ],
)
def test_column_names_follow_the_shared_task_layouts(write, layout, column, expected):
    assert read_conll(write(layout + "\n"), column=column)[0].tags == [expected]


@pytest.mark.parametrize(
    "column, says",
    [
        ("1", ":3: column '1' is the token; the tags can be in columns 2 to 4"),
        ("0", "column '0' does not exist: columns count from 1, the token"),
        ("5", "column '5' is past the file's 4 columns"),
        ("lemma", "'lemma' is not a name of this 4-column layout (pos = 2, chunk = 3, ner = 4"),
        ("upos", "column 'upos' is not a name"),
    ],
)
def test_column_the_file_lacks_is_a_value_error_naming_file_and_layout(write, column, says):
    path = write(CONLL2003)
    with pytest.raises(ValueError) as info:
        read_conll(path, column=column)
    assert not isinstance(info.value, DataError)
    assert f"{path}:3" in str(info.value) and says in str(info.value)


def test_wide_file_takes_column_numbers_only(write):
    path = write("a b c d e f O\n")
    assert read_conll(path, column="6")[0].tags == ["f"]
    with pytest.raises(
        ValueError, match=r"'ner' is not a name of this 7-column layout \(tag = 7\)"
    ):
        read_conll(path, column="ner")


def test_conll2003_columns_by_name(shared_data):
    """Issue 13: POS, chunk and NER of eng.testa, with the counts awk gives."""
    path = shared_data / "conll2003" / "eng.testa"
    by = {c: read_conll(path, column=c) for c in ("pos", "chunk", "ner")}
    assert by["ner"] == read_conll(path)
    assert len({tuple(map(tuple, (e.tokens for e in v))) for v in by.values()}) == 1
    flat = {c: [t for e in v for t in e.tags] for c, v in by.items()}
    # awk 'NF==4 && $1!="-DOCSTART-" {n++; if($2=="NNP")p++; if($3=="I-NP")c++; ...}'
    assert len(flat["pos"]) == 51362 and len(by["pos"]) == 3250
    assert flat["pos"].count("NNP") == 8558
    assert flat["chunk"].count("I-NP") == 30027
    assert flat["ner"].count("I-PER") == 3149


def test_separator_is_the_first_token_lines_for_the_whole_file(write):
    # A tab in a space-separated file is one more column, not a switch to tabs.
    path = write("EU I-ORG\nre\tjects O\n")
    with pytest.raises(DataError, match=r":2: expected 2 columns as on line 1, got 3"):
        read_conll(path)
    # A tab-separated file keeps spaces inside tokens.
    assert read_conll(write("New York\tI-LOC\nis\tO\n"))[0].tokens == ["New York", "is"]


def test_tag_column_with_a_space_in_a_tab_separated_file_is_an_error(write):
    path = write("EU\tB-ORG\nre\tjects O\n")
    with pytest.raises(DataError, match=r":2: expected tag columns without spaces, got 'jects O'"):
        read_conll(path)
    with pytest.raises(DataError, match=r":1: expected tag columns without spaces"):
        read_conll(write("re\tjects O\n"))
