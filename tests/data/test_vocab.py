"""rnnseq.data.vocab: deterministic ids, <unk> handling, JSON round trip."""

import json

import pytest

from rnnseq.data import PAD, UNK, DataError, Vocab

SENTENCES = [["the", "cat", "sat"], ["the", "dog", "sat"], ["a", "dog"]]


def test_specials_come_first_with_pad_zero_and_unk_one():
    v = Vocab.build(SENTENCES)
    assert v.tokens[:2] == [PAD, UNK] and (v.pad_id, v.unk_id) == (0, 1)


def test_ids_follow_frequency_then_first_appearance():
    v = Vocab.build(SENTENCES)
    # the 2, sat 2, dog 2 (first seen in that order), then cat 1, a 1
    assert v.tokens[2:] == ["the", "sat", "dog", "cat", "a"]
    assert Vocab.build(SENTENCES) == v


def test_vocab_maps_rare_and_unseen_words_to_unk():
    v = Vocab.build(SENTENCES, min_freq=2)
    assert v.encode(["the", "cat", "zebra"]) == [2, v.unk_id, v.unk_id]
    assert "cat" not in v and "the" in v and 3 not in v


def test_max_size_keeps_the_most_frequent_non_special_entries():
    v = Vocab.build(SENTENCES, max_size=2)
    assert v.tokens == [PAD, UNK, "the", "sat"] and len(v) == 4


def test_lowercase_applies_to_counting_and_lookup():
    v = Vocab.build([["The", "the", "THE"]], lowercase=True)
    assert v.tokens == [PAD, UNK, "the"] and v.encode(["tHe"]) == [2] and "THE" in v


def test_label_vocab_without_unk_rejects_unknown_labels_by_name():
    labels = Vocab.build([["NOUN", "VERB", "NOUN"]], specials=())
    assert labels.tokens == ["NOUN", "VERB"] and labels.pad_id is None and labels.unk_id is None
    assert labels.encode(["VERB"]) == [1]
    with pytest.raises(ValueError, match="token 'ADJ' is not in the vocabulary"):
        labels.encode(["NOUN", "ADJ"])


def test_character_vocab_is_built_from_words_and_keeps_case():
    chars = Vocab.build(["Paris", "is"])
    assert chars.tokens == [PAD, UNK, "i", "s", "P", "a", "r"]
    assert chars.decode(chars.encode("Pas")) == ["P", "a", "s"]


def test_decode_inverts_encode_and_rejects_ids_out_of_range():
    v = Vocab.build(SENTENCES)
    assert v.decode(v.encode(["dog", "sat"])) == ["dog", "sat"]
    with pytest.raises(ValueError, match=r"ids must be in \[0, 7\), got 7"):
        v.decode([7])


def test_duplicate_entries_and_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="'a' appears twice"):
        Vocab(["a", "a"])
    with pytest.raises(ValueError, match="appears twice"):
        Vocab([PAD])
    with pytest.raises(ValueError, match="min_freq"):
        Vocab.build(SENTENCES, min_freq=0)
    with pytest.raises(ValueError, match="max_size"):
        Vocab.build(SENTENCES, max_size=-1)


def test_json_round_trip_keeps_everything(tmp_path):
    v = Vocab.build(
        [["naïve", "日本", "<eos>"]], lowercase=True, specials=("<pad>", "<unk>", "<s>")
    )
    path = tmp_path / "vocab.json"
    v.save(path)
    w = Vocab.load(path)
    assert w == v and w.tokens == v.tokens and w.lowercase and w.specials == v.specials
    assert Vocab.from_dict(json.loads(json.dumps(v.to_dict()))) == v
    assert "日本" in path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "d, match",
    [
        ([], "must be a JSON object"),
        ({"tokens": []}, "exactly the keys"),
        (
            {"tokens": ["a", 1], "specials": [], "lowercase": False},
            "'tokens' must be a list of strings",
        ),
        ({"tokens": "ab", "specials": [], "lowercase": False}, "'tokens' must be a list"),
        ({"tokens": ["a"], "specials": [None], "lowercase": False}, "'specials' must be a list"),
        ({"tokens": ["a"], "specials": [], "lowercase": "no"}, "'lowercase' must be true or false"),
        ({"tokens": ["a"], "specials": ["<pad>"], "lowercase": False}, "start with its 'specials'"),
        ({"tokens": ["a", "a"], "specials": [], "lowercase": False}, "appears twice"),
        (
            {"tokens": [], "specials": [], "lowercase": False, "lowercase_fallback": 1},
            "'lowercase_fallback' must be true or false",
        ),
        ({"tokens": [], "specials": [], "lowercase": False, "extra": 1}, "exactly the keys"),
    ],
)
def test_from_dict_validates_keys_and_types(d, match):
    with pytest.raises(ValueError, match=match):
        Vocab.from_dict(d)


def test_lowercase_fallback_finds_the_lowercase_entry_only_when_the_exact_one_is_missing():
    v = Vocab(["Paris", "paris", "lisbon"], lowercase_fallback=True)
    assert v.encode(["Paris", "PARIS", "Lisbon", "lisbon", "Rome"]) == [2, 3, 4, 4, 1]
    assert "LISBON" in v and "rome" not in v
    assert Vocab(["lisbon"]).encode(["Lisbon"]) == [1]  # off by default


def test_lowercase_fallback_without_unk_still_names_the_unknown_token():
    v = Vocab(["a"], specials=(), lowercase_fallback=True)
    assert v.encode(["A"]) == [0]
    with pytest.raises(ValueError, match="'B' is not in the vocabulary"):
        v.encode(["B"])


def test_lowercase_fallback_survives_json_and_is_absent_from_json_when_off():
    v = Vocab(["lisbon"], lowercase_fallback=True)
    assert v.to_dict()["lowercase_fallback"] is True
    back = Vocab.from_dict(json.loads(json.dumps(v.to_dict())))
    assert back == v and back.encode(["Lisbon"]) == [2]
    assert set(Vocab(["a"]).to_dict()) == {"tokens", "specials", "lowercase"}


def test_load_reports_bad_json_and_bad_content_as_data_errors(tmp_path):
    path = tmp_path / "v.json"
    path.write_text('{"tokens": [\n "a",\n}')
    with pytest.raises(DataError, match=r"v.json:3: expected a JSON vocabulary"):
        Vocab.load(path)
    path.write_text('{"tokens": [1], "specials": [], "lowercase": false}')
    with pytest.raises(DataError, match=r"v.json: vocabulary 'tokens' must be a list of strings"):
        Vocab.load(path)
    path.write_bytes(b"\xff")
    with pytest.raises(DataError, match="expected UTF-8 JSON"):
        Vocab.load(path)
