"""rnnseq.tag_schemes: detection, conlleval spans, conversions, and the tables of legal moves."""

import doctest
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from real_data import find_shared_data
from rnnseq import tag_schemes
from rnnseq.tag_schemes import allowed_transitions, detect_scheme, spans, to_iob2, to_iobes

# ---------------------------------------------------------------- detection


@pytest.mark.parametrize(
    ("sequences", "expected"),
    [
        ([["I-PER", "I-PER", "O", "I-LOC"]], "IOB1"),  # I- starts spans
        ([["O", "B-PER"], ["I-PER", "B-PER"]], "IOB1"),  # one I- start is enough
        ([["I-PER", "I-LOC"]], "IOB1"),  # type change: I-LOC starts a span
        ([["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "B-ORG"]], "IOB2"),
        ([["B-PER", "O", "B-LOC"]], "IOB2"),  # only O and B-: no I- starts a span
        ([["S-PER", "O", "B-LOC", "E-LOC"]], "IOBES"),
        ([["B-LOC", "I-LOC", "E-LOC"]], "IOBES"),
        ([["U-PER", "O", "B-LOC", "L-LOC"]], "IOBES"),  # BILOU read as IOBES
        ([["NN", "VBZ", "DT"]], None),  # POS tags
        ([["PER", "O", "LOC"]], None),  # IO tags without prefixes
        ([["B-PER", "NN"]], None),  # one non-span tag is enough
        ([["B-", "O"]], None),  # empty type
        ([["O", "O"], ["O"]], None),  # only O: no evidence of a span scheme
        ([], None),
    ],
)
def test_detect_scheme_on_hand_written_cases(sequences, expected):
    assert detect_scheme(sequences) == expected


def test_detect_scheme_accepts_any_iterable_of_sentences():
    assert detect_scheme(iter([("I-PER",), ("O",)])) == "IOB1"


def test_detect_scheme_rejects_a_flat_list_naming_the_argument():
    with pytest.raises(ValueError, match="tag_sequences"):
        detect_scheme(["B-PER", "I-PER"])


# ---------------------------------------------------------------- spans (conlleval rules)


def test_iob1_spans_follow_conlleval():
    tags = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "B-ORG", "I-ORG"]
    assert spans(tags, "IOB1") == {
        ("PER", 0, 2),
        ("PER", 2, 3),
        ("LOC", 4, 5),
        ("ORG", 5, 6),
        ("ORG", 6, 8),
    }


def test_iob2_spans_read_a_stray_i_as_a_start_like_conlleval():
    tags = ["B-PER", "I-PER", "O", "I-LOC", "I-LOC", "B-LOC"]
    assert spans(tags, "IOB2") == {("PER", 0, 2), ("LOC", 3, 5), ("LOC", 5, 6)}


def test_iobes_spans_follow_conlleval():
    tags = ["B-PER", "E-PER", "S-LOC", "O", "B-ORG", "I-ORG", "E-ORG", "E-ORG", "I-MISC"]
    assert spans(tags, "IOBES") == {
        ("PER", 0, 2),
        ("LOC", 2, 3),
        ("ORG", 4, 7),
        ("ORG", 7, 8),  # E- after E- starts a new span
        ("MISC", 8, 9),
    }


def test_spans_of_empty_and_all_o_sentences_are_empty():
    assert spans([], "IOB2") == set()
    assert spans(["O", "O"], "IOBES") == set()


def test_types_may_contain_hyphens():
    assert spans(["B-GPE-LOC", "I-GPE-LOC"], "IOB2") == {("GPE-LOC", 0, 2)}


# ---------------------------------------------------------------- conversions


def test_iob1_to_iob2_and_iobes_exactly():
    iob1 = ["I-PER", "I-PER", "B-PER", "O", "I-LOC", "I-ORG", "O", "I-MISC", "I-MISC", "I-MISC"]
    assert to_iob2(iob1, "IOB1") == [
        "B-PER",
        "I-PER",
        "B-PER",
        "O",
        "B-LOC",
        "B-ORG",
        "O",
        "B-MISC",
        "I-MISC",
        "I-MISC",
    ]
    assert to_iobes(iob1, "IOB1") == [
        "B-PER",
        "E-PER",
        "S-PER",
        "O",
        "S-LOC",
        "S-ORG",
        "O",
        "B-MISC",
        "I-MISC",
        "E-MISC",
    ]


def test_iobes_and_bilou_to_iob2_exactly():
    assert to_iob2(["S-A", "B-B", "I-B", "E-B", "O"], "IOBES") == ["B-A", "B-B", "I-B", "I-B", "O"]
    assert to_iobes(["U-A", "B-B", "L-B"], "IOBES") == ["S-A", "B-B", "E-B"]


def test_conversions_round_trip_between_iob2_and_iobes():
    iob2 = ["B-PER", "I-PER", "B-PER", "O", "B-LOC", "B-ORG", "I-ORG", "I-ORG", "O"]
    iobes = to_iobes(iob2, "IOB2")
    assert iobes == ["B-PER", "E-PER", "S-PER", "O", "S-LOC", "B-ORG", "I-ORG", "E-ORG", "O"]
    assert to_iob2(iobes, "IOBES") == iob2
    assert to_iobes(iobes, "IOBES") == iobes
    assert to_iob2(iob2, "IOB2") == iob2


TYPES = ["A", "B"]
IOB_TAGS = ["O"] + [f"{p}-{t}" for p in "BI" for t in TYPES]
IOBES_TAGS = IOB_TAGS + [f"{p}-{t}" for p in "ES" for t in TYPES]


@settings(max_examples=300, deadline=None)
@given(
    tags=st.lists(st.sampled_from(IOB_TAGS), max_size=12), scheme=st.sampled_from(["IOB1", "IOB2"])
)
def test_conversions_preserve_spans_of_any_iob_sequence(tags, scheme):
    iob2, iobes = to_iob2(tags, scheme), to_iobes(tags, scheme)
    assert spans(iob2, "IOB2") == spans(iobes, "IOBES") == spans(tags, scheme)
    assert to_iob2(iobes, "IOBES") == iob2 and to_iobes(iob2, "IOB2") == iobes
    assert detect_scheme([iob2]) in ("IOB2", None) and detect_scheme([iobes]) in ("IOBES", None)


@settings(max_examples=300, deadline=None)
@given(tags=st.lists(st.sampled_from(IOBES_TAGS), max_size=12))
def test_conversions_preserve_spans_of_any_iobes_sequence(tags):
    assert spans(to_iob2(tags, "IOBES"), "IOB2") == spans(tags, "IOBES")
    assert spans(to_iobes(tags, "IOBES"), "IOBES") == spans(tags, "IOBES")


def test_conversions_and_spans_reject_tags_outside_the_scheme_naming_tags():
    with pytest.raises(ValueError, match=r"tags\[1\] must be a tag of IOB2"):
        to_iobes(["B-PER", "E-PER"], "IOB2")
    with pytest.raises(ValueError, match=r"tags\[0\]"):
        spans(["NN"], "IOBES")
    with pytest.raises(ValueError, match="scheme"):
        to_iob2(["O"], "BIO")


# ---------------------------------------------------------------- allowed tables


def is_allowed(tags, scheme):
    """Whether a whole sequence uses only moves the tables allow."""
    if not tags:
        return True
    vocab = sorted(set(tags))
    start, trans, end = allowed_transitions(vocab, scheme)
    k = [vocab.index(t) for t in tags]
    return start[k[0]] and end[k[-1]] and all(trans[a][b] for a, b in zip(k, k[1:], strict=False))


def test_iob2_table_by_hand():
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    start, trans, end = allowed_transitions(tags, "IOB2")
    assert start == [True, True, False, True, False]
    assert end == [True] * 5
    assert trans == [
        # to: O     B-PER  I-PER  B-LOC  I-LOC
        [True, True, False, True, False],  # from O
        [True, True, True, True, False],  # from B-PER
        [True, True, True, True, False],  # from I-PER
        [True, True, False, True, True],  # from B-LOC
        [True, True, False, True, True],  # from I-LOC
    ]


def test_iob1_table_by_hand():
    tags = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    start, trans, end = allowed_transitions(tags, "IOB1")
    assert start == [True, False, True, False, True]
    assert end == [True] * 5
    assert trans == [
        # to: O     B-PER  I-PER  B-LOC  I-LOC
        [True, False, True, False, True],  # from O: B- needs a span of its type before it
        [True, True, True, False, True],  # from B-PER
        [True, True, True, False, True],  # from I-PER
        [True, False, True, True, True],  # from B-LOC
        [True, False, True, True, True],  # from I-LOC
    ]


def test_iobes_table_by_hand():
    tags = ["O", "B-X", "I-X", "E-X", "S-X", "B-Y", "U-Y"]
    start, trans, end = allowed_transitions(tags, "IOBES")
    assert start == [True, True, False, False, True, True, True]
    assert end == [True, False, False, True, True, False, True]
    closed = [True, True, False, False, True, True, True]  # after O, E-, S-
    assert trans[0] == trans[3] == trans[4] == trans[6] == closed
    assert trans[1] == trans[2] == [False, False, True, True, False, False, False]
    assert trans[5] == [False] * 7  # B-Y needs I-Y or E-Y, absent from this tag list


@settings(max_examples=300, deadline=None)
@given(tags=st.lists(st.sampled_from(IOBES_TAGS), max_size=10))
def test_a_sequence_is_allowed_exactly_when_conversion_leaves_it_unchanged(tags):
    """The tables accept precisely the canonical sequences of IOB2 and IOBES."""
    if all(t[0] in "OBI" for t in tags):
        assert is_allowed(tags, "IOB2") == (to_iob2(tags, "IOB2") == tags)
    assert is_allowed(tags, "IOBES") == (to_iobes(tags, "IOBES") == tags)


@settings(max_examples=200, deadline=None)
@given(tags=st.lists(st.sampled_from(IOB_TAGS), max_size=10))
def test_strict_iob1_sequences_have_b_only_between_spans_of_one_type(tags):
    expected = all(
        not tag.startswith("B-") or (k > 0 and tags[k - 1] != "O" and tags[k - 1][2:] == tag[2:])
        for k, tag in enumerate(tags)
    )
    assert is_allowed(tags, "IOB1") == expected


def test_allowed_transitions_rejects_non_span_tags_naming_tags():
    with pytest.raises(ValueError, match=r"tags\[1\]"):
        allowed_transitions(["O", "<pad>"], "IOB2")
    with pytest.raises(ValueError, match="scheme"):
        allowed_transitions(["O"], "IOE2")


# ---------------------------------------------------------------- real data: CoNLL-2003


def read_conll_tags(path: Path) -> list[list[str]]:
    """Last column per token; blank lines and -DOCSTART- lines separate sentences."""
    sentences, current = [], []
    for line in path.read_text(encoding="ascii").splitlines():
        if not line.strip() or line.startswith("-DOCSTART-"):
            if current:
                sentences.append(current)
            current = []
        else:
            current.append(line.split()[-1])
    if current:
        sentences.append(current)
    return sentences


@pytest.fixture(scope="module")
def conll_train():
    data = find_shared_data()
    path = data / "conll2003" / "eng.train" if data else None
    if path is None or not path.is_file():
        pytest.skip("CoNLL-2003 eng.train not found under ../shared/data/conll2003")
    return read_conll_tags(path)


def test_conll2003_train_is_iob1_with_the_documented_entity_counts(conll_train):
    assert len(conll_train) == 14041
    assert sum(map(len, conll_train)) == 203621
    assert detect_scheme(conll_train) == "IOB1"
    counts = Counter(kind for tags in conll_train for kind, _, _ in spans(tags, "IOB1"))
    assert counts == {"PER": 6600, "LOC": 7140, "ORG": 6321, "MISC": 3438}  # SOURCE.md
    assert sum(counts.values()) == 23499


def test_conll2003_conversions_preserve_every_span_and_obey_the_tables(conll_train):
    iob2 = [to_iob2(tags, "IOB1") for tags in conll_train]
    iobes = [to_iobes(tags, "IOB1") for tags in conll_train]
    for original, a, b in zip(conll_train, iob2, iobes, strict=True):
        assert spans(a, "IOB2") == spans(b, "IOBES") == spans(original, "IOB1")
    assert detect_scheme(iob2) == "IOB2" and detect_scheme(iobes) == "IOBES"
    assert all(is_allowed(tags, "IOB2") for tags in iob2)
    assert all(is_allowed(tags, "IOBES") for tags in iobes)


def test_conll2003_train_breaks_strict_iob1_exactly_twice(conll_train):
    """Two sentences put B-MISC right after O, which strict IOB1 forbids (see rnnseq.crf)."""
    vocab = sorted({t for tags in conll_train for t in tags})
    start, trans, end = allowed_transitions(vocab, "IOB1")
    index = {tag: k for k, tag in enumerate(vocab)}
    broken = Counter()
    for tags in conll_train:
        if not start[index[tags[0]]]:
            broken[("<start>", tags[0])] += 1
        for a, b in zip(tags, tags[1:], strict=False):
            if not trans[index[a]][index[b]]:
                broken[(a, b)] += 1
    assert broken == {("O", "B-MISC"): 2}
    assert all(end)


def test_docstring_examples_run():
    assert doctest.testmod(tag_schemes).failed == 0


def test_to_iob1_uses_b_only_between_adjacent_spans_of_one_type():
    from rnnseq.tag_schemes import convert, to_iob1

    assert to_iob1(["B-PER", "I-PER", "B-PER", "B-LOC", "O", "B-LOC"], "IOB2") == [
        "I-PER",
        "I-PER",
        "B-PER",
        "I-LOC",
        "O",
        "I-LOC",
    ]
    iobes = ["S-PER", "B-LOC", "E-LOC", "O", "S-ORG"]
    for target in ("IOB1", "IOB2", "IOBES"):
        converted = convert(iobes, "IOBES", target)
        assert spans(converted, target) == spans(iobes, "IOBES")
        assert convert(converted, target, "IOBES") == iobes
