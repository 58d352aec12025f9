"""rnnseq.kernels.cross_entropy: the fused per-step cross-entropy equals the plain path, and
the dispatch uses it.

The plain path (log_softmax + gather, autograd's backward) is the oracle: every
case runs on both and must agree in value and gradient. The fused Function has
two modes (one log_softmax for short rows; chunks of rows keeping only (μ, s)
for long ones), and chunks read contiguous rows in place or gather scattered
ones; the kernel plans in PATHS below force each.
"""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import test_losses
import test_losses_agreement
from autograd_nodes import graph_nodes
from rnnseq.kernels import (
    clear_gradient_cache,
    cross_entropy,
    current_plan,
    default_plan,
    use_plan,
)
from rnnseq.kernels.gradient_cache import new_gradient
from rnnseq.losses import sequence_classification_loss, sequence_labeling_loss

SETTINGS = settings(max_examples=25, deadline=None)

# name -> the kernel plan's fields that force it (the rest: the device's defaults)
PATHS = {
    "plain": {"path": "plain"},
    "fused": {"path": "fused"},
    # A chunk of one counted row: many chunks, contiguous rows read in place.
    "fused-row-chunks": {
        "path": "fused", "chunk_elements": 1, "chunked_min_classes": 1, "dense_chunks": False,
    },
    # Chunks of several counted rows, always gathered (as on CUDA), never read in place.
    "fused-gather-chunks": {
        "path": "fused", "chunk_elements": 24, "chunked_min_classes": 1, "dense_chunks": False,
        "read_runs_in_place": False,
    },
    # A few slices over all rows, padding included (as with several CPU threads).
    "fused-dense-chunks": {
        "path": "fused", "chunk_elements": 1, "chunked_min_classes": 1, "dense_chunks": True,
    },
}  # fmt: skip


def forced(name: str):
    """Put the per-step loss on one of PATHS inside a ``with`` block."""
    return use_plan(PATHS[name])


def run(name, fn, logits, *args, upstream=None, **kw):
    """Value of fn(logits, ...) on path ``name`` and the gradient for ``upstream``."""
    with forced(name):
        z = logits.detach().clone().requires_grad_(True)
        out = fn(z, *args, **kw)
        g = torch.ones_like(out) if upstream is None else upstream
        (grad,) = torch.autograd.grad(out, z, g)
    return out.detach(), grad


def assert_same(a, b, dtype):
    tol = {torch.float64: 1e-10, torch.float32: 2e-5}.get(dtype, 2e-2)
    torch.testing.assert_close(a[0], b[0], rtol=tol, atol=tol, equal_nan=True)
    torch.testing.assert_close(a[1], b[1], rtol=tol, atol=tol, equal_nan=True)


# ------------------------------------------------------------ agreement with plain


@st.composite
def fusable_cases(draw):
    """Labeling losses with class-index targets: every option the fused path takes."""
    n = draw(st.integers(0, 4))
    t = draw(st.integers(1, 6))
    c = draw(st.sampled_from([1, 2, 5, 13, 40]))
    g = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    dtype = draw(st.sampled_from([torch.float64, torch.float32]))
    logits = torch.randn(n, t, c, generator=g, dtype=dtype) * draw(st.sampled_from([1, 8]))
    targets = torch.randint(0, c, (n, t), generator=g)
    if draw(st.booleans()):
        targets = targets.masked_fill(torch.rand(n, t, generator=g) < 0.3, -100)
    kw = {}
    counting = draw(st.sampled_from(["none", "lengths", "bool_mask", "float_mask"]))
    if counting == "lengths":
        kw["lengths"] = torch.randint(0, t + 1, (n,), generator=g)
    elif counting == "bool_mask":
        kw["mask"] = torch.rand(n, t, generator=g) < 0.6
    elif counting == "float_mask":
        kw["mask"] = (torch.rand(n, t, generator=g) * 2).masked_fill(
            torch.rand(n, t, generator=g) < 0.3, 0.0
        )
    if draw(st.booleans()):
        kw["weight"] = torch.rand(c, generator=g, dtype=dtype) * 2 + 0.1
    kw["label_smoothing"] = draw(st.sampled_from([0.0, 0.1, 0.5]))
    kw["time_reduction"], kw["reduction"] = draw(
        st.sampled_from(
            [
                ("sum", "mean"),
                ("sum", "sum"),
                ("sum", "none"),
                ("sum", "token_mean"),
                ("mean", "mean"),
                ("mean", "none"),
                ("none", "none"),
            ]
        )
    )
    return logits, targets, kw


@pytest.mark.parametrize(
    "name", ["fused", "fused-row-chunks", "fused-gather-chunks", "fused-dense-chunks"]
)
@SETTINGS
@given(case=fusable_cases(), seed=st.integers(0, 1000))
def test_fused_labeling_loss_equals_plain_in_value_and_gradient(name, case, seed):
    logits, targets, kw = case
    shape = sequence_labeling_loss(logits, targets, **kw).shape
    upstream = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=logits.dtype)
    plain = run("plain", sequence_labeling_loss, logits, targets, upstream=upstream, **kw)
    fused = run(name, sequence_labeling_loss, logits, targets, upstream=upstream, **kw)
    assert_same(fused, plain, logits.dtype)


@pytest.mark.parametrize("name", ["fused", "fused-row-chunks"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("eps", [0.0, 0.2])
@pytest.mark.parametrize("weighted", [False, True])
def test_fused_classification_loss_equals_plain(name, reduction, eps, weighted):
    torch.manual_seed(0)
    logits = torch.randn(7, 30, dtype=torch.float64) * 3
    targets = torch.randint(0, 30, (7,))
    kw = {"label_smoothing": eps, "reduction": reduction}
    if weighted:
        kw["weight"] = torch.rand(30, dtype=torch.float64) + 0.1
    plain = run("plain", sequence_classification_loss, logits, targets, **kw)
    fused = run(name, sequence_classification_loss, logits, targets, **kw)
    assert_same(fused, plain, torch.float64)


@pytest.mark.parametrize(
    "name", ["fused", "fused-row-chunks", "fused-gather-chunks", "fused-dense-chunks"]
)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_logits_agree_with_plain_path(name, dtype):
    torch.manual_seed(1)
    logits = (torch.randn(4, 9, 70) * 6).to(dtype)
    targets = torch.randint(0, 70, (4, 9))
    kw = {"lengths": torch.tensor([9, 4, 1, 0]), "label_smoothing": 0.1}
    plain = run("plain", sequence_labeling_loss, logits, targets, **kw)
    fused = run(name, sequence_labeling_loss, logits, targets, **kw)
    assert fused[0].dtype == dtype and fused[1].dtype == dtype
    # Both compute in float32 and round once to the input dtype at the end.
    torch.testing.assert_close(fused[0].float(), plain[0].float(), rtol=1e-2, atol=1e-2)
    torch.testing.assert_close(fused[1].float(), plain[1].float(), rtol=2e-2, atol=2e-3)


# --------------------------------------------------------------------- gradcheck


@pytest.mark.parametrize(
    "name", ["fused", "fused-row-chunks", "fused-gather-chunks", "fused-dense-chunks"]
)
@pytest.mark.parametrize(
    "kw",
    [
        {},
        {
            "weight": torch.tensor([0.5, 2.0, 1.0, 0.1, 3.0], dtype=torch.float64),
            "label_smoothing": 0.2,
        },
    ],
)
def test_fused_function_passes_gradcheck(name, kw):
    torch.manual_seed(2)
    logits = torch.randn(8, 5, dtype=torch.float64, requires_grad=True)
    targets = torch.randint(0, 5, (8,))
    counted = torch.tensor([True, True, False, True, False, False, True, True])
    weight = kw.get("weight")
    eps = kw.get("label_smoothing", 0.0)

    def per_step(z):
        return cross_entropy.cross_entropy_per_step(
            z, targets, counted, weight, eps, torch.float64, current_plan()
        )

    with forced(name):
        assert torch.autograd.gradcheck(per_step, (logits,))


# ------------------------------------------------------------------- inert steps


@pytest.mark.parametrize(
    "name", ["fused", "fused-row-chunks", "fused-gather-chunks", "fused-dense-chunks"]
)
@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf")])
def test_garbage_at_uncounted_steps_is_inert_on_the_fused_path(name, value):
    torch.manual_seed(3)
    clean = torch.randn(3, 8, 40, dtype=torch.float64)
    targets = torch.randint(0, 40, (3, 8))
    lengths = torch.tensor([8, 3, 0])
    real = torch.arange(8)[None, :] < lengths[:, None]  # (N, T)
    targets = targets.masked_fill(~real, -1)
    targets[0, 5] = -100  # an ignored step inside a row
    counted = real.clone()
    counted[0, 5] = False
    kw = {"weight": torch.rand(40, dtype=torch.float64) + 0.5, "label_smoothing": 0.1}
    results = []
    for garbage in (False, True):
        logits = clean.clone()
        if garbage:
            logits[~counted] = value
        logits.requires_grad_(True)
        with forced(name):
            loss = sequence_labeling_loss(logits, targets, lengths, **kw)
            loss.backward()
        results.append((loss.detach(), logits.grad))
    (loss_a, grad_a), (loss_b, grad_b) = results
    assert torch.isfinite(loss_b)
    assert torch.equal(loss_a, loss_b) and torch.equal(grad_a, grad_b)
    assert torch.count_nonzero(grad_b[~counted]) == 0


def test_nan_at_a_counted_step_propagates_on_the_fused_path():
    logits = torch.randn(2, 3, 600)
    logits[1, 0, 7] = float("nan")
    with forced("fused-row-chunks"):
        assert torch.isnan(sequence_labeling_loss(logits, torch.zeros(2, 3, dtype=torch.long)))


# -------------------------------------------------------------------- dispatch


def uses_fused(loss: torch.Tensor) -> bool:
    """Whether ``loss`` was computed off the plain path: by the fused kernel's autograd
    Function, its lean mode for short rows (F.cross_entropy's per-step losses dotted
    with the weights a_m), or the small-batch path (log_softmax + nll_loss); the plain
    path masks the logits, gathers and sums instead, and never calls nll_loss."""
    names = graph_nodes(loss)
    return "_CrossEntropyPerStepBackward" in names or "NllLossBackward0" in names


def test_auto_dispatch_fuses_class_index_losses_on_cpu():
    logits = torch.randn(2, 3, 17, requires_grad=True)
    targets = torch.zeros(2, 3, dtype=torch.long)
    assert current_plan().path == "auto"
    assert uses_fused(sequence_labeling_loss(logits, targets))
    assert uses_fused(sequence_labeling_loss(logits, targets, reduction="none"))
    assert uses_fused(sequence_classification_loss(logits[:, 0], targets[:, 0]))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_auto_dispatch_keeps_cuda_on_the_plain_path():
    logits = torch.randn(2, 3, 1000, device="cuda", requires_grad=True)
    targets = torch.zeros(2, 3, dtype=torch.long, device="cuda")
    assert not uses_fused(sequence_labeling_loss(logits, targets))


def test_probability_targets_and_trainable_class_weights_stay_on_the_plain_path():
    logits = torch.randn(2, 3, 100, requires_grad=True)
    probs = torch.softmax(torch.randn(2, 3, 100), -1)
    with use_plan(path="fused"):
        assert not uses_fused(sequence_labeling_loss(logits, probs))
        w = torch.ones(100, requires_grad=True)
        loss = sequence_labeling_loss(logits, torch.zeros(2, 3, dtype=torch.long), weight=w)
        assert not uses_fused(loss)
        loss.backward()
        assert w.grad is not None


def test_use_plan_forces_each_path_and_restores_the_plan():
    logits = torch.randn(2, 3, 4, requires_grad=True)
    targets = torch.zeros(2, 3, dtype=torch.long)
    with use_plan(path="fused"):
        assert uses_fused(sequence_labeling_loss(logits, targets))
        with use_plan(path="plain"):
            assert not uses_fused(sequence_labeling_loss(logits * 100, targets))
        assert current_plan().path == "fused"
    assert current_plan().path == "auto"
    with pytest.raises(ValueError, match="path"):
        with use_plan(path="fast"):
            pass


def test_chunks_read_contiguous_runs_in_place_and_gather_scattered_rows():
    runs = torch.tensor([0, 1, 2, 3, 4, 10, 11, 12])  # two runs of counted rows
    chunks = cross_entropy.chunks(runs, 3, in_place=True)
    assert [(k0, k1, where) for k0, k1, where in chunks] == [
        (0, 3, slice(0, 3)),
        (3, 5, slice(3, 5)),
        (5, 8, slice(10, 13)),
    ]
    scattered = torch.tensor([0, 2, 4, 6, 8, 10, 12])  # runs of one row: chunks of 5 gather
    chunks = cross_entropy.chunks(scattered, 5, in_place=True)
    assert [(k0, k1) for k0, k1, _ in chunks] == [(0, 5), (5, 7)]
    assert all(where is None for _, _, where in chunks)
    assert cross_entropy.chunks(torch.tensor([], dtype=torch.long), 3, in_place=True) == []
    gathered = cross_entropy.chunks(runs, 3, in_place=False)  # as on CUDA
    assert gathered == [(0, 3, None), (3, 6, None), (6, 8, None)]


@pytest.mark.parametrize("name", ["fused", "fused-row-chunks"])
def test_a_second_backward_through_a_retained_graph_gives_the_same_gradient(name):
    torch.manual_seed(4)
    logits = torch.randn(3, 5, 700, requires_grad=True)
    targets = torch.randint(0, 700, (3, 5))
    with forced(name):
        loss = sequence_labeling_loss(logits, targets, torch.tensor([5, 2, 1]))
        loss.backward(retain_graph=True)
        first = logits.grad.clone()
        loss.backward()
    torch.testing.assert_close(logits.grad, 2 * first)


def test_gradient_memory_is_reused_only_once_nothing_holds_the_last_gradient():
    steps = default_plan("cpu").cached_gradient_bytes // (4 * 1000) + 1  # the cache serves it
    torch.manual_seed(6)
    logits = torch.randn(1, steps, 1000, requires_grad=True)
    targets = torch.randint(0, 1000, (1, steps))

    def gradient():
        logits.grad = None
        with forced("fused"):
            sequence_labeling_loss(logits, targets).backward()
        return logits.grad

    kept = gradient()
    expected = kept.clone()
    second = gradient()  # `kept` is still held: new memory
    assert second.data_ptr() != kept.data_ptr()
    assert torch.equal(kept, expected) and torch.equal(second, expected)
    second_ptr = second.data_ptr()
    del second
    logits.grad = None
    third = gradient()  # the last buffer is free again: reused, same values
    assert third.data_ptr() == second_ptr and torch.equal(third, expected)
    assert torch.equal(kept, expected)
    clear_gradient_cache()


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float64])
def test_cached_gradients_come_back_with_the_asked_shape_and_dtype(dtype):
    threshold = default_plan("cpu").cached_gradient_bytes
    rows = threshold // 1000 + 1
    buffer = new_gradient(rows, 1000, dtype, torch.device("cpu"), threshold)
    assert buffer.shape == (rows, 1000) and buffer.dtype == dtype and buffer.is_contiguous()
    buffer.fill_(1.5)
    assert buffer.sum().item() == pytest.approx(1.5 * rows * 1000, rel=1e-2)
    del buffer
    clear_gradient_cache()


# ------------------------------------------- the existing loss tests, on each path


def rerun_module_on(module, name: str):
    """A test class holding every test of ``module``, run with the loss forced onto ``name``."""
    tests = {
        key: staticmethod(fn)
        for key, fn in vars(module).items()
        if key.startswith("test_") and callable(fn)
    }

    @pytest.fixture(autouse=True)
    def _forced(self):
        with forced(name):
            yield

    title = "".join(part.title() for part in name.split("-"))
    return type(f"Test{title}", (), {**tests, "_forced": _forced})


TestLossesPlain = rerun_module_on(test_losses, "plain")
TestLossesFused = rerun_module_on(test_losses, "fused")
TestLossesFusedRowChunks = rerun_module_on(test_losses, "fused-row-chunks")
TestAgreementPlain = rerun_module_on(test_losses_agreement, "plain")
TestAgreementFused = rerun_module_on(test_losses_agreement, "fused")
TestAgreementFusedRowChunks = rerun_module_on(test_losses_agreement, "fused-row-chunks")


# ------------------------------------------------------------------------- CUDA


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_fused_path_on_cuda_equals_plain_path(dtype):
    torch.manual_seed(5)
    logits = (torch.randn(8, 40, 3000, device="cuda") * 4).to(dtype)
    targets = torch.randint(0, 3000, (8, 40), device="cuda")
    lengths = torch.tensor([20, 40, 1, 0, 33, 40, 7, 39], device="cuda")
    logits[0, 25] = float("nan")  # padding: must stay inert
    w = torch.rand(3000, device="cuda") + 0.1
    kw = {"lengths": lengths, "label_smoothing": 0.1, "weight": w}
    plain = run("plain", sequence_labeling_loss, logits, targets, **kw)
    tol = 1e-4 if dtype == torch.float32 else 2e-2
    for name in ("fused", "fused-gather-chunks"):
        fused = run(name, sequence_labeling_loss, logits, targets, **kw)
        assert math.isfinite(fused[0].float().item())
        torch.testing.assert_close(fused[0].float(), plain[0].float(), rtol=tol, atol=tol)
        torch.testing.assert_close(fused[1].float(), plain[1].float(), rtol=tol, atol=tol)
        assert torch.count_nonzero(fused[1][0, 20:]) == 0
