"""rnnseq.data.demo: seeded generated data with context-dependent labels."""

from collections import Counter, defaultdict

import pytest

from rnnseq.data import ClassifyExample, TagExample, demo_sentiment, demo_tagging
from rnnseq.data.demo import NEGATIVE, POSITIVE

UPOS = {
    "ADJ",
    "ADP",
    "ADV",
    "AUX",
    "CCONJ",
    "DET",
    "NOUN",
    "PART",
    "PRON",
    "PUNCT",
    "SCONJ",
    "VERB",
}


@pytest.fixture(scope="module")
def tagged():
    return demo_tagging(3000, seed=0)


@pytest.fixture(scope="module")
def reviews():
    return demo_sentiment(3000, seed=0)


def test_generators_are_deterministic_in_the_seed(tagged, reviews):
    assert demo_tagging(3000, seed=0) == tagged and demo_sentiment(3000, seed=0) == reviews
    assert demo_tagging(50, seed=1) != tagged[:50] and demo_sentiment(50, seed=1) != reviews[:50]
    assert demo_tagging(0) == [] and len(demo_sentiment(7, seed=3)) == 7


def test_tagging_examples_are_well_formed_upos(tagged):
    assert all(isinstance(e, TagExample) and len(e.tokens) == len(e.tags) for e in tagged)
    assert {t for e in tagged for t in e.tags} == UPOS


def test_ambiguous_words_take_their_tag_from_context(tagged):
    seen = defaultdict(Counter)
    for e in tagged:
        for word, tag in zip(e.tokens, e.tags, strict=True):
            seen[word][tag] += 1
    for word in ["run", "fly", "watch", "flies", "watches", "light"]:
        assert set(seen[word]) == {"NOUN", "VERB"}, word
    assert set(seen["that"]) == {"DET", "PRON", "SCONJ"}
    after = {
        (e.tokens[i - 1], e.tags[i]) for e in tagged for i, w in enumerate(e.tokens) if w == "fly"
    }
    assert ("the", "NOUN") in after and ("to", "VERB") in after and ("the", "VERB") not in after


def test_one_sentence_always_has_one_tag_sequence(tagged):
    tags = {}
    for e in tagged + demo_tagging(3000, seed=5):
        assert tags.setdefault(tuple(e.tokens), e.tags) == e.tags


def test_reviews_are_balanced_and_the_label_is_a_function_of_the_text(reviews):
    assert all(isinstance(e, ClassifyExample) and e.tokens for e in reviews)
    counts = Counter(e.label for e in reviews)
    assert set(counts) == {POSITIVE, NEGATIVE} and 0.4 < counts[POSITIVE] / len(reviews) < 0.6
    labels = {}
    for e in reviews:
        assert labels.setdefault(tuple(e.tokens), e.label) == e.label


def test_negation_flips_and_intensifiers_do_not(reviews):
    def label_of(text):
        matches = {e.label for e in reviews if " ".join(e.tokens) == text}
        assert len(matches) == 1, text
        return matches.pop()

    texts = {" ".join(e.tokens) for e in reviews}
    assert label_of("not bad at all") == POSITIVE and label_of("not good at all") == NEGATIVE
    for e in reviews:
        text = " ".join(e.tokens)
        if text.startswith("the acting was ") and len(e.tokens) == 4:
            negated = f"the acting was not {e.tokens[3]}"
            if negated in texts:
                assert label_of(negated) != e.label
            intensified = f"the acting was very {e.tokens[3]}"
            if intensified in texts:
                assert label_of(intensified) == e.label


def test_after_but_the_second_clause_decides(reviews):
    firsts = defaultdict(set)
    for e in reviews:
        if "but" in e.tokens:
            second = e.tokens[e.tokens.index("but") + 1 :]
            firsts[tuple(second)].add(e.label)
    assert len(firsts) > 50 and all(len(labels) == 1 for labels in firsts.values())


def test_negative_n_is_a_value_error():
    with pytest.raises(ValueError, match="n must be"):
        demo_tagging(-1)
    with pytest.raises(ValueError, match="n must be"):
        demo_sentiment(-1)
