"""rnnseq.crf: the forward algorithm and Viterbi against brute force over every path."""

import doctest
import itertools
import math

import pytest
import torch

from rnnseq import crf as crf_module
from rnnseq.crf import LinearChainCRF, crf_loss, viterbi_decode
from rnnseq.losses import sequence_labeling_loss
from rnnseq.tag_schemes import allowed_transitions

REDUCTIONS = ("mean", "sum", "none", "token_mean")

# (C, T, lengths): ragged, with empty rows and one-step rows.
CASES = [
    (1, 3, [3, 0, 1]),
    (2, 4, [4, 1, 0, 2]),
    (3, 4, [4, 3, 1, 0]),
    (3, 1, [1, 0, 1]),
]


# ---------------------------------------------------------------- brute force


def path_score(emit, path, start, trans, end):
    """score(y) = start[y_1] + Σ_t emit[t, y_t] + Σ_t trans[y_{t-1}, y_t] + end[y_T]."""
    score = start[path[0]] + end[path[-1]]
    for t, y in enumerate(path):
        score = score + emit[t, y]
    for a, b in itertools.pairwise(path):
        score = score + trans[a, b]
    return score


def is_allowed(path, allowed):
    if allowed is None:
        return True
    ok_start, ok_trans, ok_end = allowed
    pairs = itertools.pairwise(path)
    return ok_start[path[0]] and ok_end[path[-1]] and all(ok_trans[a][b] for a, b in pairs)


def all_paths(num_tags, length, allowed=None):
    return [p for p in itertools.product(range(num_tags), repeat=length) if is_allowed(p, allowed)]


def brute_nll(emissions, tags, lengths, start, trans, end, allowed=None):
    """(N,) NLL by an explicit logsumexp over every (allowed) path; differentiable."""
    rows = []
    for i, length in enumerate(lengths):
        if length == 0:
            rows.append(emissions.new_zeros(()))
            continue
        paths = all_paths(emissions.shape[2], length, allowed)
        scores = torch.stack([path_score(emissions[i], p, start, trans, end) for p in paths])
        gold = path_score(emissions[i], tags[i, :length].tolist(), start, trans, end)
        rows.append(torch.logsumexp(scores, dim=0) - gold)
    return torch.stack(rows)


def brute_viterbi(emissions, lengths, start, trans, end, allowed=None):
    best = []
    for i, length in enumerate(lengths):
        paths = all_paths(emissions.shape[2], length, allowed) if length else [()]
        scores = [path_score(emissions[i], p, start, trans, end) if p else 0.0 for p in paths]
        best.append(list(paths[max(range(len(paths)), key=lambda k: float(scores[k]))]))
    return best


def make_case(num_tags, t_max, lengths, seed=0, allowed=None, dtype=torch.float64):
    """Random emissions, parameters and gold tags (gold drawn from the allowed paths)."""
    g = torch.Generator().manual_seed(seed)
    n = len(lengths)
    emissions = torch.randn(n, t_max, num_tags, generator=g, dtype=dtype)
    trans = torch.randn(num_tags, num_tags, generator=g, dtype=dtype)
    start = torch.randn(num_tags, generator=g, dtype=dtype)
    end = torch.randn(num_tags, generator=g, dtype=dtype)
    tags = torch.zeros(n, t_max, dtype=torch.long)
    for i, length in enumerate(lengths):
        if length:
            paths = all_paths(num_tags, length, allowed)
            pick = int(torch.randint(len(paths), (1,), generator=g))
            tags[i, :length] = torch.tensor(paths[pick])
    params = {"transitions": trans, "start_transitions": start, "end_transitions": end}
    return emissions, tags, params


def leaves(emissions, params):
    emissions = emissions.clone().requires_grad_()
    params = {k: v.clone().requires_grad_() for k, v in params.items()}
    return emissions, params


def grads(loss, emissions, params):
    tensors = [emissions, *params.values()]
    return torch.autograd.grad(loss, tensors, allow_unused=True, materialize_grads=True)


# ---------------------------------------------------------------- the math


@pytest.mark.parametrize(("num_tags", "t_max", "lengths"), CASES)
def test_crf_loss_and_gradients_equal_brute_force_over_all_paths(num_tags, t_max, lengths):
    emissions, tags, params = make_case(num_tags, t_max, lengths, seed=num_tags * 10 + t_max)
    e1, p1 = leaves(emissions, params)
    e2, p2 = leaves(emissions, params)
    ours = crf_loss(e1, tags, lengths, reduction="none", **p1)
    brute = brute_nll(
        e2, tags, lengths, p2["start_transitions"], p2["transitions"], p2["end_transitions"]
    )
    torch.testing.assert_close(ours, brute, rtol=1e-12, atol=1e-12)
    weights = torch.arange(1.0, len(lengths) + 1, dtype=torch.float64)  # a generic direction
    for a, b in zip(
        grads((ours * weights).sum(), e1, p1), grads((brute * weights).sum(), e2, p2), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize(("num_tags", "t_max", "lengths"), CASES)
def test_reductions_follow_from_the_per_row_nll(num_tags, t_max, lengths):
    emissions, tags, params = make_case(num_tags, t_max, lengths, seed=3)
    per_row = brute_nll(
        emissions,
        tags,
        lengths,
        params["start_transitions"],
        params["transitions"],
        params["end_transitions"],
    )
    rows = sum(1 for k in lengths if k > 0)
    expected = {
        "none": per_row,
        "sum": per_row.sum(),
        "mean": per_row.sum() / rows,
        "token_mean": per_row.sum() / sum(lengths),
    }
    for reduction in REDUCTIONS:
        got = crf_loss(emissions, tags, lengths, reduction=reduction, **params)
        torch.testing.assert_close(got, expected[reduction], rtol=1e-12, atol=1e-12)
    assert (
        crf_loss(emissions, tags, lengths, reduction="none", **params)[torch.tensor(lengths) == 0]
        == 0
    ).all()


@pytest.mark.parametrize(("num_tags", "t_max", "lengths"), CASES)
def test_viterbi_equals_brute_force_argmax(num_tags, t_max, lengths):
    for seed in range(5):
        emissions, _, params = make_case(num_tags, t_max, lengths, seed=seed)
        best = viterbi_decode(emissions, lengths, **params)
        assert best == brute_viterbi(
            emissions,
            lengths,
            params["start_transitions"],
            params["transitions"],
            params["end_transitions"],
        )
        assert [len(p) for p in best] == lengths


IOB2_TAGS = ["O", "B-X", "I-X"]
IOBES_TAGS = ["O", "B-X", "I-X", "E-X", "S-X"]


@pytest.mark.parametrize(
    ("tags", "scheme", "t_max", "lengths"),
    [(IOB2_TAGS, "IOB2", 4, [4, 2, 0, 1]), (IOBES_TAGS, "IOBES", 4, [4, 3, 1, 0])],
)
def test_constrained_crf_equals_brute_force_over_allowed_paths(tags, scheme, t_max, lengths):
    allowed = allowed_transitions(tags, scheme)
    emissions, gold, params = make_case(len(tags), t_max, lengths, seed=7, allowed=allowed)
    e1, p1 = leaves(emissions, params)
    e2, p2 = leaves(emissions, params)
    ours = crf_loss(e1, gold, lengths, reduction="sum", constraints=allowed, **p1)
    brute = brute_nll(
        e2,
        gold,
        lengths,
        p2["start_transitions"],
        p2["transitions"],
        p2["end_transitions"],
        allowed,
    ).sum()
    torch.testing.assert_close(ours, brute, rtol=1e-12, atol=1e-12)
    ours_grads = grads(ours, e1, p1)
    for a, b in zip(ours_grads, grads(brute, e2, p2), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    forbidden = ~torch.tensor(allowed[1])
    assert (ours_grads[1][forbidden] == 0).all()  # no gradient reaches a forbidden move
    # Unconstrained, the same gold sequences have a lower likelihood (Z sums more paths).
    free = crf_loss(emissions, gold, lengths, reduction="sum", **params)
    assert free > ours
    for seed in range(5):
        emissions, _, params = make_case(len(tags), t_max, lengths, seed=seed)
        best = viterbi_decode(emissions, lengths, constraints=allowed, **params)
        assert best == brute_viterbi(
            emissions,
            lengths,
            params["start_transitions"],
            params["transitions"],
            params["end_transitions"],
            allowed,
        )


@pytest.mark.parametrize("reduction", ["mean", "token_mean", "none"])
@pytest.mark.parametrize("constrained", [False, True])
def test_gradcheck_float64(reduction, constrained):
    allowed = allowed_transitions(IOB2_TAGS, "IOB2") if constrained else None
    lengths = [3, 1, 0, 2]
    emissions, tags, params = make_case(3, 3, lengths, seed=11, allowed=allowed)

    def f(e, trans, start, end):
        return crf_loss(
            e,
            tags,
            lengths,
            reduction=reduction,
            transitions=trans,
            start_transitions=start,
            end_transitions=end,
            constraints=allowed,
        )

    inputs = [t.requires_grad_() for t in (emissions, *params.values())]
    assert torch.autograd.gradcheck(f, inputs)


def test_zero_transitions_make_the_crf_the_per_step_softmax():
    """At initialisation (all transition scores 0) the NLL is the summed token cross-entropy."""
    emissions, tags, _ = make_case(4, 5, [5, 3, 0], seed=2)
    crf = LinearChainCRF(4).double()
    token_ce = -emissions.log_softmax(-1).gather(2, tags.unsqueeze(2)).squeeze(2)  # (N, T)
    steps = torch.arange(5) < torch.tensor([5, 3, 0]).unsqueeze(1)
    expected = (token_ce * steps).sum(1)
    torch.testing.assert_close(crf(emissions, tags, [5, 3, 0], reduction="none"), expected)


def test_loss_is_finite_for_long_sequences_and_large_scores():
    allowed = allowed_transitions(IOBES_TAGS, "IOBES")
    g = torch.Generator().manual_seed(0)
    emissions = (1e4 * torch.randn(2, 200, 5, generator=g)).requires_grad_()
    tags = torch.zeros(2, 200, dtype=torch.long)  # all O: allowed
    crf = LinearChainCRF(5, constraints=allowed)
    loss = crf(emissions, tags, [200, 17])
    loss.backward()
    assert torch.isfinite(loss) and loss >= 0
    assert torch.isfinite(emissions.grad).all()
    assert all(torch.isfinite(p.grad).all() for p in crf.parameters())


def test_an_unreachable_tag_gets_zero_gradient_not_nan():
    """With -inf for forbidden moves, logsumexp's backward over all -inf would give NaN."""
    crf = LinearChainCRF(2, constraints=allowed_transitions(["O", "I-X"], "IOB2"))  # I-X: dead
    emissions = torch.randn(2, 3, 2, generator=torch.Generator().manual_seed(0))
    emissions.requires_grad_()
    loss = crf(emissions, torch.zeros(2, 3, dtype=torch.long), [3, 1])
    loss.backward()
    assert loss.item() == 0.0  # one allowed path (all O), and it is the gold one
    assert (emissions.grad == 0).all()
    assert all((p.grad == 0).all() for p in crf.parameters())
    assert crf.viterbi_decode(emissions.detach(), [3, 1]) == [[0, 0, 0], [0]]


# ---------------------------------------------------------------- masking


def garbage_copy(emissions, tags, lengths):
    """NaN / ±inf emissions and out-of-range tags at every padded step."""
    emissions, tags = emissions.clone(), tags.clone()
    junk_values = [math.nan, math.inf, -math.inf]
    junk_tags = [-1, -100, emissions.shape[2], 10**6]
    for i, length in enumerate(lengths):
        for t in range(length, emissions.shape[1]):
            emissions[i, t] = junk_values[(i + t) % 3]
            tags[i, t] = junk_tags[(i + t) % 4]
    return emissions, tags


@pytest.mark.parametrize("use_mask", [False, True])
@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_padded_steps_are_inert_even_with_nan_and_bad_tags(use_mask, reduction):
    lengths = [4, 2, 0, 1]
    allowed = allowed_transitions(IOB2_TAGS, "IOB2")
    emissions, tags, params = make_case(3, 4, lengths, seed=5, allowed=allowed)
    dirty_emissions, dirty_tags = garbage_copy(emissions, tags, lengths)
    mask = torch.arange(4) < torch.tensor(lengths).unsqueeze(1)
    span = {"mask": mask} if use_mask else {"lengths": lengths}

    def run(e, t):
        e, p = leaves(e, params)
        loss = crf_loss(e, t, reduction=reduction, constraints=allowed, **span, **p)
        return loss, grads(loss.sum(), e, p)

    clean_loss, clean_grads = run(emissions, tags)
    dirty_loss, dirty_grads = run(dirty_emissions, dirty_tags)
    torch.testing.assert_close(dirty_loss, clean_loss, rtol=0, atol=0)
    for a, b in zip(dirty_grads, clean_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert (dirty_grads[0][~mask] == 0).all()  # padded emissions get exactly 0
    clean_paths = viterbi_decode(emissions, constraints=allowed, **span, **params)
    assert viterbi_decode(dirty_emissions, constraints=allowed, **span, **params) == clean_paths


def test_lengths_and_mask_give_the_same_loss():
    lengths = [3, 0, 2]
    emissions, tags, params = make_case(2, 3, lengths, seed=9)
    mask = torch.arange(3) < torch.tensor(lengths).unsqueeze(1)
    by_lengths = crf_loss(emissions, tags, torch.tensor(lengths), reduction="none", **params)
    torch.testing.assert_close(
        crf_loss(emissions, tags, mask=mask, reduction="none", **params), by_lengths
    )
    everything = crf_loss(emissions, tags, reduction="none", **params)
    torch.testing.assert_close(
        everything, crf_loss(emissions, tags, [3, 3, 3], reduction="none", **params)
    )


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(3, 4, 2), (2, 0, 2), (0, 4, 2)])
def test_nothing_counted_gives_zero_loss_and_zero_gradient(reduction, shape):
    n, t_max, c = shape
    crf = LinearChainCRF(c, constraints=allowed_transitions(["O", "I-X"], "IOB1"))
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    emissions = torch.full(shape, math.nan).requires_grad_()  # never read
    tags = torch.full((n, t_max), -100)
    loss = crf(emissions, tags, [0] * n, reduction=reduction)
    assert loss.shape == ((n,) if reduction == "none" else ())
    assert (loss == 0).all()
    loss.sum().backward()
    assert (emissions.grad == 0).all()
    assert all((p.grad == 0).all() for p in crf.parameters())
    assert crf.viterbi_decode(emissions, [0] * n) == [[]] * n


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_is_computed_in_float32_and_returned_in_its_dtype(dtype):
    lengths = [5, 2]
    emissions, tags, params = make_case(3, 5, lengths, seed=4, dtype=torch.float32)
    low = (emissions * 100).to(dtype).requires_grad_()  # large scores: fp16 sums would drift
    loss = crf_loss(low, tags, lengths, reduction="sum", **params)
    assert loss.dtype == dtype
    reference = crf_loss(low.detach().float(), tags, lengths, reduction="sum", **params)
    assert loss.float().item() == pytest.approx(reference.item(), rel=1e-2)
    loss.backward()
    assert low.grad.dtype == dtype and torch.isfinite(low.grad).all()


def test_float64_emissions_stay_float64_with_float32_parameters():
    emissions, tags, _ = make_case(3, 4, [4, 2], seed=1)
    crf = LinearChainCRF(3)  # float32 parameters
    loss = crf(emissions, tags, [4, 2])
    assert loss.dtype == torch.float64
    loss.backward()
    assert crf.transitions.grad.dtype == torch.float32


def test_float32_emissions_give_float32_loss():
    emissions, tags, params = make_case(3, 4, [4, 2], seed=1, dtype=torch.float32)
    assert crf_loss(emissions, tags, [4, 2], **params).dtype == torch.float32


# ---------------------------------------------------------------- bad input


def _bad_inputs():
    e = torch.zeros(2, 3, 3)
    t = torch.zeros(2, 3, dtype=torch.long)
    trans = torch.zeros(3, 3)
    full = torch.ones(2, 3, dtype=torch.bool)
    return [
        ("emissions 2-D", dict(emissions=e[0], tags=t), ValueError, "emissions"),
        ("emissions int", dict(emissions=e.long(), tags=t), TypeError, "emissions"),
        ("tags shape", dict(emissions=e, tags=t[:, :2]), ValueError, "tags"),
        ("tags float", dict(emissions=e, tags=t.float()), TypeError, "tags"),
        (
            "tag too big",
            dict(emissions=e, tags=t.index_fill(1, torch.tensor([1]), 3)),
            ValueError,
            "tags",
        ),
        ("tag negative", dict(emissions=e, tags=t - 1, lengths=[1, 0]), ValueError, "tags"),
        ("lengths > T", dict(emissions=e, tags=t, lengths=[4, 1]), ValueError, "lengths"),
        ("lengths < 0", dict(emissions=e, tags=t, lengths=[-1, 1]), ValueError, "lengths"),
        ("lengths shape", dict(emissions=e, tags=t, lengths=[1, 1, 1]), ValueError, "lengths"),
        ("lengths float", dict(emissions=e, tags=t, lengths=[1.0, 2.0]), TypeError, "lengths"),
        (
            "both",
            dict(emissions=e, tags=t, lengths=[1, 1], mask=full),
            ValueError,
            "lengths and mask",
        ),
        (
            "mask hole",
            dict(emissions=e, tags=t, mask=torch.tensor([[1, 0, 1], [1, 1, 1]]).bool()),
            ValueError,
            "mask",
        ),
        ("mask float", dict(emissions=e, tags=t, mask=full.float()), ValueError, "mask"),
        ("mask shape", dict(emissions=e, tags=t, mask=full[:, :2]), ValueError, "mask"),
        ("reduction", dict(emissions=e, tags=t, reduction="avg"), ValueError, "reduction"),
        (
            "transitions",
            dict(emissions=e, tags=t, transitions=torch.zeros(2, 2)),
            ValueError,
            "transitions",
        ),
        (
            "start",
            dict(emissions=e, tags=t, transitions=trans, start_transitions=torch.zeros(2)),
            ValueError,
            "start_transitions",
        ),
        (
            "constraints",
            dict(emissions=e, tags=t, constraints=([True] * 3, [[True] * 3] * 3)),
            ValueError,
            "constraints",
        ),
        (
            "constraints shape",
            dict(emissions=e, tags=t, constraints=([True] * 2, [[True] * 3] * 3, [True] * 3)),
            ValueError,
            "constraints",
        ),
    ]


@pytest.mark.parametrize(
    ("kwargs", "error", "name"),
    [case[1:] for case in _bad_inputs()],
    ids=[c[0] for c in _bad_inputs()],
)
def test_bad_input_raises_an_error_naming_the_argument(kwargs, error, name):
    kwargs = {"transitions": torch.zeros(3, 3), **kwargs}
    with pytest.raises(error, match=name):
        crf_loss(**kwargs)
    if "tags" in kwargs and name not in ("tags", "reduction"):
        decode_kwargs = {k: v for k, v in kwargs.items() if k not in ("tags", "reduction")}
        with pytest.raises(error, match=name):
            viterbi_decode(**decode_kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lengths": [4, 1]},
        {"lengths": [-1, 1]},
        {"lengths": [1, 1, 1]},
        {"lengths": [1.0, 2.0]},
        {"lengths": [1, 1], "mask": torch.ones(2, 3, dtype=torch.bool)},
        {"mask": torch.ones(2, 2, dtype=torch.bool)},
    ],
)
def test_lengths_and_mask_are_checked_with_the_labeling_losses_messages(kwargs):
    emissions, tags = torch.zeros(2, 3, 3), torch.zeros(2, 3, dtype=torch.long)
    with pytest.raises((TypeError, ValueError)) as ours:
        crf_loss(emissions, tags, transitions=torch.zeros(3, 3), **kwargs)
    with pytest.raises((TypeError, ValueError)) as theirs:
        sequence_labeling_loss(emissions, tags, **kwargs)
    assert type(ours.value) is type(theirs.value) and str(ours.value) == str(theirs.value)


def test_gold_sequence_breaking_the_constraints_is_refused_naming_tags():
    # CoNLL-2003's eng.train has two such sentences in IOB1: O followed by B-MISC.
    tags = ["O", "B-MISC", "I-MISC"]
    crf = LinearChainCRF(3, constraints=allowed_transitions(tags, "IOB1"))
    emissions = torch.zeros(1, 3, 3)
    with pytest.raises(ValueError, match=r"tags of row 0 move from tag 0 to 1 at step 1"):
        crf(emissions, torch.tensor([[0, 1, 2]]))
    with pytest.raises(ValueError, match=r"tags of row 1 start with tag 1"):
        crf(emissions.expand(2, 3, 3), torch.tensor([[0, 0, 0], [1, 2, 0]]))
    iobes = LinearChainCRF(5, constraints=allowed_transitions(IOBES_TAGS, "IOBES"))
    with pytest.raises(ValueError, match=r"tags of row 0 end with tag 1"):
        iobes(torch.zeros(1, 2, 5), torch.tensor([[0, 1]]))
    # ... while the same sentence read as IOB2 (B- after O is legal there) is accepted.
    assert torch.isfinite(
        crf_loss(
            emissions,
            torch.tensor([[0, 1, 2]]),
            transitions=torch.zeros(3, 3),
            constraints=allowed_transitions(tags, "IOB2"),
        )
    )


def test_module_rejects_a_bad_tag_count():
    with pytest.raises(ValueError, match="num_tags"):
        LinearChainCRF(0)


# ---------------------------------------------------------------- the module


def test_module_forward_and_decode_match_the_functions():
    allowed = allowed_transitions(IOBES_TAGS, "IOBES")
    crf = LinearChainCRF(5, constraints=allowed).double()
    with torch.no_grad():
        for p in crf.parameters():
            p.normal_()
    lengths = [4, 1, 0]
    emissions, tags, _ = make_case(5, 4, lengths, seed=6, allowed=allowed)
    params = {
        "transitions": crf.transitions,
        "start_transitions": crf.start_transitions,
        "end_transitions": crf.end_transitions,
    }
    for reduction in REDUCTIONS:
        torch.testing.assert_close(
            crf(emissions, tags, lengths, reduction=reduction),
            crf_loss(emissions, tags, lengths, reduction=reduction, constraints=allowed, **params),
        )
    assert crf.viterbi_decode(emissions, lengths) == viterbi_decode(
        emissions, lengths, constraints=allowed, **params
    )


def test_decoding_honours_constraints_against_strong_emissions():
    crf = LinearChainCRF(3, constraints=allowed_transitions(IOB2_TAGS, "IOB2"))
    emissions = torch.tensor([[[0.0, 0.0, 9.0]] * 3])  # I-X everywhere, illegal at the start
    assert crf.viterbi_decode(emissions) == [[1, 2, 2]]
    assert LinearChainCRF(3).viterbi_decode(emissions) == [[2, 2, 2]]


def test_constraints_are_bool_buffers_saved_in_the_state_dict():
    allowed = allowed_transitions(IOB2_TAGS, "IOB2")
    crf = LinearChainCRF(3, constraints=allowed)
    state = crf.state_dict()
    assert state["allowed_transitions"].dtype == torch.bool
    assert state["allowed_transitions"].tolist() == allowed[1]
    assert set(LinearChainCRF(3).state_dict()) == {
        "transitions",
        "start_transitions",
        "end_transitions",
    }
    copy = LinearChainCRF(3, constraints=allowed)
    copy.load_state_dict(state)
    assert copy.constraints[0].tolist() == allowed[0]
    assert crf.double().allowed_start.dtype == torch.bool


def test_training_learns_transitions_that_fix_a_biased_tagger():
    """A few gradient steps on transitions alone turn a wrong Viterbi path into the gold one."""
    torch.manual_seed(0)
    crf = LinearChainCRF(2)
    # Emissions prefer tag 0 slightly everywhere; gold alternates 0, 1, 0, 1.
    emissions = torch.tensor([[[0.2, 0.0]] * 4])
    gold = torch.tensor([[0, 1, 0, 1]])
    assert crf.viterbi_decode(emissions) == [[0, 0, 0, 0]]
    optimizer = torch.optim.SGD(crf.parameters(), lr=0.5)
    for _ in range(50):
        optimizer.zero_grad()
        crf(emissions, gold).backward()
        optimizer.step()
    assert crf.viterbi_decode(emissions) == gold.tolist()


def test_docstring_examples_run():
    assert doctest.testmod(crf_module).failed == 0
