"""rnnseq.evaluation's span scores equal the real conlleval's, overall and per type.

conlleval.pl (the CoNLL-2000 Perl scorer) runs on the same gold and predicted tags;
see tests/conlleval_perl.py for where the script comes from. Its per-type counts come
from one run per type (tests/conlleval_perl.py says how), so the comparison is of exact
fractions (to 1e-12), and of the printed percentages, digit for digit.
"""

from __future__ import annotations

import random

import pytest

from conlleval_perl import conlleval_type_counts, require_conlleval, run_conlleval
from rnnseq.data import read_conll
from rnnseq.evaluation import per_type_span_scores, span_scores, tagging_scores
from rnnseq.tag_schemes import spans, to_iob2


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def _perturb(gold: list[list[str]], seed: int, rate: float = 0.1) -> list[list[str]]:
    """Deterministic wrong predictions: ``rate`` of the tags replaced by a random tag
    of the corpus, and 5% of the spans made one token longer (into a following O)
    or one token shorter (their last token set to O)."""
    rng = random.Random(seed)
    labels = sorted({t for sent in gold for t in sent})
    pred = []
    for sent in gold:
        new = list(sent)
        for kind, start, end in sorted(spans(sent, "IOB1")):
            r = rng.random()
            if r < 0.05 and end < len(new) and new[end] == "O":
                new[end] = f"I-{kind}"
            elif r < 0.10 and end - start > 1:
                new[end - 1] = "O"
        for k in range(len(new)):
            if rng.random() < rate:
                new[k] = rng.choice(labels)
        pred.append(new)
    return pred


def _assert_same_as_conlleval(tokens, gold, pred, scheme: str):
    """Compare overall and per-type scores; returns conlleval's result."""
    script = require_conlleval()
    ref = run_conlleval(script, tokens, gold, pred)
    overall = span_scores(gold, pred, scheme)
    o = ref.overall
    expect_p, expect_r = o.correct / o.found, o.correct / o.gold
    assert overall["precision"] == pytest.approx(expect_p, abs=1e-12)
    assert overall["recall"] == pytest.approx(expect_r, abs=1e-12)
    assert overall["f1"] == pytest.approx(_f1(expect_p, expect_r), abs=1e-12)

    ours = per_type_span_scores(gold, pred, scheme)
    per_type = conlleval_type_counts(script, tokens, gold, pred)
    assert sorted(ours) == sorted(per_type) == sorted(ref.printed)
    for field in ("gold", "found", "correct"):  # the masked runs add up
        assert sum(getattr(c, field) for c in per_type.values()) == getattr(o, field)
    for kind, counts in per_type.items():
        mine = ours[kind]
        p = counts.correct / counts.found if counts.found else 0.0
        r = counts.correct / counts.gold if counts.gold else 0.0
        assert mine["support"] == counts.gold, kind
        assert mine["precision"] == pytest.approx(p, abs=1e-12), kind
        assert mine["recall"] == pytest.approx(r, abs=1e-12), kind
        assert mine["f1"] == pytest.approx(_f1(p, r), abs=1e-12), kind
        printed = tuple(f"{100 * mine[k]:.2f}" for k in ("precision", "recall", "f1"))
        assert printed == ref.printed[kind], (kind, ref.text)
    return ref


@pytest.fixture(scope="module")
def conll_test(shared_data):
    path = shared_data / "conll2003" / "eng.testb"
    if not path.exists():
        pytest.skip(f"{path} is absent")
    examples = read_conll(path)
    return [e.tokens for e in examples], [e.tags for e in examples]


@pytest.mark.parametrize("seed", [0, 1])
def test_conll2003_test_scores_equal_conlleval_overall_and_per_type(conll_test, seed):
    tokens, gold = conll_test
    pred = _perturb(gold, seed)
    assert sum(len(s) for s in gold) == 46435  # eng.testb without -DOCSTART- lines
    ref = _assert_same_as_conlleval(tokens, gold, pred, "IOB1")
    scores = tagging_scores(gold, pred)  # what `rnnseq evaluate` reports
    assert scores["tag_scheme"] == "IOB1" and set(scores["per_type"]) == {
        "LOC", "MISC", "ORG", "PER"}
    assert f"{100 * scores['accuracy']:.2f}" == ref.accuracy
    assert 0.5 < scores["span_f1"] < 0.75  # the perturbation did damage, not ruin


def test_conll2003_test_in_iob2_scores_equal_conlleval(conll_test):
    tokens, gold = conll_test
    gold2 = [to_iob2(s, "IOB1") for s in gold]
    pred2 = [to_iob2(s, "IOB1") for s in _perturb(gold, seed=2)]
    _assert_same_as_conlleval(tokens, gold2, pred2, "IOB2")


# conlleval (2004) reads B-, I- and O (and IOE's E-) but has no S-: IOBES is not
# compared here, only the I/B/O schemes that conlleval defines.
@pytest.mark.parametrize(
    ("scheme", "tags"),
    [
        ("IOB1", ["O", "I-A", "B-A", "I-B", "B-B"]),
        ("IOB2", ["O", "B-A", "I-A", "B-B", "I-B", "B-LONG-NAME", "I-LONG-NAME"]),
    ],
)
def test_random_tag_sequences_score_as_conlleval_reads_chunks(scheme, tags):
    # Any sequence, legal or not: the chunk reading must be conlleval's everywhere.
    rng = random.Random(7)
    lengths = [rng.randint(1, 12) for _ in range(3000)]
    gold = [[rng.choice(tags) for _ in range(n)] for n in lengths]
    pred = [[rng.choice(tags) for _ in range(n)] for n in lengths]
    tokens = [["w"] * n for n in lengths]
    _assert_same_as_conlleval(tokens, gold, pred, scheme)
