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
  per entity type X the same three figures over the spans of type X, and its
  support = the number of gold spans of type X;
- confusion matrix: counts[i][j] = number of positions whose gold label is
  labels[i] and whose predicted label is labels[j];
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
    "per_type_span_scores",
    "tagging_scores",
    "confusion_matrix",
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


def per_type_span_scores(
    gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], scheme: str
) -> dict[str, dict[str, float]]:
    """Strict span precision, recall, F1 and support (gold spans) per entity type.

    Scored as :func:`span_scores` (conlleval's chunks, then seqeval strict IOB2); the
    types are those of the gold or the predicted spans, sorted. A type never predicted
    has precision 0; a type absent from the gold has recall 0 and support 0.
    """
    if len(gold) != len(pred):
        raise ValueError(
            f"gold and pred must hold as many sentences, got {len(gold)} and {len(pred)}"
        )
    from seqeval.metrics.v1 import precision_recall_fscore_support, unique_labels
    from seqeval.scheme import IOB2

    gold2 = [to_iob2(list(tags), scheme) for tags in gold]
    pred2 = [to_iob2(list(tags), scheme) for tags in pred]
    types = unique_labels(gold2, pred2, IOB2)
    if not types:  # no span anywhere (seqeval also refuses an empty corpus)
        return {}
    precision, recall, f1, support = precision_recall_fscore_support(
        gold2, pred2, average=None, scheme=IOB2, zero_division=0
    )
    return {
        kind: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(n)}
        for kind, p, r, f, n in zip(types, precision, recall, f1, support, strict=True)
    }


def confusion_matrix(
    gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]
) -> list[list[int]]:
    """counts[i][j] = positions with gold label ``labels[i]`` and prediction ``labels[j]``.

    Rows are gold, columns predicted, both in the order of ``labels``; a position whose
    gold or predicted label is not in ``labels`` is not counted (so a caller can show
    the most frequent classes only). Shape: (len(labels), len(labels)), plain ints.
    """
    if len(gold) != len(pred):
        raise ValueError(
            f"gold and pred must have the same length, got {len(gold)} and {len(pred)}"
        )
    index = {label: k for k, label in enumerate(labels)}
    if len(index) != len(labels):
        raise ValueError(f"labels must be distinct, got {list(labels)}")
    counts = [[0] * len(labels) for _ in labels]
    for g, p in zip(gold, pred, strict=True):
        i, j = index.get(g), index.get(p)
        if i is not None and j is not None:
            counts[i][j] += 1
    return counts


def tagging_scores(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Token accuracy, macro-F1 and per-tag report; span scores when the gold tags form
    a span scheme: then also "tag_scheme" ("IOB1" | "IOB2" | "IOBES"),
    "span_precision", "span_recall", "span_f1" and "per_type" (entity type ->
    {"precision", "recall", "f1", "support"})."""
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
            per_type=per_type_span_scores(gold, pred, scheme),
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
