"""A linear-chain CRF's decoding in NumPy: the best path (Viterbi) and the marginals.

The same model as :mod:`rnnseq.crf`, read from the tables an export writes to
``crf.json`` (start (C,), transitions (C, C) from tag i to tag j, end (C,); forbidden
moves already at -1e30). For one sentence of emission scores e (T, C)::

    score(y) = start[y_1] + Σ_t e[t, y_t] + Σ_{t>1} trans[y_{t-1}, y_t] + end[y_T]

Viterbi, max-product in log space, then a backtrack::

    δ_1(j) = start[j] + e[1, j]
    δ_t(j) = max_i (δ_{t-1}(i) + trans[i, j]) + e[t, j],   ψ_t(j) = that argmax i
    y_T = argmax_j δ_T(j) + end[j],    y_{t-1} = ψ_t(y_t)

Marginals by forward-backward, sum-product in log space::

    α_1(j) = start[j] + e[1, j]
    α_t(j) = logsumexp_i(α_{t-1}(i) + trans[i, j]) + e[t, j]
    β_T(i) = end[i]
    β_t(i) = logsumexp_j(trans[i, j] + e[t+1, j] + β_{t+1}(j))
    log Z  = logsumexp_j(α_T(j) + end[j])
    p(y_t = j | x) = exp(α_t(j) + β_t(j) - log Z)

Viterbi runs in float32, in the order :func:`rnnseq.crf.viterbi_decode` adds, so that
the two choose the same path from the same scores; the marginals run in float64 (the
PyTorch path takes them as ∂ log Z / ∂ e in float32, whose rounding grows with the
length and the scale of the scores: tests/test_crf_numpy.py bounds the difference).
A batch of rows with ``lengths`` (N,) is decoded at once; steps at or after a row's
length are padding and never read.
"""

from __future__ import annotations

import numpy as np

__all__ = ["viterbi", "marginals"]


def viterbi(emissions: np.ndarray, lengths: np.ndarray, start, transitions, end
            ) -> list[list[int]]:  # fmt: skip
    """The best tag path of each row.

    Shape: emissions (N, T, C), lengths (N,) each >= 1; start (C,), transitions (C, C),
    end (C,) -> N lists of lengths[i] tag ids.
    """
    emit = np.asarray(emissions, dtype=np.float32)
    start, trans, end = (np.asarray(x, dtype=np.float32) for x in (start, transitions, end))
    n, t_max, _ = emit.shape
    lengths = np.asarray(lengths, dtype=np.int64)  # (N,)
    score = start + emit[:, 0]  # (N, C)
    back = []  # T-1 arrays (N, C): the best previous tag of each tag
    for t in range(1, t_max):
        total = score[:, :, None] + trans  # (N, C, C): previous i -> current j
        arg = total.argmax(axis=1)  # (N, C)
        best = np.take_along_axis(total, arg[:, None, :], axis=1)[:, 0]  # (N, C)
        score = np.where((t < lengths)[:, None], best + emit[:, t], score)  # (N, C)
        back.append(arg)
    last = (score + end).argmax(axis=1)  # (N,)
    path = np.zeros((n, t_max), dtype=np.int64)  # (N, T)
    current = last
    for t in range(t_max - 1, -1, -1):
        current = np.where(lengths - 1 == t, last, current)  # rows whose last step is t
        path[:, t] = current
        if t > 0:
            current = back[t - 1][np.arange(n), current]  # (N,)
    return [row[:k] for row, k in zip(path.tolist(), lengths.tolist(), strict=True)]


def marginals(emissions: np.ndarray, lengths: np.ndarray, start, transitions, end
              ) -> np.ndarray:  # fmt: skip
    """p(y_t = j | x) at every real step (0 at padded steps).

    Shape: emissions (N, T, C), lengths (N,) each >= 1 -> (N, T, C) float64.
    """
    n, t_max, c = np.shape(emissions)
    lengths = np.asarray(lengths, dtype=np.int64)  # (N,)
    real = np.arange(t_max)[None, :] < lengths[:, None]  # (N, T)
    emit = np.where(real[:, :, None], np.asarray(emissions, dtype=np.float64), 0.0)
    start, trans, end = (np.asarray(x, dtype=np.float64) for x in (start, transitions, end))
    alpha = np.empty((n, t_max, c))  # (N, T, C)
    alpha[:, 0] = start + emit[:, 0]
    for t in range(1, t_max):
        alpha[:, t] = _logsumexp(alpha[:, t - 1, :, None] + trans, axis=1) + emit[:, t]
    beta = np.empty((n, t_max, c))  # (N, T, C)
    beta[:, t_max - 1] = end
    for t in range(t_max - 2, -1, -1):
        nxt = _logsumexp(trans + (emit[:, t + 1] + beta[:, t + 1])[:, None, :], axis=2)
        beta[:, t] = np.where((t + 1 < lengths)[:, None], nxt, end)  # a row's last step: end
    last = alpha[np.arange(n), lengths - 1]  # (N, C): α at each row's last step
    log_z = _logsumexp(last + end, axis=1)  # (N,)
    p = np.exp(alpha + beta - log_z[:, None, None])  # (N, T, C)
    return np.where(real[:, :, None], np.clip(p, 0.0, 1.0), 0.0)


def _logsumexp(x: np.ndarray, axis: int) -> np.ndarray:
    """log Σ exp(x) along ``axis``, shifted by the maximum (all -1e30 stays -1e30-ish)."""
    m = x.max(axis=axis, keepdims=True)
    return (m + np.log(np.exp(x - m).sum(axis=axis, keepdims=True))).squeeze(axis)
