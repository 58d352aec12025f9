"""rnnseq.reference: the NumPy math, checked against values worked out by hand."""

import math
import subprocess
import sys

import numpy as np
import pytest

from rnnseq import reference as ref


def test_cross_entropy_of_worked_example():
    assert ref.cross_entropy([1.0, 0.0], [0.7, 0.3]) == pytest.approx(-math.log(0.7))
    assert ref.cross_entropy([1.0, 0.0], [0.7, 0.3]) == pytest.approx(0.357, abs=5e-4)


def test_cross_entropy_zero_times_log_zero_is_zero_and_true_zero_is_inf():
    assert ref.cross_entropy([1.0, 0.0], [1.0, 0.0]) == 0.0
    assert ref.cross_entropy([0.0, 1.0], [1.0, 0.0]) == math.inf


def test_cross_entropy_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="y_pred"):
        ref.cross_entropy([1.0, 0.0], [0.5, 0.25, 0.25])


def test_softmax_is_max_shifted_and_stable():
    p = ref.softmax([1000.0, 1000.0, -1000.0])
    np.testing.assert_allclose(p, [0.5, 0.5, 0.0], atol=1e-300)
    np.testing.assert_allclose(ref.log_softmax([1000.0, 1000.0]), [-math.log(2)] * 2)
    z = np.array([[0.3, -1.2, 2.0]])
    np.testing.assert_allclose(np.log(ref.softmax(z)), ref.log_softmax(z))


def test_classification_loss_reductions_by_hand():
    y_pred = np.array([[0.7, 0.3], [0.2, 0.8], [0.5, 0.5]])
    targets = np.array([0, 1, 1])
    per = [-math.log(0.7), -math.log(0.8), -math.log(0.5)]
    np.testing.assert_allclose(ref.classification_loss(y_pred, targets, "none"), per)
    assert ref.classification_loss(y_pred, targets, "sum") == pytest.approx(sum(per))
    assert ref.classification_loss(y_pred, targets) == pytest.approx(sum(per) / 3)


def test_classification_loss_weighted_mean_divides_by_summed_weights():
    y_pred = np.array([[0.7, 0.3], [0.2, 0.8]])
    w = np.array([2.0, 0.5])
    expected = (2.0 * -math.log(0.7) + 0.5 * -math.log(0.8)) / 2.5
    assert ref.classification_loss(y_pred, [0, 1], weight=w) == pytest.approx(expected)


def test_classification_loss_smoothing_mixes_uniform():
    y_pred = np.array([[0.7, 0.3]])
    eps = 0.2
    y = np.array([1 - eps + eps / 2, eps / 2])
    expected = -(y * np.log(y_pred[0])).sum()
    assert ref.classification_loss(y_pred, [0], label_smoothing=eps) == pytest.approx(expected)


def test_labeling_loss_three_steps_sum_and_mean():
    y_pred = np.array([[[0.7, 0.3], [0.4, 0.6], [0.9, 0.1]]])
    targets = np.array([[0, 1, 0]])
    steps = [-math.log(0.7), -math.log(0.6), -math.log(0.9)]
    assert ref.labeling_loss(y_pred, targets) == pytest.approx(sum(steps))
    assert ref.labeling_loss(y_pred, targets, time_reduction="mean") == pytest.approx(
        sum(steps) / 3
    )
    np.testing.assert_allclose(
        ref.labeling_loss(y_pred, targets, time_reduction="none", reduction="none"), [steps]
    )


def test_labeling_loss_excludes_empty_rows_from_mean():
    y_pred = np.full((3, 2, 2), 0.5)
    targets = np.zeros((3, 2), dtype=int)
    lengths = [2, 0, 1]
    # rows: 2·ln2, 0 (empty), 1·ln2; N' = 2
    assert ref.labeling_loss(y_pred, targets, lengths) == pytest.approx(1.5 * math.log(2))
    assert ref.labeling_loss(y_pred, targets, lengths, reduction="token_mean") == pytest.approx(
        math.log(2)
    )
    assert ref.labeling_loss(y_pred, targets, [0, 0, 0]) == 0.0


def test_labeling_loss_ignore_index_and_float_mask():
    y_pred = np.full((1, 3, 2), 0.5)
    targets = np.array([[0, -100, 1]])
    assert ref.labeling_loss(y_pred, targets, time_reduction="mean") == pytest.approx(math.log(2))
    mask = np.array([[0.5, 1.0, 0.0]])
    value = ref.labeling_loss(y_pred, [[0, 1, 1]], mask=mask, reduction="token_mean")
    assert value == pytest.approx(math.log(2))
    assert ref.labeling_loss(y_pred, [[0, 1, 1]], mask=mask) == pytest.approx(1.5 * math.log(2))


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"reduction": "avg"}, "reduction"),
        ({"time_reduction": "max"}, "time_reduction"),
        ({"time_reduction": "none"}, "reduction"),
        ({"time_reduction": "mean", "reduction": "token_mean"}, "token_mean"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"weight": [1.0]}, "weight"),
        ({"lengths": [1], "mask": [[True]]}, "lengths"),
    ],
)
def test_labeling_loss_bad_options_name_the_argument(kwargs, name):
    with pytest.raises(ValueError, match=name):
        ref.labeling_loss(np.full((1, 1, 2), 0.5), [[0]], **kwargs)


def test_reference_imports_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import rnnseq.reference as r; print(r.cross_entropy([1, 0], [0.5, 0.5]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
