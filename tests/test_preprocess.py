"""rnnseq.preprocess: a file's tags meet a model's labels. Mismatches that leave
nothing to score are errors naming the file; scheme errors name file and line;
messages name tags as the file wrote them, not in the learned scheme."""

from __future__ import annotations

import json
import warnings

import pytest

from model_folder_factory import make_model_folder
from rnnseq.cli import main
from rnnseq.data import ClassifyExample, DataError, TagExample
from rnnseq.preprocess import SchemeMap, class_weight_values
from rnnseq.tasks import get_task
from rnnseq.training.config import TrainConfig

POS = [
    TagExample(["the", "cat", "sat"], ["DET", "NOUN", "VERB"], line=1),
    TagExample(["a", "dog"], ["DET", "NOUN"], line=5),
]
NER = [  # IOB2, as CoNLL-2003 converted or most NER files today
    TagExample(["EU", "rejects", "German", "call"], ["B-ORG", "O", "B-MISC", "O"], line=1),
    TagExample(["Peter", "Blackburn", "said"], ["B-PER", "I-PER", "O"], line=6),
]


def vocabs_of(train, task="tag"):
    cfg = TrainConfig(task=task, train="t", out="o", min_freq=1, char_features="none")
    return get_task(task).build_vocabularies(train, cfg.resolved())


def encode_examples(examples, vocabs, task, *, path):
    """The examples as the task encodes labelled data (ids and targets)."""
    return get_task(task).encode(examples, vocabs, path=path)


def ner_model():
    """The schemes and vocabularies of a model trained on NER with the default IOBES."""
    schemes = SchemeMap.choose(NER, "iobes")
    return schemes, vocabs_of(schemes.to_learned(NER))


def test_pos_model_on_a_ner_file_is_an_error_naming_both_tag_sets():
    with pytest.raises(DataError) as info:
        encode_examples(NER, vocabs_of(POS), "tag", path="ner.conll")
    message = str(info.value)
    assert info.value.path == "ner.conll" and info.value.line is None
    assert "the model knows none of the file's tags, so nothing can be scored" in message
    assert "it knows the tags 'DET', 'NOUN', 'VERB'" in message
    assert "the file has the span types MISC, ORG, PER" in message


def test_ner_model_on_a_pos_file_is_the_same_error_not_a_scheme_error():
    schemes, vocabs = ner_model()
    learned = schemes.to_learned(POS, path="pos.conllu")
    assert learned == POS  # no span tags: nothing to rewrite
    with pytest.raises(DataError) as info:
        encode_examples(learned, vocabs, "tag", path="pos.conllu")
    assert str(info.value).startswith("pos.conllu: the model knows none of the file's tags")
    assert (
        "it knows the span types MISC, ORG, PER; the file has the tags 'DET', 'NOUN', 'VERB'"
        in str(info.value)
    )


def test_file_mixing_span_and_other_tags_names_file_and_line():
    schemes, _ = ner_model()
    mixed = [NER[0], TagExample(["he", "ran"], ["O", "VERB"], line=9)]
    with pytest.raises(DataError) as info:
        schemes.to_learned(mixed, path="dev.conll")
    assert str(info.value).startswith("dev.conll:9: expected span tags (O, B-X, I-X, ...)")
    assert "model's IOB2 training data, got 'VERB'" in str(info.value)
    with pytest.raises(ValueError, match=r"^examples\[1\]\.tags: expected span tags"):
        schemes.to_learned(mixed)


def test_unseen_tags_are_named_in_the_files_scheme_not_the_learned_one():
    schemes, vocabs = ner_model()
    dev = [TagExample(["Ann", "Lee", "in", "Rome"], ["B-person", "I-person", "O", "B-LOC"])]
    learned = schemes.to_learned(dev, path="dev.conll")
    assert learned[0].tags == ["B-person", "E-person", "O", "S-LOC"]
    with pytest.warns(UserWarning) as caught:
        encoded = encode_examples(learned, vocabs, "tag", path="dev.conll")
    (warning,) = caught
    message = str(warning.message)
    assert "3 token(s) carry tags never seen in training" in message
    assert "B-person (1), I-person (1), B-LOC (1)" in message
    assert "E-person" not in message and "S-LOC" not in message
    assert encoded.targets[0][2] == vocabs.labels.encode(["O"])[0]


def test_file_in_another_scheme_than_a_kept_one_is_rewritten():
    schemes = SchemeMap.choose(NER, "keep")  # learned = source = IOB2
    iobes = [TagExample(["Peter", "Blackburn"], ["B-PER", "E-PER"])]
    assert schemes.to_learned(iobes)[0].tags == ["B-PER", "I-PER"]
    assert schemes.to_learned(iobes)[0].source_tags == ["B-PER", "E-PER"]
    assert schemes.to_learned(NER) == NER


def test_all_o_file_and_file_of_known_tags_encode_without_a_word():
    schemes, vocabs = ner_model()
    plain = [TagExample(["nothing", "here"], ["O", "O"])]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoded = encode_examples(schemes.to_learned(plain), vocabs, "tag", path="x")
        encode_examples(schemes.to_learned(NER), vocabs, "tag", path="x")
    assert encoded.targets == [vocabs.labels.encode(["O", "O"])]


def test_classifier_on_a_file_of_other_labels_says_none_is_known():
    train = [ClassifyExample(["good"], "1", 1), ClassifyExample(["bad"], "0", 2)]
    dev = [ClassifyExample(["good"], "positive", 3), ClassifyExample(["bad"], "negative", 4)]
    with pytest.raises(DataError) as info:
        encode_examples(dev, vocabs_of(train, "classify"), "classify", path="dev.tsv")
    assert str(info.value).startswith("dev.tsv:3: label 'positive' never occurs")
    assert "the model knows none of the file's labels (positive, negative)" in str(info.value)
    one_known = [dev[0], ClassifyExample(["ok"], "1", 7)]
    with pytest.raises(DataError) as info:
        encode_examples(one_known, vocabs_of(train, "classify"), "classify", path="dev.tsv")
    assert "none of the file's labels" not in str(info.value)


# The two cases through the command line: exit 2, one line naming the file.
@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("mismatch")
    return {
        "pos": make_model_folder(root / "pos", "tag"),
        "ner": make_model_folder(root / "ner", "ner"),
    }


@pytest.mark.parametrize(
    "model, tokens, tags, says",
    [
        ("pos", ["EU", "rejects", "it"], ["B-ORG", "O", "O"], "the file has the span types ORG"),
        ("ner", ["the", "cat"], ["DET", "NOUN"], "the file has the tags 'DET', 'NOUN'"),
    ],
)
def test_evaluate_on_the_wrong_kind_of_data_exits_2_with_one_line(
    folders, tmp_path, capsys, model, tokens, tags, says
):
    path = tmp_path / "wrong.jsonl"
    path.write_text(json.dumps({"tokens": tokens, "tags": tags}) + "\n")
    code = main(["evaluate", "--model", str(folders[model]), "--data", str(path), "--json"])
    out, err = capsys.readouterr()
    assert code == 2 and out == "", err
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert f"{path}: the model knows none of the file's tags" in err and says in err


@pytest.mark.parametrize("task", ["classify", "tag"])
def test_balanced_weights_are_the_same_from_flat_arrays_and_from_lists(task):
    """A training set's targets are flat arrays (EncodedDataset); the weights are the
    ones the lists of ids give."""
    train = [ClassifyExample(["x"], y) for y in "aabbbbc"] if task == "classify" else POS
    vocabs = vocabs_of(train, task)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoded = encode_examples(train, vocabs, task, path="train")
    flat = class_weight_values("balanced", vocabs.labels, encoded.targets)
    lists = encoded.targets.tolist()
    assert flat == class_weight_values("balanced", vocabs.labels, lists)
    n = len(vocabs.labels)
    if task == "classify":  # b 4, a 2, c 1 of 7: w_c = 7 / (3 · n_c)
        assert flat == pytest.approx([7 / (n * 4), 7 / (n * 2), 7 / (n * 1)])
    else:  # DET 2, NOUN 2, VERB 1 of 5
        assert flat == pytest.approx([5 / (n * 2), 5 / (n * 2), 5 / (n * 1)])
