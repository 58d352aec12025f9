"""linear_sequence_labeling_loss equals sequence_labeling_loss(hidden @ W.T + b, ...) without
ever making the full logits: values and the gradients of hidden, weight and bias."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnseq.kernels import linear_cross_entropy as kernel
from rnnseq.losses import linear_sequence_labeling_loss, sequence_labeling_loss

REDUCTIONS = [
    ("sum", "mean"),
    ("sum", "sum"),
    ("sum", "none"),
    ("sum", "token_mean"),
    ("mean", "mean"),
    ("mean", "sum"),
    ("mean", "none"),
    ("none", "none"),
]


def layer(h, v, dtype=torch.float64, bias=True, seed=0):
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(v, h, generator=g, dtype=dtype).requires_grad_(True)
    b = torch.randn(v, generator=g, dtype=dtype).requires_grad_(True) if bias else None
    return weight, b


def fused_and_unfused(hidden, weight, bias, targets, *args, upstream=None, **kw):
    """(value, grads) of the chunked loss and of the unfused composition, same upstream gradient."""
    params = [x for x in (hidden, weight, bias) if x is not None]
    out = linear_sequence_labeling_loss(hidden, weight, bias, targets, *args, **kw)
    g = torch.ones_like(out) if upstream is None else upstream
    grads = torch.autograd.grad(out, params, g)
    kw.pop("chunk_size", None)
    if "class_weight" in kw:
        kw["weight"] = kw.pop("class_weight")
    logits = hidden @ weight.t() + (0.0 if bias is None else bias)  # (N, T, V)
    ref = sequence_labeling_loss(logits, targets, *args, **kw)
    ref_grads = torch.autograd.grad(ref, params, g)
    return (out, grads), (ref, ref_grads)


def assert_agree(ours, theirs, tol=1e-10):
    torch.testing.assert_close(ours[0], theirs[0], rtol=tol, atol=tol)
    for a, b in zip(ours[1], theirs[1], strict=True):
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize(("time_reduction", "reduction"), REDUCTIONS)
@pytest.mark.parametrize("chunk_size", [1, 3, None])  # 3 divides no row count here
@pytest.mark.parametrize("counting", ["lengths", "float_mask"])
def test_chunked_head_equals_unfused_head_for_every_reduction(
    time_reduction, reduction, chunk_size, counting
):
    torch.manual_seed(0)
    n, t, h, v = 3, 5, 4, 11
    hidden = torch.randn(n, t, h, dtype=torch.float64, requires_grad=True)
    weight, bias = layer(h, v, bias=chunk_size != 1)
    targets = torch.randint(0, v, (n, t))
    targets[0, 2] = -100
    args, kw = (), {}
    if counting == "lengths":
        args = (torch.tensor([5, 2, 0]),)
    else:
        kw["mask"] = torch.rand(n, t, dtype=torch.float64) * (torch.rand(n, t) < 0.7)
    kw.update(
        time_reduction=time_reduction,
        reduction=reduction,
        chunk_size=chunk_size,
        class_weight=torch.rand(v, dtype=torch.float64) + 0.2,
        label_smoothing=0.15,
    )
    shape = sequence_labeling_loss(torch.zeros(n, t, v), targets, *args, **_plain(kw)).shape
    upstream = torch.randn(shape, dtype=torch.float64)
    ours, theirs = fused_and_unfused(hidden, weight, bias, targets, *args, upstream=upstream, **kw)
    assert_agree(ours, theirs)


def _plain(kw):
    """sequence_labeling_loss's keywords for linear_sequence_labeling_loss's."""
    out = {k: v for k, v in kw.items() if k not in ("chunk_size", "class_weight")}
    if "class_weight" in kw:
        out["weight"] = kw["class_weight"]
    return out


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(0, 3),
    t=st.integers(1, 5),
    v=st.integers(1, 9),
    chunk_size=st.sampled_from([1, 2, 5, None]),
    counting=st.sampled_from(["none", "lengths", "bool_mask"]),
    weighted=st.booleans(),
    eps=st.sampled_from([0.0, 0.3]),
    reductions=st.sampled_from(REDUCTIONS),
    ignore=st.booleans(),
    bias=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_chunked_head_equals_unfused_head_on_generated_cases(
    n, t, v, chunk_size, counting, weighted, eps, reductions, ignore, bias, seed
):
    g = torch.Generator().manual_seed(seed)
    hidden = torch.randn(n, t, 3, generator=g, dtype=torch.float64, requires_grad=True)
    weight, b = layer(3, v, bias=bias, seed=seed)
    targets = torch.randint(0, v, (n, t), generator=g)
    if ignore:
        targets = targets.masked_fill(torch.rand(n, t, generator=g) < 0.3, -100)
    args, kw = (), {"chunk_size": chunk_size, "label_smoothing": eps}
    if counting == "lengths":
        args = (torch.randint(0, t + 1, (n,), generator=g),)
    elif counting == "bool_mask":
        kw["mask"] = torch.rand(n, t, generator=g) < 0.6
    if weighted:
        kw["class_weight"] = torch.rand(v, generator=g, dtype=torch.float64) + 0.1
    kw["time_reduction"], kw["reduction"] = reductions
    ours, theirs = fused_and_unfused(hidden, weight, b, targets, *args, **kw)
    assert_agree(ours, theirs)


def test_only_chunks_of_logits_are_ever_made(monkeypatch):
    made = []
    real = kernel._logits

    def spy(h, weight, bias):
        made.append(h.shape[0])
        return real(h, weight, bias)

    monkeypatch.setattr(kernel, "_logits", spy)  # a spy that counts
    torch.manual_seed(1)
    hidden = torch.randn(4, 10, 6, requires_grad=True)
    weight, bias = layer(6, 30, dtype=torch.float32)
    lengths = torch.tensor([10, 7, 3, 0])  # 20 counted steps of 40
    targets = torch.randint(0, 30, (4, 10))
    loss = linear_sequence_labeling_loss(hidden, weight, bias, targets, lengths, chunk_size=6)
    loss.backward()
    assert made == [6, 6, 6, 2]  # forward only: the gradients were made alongside
    made.clear()
    per_row = linear_sequence_labeling_loss(
        hidden, weight, bias, targets, lengths, chunk_size=8, reduction="none"
    )
    per_row.sum().backward()
    assert made == [8, 8, 4] * 2  # per-row losses: the backward pass recomputes


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_garbage_hidden_states_at_uncounted_steps_are_inert(value):
    torch.manual_seed(2)
    clean = torch.randn(2, 6, 5, dtype=torch.float64)
    padding = torch.tensor([[False] * 4 + [True] * 2] * 2)  # (N, T) the last two steps
    targets = torch.randint(0, 9, (2, 6)).masked_fill(padding, -1)
    targets[0, 1] = -100
    lengths = torch.tensor([4, 4])
    results = []
    for garbage in (False, True):
        hidden = clean.clone()
        if garbage:
            hidden[:, 4:] = value
            hidden[0, 1] = value
        hidden.requires_grad_(True)
        weight, bias = layer(5, 9)
        loss = linear_sequence_labeling_loss(hidden, weight, bias, targets, lengths)
        loss.backward()
        results.append((loss.detach(), hidden.grad, weight.grad, bias.grad))
    for a, b in zip(*results, strict=True):
        assert torch.equal(a, b)
    assert torch.count_nonzero(results[1][1][:, 4:]) == 0 and torch.isfinite(results[1][0])


def test_backward_scales_by_the_incoming_gradient_and_can_run_twice():
    torch.manual_seed(3)
    hidden = torch.randn(2, 4, 3, dtype=torch.float64, requires_grad=True)
    weight, bias = layer(3, 7)
    targets = torch.randint(0, 7, (2, 4))
    loss = linear_sequence_labeling_loss(hidden, weight, bias, targets, chunk_size=3)
    (loss * 2.5).backward(retain_graph=True)  # the eager buffers are handed over here...
    first = [x.grad.clone() for x in (hidden, weight, bias)]
    loss.backward(retain_graph=True)  # ...so this one recomputes,
    loss.backward()  # and so does this one
    for x, f in zip((hidden, weight, bias), first, strict=True):
        torch.testing.assert_close(x.grad, f * (2.5 + 2) / 2.5)


def test_value_without_gradients_and_in_float32_matches_the_composition():
    torch.manual_seed(4)
    hidden = torch.randn(3, 6, 8)
    weight, bias = layer(8, 40, dtype=torch.float32)
    targets = torch.randint(0, 40, (3, 6))
    with torch.no_grad():
        ours = linear_sequence_labeling_loss(hidden, weight, bias, targets, chunk_size=5)
        theirs = sequence_labeling_loss(hidden @ weight.t() + bias, targets)
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-5)
    h = hidden.clone().requires_grad_(True)
    kw = {"label_smoothing": 0.1, "chunk_size": 4}
    ours, theirs = fused_and_unfused(h, weight, bias, targets, torch.tensor([6, 2, 5]), **kw)
    assert_agree(ours, theirs, tol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_head_is_computed_in_float32_and_returned_in_its_dtype(dtype):
    torch.manual_seed(5)
    hidden = torch.randn(2, 5, 16).to(dtype).requires_grad_(True)
    weight, bias = (x.detach().to(dtype).requires_grad_(True) for x in layer(16, 50))
    targets = torch.randint(0, 50, (2, 5))
    ours, theirs = fused_and_unfused(hidden, weight, bias, targets, chunk_size=3)
    assert ours[0].dtype == dtype and all(g.dtype == dtype for g in ours[1])
    torch.testing.assert_close(ours[0].float(), theirs[0].float(), rtol=2e-2, atol=2e-2)
    for a, b in zip(ours[1], theirs[1], strict=True):
        torch.testing.assert_close(a.float(), b.float(), rtol=5e-2, atol=5e-2)


H, V = 4, 6
HIDDEN = torch.zeros(2, 3, H)
W = torch.zeros(V, H)
B = torch.zeros(V)
TARGETS = torch.zeros(2, 3, dtype=torch.long)


@pytest.mark.parametrize(
    ("kw", "error", "name"),
    [
        ({"hidden": torch.zeros(2, 3)}, ValueError, "hidden"),
        ({"hidden": HIDDEN.long()}, TypeError, "hidden"),
        ({"weight": torch.zeros(V, H + 1)}, ValueError, "weight"),
        ({"weight": torch.zeros(V)}, ValueError, "weight"),
        ({"weight": W.double()}, TypeError, "weight"),
        ({"bias": torch.zeros(V + 1)}, ValueError, "bias"),
        ({"targets": torch.zeros(2, 4, dtype=torch.long)}, ValueError, "targets"),
        ({"targets": torch.zeros(2, 3, V)}, TypeError, "targets"),
        ({"targets": torch.full((2, 3), V)}, ValueError, "targets"),
        ({"lengths": torch.tensor([4, 1])}, ValueError, "lengths"),
        ({"chunk_size": 0}, ValueError, "chunk_size"),
        ({"class_weight": torch.ones(V + 1)}, ValueError, "class_weight"),
        ({"reduction": "average"}, ValueError, "reduction"),
        ({"time_reduction": "none"}, ValueError, "reduction"),
        ({"label_smoothing": 1.0}, ValueError, "label_smoothing"),
    ],
)
def test_bad_input_raises_and_names_the_argument(kw, error, name):
    args = {"hidden": HIDDEN, "weight": W, "bias": B, "targets": TARGETS, **kw}
    positional = [args.pop(key) for key in ("hidden", "weight", "bias", "targets")]
    with pytest.raises(error, match=name):
        linear_sequence_labeling_loss(*positional, **args)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_chunked_head_on_cuda_equals_unfused_head():
    torch.manual_seed(6)
    hidden = torch.randn(4, 30, 64, device="cuda", requires_grad=True)
    weight = (torch.randn(5000, 64, device="cuda") / 8).requires_grad_(True)
    bias = torch.zeros(5000, device="cuda", requires_grad=True)
    targets = torch.randint(0, 5000, (4, 30), device="cuda")
    lengths = torch.tensor([30, 12, 1, 0], device="cuda")
    ours, theirs = fused_and_unfused(
        hidden, weight, bias, targets, lengths, chunk_size=17, label_smoothing=0.1
    )
    assert_agree(ours, theirs, tol=1e-4)


@pytest.mark.parametrize("with_coef", [True, False])
def test_kernel_reads_counted_rows_in_place_and_gives_padding_an_exact_zero_gradient(with_coef):
    torch.manual_seed(3)
    m, h, v = 9, 4, 7
    hidden = torch.randn(m, h, dtype=torch.float64, requires_grad=True)
    weight, bias = layer(h, v)
    rows = torch.tensor([0, 1, 4, 5, 6, 8])  # steps 2, 3 and 7 are padding
    classes = torch.randint(0, v, (6,))
    coef = torch.rand(6, dtype=torch.float64) if with_coef else None
    out = kernel.linear_cross_entropy(
        hidden, rows, weight, bias, classes, None, 0.1, torch.float64, 4, coef
    )
    total = out if with_coef else out.sum()
    grads = torch.autograd.grad(total, (hidden, weight, bias))
    gathered = hidden.index_select(0, rows)
    ref_out = kernel.linear_cross_entropy(
        gathered, None, weight, bias, classes, None, 0.1, torch.float64, 2, coef
    )
    ref_total = ref_out if with_coef else ref_out.sum()
    ref = torch.autograd.grad(ref_total, (hidden, weight, bias))
    torch.testing.assert_close(total, ref_total, rtol=1e-12, atol=1e-12)
    for a, b in zip(grads, ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    assert torch.equal(grads[0][[2, 3, 7]], torch.zeros(3, h, dtype=torch.float64))
