"""rnnseq.data.encoded: examples as id lists, with optional character ids."""

import pytest

from rnnseq.data import ClassifyExample, EncodedDataset, TagExample, Vocab

TAGGED = [TagExample(["The", "cat"], ["DET", "NOUN"]), TagExample(["Hi"], ["INTJ"])]


def test_tag_examples_become_token_tag_and_char_ids():
    words = Vocab.build(e.tokens for e in TAGGED)
    tags = Vocab.build((e.tags for e in TAGGED), specials=())
    chars = Vocab.build(w for e in TAGGED for w in e.tokens)
    data = EncodedDataset.from_examples(TAGGED, words, tags, char_vocab=chars)
    assert data.per_step and len(data) == 2 and data.lengths == [2, 1]
    assert data.tokens == [words.encode(["The", "cat"]), words.encode(["Hi"])]
    assert data.targets == [[0, 1], [2]]
    assert data.chars[0][1] == chars.encode("cat")


def test_classify_examples_get_one_target_each():
    examples = [ClassifyExample(["good"], "pos"), ClassifyExample(["bad", "!"], "neg")]
    labels = Vocab.build([[e.label for e in examples]], specials=())
    data = EncodedDataset.from_examples(examples, Vocab.build([["good"]]), labels)
    assert not data.per_step and data.targets == [0, 1] and data.chars is None
    assert data.tokens == [[2], [1, 1]]


def test_long_words_keep_their_first_max_word_len_characters():
    chars = Vocab.build(["abcdef"])
    data = EncodedDataset.from_tokens(
        [["abcdef"]], Vocab([]), per_step=True, char_vocab=chars, max_word_len=3
    )
    assert data.chars == [[chars.encode("abc")]] and data.targets is None


def test_unknown_label_is_a_value_error_naming_it():
    labels = Vocab(["DET"], specials=())
    with pytest.raises(ValueError, match="'NOUN'"):
        EncodedDataset.from_examples(TAGGED, Vocab([]), labels)


def test_bad_arguments_are_value_errors_naming_them():
    with pytest.raises(ValueError, match="examples must be all"):
        EncodedDataset.from_examples([TAGGED[0], ClassifyExample(["a"], "x")], Vocab([]), Vocab([]))
    with pytest.raises(ValueError, match="char_vocab"):
        EncodedDataset.from_tokens(
            [["a"]], Vocab([]), per_step=True, char_vocab=Vocab(["a"], specials=())
        )
    with pytest.raises(ValueError, match="max_word_len"):
        EncodedDataset.from_tokens([["a"]], Vocab([]), per_step=True, max_word_len=0)
