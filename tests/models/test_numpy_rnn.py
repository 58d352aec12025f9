"""rnnseq.models.numpy_rnn: the hand-written Elman RNN against PyTorch autograd, and training."""

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from rnnseq import reference
from rnnseq.models import numpy_rnn as rnn

torch = pytest.importorskip("torch")
F = torch.nn.functional

VOCAB, HIDDEN, CLASSES = 6, 5, 4
LABELING_CASES = [
    ("sum", "mean"),
    ("sum", "sum"),
    ("sum", "token_mean"),
    ("mean", "mean"),
    ("mean", "sum"),
]


def _batch(lengths, t_max, seed=0):
    """Random token ids and targets, with -1 (an invalid id) at every padded step."""
    rng = np.random.default_rng(seed)
    lengths = np.asarray(lengths)
    n = len(lengths)
    inputs = rng.integers(0, VOCAB, (n, t_max))
    step_targets = rng.integers(0, CLASSES, (n, t_max))
    padding = np.arange(t_max)[None, :] >= lengths[:, None]
    inputs[padding] = -1
    step_targets[padding] = -1
    return inputs, step_targets, rng.integers(0, CLASSES, n), lengths


def _torch_loss_and_grads(params, inputs, targets, lengths, task, time_reduction, reduction):
    """The same model and loss built from torch.nn.RNN, one unpadded row at a time."""
    p = {k: torch.tensor(a, requires_grad=True) for k, a in params.arrays().items()}
    cell = torch.nn.RNN(VOCAB, HIDDEN, batch_first=True).double()
    weights = {
        "weight_ih_l0": p["U"],
        "weight_hh_l0": p["W"],
        "bias_ih_l0": p["b"],
        "bias_hh_l0": torch.zeros(HIDDEN, dtype=torch.float64),
    }
    last_states, row_losses, n_steps = [], [], 0
    for i, length in enumerate(lengths):
        if length == 0:
            last_states.append(torch.zeros(HIDDEN, dtype=torch.float64))  # s_0
            continue
        x = F.one_hot(torch.as_tensor(inputs[i, :length]), VOCAB).double()[None]  # (1, T_i, V)
        out, _ = torch.func.functional_call(cell, weights, (x,))  # (1, T_i, H)
        last_states.append(out[0, -1])
        if task == "labeling":
            logits = out[0] @ p["V"].T + p["c"]  # (T_i, C)
            row = F.cross_entropy(logits, torch.as_tensor(targets[i, :length]), reduction="sum")
            row_losses.append(row / length if time_reduction == "mean" else row)
            n_steps += int(length)
    if task == "classification":
        logits = torch.stack(last_states) @ p["V"].T + p["c"]  # (N, C)
        total = F.cross_entropy(logits, torch.as_tensor(targets), reduction=reduction)
    else:
        total = torch.stack(row_losses).sum()
        total = total / {"sum": 1, "mean": len(row_losses), "token_mean": n_steps}[reduction]
    total.backward()
    return total.item(), {k: t.grad.numpy() for k, t in p.items()}


def _assert_matches_torch(lengths, t_max, task, time_reduction, reduction, seed=0):
    params = rnn.init_params(VOCAB, HIDDEN, CLASSES, seed=seed)
    inputs, step_targets, seq_targets, lengths = _batch(lengths, t_max, seed)
    targets = seq_targets if task == "classification" else step_targets
    kw = {"time_reduction": time_reduction, "reduction": reduction}
    value, grads = rnn.loss_and_grads(params, inputs, targets, lengths, kind=task, **kw)
    expected, expected_grads = _torch_loss_and_grads(
        params, inputs, targets, lengths, task, time_reduction, reduction
    )
    assert value == pytest.approx(expected, rel=1e-10)
    for name, g in grads.arrays().items():
        np.testing.assert_allclose(g, expected_grads[name], rtol=1e-8, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_classification_loss_and_gradients_match_torch_autograd(reduction):
    _assert_matches_torch([5, 1, 3, 5, 2, 4], 5, "classification", "sum", reduction)


@pytest.mark.parametrize(("time_reduction", "reduction"), LABELING_CASES)
def test_labeling_loss_and_gradients_match_torch_autograd(time_reduction, reduction):
    _assert_matches_torch([5, 1, 3, 5, 2, 4], 5, "labeling", time_reduction, reduction)


@pytest.mark.parametrize(("time_reduction", "reduction"), LABELING_CASES)
def test_labeling_empty_rows_add_nothing_and_leave_the_mean(time_reduction, reduction):
    _assert_matches_torch([3, 0, 1, 0], 3, "labeling", time_reduction, reduction, seed=1)


def test_labeling_all_empty_batch_is_zero_loss_and_zero_gradient():
    params = rnn.init_params(VOCAB, HIDDEN, CLASSES)
    inputs, targets, _, lengths = _batch([0, 0], 3)
    value, grads = rnn.loss_and_grads(params, inputs, targets, lengths, kind="labeling")
    assert value == 0.0
    assert all(not g.any() for g in grads.arrays().values())


def test_classification_empty_row_predicts_from_zero_state():
    params = rnn.init_params(VOCAB, HIDDEN, CLASSES, seed=2)
    inputs, _, seq_targets, lengths = _batch([3, 0, 2], 3, seed=2)
    fwd = rnn.forward(params, inputs, lengths, kind="classification")
    np.testing.assert_allclose(fwd.probs[1], reference.softmax(params.c))
    _assert_matches_torch([3, 0, 2], 3, "classification", "sum", "mean", seed=2)
    # alone, an empty row's gradient reaches the output bias c and nothing else
    _, grads = rnn.loss_and_grads(
        params, inputs[1:2], seq_targets[1:2], lengths[1:2], kind="classification"
    )
    assert grads.c.any()
    assert not any(g.any() for name, g in grads.arrays().items() if name != "c")


@pytest.mark.parametrize(
    ("task", "time_reduction", "reduction"),
    [("classification", "sum", "mean"), ("labeling", "mean", "mean"), ("labeling", "sum", "sum")],
)
def test_padding_garbage_changes_neither_loss_nor_gradients(task, time_reduction, reduction):
    params = rnn.init_params(VOCAB, HIDDEN, CLASSES, seed=3)
    inputs, step_targets, seq_targets, lengths = _batch([4, 1, 2, 4], 4, seed=3)
    targets = seq_targets if task == "classification" else step_targets
    kw = {"kind": task, "time_reduction": time_reduction, "reduction": reduction}
    clean_value, clean_grads = rnn.loss_and_grads(params, inputs, targets, lengths, **kw)

    rng = np.random.default_rng(4)
    padding = np.arange(4)[None, :] >= lengths[:, None]
    for garbage in (rng.integers(0, VOCAB, inputs.shape), np.full(inputs.shape, 10**6)):
        noisy_inputs = np.where(padding, garbage, inputs)
        noisy_targets = targets if task == "classification" else np.where(padding, 7, targets)
        value, grads = rnn.loss_and_grads(params, noisy_inputs, noisy_targets, lengths, **kw)
        assert value == clean_value
        for name, g in grads.arrays().items():
            np.testing.assert_array_equal(g, clean_grads.arrays()[name], err_msg=name)


def test_classification_reads_the_last_real_state():
    params = rnn.init_params(VOCAB, HIDDEN, CLASSES, seed=5)
    inputs, _, _, lengths = _batch([2, 4], 4, seed=5)
    fwd = rnn.forward(params, inputs, lengths, kind="classification")
    alone = rnn.forward(params, inputs[:1, :2], kind="classification")
    np.testing.assert_allclose(fwd.probs[0], alone.probs[0], rtol=1e-15)
    np.testing.assert_array_equal(fwd.states[0, 3:], 0.0)  # padded states stay s = 0


def test_init_params_is_seeded_with_documented_shapes():
    a, b = rnn.init_params(7, 3, 2, seed=11), rnn.init_params(7, 3, 2, seed=11)
    shapes = {k: v.shape for k, v in a.arrays().items()}
    assert shapes == {"U": (3, 7), "W": (3, 3), "b": (3,), "V": (2, 3), "c": (2,)}
    for name, value in a.arrays().items():
        np.testing.assert_array_equal(value, b.arrays()[name])
        assert np.all(np.abs(value) <= 1 / np.sqrt(3))
    assert not np.array_equal(a.U, rnn.init_params(7, 3, 2, seed=12).U)


def test_sgd_step_moves_against_the_gradient():
    params = rnn.init_params(3, 2, 2)
    grads = rnn.RNNParams(**{k: np.ones_like(v) for k, v in params.arrays().items()})
    stepped = rnn.sgd_step(params, grads, lr=0.5)
    for name, value in stepped.arrays().items():
        np.testing.assert_allclose(value, params.arrays()[name] - 0.5)


def _train(params, inputs, targets, lengths, task, lr, steps):
    losses = []
    for _ in range(steps):
        value, grads = rnn.loss_and_grads(params, inputs, targets, lengths, kind=task)
        params = rnn.sgd_step(params, grads, lr)
        losses.append(value)
    return losses


def test_gradient_descent_learns_to_copy_the_previous_token():
    # labeling: the tag at step t is the token at step t-1; class `vocab` marks the first step
    rng = np.random.default_rng(0)
    vocab, n, t_max = 3, 48, 6
    inputs = rng.integers(0, vocab, (n, t_max))
    lengths = rng.integers(1, t_max + 1, n)
    targets = np.concatenate([np.full((n, 1), vocab), inputs[:, :-1]], axis=1)
    params = rnn.init_params(vocab, 12, vocab + 1, seed=0)
    start = time.perf_counter()
    losses = _train(params, inputs, targets, lengths, "labeling", lr=0.3, steps=150)
    assert time.perf_counter() - start < 5
    assert losses[-1] < 0.1 * losses[0], (losses[0], losses[-1])


def test_gradient_descent_learns_whether_a_sequence_contains_token_zero():
    rng = np.random.default_rng(1)
    vocab, n, t_max = 4, 64, 6
    inputs = rng.integers(0, vocab, (n, t_max))
    lengths = rng.integers(1, t_max + 1, n)
    real = np.arange(t_max)[None, :] < lengths[:, None]
    targets = np.any((inputs == 0) & real, axis=1).astype(int)
    params = rnn.init_params(vocab, 12, 2, seed=1)
    start = time.perf_counter()
    losses = _train(params, inputs, targets, lengths, "classification", lr=1.0, steps=150)
    assert time.perf_counter() - start < 5
    assert losses[-1] < 0.1 * losses[0], (losses[0], losses[-1])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"lengths": [4, 3]}, "lengths"),
        ({"lengths": [-1, 0]}, "lengths"),
        ({"lengths": [1]}, "lengths"),
        ({"inputs": [[0, 9, 0], [0, 0, 0]]}, "inputs"),
        ({"inputs": [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]}, "inputs"),
        ({"targets": [[0, 1, 0], [0, 99, -1]]}, "targets"),
        ({"targets": [0, 1]}, "targets"),
        ({"reduction": "none"}, "reduction"),
        ({"time_reduction": "none"}, "time_reduction"),
        ({"kind": "tagging"}, "kind"),
        ({"kind": "classification", "targets": [0, 1], "time_reduction": "mean"}, "time_reduction"),
        ({"kind": "classification", "targets": [0, 1], "reduction": "token_mean"}, "reduction"),
    ],
)
def test_bad_arguments_raise_value_errors_naming_them(kwargs, name):
    call = {
        "inputs": [[0, 1, 2], [3, 4, -1]],
        "targets": [[0, 1, 0], [0, 0, -1]],
        "lengths": [3, 2],
        "kind": "labeling",
        **kwargs,
    }
    params = rnn.init_params(VOCAB, HIDDEN, CLASSES)
    with pytest.raises(ValueError, match=name):
        rnn.loss_and_grads(params, **call)


def test_numpy_rnn_imports_without_torch():
    code = (
        "import sys; sys.modules['torch'] = None\n"
        "from rnnseq.models import numpy_rnn as m; p = m.init_params(3, 2, 2)\n"
        "print(m.loss_and_grads(p, [[0, 1]], [1], kind='classification')[0])"
    )
    src = str(Path(__file__).resolve().parents[2] / "src")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr
