"""rnnseq.data.conllu_reader: UD sentences, words only, tags from any field."""

import pytest

from rnnseq.data import DataError, TagExample, read_conllu

SAMPLE = """\
# sent_id = 1
# text = I don't know.
1\tI\tI\tPRON\tPRP\t_\t4\tnsubj\t_\t_
2-3\tdon't\t_\t_\t_\t_\t_\t_\t_\t_
2\tdo\tdo\tAUX\tVBP\t_\t4\taux\t_\t_
3\tn't\tnot\tPART\tRB\t_\t4\tadvmod\t_\t_
4\tknow\tknow\tVERB\tVB\t_\t0\troot\t_\t_
4.1\tit\tit\tPRON\tPRP\t_\t_\t_\t4:obj\t_
5\t.\t.\tPUNCT\t.\t_\t4\tpunct\t_\t_

# sent_id = 2
1\tYes\tyes\tINTJ\tUH\t_\t0\troot\t_\t_
"""


@pytest.fixture
def write(tmp_path):
    def write(text: str, name: str = "x.conllu"):
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        return path

    return write


def test_reads_words_and_skips_multiword_ranges_and_empty_nodes(write):
    assert read_conllu(write(SAMPLE)) == [
        TagExample(["I", "do", "n't", "know", "."], ["PRON", "AUX", "PART", "VERB", "PUNCT"]),
        TagExample(["Yes"], ["INTJ"]),
    ]


@pytest.mark.parametrize(
    "column, first",
    [
        ("XPOS", ["PRP", "VBP", "RB", "VB", "."]),
        ("deprel", ["nsubj", "aux", "advmod", "root", "punct"]),
        ("UPOSTAG", ["PRON", "AUX", "PART", "VERB", "PUNCT"]),
    ],
)
def test_tags_come_from_the_named_field_case_insensitively(write, column, first):
    assert read_conllu(write(SAMPLE), column=column)[0].tags == first


def test_unknown_column_is_a_value_error_naming_column(write):
    with pytest.raises(ValueError, match="column must be a CoNLL-U field .* got 'ner'"):
        read_conllu(write(SAMPLE), column="ner")


def test_line_with_wrong_field_count_names_file_and_line(write):
    path = write(SAMPLE.replace("3\tn't\tnot\tPART\tRB\t_", "3\tn't\tnot\tPART\tRB"))
    with pytest.raises(DataError) as info:
        read_conllu(path)
    assert str(info.value) == f"{path}:6: expected 10 tab-separated fields, got 9"


def test_space_separated_line_is_rejected_with_its_line(write):
    path = write("1 I I PRON PRP _ 0 root _ _\n")
    with pytest.raises(DataError, match=r":1: expected 10 tab-separated fields, got 1"):
        read_conllu(path)


def test_bad_id_is_a_data_error_not_a_conllu_exception(write):
    path = write(SAMPLE.replace("5\t.\t.", "five\t.\t."))
    with pytest.raises(DataError, match=r":9: expected an ID .* got 'five'"):
        read_conllu(path)


def test_ids_out_of_order_reveal_a_missing_blank_line(write):
    path = write(SAMPLE.replace("\n\n# sent_id = 2\n", "\n"))
    with pytest.raises(DataError, match=r":10: expected word ID 6, got 1"):
        read_conllu(path)


def test_underscore_tag_is_an_error_naming_the_field(write):
    path = write("1\tI\tI\t_\tPRP\t_\t0\troot\t_\t_\n")
    with pytest.raises(DataError, match=r":1: expected a UPOS tag, got '_'"):
        read_conllu(path)


def test_last_sentence_without_blank_line_and_crlf_are_read(write):
    examples = read_conllu(write(SAMPLE.replace("\n", "\r\n").rstrip()))
    assert [e.tokens for e in examples] == [["I", "do", "n't", "know", "."], ["Yes"]]


def test_conllu_plus_global_columns_choose_the_fields(write):
    text = "# global.columns = ID FORM UPOS\n1\tHi\tINTJ\n2\t!\tPUNCT\n"
    assert read_conllu(write(text)) == [TagExample(["Hi", "!"], ["INTJ", "PUNCT"])]


@pytest.mark.parametrize("text", ["", "\n\n  \n", "# only = comments\n\n"])
def test_file_without_sentences_is_a_data_error(write, text):
    path = write(text)
    with pytest.raises(DataError, match="no sentences found") as info:
        read_conllu(path)
    assert info.value.line is None and info.value.path == str(path)


# "_" is CoNLL-U's "no value": a tag of its own in every field but UPOS.
NO_FEATURES = """\
1\tI\tI\tPRON\t_\tCase=Nom|Number=Sing\t2\tnsubj\t_\t_
2\tran\trun\tVERB\t_\tTense=Past\t0\troot\t_\tSpaceAfter=No
3\t.\t.\tPUNCT\t_\t_\t2\tpunct\t_\t_
"""


@pytest.mark.parametrize(
    "column, tags",
    [
        ("feats", ["Case=Nom|Number=Sing", "Tense=Past", "_"]),
        ("misc", ["_", "SpaceAfter=No", "_"]),
    ],
)
def test_underscore_is_the_no_value_tag_in_optional_fields(write, column, tags):
    assert read_conllu(write(NO_FEATURES), column=column) == [TagExample(["I", "ran", "."], tags)]


def test_field_that_is_underscore_on_every_word_is_an_error_naming_it(write):
    path = write(NO_FEATURES)
    with pytest.raises(DataError) as info:
        read_conllu(path, column="xpos")
    assert info.value.line is None
    assert str(info.value).startswith(f"{path}: the XPOS field is '_' (no value) on every word")


def test_empty_tag_field_is_an_error_even_where_underscore_is_allowed(write):
    path = write(NO_FEATURES.replace("Tense=Past", ""))
    with pytest.raises(DataError, match=r":2: expected a FEATS value, got an empty field"):
        read_conllu(path, column="feats")


def test_ud_files_read_with_every_optional_field(shared_data):
    """The issue's case: --column feats on EWT dev failed at line 5 on '_'."""
    path = shared_data / "ud_english_ewt" / "en_ewt-ud-dev.conllu"
    upos = read_conllu(path)
    for column in ("xpos", "feats", "lemma", "deprel", "deps", "misc"):
        examples = read_conllu(path, column=column)
        assert [e.tokens for e in examples] == [e.tokens for e in upos]
    feats = [t for e in read_conllu(path, column="feats") for t in e.tags]
    assert feats.count("_") == 7830 and len(feats) == 25147  # counted with awk
