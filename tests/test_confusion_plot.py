"""rnnseq.confusion_plot: a real, readable PNG of the confusion matrix."""

from __future__ import annotations

import random

import matplotlib.image
import numpy as np
import pytest

from rnnseq.confusion_plot import class_order, confusion_table, save_confusion_png

UPOS = ("ADJ ADP ADV AUX CCONJ DET INTJ NOUN NUM PART PRON PROPN PUNCT SCONJ SYM VERB X"
        .split())
NER = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG", "B-MISC", "I-MISC"]


def _noisy(labels, n, seed=0, error=0.2):
    rng = random.Random(seed)
    gold = [rng.choice(labels) for _ in range(n)]
    pred = [g if rng.random() > error else rng.choice(labels) for g in gold]
    return gold, pred


@pytest.mark.parametrize("labels", [UPOS, NER], ids=["upos", "ner"])
def test_png_is_a_real_picture_with_a_dark_diagonal(tmp_path, labels):
    gold, pred = _noisy(labels, 3000)
    path = save_confusion_png(tmp_path / "cm.png", gold, pred)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    image = matplotlib.image.imread(path)  # (H, W, 4) floats in [0, 1]
    h, w = image.shape[:2]
    assert image.shape[2] in (3, 4) and h >= 250 and w >= 250
    grey = image[..., :3].mean(axis=2)
    assert grey.std() > 0.1  # not blank
    assert (grey < 0.3).mean() > 0.01  # dark (well-predicted) diagonal cells and text


def test_more_classes_make_a_bigger_picture(tmp_path):
    small = matplotlib.image.imread(save_confusion_png(tmp_path / "a.png", *_noisy(NER, 500)))
    big = matplotlib.image.imread(save_confusion_png(tmp_path / "b.png", *_noisy(UPOS, 500)))
    assert big.shape[0] > small.shape[0] and big.shape[1] > small.shape[1]


def test_many_classes_are_capped_at_the_most_supported_and_the_note_says_so(tmp_path):
    rng = random.Random(1)
    names = [f"c{k:02d}" for k in range(50)]
    gold = [names[min(49, int(rng.expovariate(0.1)))] for _ in range(5000)]
    pred = [g if rng.random() > 0.3 else rng.choice(names) for g in gold]
    labels, counts, note = confusion_table(gold, pred, max_classes=30)
    assert len(labels) == 30 and note == "top 30 of 50 classes by support"
    support = {c: gold.count(c) for c in names}
    assert [support[c] for c in labels] == sorted((support[c] for c in labels), reverse=True)
    assert min(support[c] for c in labels) >= max(
        support[c] for c in names if c not in labels)
    assert len(counts) == 30 and all(len(row) == 30 for row in counts)
    image = matplotlib.image.imread(save_confusion_png(tmp_path / "cm.png", gold, pred))
    assert image[..., :3].std() > 0.1


def test_span_tags_are_grouped_by_type_with_o_last():
    assert class_order(NER) == [
        "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER", "O"]
    assert class_order(["b", "a", "O"]) == ["O", "a", "b"]
    labels, counts, note = confusion_table(["x", "y"], ["y", "y"])
    assert labels == ["x", "y"] and counts == [[0, 1], [0, 1]] and note == "2 classes"


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="same length"):
        confusion_table(["a"], [])
    with pytest.raises(ValueError, match="max_classes"):
        confusion_table(["a"], ["a"], max_classes=0)
    assert np  # numpy is what matplotlib.image returns
