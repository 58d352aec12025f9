from __future__ import annotations

import itertools

import pytest
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnnseq.models import RecurrentEncoder

LENGTHS = torch.tensor([7, 0, 3, 1, 7, 5, 0, 2])  # ragged, two empty rows
SETTINGS = list(itertools.product(("rnn", "lstm", "gru"), (False, True)))
IDS = [f"{c}-{'bi' if b else 'uni'}" for c, b in SETTINGS]


def _encoder(cell, bidirectional, layers=2, size=4, hidden=3, seed=0):
    torch.manual_seed(seed)
    return RecurrentEncoder(
        size, hidden, cell=cell, layers=layers, bidirectional=bidirectional
    ).double()


def _run(enc, impl, x, lengths, state=None, return_state=False):
    """Outputs, final state and gradients (inputs, state, weights) of a fixed weighted sum."""
    enc.implementation = impl
    enc.zero_grad(set_to_none=True)
    x = x.detach().requires_grad_()
    y, final = enc(x, lengths, state, return_state=return_state)
    probe = torch.linspace(-1, 1, y.numel(), dtype=y.dtype).view_as(y)
    (y * probe).sum().backward()
    grads = [x.grad] + [p.grad for p in enc.parameters()]
    return y.detach(), final, grads


def _real(lengths, t):
    return torch.arange(t).unsqueeze(0) < lengths.unsqueeze(1)  # (N, T)


@pytest.mark.parametrize(("cell", "bi"), SETTINGS, ids=IDS)
def test_packed_and_padded_agree_on_outputs_and_gradients(cell, bi):
    enc = _encoder(cell, bi).float()
    x = torch.randn(len(LENGTHS), 7, 4)
    y1, _, g1 = _run(enc, "packed", x, LENGTHS)
    y2, _, g2 = _run(enc, "padded", x, LENGTHS)
    torch.testing.assert_close(y2, y1, rtol=1e-5, atol=1e-5)
    for a, b in zip(g1, g2, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize(("cell", "bi"), SETTINGS, ids=IDS)
@pytest.mark.parametrize("impl", ["packed", "padded"])
def test_encoder_matches_torch_multilayer_rnn_on_packed_sequences(cell, bi, impl):
    enc = _encoder(cell, bi)
    kind = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
    ref = kind(4, 3, num_layers=2, bidirectional=bi, batch_first=True).double()
    with torch.no_grad():
        for layer, d in itertools.product(range(2), range(enc.directions)):
            mine = enc.rnns[layer * enc.directions + d]
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                suffix = f"_l{layer}" + ("_reverse" if d else "")
                getattr(ref, name + suffix).copy_(getattr(mine, name + "_l0"))
    lengths = torch.tensor([7, 3, 1, 7, 5, 2])  # torch's packing rejects empty rows
    x = torch.randn(len(lengths), 7, 4, dtype=torch.double)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    want, want_state = ref(packed)
    want, _ = pad_packed_sequence(want, batch_first=True, total_length=7)
    enc.implementation = impl
    got, got_state = enc(x, lengths, return_state=True)
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(got_state, want_state)


@pytest.mark.parametrize("impl", ["packed", "padded"])
def test_padded_steps_and_empty_rows_give_exact_zeros(impl):
    enc = _encoder("lstm", True)
    x = torch.randn(len(LENGTHS), 9, 4, dtype=torch.double)  # T = 9 > every length
    enc.implementation = impl
    y, _ = enc(x, LENGTHS)
    assert y.shape == (len(LENGTHS), 9, 6)
    assert (y[~_real(LENGTHS, 9)] == 0).all()
    assert (y[_real(LENGTHS, 9)] != 0).any(dim=1).all()


@pytest.mark.parametrize("impl", ["packed", "padded"])
def test_nan_at_padded_inputs_never_reaches_outputs_or_gradients(impl):
    enc = _encoder("gru", True)
    x = torch.randn(len(LENGTHS), 7, 4, dtype=torch.double)
    clean = _run(enc, impl, x, LENGTHS)
    dirty_x = x.masked_fill(~_real(LENGTHS, 7).unsqueeze(2), float("nan"))
    dirty = _run(enc, impl, dirty_x, LENGTHS)
    torch.testing.assert_close(dirty[0], clean[0])
    for a, b in zip(clean[2][1:], dirty[2][1:], strict=True):  # weight gradients
        torch.testing.assert_close(b, a)


@pytest.mark.parametrize("impl", ["packed", "padded"])
def test_all_empty_batch_gives_zeros_and_initial_state(impl):
    enc = _encoder("lstm", False)
    state = (torch.randn(2, 3, 3, dtype=torch.double), torch.randn(2, 3, 3, dtype=torch.double))
    enc.implementation = impl
    y, final = enc(
        torch.randn(3, 4, 4, dtype=torch.double),
        torch.zeros(3, dtype=torch.long),
        state,
        return_state=True,
    )
    assert (y == 0).all() and y.shape == (3, 4, 3)
    torch.testing.assert_close(final, state)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("impl", ["packed", "padded", "auto"])
def test_two_windows_with_carried_state_equal_one_window(cell, impl):
    """A stream cut in two windows (ragged, empty rows too) = the stream in one window."""
    enc = _encoder(cell, False)
    first_len = torch.tensor([4, 2, 0, 4, 3])
    second_len = torch.tensor([5, 0, 3, 1, 5])
    whole_len = first_len + second_len
    x1 = torch.randn(5, 4, 4, dtype=torch.double)
    x2 = torch.randn(5, 5, 4, dtype=torch.double)
    whole = torch.zeros(5, 9, 4, dtype=torch.double)
    for i in range(5):
        a, b = int(first_len[i]), int(second_len[i])
        whole[i, :a] = x1[i, :a]
        whole[i, a : a + b] = x2[i, :b]
    enc.implementation = impl
    y1, s1 = enc(x1, first_len, return_state=True)
    y2, s2 = enc(x2, second_len, s1, return_state=True)
    y, s = enc(whole, whole_len, return_state=True)
    torch.testing.assert_close(s2, s)
    for i in range(5):
        a, b = int(first_len[i]), int(second_len[i])
        torch.testing.assert_close(y1[i, :a], y[i, :a])
        torch.testing.assert_close(y2[i, :b], y[i, a : a + b])


def test_full_length_windows_keep_the_padded_kernel_and_its_state():
    enc = _encoder("lstm", False)
    x = torch.randn(3, 10, 4, dtype=torch.double)
    full = torch.full((3,), 5)
    enc.implementation = "padded"
    y1, s1 = enc(x[:, :5], full, return_state=True)
    y2, s2 = enc(x[:, 5:], full, s1, return_state=True)
    y, s = enc(x, torch.full((3,), 10), return_state=True)
    torch.testing.assert_close(torch.cat([y1, y2], dim=1), y)
    torch.testing.assert_close(s2, s)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_rows_of_equal_length_take_one_bidirectional_call_with_the_same_results(cell):
    """Every row fills the T steps: the padded path runs each layer as one bidirectional
    kernel call; outputs, final state and gradients (of inputs, state and weights)
    equal the packed path's."""
    enc = _encoder(cell, True)
    x = torch.randn(4, 6, 4, dtype=torch.double)
    full = torch.full((4,), 6)
    shape = (4, 4, 3)  # (layers * directions, N, hidden)
    parts = 2 if cell == "lstm" else 1
    init = [torch.randn(shape, dtype=torch.double, requires_grad=True) for _ in range(parts)]
    state = tuple(init) if cell == "lstm" else init[0]
    got = {}
    for impl in ("packed", "padded"):
        for s in init:
            s.grad = None
        y, final, grads = _run(enc, impl, x, full, state=state, return_state=True)
        got[impl] = (y, final, grads, [s.grad.clone() for s in init])
    torch.testing.assert_close(got["padded"], got["packed"])
    calls = []
    hook = torch.nn.Module.register_forward_pre_hook
    handles = [hook(r, lambda m, a: calls.append(m)) for r in enc.rnns]
    enc(x, full)
    assert not calls  # no per-direction module call: the fused kernel ran
    enc(x, torch.tensor([6, 5, 6, 6]))
    assert len(calls) == 4  # ragged rows: each direction on its own
    for h in handles:
        h.remove()


def test_state_gradients_agree_between_implementations():
    enc = _encoder("lstm", False)
    x = torch.randn(len(LENGTHS), 7, 4, dtype=torch.double)
    h = torch.randn(2, len(LENGTHS), 3, dtype=torch.double, requires_grad=True)
    c = torch.randn(2, len(LENGTHS), 3, dtype=torch.double, requires_grad=True)
    grads = {}
    for impl in ("packed", "padded"):
        h.grad = c.grad = None
        y, _, _ = _run(enc, impl, x, LENGTHS, state=(h, c))
        grads[impl] = (y, h.grad.clone(), c.grad.clone())
    for a, b in zip(grads["packed"], grads["padded"], strict=True):
        torch.testing.assert_close(b, a)


def test_auto_runs_padded_the_faster_one_on_cpu_and_cuda():
    enc = RecurrentEncoder(3, 2)
    assert enc.resolved_implementation(torch.device("cpu")) == "padded"
    assert enc.resolved_implementation(torch.device("cuda")) == "padded"
    enc = RecurrentEncoder(3, 2, implementation="packed")
    assert enc.resolved_implementation(torch.device("cpu")) == "packed"


def test_lstm_forget_gates_start_at_bias_one():
    enc = RecurrentEncoder(3, 2, cell="lstm")
    rnn = enc.rnns[0]
    total = rnn.bias_ih_l0 + rnn.bias_hh_l0
    torch.testing.assert_close(total[2:4], torch.ones(2), check_dtype=False)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((torch.randn(2, 3), torch.tensor([1, 1])), "inputs"),
        ((torch.randn(2, 3, 5), torch.tensor([1, 1])), "inputs"),
        ((torch.randn(2, 3, 4), torch.tensor([1, 1, 1])), "lengths"),
        ((torch.randn(2, 3, 4), torch.tensor([1, 4])), "lengths"),
        ((torch.randn(2, 3, 4), torch.tensor([-1, 2])), "lengths"),
        ((torch.randn(2, 3, 4), torch.tensor([1, 2]), torch.zeros(1, 2, 3)), "state"),
        ((torch.randn(2, 3, 4), torch.tensor([1, 2]), torch.zeros(2, 2, 3)), "state"),
    ],
)
def test_bad_inputs_raise_value_errors_naming_the_argument(args, message):
    enc = RecurrentEncoder(4, 3, cell="lstm", layers=2, bidirectional=False)
    with pytest.raises(ValueError, match=message):
        enc(*args)


def test_bad_constructor_arguments_raise():
    with pytest.raises(ValueError, match="cell"):
        RecurrentEncoder(4, 3, cell="cnn")
    with pytest.raises(ValueError, match="implementation"):
        RecurrentEncoder(4, 3, implementation="fast")
