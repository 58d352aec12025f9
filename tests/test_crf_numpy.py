"""rnnseq.crf_numpy: Viterbi and the marginals in NumPy, against rnnseq.crf and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnseq.crf import FORBIDDEN, LinearChainCRF
from rnnseq.crf_numpy import marginals, viterbi
from rnnseq.tag_schemes import allowed_transitions
from rnnseq.tasks.tag import TagTask

TAGS = ["O", "B-A", "I-A", "E-A", "S-A", "B-B", "I-B", "E-B", "S-B"]


class _Model:
    """What TagTask.probabilities reads: a model with a ``crf``."""

    def __init__(self, crf):
        self.crf = crf


def _crf(seed: int, constrained: bool) -> LinearChainCRF:
    constraints = allowed_transitions(TAGS, "IOBES") if constrained else None
    crf = LinearChainCRF(len(TAGS), constraints=constraints)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in crf.parameters():
            p.copy_(torch.randn(p.shape, generator=generator) * 2)
    return crf


def _tables(crf: LinearChainCRF) -> tuple[np.ndarray, ...]:
    """start, transitions, end with forbidden moves at FORBIDDEN, as crf.json holds them."""
    tables = [crf.start_transitions, crf.transitions, crf.end_transitions]
    if crf.constraints is not None:
        tables = [torch.where(a, t, FORBIDDEN) for t, a in zip(tables, crf.constraints,
                                                              strict=True)]  # fmt: skip
    return tuple(t.detach().double().numpy() for t in tables)


def _batch(seed: int, n: int, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    emissions = torch.randn(n, t, len(TAGS), generator=generator) * 3  # (N, T, C)
    lengths = torch.randint(1, t + 1, (n,), generator=generator)
    lengths[0] = t
    emissions[torch.arange(t)[None, :] >= lengths[:, None]] = 1e4  # padding: must not matter
    return emissions, lengths


@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize(("n", "t"), [(1, 1), (3, 2), (6, 9), (4, 30)])
def test_viterbi_chooses_the_paths_rnnseq_crf_chooses(constrained, n, t):
    crf = _crf(n * 100 + t, constrained)
    emissions, lengths = _batch(t, n, t)
    expected = crf.viterbi_decode(emissions, lengths)
    assert viterbi(emissions.numpy(), lengths.numpy(), *_tables(crf)) == expected


@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize(("n", "t"), [(1, 1), (3, 2), (6, 9), (4, 30)])
def test_marginals_equal_the_torch_path_gradient_of_log_z_to_1e_5(constrained, n, t):
    crf = _crf(n * 100 + t + 1, constrained)
    emissions, lengths = _batch(t + 1, n, t)
    expected = TagTask().probabilities(_Model(crf), emissions, lengths).numpy()
    got = marginals(emissions.numpy(), lengths.numpy(), *_tables(crf))
    real = (np.arange(t)[None, :] < lengths.numpy()[:, None])  # (N, T)
    # The torch path works in float32: its rounding grows with T (these are exact to
    # 1e-10, see the brute-force test); 1.3e-5 was the largest difference seen at T = 30.
    np.testing.assert_allclose(got[real], expected[real], atol=1e-5 if t <= 9 else 3e-5)
    np.testing.assert_allclose(got[real].sum(axis=-1), 1.0, atol=1e-9)
    assert (got[~real] == 0).all()


@settings(max_examples=60, deadline=None)
@given(t=st.integers(1, 4), seed=st.integers(0, 10_000), constrained=st.booleans())
def test_both_equal_brute_force_over_every_tag_path(t, seed, constrained):
    """For a sentence of T <= 4 steps and 3 tags: the best path and p(y_t = j) by
    enumerating all 3^T paths, score(y) written out as the module docstring gives it."""
    rng = np.random.default_rng(seed)
    c = 3
    emit = rng.normal(size=(t, c)) * 2  # (T, C)
    start, trans, end = rng.normal(size=c), rng.normal(size=(c, c)), rng.normal(size=c)
    if constrained:  # tag 2 may not follow tag 0, nor start a sentence
        trans[0, 2] = start[2] = FORBIDDEN
    paths = list(itertools.product(range(c), repeat=t))
    scores = np.array([start[y[0]] + sum(emit[k, y[k]] for k in range(t))
                       + sum(trans[y[k - 1], y[k]] for k in range(1, t)) + end[y[-1]]
                       for y in paths])  # fmt: skip
    weights = np.exp(scores - scores.max())
    weights /= weights.sum()
    expected = np.zeros((t, c))
    for y, w in zip(paths, weights, strict=True):
        expected[np.arange(t), list(y)] += w
    got = marginals(emit[None], np.array([t]), start, trans, end)[0]
    np.testing.assert_allclose(got, expected, atol=1e-10)
    best = viterbi(emit[None], np.array([t]), start, trans, end)[0]
    assert scores[paths.index(tuple(best))] == pytest.approx(scores.max(), abs=1e-4)
