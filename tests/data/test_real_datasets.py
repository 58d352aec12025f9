"""The real datasets in ../shared/data, read unchanged: counts equal each SOURCE.md.

Each file is read once per module. Skipped (with a message) where the folder
is absent.
"""

from collections import Counter

import pytest

from rnnseq.data import (
    EncodedDataset,
    Vocab,
    bucket_batches,
    collate,
    detect_format,
    read_dataset,
)

UPOS = "ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X".split()


def _read(root, relative, task, **kwargs):
    return read_dataset(root / relative, task, **kwargs)


@pytest.fixture(scope="module")
def ewt(shared_data):
    folder = "ud_english_ewt/en_ewt-ud-{}.conllu"
    return {s: _read(shared_data, folder.format(s), "tag") for s in ("train", "dev", "test")}


@pytest.fixture(scope="module")
def conll2003(shared_data):
    return {s: _read(shared_data, f"conll2003/eng.{s}", "tag") for s in ("train", "testa", "testb")}


@pytest.fixture(scope="module")
def sst2(shared_data):
    return {
        s: _read(shared_data, f"sst2/sentiment-{s}", "classify") for s in ("train", "dev", "test")
    }


@pytest.fixture(scope="module")
def ptb(shared_data):
    return {
        s: _read(shared_data, f"ptb_word/ptb.{s}.txt", "lm", unit="word")
        for s in ("train", "valid", "test")
    }


@pytest.mark.parametrize(
    "split, sentences, tokens",
    [("train", 12_544, 204_577), ("dev", 2_001, 25_147), ("test", 2_077, 25_094)],
)
def test_ud_ewt_counts_sentences_words_and_17_upos_tags(ewt, split, sentences, tokens):
    data = ewt[split]
    assert len(data) == sentences
    assert sum(len(e.tokens) for e in data) == tokens
    assert sorted({t for e in data for t in e.tags}) == UPOS


def test_ud_ewt_train_upos_frequencies(ewt):
    counts = Counter(t for e in ewt["train"] for t in e.tags)
    assert counts.most_common(4) == [
        ("NOUN", 34_751),
        ("PUNCT", 23_596),
        ("VERB", 22_576),
        ("PRON", 18_677),
    ]
    assert (counts["SYM"], counts["INTJ"], counts["X"]) == (722, 695, 400)


@pytest.mark.parametrize(
    "split, sentences, tokens, tags",
    [
        ("train", 14_041, 203_621, {"O": 169_578, "I-PER": 11_128, "B-MISC": 37, "B-LOC": 11}),
        ("testa", 3_250, 51_362, {"O": 42_759, "I-LOC": 2_094, "B-MISC": 4}),
        ("testb", 3_453, 46_435, {"O": 38_323, "I-ORG": 2_491, "B-ORG": 5}),
    ],
)
def test_conll2003_counts_without_docstart(conll2003, split, sentences, tokens, tags):
    data = conll2003[split]
    assert len(data) == sentences and sum(len(e.tokens) for e in data) == tokens
    counts = Counter(t for e in data for t in e.tags)
    assert {tag: counts[tag] for tag in tags} == tags
    assert "-DOCSTART-" not in {e.tokens[0] for e in data}


@pytest.mark.parametrize(
    "split, rows, negative, positive, tokens, longest",
    [
        ("train", 67_349, 29_780, 37_569, 633_724, 52),
        ("dev", 872, 428, 444, 17_046, 47),
        ("test", 1_821, 912, 909, 35_025, 56),
    ],
)
def test_sst2_rows_labels_and_tokens(sst2, split, rows, negative, positive, tokens, longest):
    data = sst2[split]
    assert len(data) == rows
    assert Counter(e.label for e in data) == {"0": negative, "1": positive}
    assert sum(len(e.tokens) for e in data) == tokens
    assert max(len(e.tokens) for e in data) == longest


def test_tinyshakespeare_has_1115394_characters_of_65_symbols(shared_data):
    units = _read(shared_data, "tinyshakespeare/input.txt", "lm")
    assert len(units) == 1_115_394 and "".join(units[:14]) == "First Citizen:"
    assert len(Vocab.build([units], specials=())) == 65


@pytest.mark.parametrize("split, tokens", [("train", 929_589), ("valid", 73_760), ("test", 82_430)])
def test_ptb_tokens_include_one_eos_per_line(ptb, split, tokens):
    assert len(ptb[split]) == tokens


def test_ptb_train_has_10000_types_and_valid_test_no_unseen_words(ptb):
    vocab = Vocab.build([ptb["train"]], specials=())
    assert len(vocab) == 10_000
    vocab.encode(ptb["valid"] + ptb["test"])  # no <unk> in this vocab: raises on any OOV


def test_files_without_extension_are_recognised(shared_data):
    assert detect_format(shared_data / "conll2003" / "eng.train", "tag") == "conll"
    assert detect_format(shared_data / "sst2" / "sentiment-dev", "classify") == "tsv"


def test_ewt_train_bucketed_at_32_pads_under_8_percent(ewt):
    lengths = [len(e.tokens) for e in ewt["train"]]
    batches = bucket_batches(lengths, 32, shuffle=True, seed=0)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches) / len(lengths)
    real = sum(lengths) / len(lengths)  # 16.31 words per sentence
    assert padded < 1.08 * real  # measured 17.11 with pool_batches=100


def test_ewt_train_encodes_and_collates_every_word_once(ewt):
    train = ewt["train"]
    words = Vocab.build(e.tokens for e in train)
    tags = Vocab.build((e.tags for e in train), specials=())
    chars = Vocab.build(w for e in train for w in e.tokens)
    data = EncodedDataset.from_examples(train, words, tags, char_vocab=chars)
    batches = bucket_batches(data.lengths, 64, shuffle=True, seed=0)
    n_tokens = 0
    for indices in batches:
        batch = collate(data, indices)
        n_tokens += batch.n_tokens
        assert (batch.targets != -100).sum() == batch.n_tokens
    assert n_tokens == 204_577 and len(tags) == 17
