"""rnnseq.preprocess: labelled examples into flat ids; class weights from flat targets."""

from __future__ import annotations

import warnings

import pytest

from rnnseq.data import IGNORE_INDEX, ClassifyExample, TagExample
from rnnseq.preprocess import build_vocabularies, class_weight_values, encode_examples

TAGGED = [
    TagExample(["The", "cat", "sat"], ["DET", "NOUN", "VERB"]),
    TagExample(["A", "dog"], ["DET", "NOUN"]),
    TagExample(["Hi"], ["INTJ"]),
]


def test_unseen_tags_are_ignored_steps_of_flat_targets_with_one_warning():
    vocabs = build_vocabularies(TAGGED[:2], "tag", min_freq=1, lowercase=False, char_features=True)
    with pytest.warns(UserWarning, match="1 token\\(s\\) carry tags never seen in training"):
        encoded = encode_examples(TAGGED, vocabs, "tag", path="dev.conllu")
    tags = vocabs.labels
    assert encoded.targets.tolist() == [
        tags.encode(["DET", "NOUN", "VERB"]),
        tags.encode(["DET", "NOUN"]),
        [IGNORE_INDEX],
    ]
    assert encoded.chars[2] == [vocabs.chars.encode("Hi")]


@pytest.mark.parametrize("task", ["classify", "tag"])
def test_balanced_weights_are_the_same_from_flat_arrays_and_from_lists(task):
    if task == "classify":
        train = [ClassifyExample(["x"], y) for y in "aabbbbc"]
    else:
        train = TAGGED
    vocabs = build_vocabularies(train, task, min_freq=1, lowercase=False, char_features=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        encoded = encode_examples(train, vocabs, task, path="train")
    flat = class_weight_values("balanced", vocabs.labels, encoded.targets)
    lists = encoded.targets.tolist()
    assert flat == class_weight_values("balanced", vocabs.labels, lists)
    n = len(vocabs.labels)
    if task == "classify":  # b 4, a 2, c 1 of 7: w_c = 7 / (3 · n_c)
        assert flat == pytest.approx([7 / (n * 4), 7 / (n * 2), 7 / (n * 1)])
    else:  # DET 2, NOUN 2, VERB 1, INTJ 1 of 6
        assert flat == pytest.approx([6 / (n * 2), 6 / (n * 2), 6 / (n * 1), 6 / (n * 1)])
