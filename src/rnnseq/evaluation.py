"""Metrics: accuracy, macro-F1 with a per-class report, strict span F1, perplexity.

Everything here works on label *strings* (gold and predicted), after decoding,
so the same functions score the command line, the Python API and the tests.

- accuracy = (number of positions where prediction = gold) / (number of positions);
- per class c: precision = tp / (tp + fp), recall = tp / (tp + fn),
  F1 = 2·P·R / (P + R) (0 when undefined); macro-F1 = the unweighted mean of F1
  over the classes that occur in the gold or the predicted labels;
- span F1 (tagging with IOB1/IOB2/IOBES tags): a predicted span counts only when
  its type and both boundaries equal a gold span's, as conlleval scores. Gold and
  predicted tags are first rewritten as IOB2 with conlleval's chunk reading
  (:func:`rnnseq.tag_schemes.to_iob2`), so the original IOB1 CoNLL-2003 files are
  scored correctly, then scored by ``seqeval`` in strict IOB2 mode;
- perplexity = exp(mean cross-entropy in nats per counted step).

Rates are fractions in [0, 1].
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from rnnseq.tag_schemes import detect_scheme, to_iob2

__all__ = [
    "accuracy",
    "per_class_scores",
    "classification_scores",
    "span_scores",
    "tagging_scores",
    "perplexity",
]


def _ratio(num: float, den: float) -> float:
    return num / den if den else 0.0


def accuracy(gold: Sequence[str], pred: Sequence[str]) -> float:
    """Fraction of positions where the prediction equals the gold label (0 for none)."""
    if len(gold) != len(pred):
        raise ValueError(
            f"gold and pred must have the same length, got {len(gold)} and {len(pred)}"
        )
    return _ratio(sum(g == p for g, p in zip(gold, pred, strict=True)), len(gold))


def per_class_scores(gold: Sequence[str], pred: Sequence[str]) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support (gold count) for every class in gold ∪ pred."""
    if len(gold) != len(pred):
        raise ValueError(
            f"gold and pred must have the same length, got {len(gold)} and {len(pred)}"
        )
    true_pos = Counter(g for g, p in zip(gold, pred, strict=True) if g == p)
    gold_count, pred_count = Counter(gold), Counter(pred)
    report = {}
    for label in sorted(set(gold_count) | set(pred_count)):
        precision = _ratio(true_pos[label], pred_count[label])
        recall = _ratio(true_pos[label], gold_count[label])
        report[label] = {
            "precision": precision,
            "recall": recall,
            "f1": _ratio(2 * precision * recall, precision + recall),
            "support": gold_count[label],
        }
    return report


def classification_scores(gold: Sequence[str], pred: Sequence[str]) -> dict:
    """{"accuracy", "macro_f1", "per_class"} for flat label lists."""
    report = per_class_scores(gold, pred)
    macro = _ratio(sum(r["f1"] for r in report.values()), len(report))
    return {"accuracy": accuracy(gold, pred), "macro_f1": macro, "per_class": report}


def span_scores(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], scheme: str
) -> dict[str, float]:
    """Strict span precision, recall and F1, conlleval-equivalent, for tags in ``scheme``."""
    if len(gold) != len(pred):
        raise ValueError(
            f"gold and pred must hold as many sentences, got {len(gold)} and {len(pred)}"
        )
    # seqeval pulls in scikit-learn (seconds of import): only when spans are scored.
    from seqeval.metrics import f1_score, precision_score, recall_score
    from seqeval.scheme import IOB2

    gold2 = [to_iob2(list(tags), scheme) for tags in gold]
    pred2 = [to_iob2(list(tags), scheme) for tags in pred]
    kw = {"mode": "strict", "scheme": IOB2, "zero_division": 0}
    return {
        "precision": float(precision_score(gold2, pred2, **kw)),
        "recall": float(recall_score(gold2, pred2, **kw)),
        "f1": float(f1_score(gold2, pred2, **kw)),
    }


def tagging_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Token accuracy, macro-F1 and per-tag report; span scores when the gold tags form
    a span scheme (then also "tag_scheme": "IOB1" | "IOB2" | "IOBES")."""
    flat_gold = [t for sent in gold for t in sent]
    flat_pred = [t for sent in pred for t in sent]
    scores = classification_scores(flat_gold, flat_pred)
    scheme = detect_scheme(gold)
    if scheme is not None and _all_span_tags(pred):
        spans = span_scores(gold, pred, scheme)
        scores.update(
            tag_scheme=scheme,
            span_precision=spans["precision"],
            span_recall=spans["recall"],
            span_f1=spans["f1"],
        )
    return scores


def _all_span_tags(sequences: Sequence[Sequence[str]]) -> bool:
    return detect_scheme(sequences) is not None or all(t == "O" for sent in sequences for t in sent)


def perplexity(mean_loss: float) -> float:
    """exp(mean cross-entropy in nats); inf when that overflows."""
    try:
        return math.exp(mean_loss)
    except OverflowError:
        return math.inf
