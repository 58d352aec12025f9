"""The seed's model by hand: an Elman RNN, its loss and its gradients, in plain NumPy.

The recurrence, for a sequence of tokens x_1 .. x_T (one-hot, so U x_t is the
column of U that belongs to token x_t)::

    s_0 = 0
    s_t = tanh(U x_t + W s_{t-1} + b)            the state after reading x_t
    ŷ_t = softmax(V s_t + c)                     a distribution over the C labels

The two kinds of problem read the states differently:

- classification (one label per sequence): ŷ_i = softmax(V s_{T_i} + c), from the
  last *real* state of sequence i;
- labeling (one label per step): ŷ_ij = softmax(V s_j + c) at every real step j.

The loss is the sequence cross-entropy of :mod:`rnnseq.reference`, applied to
these ŷ. Its gradients are worked out by backpropagation through time, one step
at a time, from the last step to the first::

    dz_t     = (ŷ_t - y_t) · ∂L/∂L_t             output error (y_t one-hot)
    dV      += dz_t s_tᵀ        dc += dz_t
    ds_t     = Vᵀ dz_t + Wᵀ ds_raw_{t+1}         from the output and from the next step
    ds_raw_t = (1 - s_t²) ⊙ ds_t                 back through tanh
    dU      += ds_raw_t x_tᵀ    dW += ds_raw_t s_{t-1}ᵀ    db += ds_raw_t

∂L/∂L_t is the factor the reduction gives step t (1 for a sum, 1/T_i for a mean
over time, 1/N' for a mean over rows, ...).

A batch is padded to T steps; ``lengths[i]`` says how many are real. Padded
steps are never read: their token ids may hold anything (-1 included), their
states stay 0, and they add nothing to the loss or to any gradient.

Length-0 rows: in labeling they have no step, so they add nothing (and are left
out of the mean over rows, as :mod:`rnnseq.reference` says). In classification
the prediction is read from s_0 = 0, i.e. ŷ = softmax(c): having read nothing,
the model can only predict the bias. The gradient then reaches c alone.

Shapes: N sequences, T padded steps, V_in input tokens, H state units, C labels.

Only NumPy is imported here; the model runs where torch is absent.

Example:
    >>> params = init_params(vocab_size=5, hidden_size=8, num_classes=3, seed=0)
    >>> inputs = np.array([[1, 2, 3], [4, 0, -1]])       # row 2: two real tokens, then padding
    >>> lengths = np.array([3, 2])
    >>> targets = np.array([[0, 1, 2], [2, 2, -1]])
    >>> loss, grads = loss_and_grads(params, inputs, targets, lengths, kind="labeling")
    >>> params = sgd_step(params, grads, lr=0.1)
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from rnnseq import reference

__all__ = [
    "KINDS",
    "RNNParams",
    "Forward",
    "init_params",
    "forward",
    "loss",
    "backward",
    "loss_and_grads",
    "sgd_step",
]

KINDS = ("classification", "labeling")
TIME_REDUCTIONS = ("sum", "mean")
REDUCTIONS = {"classification": ("mean", "sum"), "labeling": ("mean", "sum", "token_mean")}


@dataclass
class RNNParams:
    """The weights of the Elman RNN (or, from :func:`backward`, their gradients)."""

    U: np.ndarray  # (H, V_in) input-to-state: column x is token x's contribution
    W: np.ndarray  # (H, H) state-to-state: how s_{t-1} feeds s_t
    b: np.ndarray  # (H,) state bias
    V: np.ndarray  # (C, H) state-to-output
    c: np.ndarray  # (C,) output bias

    def arrays(self) -> dict[str, np.ndarray]:
        """The arrays by name, in the order U, W, b, V, c (no copies)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass
class Forward:
    """What :func:`forward` computed, and all that :func:`backward` needs."""

    kind: str  # "classification" or "labeling"
    inputs: np.ndarray  # (N, T) token ids; only the first lengths[i] of row i are read
    lengths: np.ndarray  # (N,) real steps per row, in [0, T]
    states: np.ndarray  # (N, T + 1, H) s_0 = 0, s_1 .. s_T; 0 after a row's last real step
    probs: np.ndarray  # ŷ: (N, C) for classification; (N, T, C) for labeling, 0 at padding


def init_params(vocab_size: int, hidden_size: int, num_classes: int, *, seed: int = 0):
    """Weights drawn uniformly from [-1/√H, 1/√H] (PyTorch's RNN and Linear default).

    Args:
        vocab_size: V_in, the number of input tokens.
        hidden_size: H, the number of state units.
        num_classes: C, the number of labels.
        seed: seeds NumPy's generator, so the same seed gives the same weights.

    Returns:
        RNNParams with U (H, V_in), W (H, H), b (H,), V (C, H), c (C,), float64.
    """
    for name, value in (
        ("vocab_size", vocab_size),
        ("hidden_size", hidden_size),
        ("num_classes", num_classes),
    ):
        if int(value) != value or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    rng = np.random.default_rng(seed)
    k = 1.0 / np.sqrt(hidden_size)
    return RNNParams(
        U=rng.uniform(-k, k, (hidden_size, vocab_size)),
        W=rng.uniform(-k, k, (hidden_size, hidden_size)),
        b=rng.uniform(-k, k, hidden_size),
        V=rng.uniform(-k, k, (num_classes, hidden_size)),
        c=rng.uniform(-k, k, num_classes),
    )


def forward(params: RNNParams, inputs, lengths=None, *, kind: str) -> Forward:
    """Run the recurrence over a padded batch and turn the states into predictions.

    s_t = tanh(U x_t + W s_{t-1} + b) for the real steps of each row, then
    ŷ = softmax(V s + c) at the last real state (classification) or at every
    real state (labeling).

    Args:
        params: the weights.
        inputs: (N, T) integer token ids in [0, V_in) at real steps; any integer at padding.
        lengths: optional (N,) real lengths in [0, T]; None means every step is real.
        kind: "classification" (one label per sequence) or "labeling" (one per step).

    Shape:
        - states: (N, T + 1, H)
        - probs: (N, C) for classification, (N, T, C) for labeling
    """
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    inputs, lengths = _check_inputs(params, inputs, lengths)
    n, t_max = inputs.shape
    hidden = params.W.shape[0]

    states = np.zeros((n, t_max + 1, hidden))  # (N, T+1, H); states[:, 0] is s_0 = 0
    for t in range(t_max):
        rows = np.nonzero(t < lengths)[0]  # rows whose step t is real
        x = inputs[rows, t]  # (n_t,) token ids
        pre = params.U[:, x].T + states[rows, t] @ params.W.T + params.b  # (n_t, H)
        states[rows, t + 1] = np.tanh(pre)  # (n_t, H)

    if kind == "classification":
        last = states[np.arange(n), lengths]  # (N, H) s_{T_i}; s_0 = 0 when T_i = 0
        probs = reference.softmax(last @ params.V.T + params.c)  # (N, C)
    else:
        probs = reference.softmax(states[:, 1:] @ params.V.T + params.c)  # (N, T, C)
        probs = probs * _real_steps(lengths, t_max)[:, :, None]  # (N, T, C), 0 at padding
    return Forward(kind, inputs, lengths, states, probs)


def loss(fwd: Forward, targets, *, time_reduction: str = "sum", reduction: str = "mean"):
    """The sequence cross-entropy of the predictions, computed by :mod:`rnnseq.reference`.

    Classification::

        L = Σ_i -log ŷ_{i, c_i} / N          reduction="mean"   (Σ_i for "sum")

    Labeling (T_i real steps in row i)::

        L_i = Σ_j -log ŷ_{ij, c_ij}          time_reduction="sum"   (/ T_i for "mean")
        L   = Σ_i L_i / N'                   reduction="mean", N' = rows with T_i > 0
            = Σ_i L_i                        reduction="sum"
            = Σ_ij -log ŷ_{ij, c_ij} / Σ_i T_i   reduction="token_mean"

    Args:
        fwd: the result of :func:`forward`.
        targets: (N,) class indices (classification) or (N, T) per step (labeling;
            any integer at padding).
        time_reduction: "sum" | "mean" (labeling only).
        reduction: "mean" | "sum", and "token_mean" for labeling.
    """
    targets = _check_targets(fwd, targets, time_reduction, reduction)
    if fwd.kind == "classification":
        return reference.classification_loss(fwd.probs, targets, reduction)
    return reference.labeling_loss(
        fwd.probs, targets, fwd.lengths, time_reduction=time_reduction, reduction=reduction
    )


def backward(
    params: RNNParams,
    fwd: Forward,
    targets,
    *,
    time_reduction: str = "sum",
    reduction: str = "mean",
) -> RNNParams:
    """Gradients of :func:`loss` with respect to every weight, by backpropagation through time.

    Output layer, at each step t that has a target (the last real step for
    classification, every real step for labeling)::

        dz_t = (ŷ_t - y_t) · ∂L/∂L_t        dV += dz_t s_tᵀ        dc += dz_t

    Then from t = T down to 1, with ds_raw_{T+1} = 0::

        ds_t     = Vᵀ dz_t + Wᵀ ds_raw_{t+1}
        ds_raw_t = (1 - s_t²) ⊙ ds_t
        dU += ds_raw_t x_tᵀ        dW += ds_raw_t s_{t-1}ᵀ        db += ds_raw_t

    Padded steps have no target and no state, so they add nothing.

    Args:
        params: the weights :func:`forward` used.
        fwd: the result of :func:`forward`.
        targets, time_reduction, reduction: as for :func:`loss`.

    Returns:
        RNNParams holding dL/dU, dL/dW, dL/db, dL/dV, dL/dc.
    """
    targets = _check_targets(fwd, targets, time_reduction, reduction)
    n, t_max = fwd.inputs.shape
    lengths, states = fwd.lengths, fwd.states

    # The output layer: dz = ŷ - y, scaled by what the reduction makes of each term.
    if fwd.kind == "classification":
        dz = fwd.probs.copy()  # (N, C) ŷ
        dz[np.arange(n), targets] -= 1  # (N, C) ŷ - y
        dz *= 1.0 / max(n, 1) if reduction == "mean" else 1.0  # ∂L/∂L_i
        last = states[np.arange(n), lengths]  # (N, H) s_{T_i}
        dV = dz.T @ last  # (C, H)
        dc = dz.sum(axis=0)  # (C,)
        ds_out = np.zeros((n, t_max, params.W.shape[0]))  # (N, T, H) dL/ds_t from the output
        rows = np.nonzero(lengths > 0)[0]  # s_0 is no function of the weights
        ds_out[rows, lengths[rows] - 1] = dz[rows] @ params.V  # (n, H)
    else:
        real = _real_steps(lengths, t_max)  # (N, T)
        rows, steps = np.nonzero(real)
        dz = fwd.probs.copy()  # (N, T, C) ŷ, 0 at padding
        dz[rows, steps, targets[rows, steps]] -= 1  # (N, T, C) ŷ - y at the real steps
        dz *= _step_factors(lengths, t_max, time_reduction, reduction)[:, :, None]
        dV = np.einsum("ntc,nth->ch", dz, states[:, 1:])  # (C, H) Σ_t dz_t s_tᵀ
        dc = dz.sum(axis=(0, 1))  # (C,)
        ds_out = dz @ params.V  # (N, T, H)

    # Back through time, from the last step to the first.
    dU, dW, db = np.zeros_like(params.U), np.zeros_like(params.W), np.zeros_like(params.b)
    ds_next = np.zeros((n, params.W.shape[0]))  # (N, H) Wᵀ ds_raw_{t+1}: dL/ds_t via step t+1
    for t in reversed(range(t_max)):
        rows = np.nonzero(t < lengths)[0]  # rows whose step t is real
        s_t, s_prev = states[rows, t + 1], states[rows, t]  # (n_t, H) each
        ds = ds_out[rows, t] + ds_next[rows]  # (n_t, H) dL/ds_t
        ds_raw = (1.0 - s_t**2) * ds  # (n_t, H) back through tanh
        np.add.at(dU.T, fwd.inputs[rows, t], ds_raw)  # dU[:, x_t] += ds_raw (x_t one-hot)
        dW += ds_raw.T @ s_prev  # (H, H)
        db += ds_raw.sum(axis=0)  # (H,)
        ds_next = np.zeros_like(ds_next)
        ds_next[rows] = ds_raw @ params.W  # (n_t, H) Wᵀ ds_raw, for step t-1
    return RNNParams(U=dU, W=dW, b=db, V=dV, c=dc)


def loss_and_grads(
    params: RNNParams,
    inputs,
    targets,
    lengths=None,
    *,
    kind: str,
    time_reduction: str = "sum",
    reduction: str = "mean",
) -> tuple[float, RNNParams]:
    """:func:`forward`, :func:`loss` and :func:`backward` in one call: (L, gradients)."""
    fwd = forward(params, inputs, lengths, kind=kind)
    value = loss(fwd, targets, time_reduction=time_reduction, reduction=reduction)
    grads = backward(params, fwd, targets, time_reduction=time_reduction, reduction=reduction)
    return value, grads


def sgd_step(params: RNNParams, grads: RNNParams, lr: float) -> RNNParams:
    """Plain gradient descent, θ ← θ - lr · dL/dθ for each array; returns new weights."""
    if not lr > 0:
        raise ValueError(f"lr must be positive, got {lr!r}")
    g = grads.arrays()
    return RNNParams(**{name: p - lr * g[name] for name, p in params.arrays().items()})


def _real_steps(lengths: np.ndarray, t_max: int) -> np.ndarray:
    """(N, T) float mask: 1 where step j of row i is real (j < T_i), else 0."""
    return (np.arange(t_max)[None, :] < lengths[:, None]).astype(float)


def _step_factors(lengths, t_max: int, time_reduction: str, reduction: str) -> np.ndarray:
    """(N, T) ∂L/∂L_ij: what one step's cross-entropy is worth in the reduced loss.

    1 / (time divisor of row i) / (batch divisor), and 0 at padding, where the
    divisors are T_i for time_reduction="mean" (else 1) and N' (rows with a real
    step) for reduction="mean", Σ_i T_i for "token_mean", 1 for "sum".
    """
    real = _real_steps(lengths, t_max)  # (N, T)
    per_row = np.maximum(lengths, 1) if time_reduction == "mean" else np.ones(len(lengths))
    if reduction == "mean":
        per_batch = max(int(np.sum(lengths > 0)), 1)
    elif reduction == "token_mean":
        per_batch = max(int(np.sum(lengths)), 1)
    else:
        per_batch = 1
    return real / per_row[:, None] / per_batch  # (N, T)


def _check_inputs(params: RNNParams, inputs, lengths):
    inputs = np.asarray(inputs)
    if inputs.ndim != 2 or not np.issubdtype(inputs.dtype, np.integer):
        raise ValueError(
            f"inputs must be (N, T) integer token ids, got {inputs.dtype} of shape {inputs.shape}"
        )
    n, t_max = inputs.shape
    if lengths is None:
        lengths = np.full(n, t_max)
    lengths = np.asarray(lengths)
    if lengths.shape != (n,) or not np.issubdtype(lengths.dtype, np.integer):
        raise ValueError(f"lengths must be ({n},) integers, got {lengths.dtype} {lengths.shape}")
    if n and (lengths.min() < 0 or lengths.max() > t_max):
        raise ValueError(
            f"lengths must be in [0, {t_max}], got min {lengths.min()} max {lengths.max()}"
        )
    vocab_size = params.U.shape[1]
    real = inputs[_real_steps(lengths, t_max) > 0]
    if real.size and (real.min() < 0 or real.max() >= vocab_size):
        raise ValueError(
            f"inputs must be token ids in [0, {vocab_size}) at real steps, "
            f"got min {real.min()} max {real.max()}"
        )
    return inputs, lengths


def _check_targets(fwd: Forward, targets, time_reduction: str, reduction: str) -> np.ndarray:
    if reduction not in REDUCTIONS[fwd.kind]:
        raise ValueError(f"reduction must be one of {REDUCTIONS[fwd.kind]}, got {reduction!r}")
    if time_reduction not in TIME_REDUCTIONS:
        raise ValueError(f"time_reduction must be one of {TIME_REDUCTIONS}, got {time_reduction!r}")
    if fwd.kind == "classification" and time_reduction != "sum":
        raise ValueError(
            f"time_reduction applies to kind='labeling' only (classification has one "
            f"label per sequence), got {time_reduction!r}"
        )
    targets = np.asarray(targets)
    n, t_max = fwd.inputs.shape
    expected = (n,) if fwd.kind == "classification" else (n, t_max)
    if targets.shape != expected or not np.issubdtype(targets.dtype, np.integer):
        raise ValueError(
            f"targets must be {expected} integer class indices for kind={fwd.kind!r}, "
            f"got {targets.dtype} of shape {targets.shape}"
        )
    num_classes = fwd.probs.shape[-1]
    real = targets if fwd.kind == "classification" else targets[_real_steps(fwd.lengths, t_max) > 0]
    if real.size and (real.min() < 0 or real.max() >= num_classes):
        raise ValueError(
            f"targets must be in [0, {num_classes}) at real steps, "
            f"got min {real.min()} max {real.max()}"
        )
    return targets
