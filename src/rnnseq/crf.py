"""A linear-chain conditional random field: a structured loss for sequence labeling.

A tagger gives emission scores emit[t, j] (how well tag j fits step t). The CRF adds
transition scores and scores a whole tag sequence y_1..y_T at once::

    score(y) = start[y_1] + Σ_{t=1..T} emit[t, y_t] + Σ_{t=2..T} trans[y_{t-1}, y_t] + end[y_T]
    p(y)     = exp(score(y)) / Z,        Z = Σ_{y'} exp(score(y'))
    NLL      = log Z - score(gold)

log Z comes from the forward recursion in log space (a loop over time, vectorised
over the batch and the tags)::

    α_1(j) = start[j] + emit[1, j]
    α_t(j) = logsumexp_i(α_{t-1}(i) + trans[i, j]) + emit[t, j]
    log Z  = logsumexp_j(α_T(j) + end[j])

and the best path from the same recursion with max in place of logsumexp (Viterbi).

Constraints (e.g. from :func:`rnnseq.tag_schemes.allowed_transitions`) forbid moves.
A forbidden move's score is replaced by a huge negative constant (-1e30) in both log Z
and Viterbi: exp(-1e30 - x) is exactly 0 in float32 and float64, so Z is the exact sum
over allowed paths only, and unlike -inf it never makes a gradient NaN (logsumexp's
backward at all -inf inputs is NaN). A gold sequence that itself uses a forbidden
move would get an NLL near 1e30: finite, but meaningless and ruinous for a loss curve.
So such input is refused with a ValueError naming ``tags`` (row, step, move). Real
IOB1 data does break strict IOB1 rules (CoNLL-2003's eng.train has O -> B-MISC twice);
convert it with :func:`rnnseq.tag_schemes.to_iob2` or ``to_iobes`` first, which always
yields allowed sequences. The gradient never reaches a forbidden entry of
``transitions`` (it is exactly 0 there).

Masking follows :mod:`rnnseq.losses`: ``lengths`` (N,) or a bool prefix ``mask``
(N, T); padded steps are fully inert (any value, NaN included, in emissions or tags).
A chain cannot skip a step, so a mask with holes, or a float mask, is a ValueError.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnnseq._loss_checks import (
    LABELING_REDUCTIONS,
    _check_reduction,
    _check_terms_reductions,
    _counted_steps,
)
from rnnseq.reductions import LossTerms, batch_count

__all__ = ["LinearChainCRF", "crf_loss", "crf_loss_terms", "viterbi_decode"]

REDUCTIONS = LABELING_REDUCTIONS  # ("mean", "sum", "none", "token_mean")
FORBIDDEN = -1e30  # the score of a forbidden move; see the module docstring

Constraints = tuple  # (start (C,), transitions (C, C), end (C,)) boolean tables


# ---------------------------------------------------------------- validation (the boundary)


def _check_emissions(emissions) -> Tensor:
    if not isinstance(emissions, Tensor):
        raise TypeError(f"emissions must be a torch.Tensor, got {type(emissions).__name__}")
    if not emissions.is_floating_point():
        raise TypeError(f"emissions must be floating point, got dtype {emissions.dtype}")
    if emissions.ndim != 3:
        raise ValueError(f"emissions must have shape (N, T, C), got {tuple(emissions.shape)}")
    if emissions.shape[2] == 0:
        raise ValueError("emissions must have at least one tag (C >= 1), got C = 0")
    return emissions


def _check_parameters(transitions, start, end, num_tags: int):
    """(start (C,), transitions (C, C), end (C,)); start/end default to zeros."""
    if not isinstance(transitions, Tensor) or not transitions.is_floating_point():
        raise TypeError("transitions must be a floating-point torch.Tensor")
    if tuple(transitions.shape) != (num_tags, num_tags):
        raise ValueError(
            f"transitions must have shape ({num_tags}, {num_tags}) to match emissions, "
            f"got {tuple(transitions.shape)}"
        )
    tables = []
    for name, table in (("start_transitions", start), ("end_transitions", end)):
        if table is None:
            table = transitions.new_zeros(num_tags)
        if not isinstance(table, Tensor) or not table.is_floating_point():
            raise TypeError(f"{name} must be a floating-point torch.Tensor")
        if tuple(table.shape) != (num_tags,):
            raise ValueError(f"{name} must have shape ({num_tags},), got {tuple(table.shape)}")
        tables.append(table)
    return tables[0], transitions, tables[1]


def _check_constraints(constraints, num_tags: int):
    """(start (C,), transitions (C, C), end (C,)) bool tensors, or None."""
    if constraints is None:
        return None
    if not isinstance(constraints, (tuple, list)) or len(constraints) != 3:
        raise ValueError(
            "constraints must be a tuple (start, transitions, end) of boolean tables, "
            "as returned by rnnseq.tag_schemes.allowed_transitions"
        )
    shapes = ((num_tags,), (num_tags, num_tags), (num_tags,))
    tables = []
    names = ("start", "transitions", "end")
    for name, table, shape in zip(names, constraints, shapes, strict=True):
        table = torch.as_tensor(table)
        if table.dtype != torch.bool:
            raise TypeError(f"constraints {name} table must be bool, got dtype {table.dtype}")
        if tuple(table.shape) != shape:
            raise ValueError(
                f"constraints {name} table must have shape {shape}, got {tuple(table.shape)}"
            )
        tables.append(table)
    return tuple(tables)


def _step_mask(emissions: Tensor, lengths, mask) -> Tensor:
    """(N, T) bool, True at real steps, always a prefix per row.

    lengths and mask are checked as in :mod:`rnnseq.losses` (same rules, same
    messages), plus the CRF's own: a chain can neither weight nor skip steps, so
    a mask must be bool and a prefix per row.
    """
    n, t_max = emissions.shape[:2]
    if mask is not None and lengths is None:
        if not isinstance(mask, Tensor) or mask.dtype != torch.bool:
            dtype = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
            raise ValueError(
                f"mask must be a bool tensor (a CRF chain cannot weight steps), got {dtype}"
            )
    steps, _ = _counted_steps(lengths, mask, n, t_max, emissions.device, torch.float32)  # (N, T)
    if mask is not None:
        holes = steps[:, 1:] & ~steps[:, :-1]  # (N, T-1): a real step after a padded one
        if holes.any():
            row = int(holes.any(1).nonzero()[0])
            raise ValueError(
                f"mask must be a prefix per row (True...True False...False) because a chain "
                f"cannot skip steps; row {row} has a hole"
            )
    return steps


def _check_tags(tags, steps: Tensor, num_tags: int) -> Tensor:
    if not isinstance(tags, Tensor):
        raise TypeError(f"tags must be a torch.Tensor, got {type(tags).__name__}")
    if tags.dtype == torch.bool or tags.is_floating_point() or tags.is_complex():
        raise TypeError(f"tags must hold integer class indices, got dtype {tags.dtype}")
    if tags.shape != steps.shape:
        raise ValueError(
            f"tags must have shape {tuple(steps.shape)} (N, T of emissions), "
            f"got {tuple(tags.shape)}"
        )
    tags = tags.to(steps.device)
    bad = steps & ((tags < 0) | (tags >= num_tags))  # (N, T)
    if bad.any():
        row, step = (int(k) for k in bad.nonzero()[0])
        raise ValueError(
            f"tags must be in [0, {num_tags}) at counted steps, got {int(tags[row, step])} "
            f"at row {row}, step {step}"
        )
    return torch.where(steps, tags, 0).long()  # (N, T); padding -> 0, never read as such


def _check_gold_allowed(tags: Tensor, steps: Tensor, allowed) -> None:
    """Refuse gold sequences that use a forbidden move (their NLL would be ~1e30)."""
    start_ok, trans_ok, end_ok = (a.to(tags.device) for a in allowed)
    hint = "convert the data to a scheme it follows (e.g. tag_schemes.to_iob2)"
    lengths = steps.sum(1)  # (N,)
    first = tags[:, 0]  # (N,)
    last = tags.gather(1, (lengths - 1).clamp(min=0).unsqueeze(1)).squeeze(1)  # (N,)
    for where, edge, ok in (("start", first, start_ok), ("end", last, end_ok)):
        bad = (lengths > 0) & ~ok[edge]  # (N,)
        if bad.any():
            row = int(bad.nonzero()[0])
            raise ValueError(
                f"tags of row {row} {where} with tag {int(edge[row])}, which the "
                f"constraints forbid; {hint}"
            )
    bad = steps[:, 1:] & ~trans_ok[tags[:, :-1], tags[:, 1:]]  # (N, T-1)
    if bad.any():
        row, step = (int(k) for k in bad.nonzero()[0])
        raise ValueError(
            f"tags of row {row} move from tag {int(tags[row, step])} to "
            f"{int(tags[row, step + 1])} at step {step + 1}, which the constraints forbid; "
            f"{hint}"
        )


def _prepare(emissions, lengths, mask, transitions, start, end, constraints):
    """Validate at the boundary: emissions, step mask (N, T), score tables, constraint tables."""
    emissions = _check_emissions(emissions)
    num_tags = emissions.shape[2]
    tables = _check_parameters(transitions, start, end, num_tags)  # (start, trans, end)
    allowed = _check_constraints(constraints, num_tags)
    steps = _step_mask(emissions, lengths, mask)  # (N, T)
    return emissions, steps, tables, allowed


def _scores(tables, allowed, dtype, device):
    """start (C,), trans (C, C), end (C,) in dtype, forbidden moves at FORBIDDEN."""
    out = [t.to(device=device, dtype=dtype) for t in tables]
    if allowed is not None:
        out = [torch.where(a.to(device), t, FORBIDDEN) for t, a in zip(out, allowed, strict=True)]
    return out


def _compute_dtype(emissions: Tensor, transitions: Tensor) -> torch.dtype:
    """At least float32; float64 if the emissions or the parameters are float64."""
    return torch.promote_types(
        torch.promote_types(emissions.dtype, torch.float32), transitions.dtype
    )


def _pad_empty_time(emissions: Tensor, steps: Tensor, tags: Tensor | None):
    """T = 0 -> one padded step, so the recursions need no special case."""
    n, _, c = emissions.shape
    emissions = torch.cat([emissions, emissions.new_zeros(n, 1, c)], dim=1)  # (N, 1, C)
    steps = steps.new_zeros(n, 1)  # (N, 1)
    if tags is not None:
        tags = tags.new_zeros(n, 1)  # (N, 1)
    return emissions, steps, tags


# ---------------------------------------------------------------- the two recursions


def _log_partition(emit: Tensor, steps: Tensor, start, trans, end) -> Tensor:
    """log Z per row by the forward recursion. emit (N, T, C), steps (N, T) -> (N,)."""
    alpha = start + emit[:, 0]  # (N, C)
    for t in range(1, emit.shape[1]):
        nxt = torch.logsumexp(alpha.unsqueeze(2) + trans, dim=1) + emit[:, t]  # (N, C)
        alpha = torch.where(steps[:, t].unsqueeze(1), nxt, alpha)  # (N, C); padding: keep
    return torch.logsumexp(alpha + end, dim=1)  # (N,)


def _gold_score(emit: Tensor, tags: Tensor, steps: Tensor, start, trans, end) -> Tensor:
    """score(gold) per row. emit (N, T, C) zero at padding, tags (N, T) -> (N,)."""
    lengths = steps.sum(1)  # (N,)
    score = emit.gather(2, tags.unsqueeze(2)).squeeze(2).sum(1)  # (N,)
    moves = trans[tags[:, :-1], tags[:, 1:]]  # (N, T-1)
    score = score + torch.where(steps[:, 1:], moves, 0).sum(1)  # (N,)
    last = tags.gather(1, (lengths - 1).clamp(min=0).unsqueeze(1)).squeeze(1)  # (N,)
    return score + start[tags[:, 0]] + end[last]  # (N,)


def _viterbi(emit: Tensor, steps: Tensor, start, trans, end) -> list[list[int]]:
    """Best path per row (max-product in log space), then a vectorised backtrack."""
    n, t_max, _ = emit.shape
    lengths = steps.sum(1)  # (N,)
    score = start + emit[:, 0]  # (N, C)
    backpointers = []  # T-1 tensors (N, C): best previous tag for each current tag
    for t in range(1, t_max):
        best, arg = (score.unsqueeze(2) + trans).max(dim=1)  # (N, C), (N, C)
        score = torch.where(steps[:, t].unsqueeze(1), best + emit[:, t], score)  # (N, C)
        backpointers.append(arg)
    last = (score + end).argmax(dim=1)  # (N,)
    path = torch.zeros(n, t_max, dtype=torch.long, device=emit.device)  # (N, T)
    current = last  # (N,)
    for t in range(t_max - 1, -1, -1):
        current = torch.where(lengths - 1 == t, last, current)  # rows whose last step is t
        path[:, t] = current
        if t > 0:
            current = backpointers[t - 1].gather(1, current.unsqueeze(1)).squeeze(1)  # (N,)
    return [row[:k] for row, k in zip(path.tolist(), lengths.tolist(), strict=True)]


# ---------------------------------------------------------------- public API


def crf_loss(
    emissions: Tensor,
    tags: Tensor,
    lengths=None,
    *,
    mask: Tensor | None = None,
    reduction: str = "mean",
    transitions: Tensor,
    start_transitions: Tensor | None = None,
    end_transitions: Tensor | None = None,
    constraints: Constraints | None = None,
) -> Tensor:
    """Negative log-likelihood of the gold tag sequences under a linear-chain CRF.

    Per row i with T_i real steps (score and log Z as in the module docstring)::

        NLL_i = log Z_i - score_i(gold)          (0 for an empty row, T_i = 0)
        "none":       (NLL_1, ..., NLL_N)
        "sum":        Σ_i NLL_i
        "mean":       Σ_i NLL_i / N'             N' = rows with T_i > 0
        "token_mean": Σ_i NLL_i / Σ_i T_i

    The loss is one number per sequence, so there is no time_reduction (as in
    :func:`rnnseq.losses.sequence_labeling_loss`'s "sum" over time, a row's NLL is
    already a whole-sequence quantity). A batch with nothing counted gives 0, with
    gradient 0, never NaN. For the scalar reductions this is
    :func:`crf_loss_terms` ``(...).value()``.

    Args:
        emissions: (N, T, C) floating scores; float16/bfloat16 are computed in float32
            and the loss returned in their dtype; float64 stays float64.
        tags: (N, T) integer gold tags in [0, C) at counted steps; any value at padding.
        lengths: optional (N,) integers in [0, T]; the first lengths[i] steps are real.
        mask: optional (N, T) bool prefix mask (not with lengths); with neither, every
            step is real.
        reduction: "mean" | "sum" | "none" | "token_mean".
        transitions: (C, C) scores trans[i, j] of moving from tag i to tag j.
        start_transitions, end_transitions: (C,) scores (zeros when None).
        constraints: optional (start, transitions, end) boolean tables of allowed moves
            (see the module docstring); a gold sequence with a forbidden move is a
            ValueError naming tags.

    Shape:
        emissions (N, T, C), tags (N, T), lengths (N,), mask (N, T); output () or,
        for reduction="none", (N,).

    Example:
        >>> e = torch.zeros(1, 2, 2)  # every path scores 0: Z = 4, NLL = log 4
        >>> loss = crf_loss(e, torch.tensor([[0, 1]]), transitions=torch.zeros(2, 2))
        >>> round(loss.item(), 4)
        1.3863
    """
    _check_reduction(reduction, REDUCTIONS)
    tables = (transitions, start_transitions, end_transitions, constraints)
    loss = _crf_nll(emissions, tags, lengths, mask, reduction, *tables)
    return (loss if reduction == "none" else loss.value()).to(emissions.dtype)


def crf_loss_terms(
    emissions: Tensor,
    tags: Tensor,
    lengths=None,
    *,
    mask: Tensor | None = None,
    reduction: str = "mean",
    transitions: Tensor,
    start_transitions: Tensor | None = None,
    end_transitions: Tensor | None = None,
    constraints: Constraints | None = None,
) -> LossTerms:
    """:func:`crf_loss` as a (total, count) pair: loss = total / count.

    With NLL_i and T_i as in :func:`crf_loss`::

        total = Σ_i NLL_i
        count = N' = rows with T_i > 0         reduction="mean"
              = Σ_i T_i                        reduction="token_mean"
              = None                           reduction="sum"

    (the counts of :mod:`rnnseq.reductions`, as for every loss of rnnseq). Totals
    and counts of several batches (or processes) add up; divide once
    (:meth:`~rnnseq.reductions.LossTerms.value`). reduction="none" is a ValueError.

    Args:
        as in :func:`crf_loss`; reduction "mean" | "sum" | "token_mean".

    Shape:
        as in :func:`crf_loss`; total and count are scalars in the computation's
        dtype (at least float32).

    Example:
        >>> e = torch.zeros(2, 2, 2)  # every path scores 0: NLL = T · log 2 per row
        >>> total, count = crf_loss_terms(
        ...     e, torch.zeros(2, 2, dtype=torch.long), [2, 1], transitions=torch.zeros(2, 2),
        ...     reduction="token_mean",
        ... )
        >>> round(total.item(), 4), count.item()  # 3 · log 2 over 3 steps
        (2.0794, 3.0)
    """
    _check_terms_reductions(reduction, REDUCTIONS)
    tables = (transitions, start_transitions, end_transitions, constraints)
    return _crf_nll(emissions, tags, lengths, mask, reduction, *tables)


def _crf_nll(
    emissions, tags, lengths, mask, reduction, transitions, start, end, constraints
) -> Tensor | LossTerms:
    """The per-row NLL (N,) for reduction="none", else the LossTerms."""
    emissions, steps, tables, allowed = _prepare(
        emissions, lengths, mask, transitions, start, end, constraints
    )
    num_tags = emissions.shape[2]
    tags = _check_tags(tags, steps, num_tags)  # (N, T) long, 0 at padding
    if emissions.shape[1] == 0:
        emissions, steps, tags = _pad_empty_time(emissions, steps, tags)
    if allowed is not None:
        _check_gold_allowed(tags, steps, allowed)

    dtype = _compute_dtype(emissions, tables[1])
    start, trans, end = _scores(tables, allowed, dtype, emissions.device)
    emit = torch.where(steps.unsqueeze(2), emissions.to(dtype), 0)  # (N, T, C); padding -> 0
    lengths = steps.sum(1)  # (N,)
    nll = _log_partition(emit, steps, start, trans, end) - _gold_score(
        emit, tags, steps, start, trans, end
    )  # (N,)
    nll = torch.where(lengths > 0, nll, 0)  # (N,); empty rows are 0, with gradient 0
    if reduction == "none":
        return nll
    # A row's NLL is its whole-sequence loss; each real step counts 1.
    count = batch_count(reduction, steps, steps.to(dtype), dtype)
    return LossTerms(nll.sum(), count)


@torch.no_grad()
def viterbi_decode(
    emissions: Tensor,
    lengths=None,
    *,
    mask: Tensor | None = None,
    transitions: Tensor,
    start_transitions: Tensor | None = None,
    end_transitions: Tensor | None = None,
    constraints: Constraints | None = None,
) -> list[list[int]]:
    """The highest-scoring tag sequence per row, argmax_y score(y), over allowed paths.

    Same recursion as log Z with max in place of logsumexp, keeping a backpointer per
    step and tag. Padded steps are ignored; an empty row gives [].

    Shape:
        emissions (N, T, C), lengths (N,) or mask (N, T); output: N lists, row i of
        length T_i.

    Example:
        >>> e = torch.tensor([[[0.0, 1.0], [2.0, 0.0], [0.0, 0.0]]])
        >>> viterbi_decode(e, [2], transitions=torch.zeros(2, 2))
        [[1, 0]]
    """
    emissions, steps, tables, allowed = _prepare(
        emissions, lengths, mask, transitions, start_transitions, end_transitions, constraints
    )
    if emissions.shape[1] == 0:
        emissions, steps, _ = _pad_empty_time(emissions, steps, None)
    dtype = _compute_dtype(emissions, tables[1])
    start, trans, end = _scores(tables, allowed, dtype, emissions.device)
    emit = torch.where(steps.unsqueeze(2), emissions.to(dtype), 0)  # (N, T, C)
    return _viterbi(emit, steps, start, trans, end)


class LinearChainCRF(nn.Module):
    """A linear-chain CRF layer: learnable transition scores on top of emissions.

    Parameters: ``transitions`` (C, C) [from i to j], ``start_transitions`` (C,) and
    ``end_transitions`` (C,), all initialised to 0, so that an unconstrained CRF starts
    out as the per-step softmax tagger (its NLL equals the summed token cross-entropy).
    ``constraints`` (start, transitions, end) boolean tables, e.g.
    ``rnnseq.tag_schemes.allowed_transitions(tags, "IOBES")``, are kept as bool
    buffers ``allowed_start``, ``allowed_transitions``, ``allowed_end`` (saved in the
    state dict) and apply to both the loss and decoding.

    ``forward`` returns :func:`crf_loss` (the NLL, see there for the math and the
    reductions), ``loss_terms`` the same as (total, count) (:func:`crf_loss_terms`);
    ``viterbi_decode`` returns the best tag sequences.

    Shape:
        emissions (N, T, C), tags (N, T), lengths (N,) or mask (N, T).

    Example:
        >>> from rnnseq.tag_schemes import allowed_transitions
        >>> crf = LinearChainCRF(3, constraints=allowed_transitions(["O", "B-X", "I-X"], "IOB2"))
        >>> e = torch.tensor([[[0.0, 0.0, 5.0], [0.0, 0.0, 5.0]]])  # I-X wins each step
        >>> crf.viterbi_decode(e)  # ... but I-X may not start a sentence
        [[1, 2]]
        >>> crf(e, torch.tensor([[1, 2]])).item() > 0
        True
    """

    def __init__(self, num_tags: int, constraints: Constraints | None = None):
        super().__init__()
        if isinstance(num_tags, bool) or not isinstance(num_tags, int) or num_tags < 1:
            raise ValueError(f"num_tags must be a positive int, got {num_tags!r}")
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # (C, C)
        self.start_transitions = nn.Parameter(torch.zeros(num_tags))  # (C,)
        self.end_transitions = nn.Parameter(torch.zeros(num_tags))  # (C,)
        allowed = _check_constraints(constraints, num_tags)
        names = ("allowed_start", "allowed_transitions", "allowed_end")
        for name, table in zip(names, allowed or (None, None, None), strict=True):
            self.register_buffer(name, None if table is None else table.clone())

    @property
    def constraints(self) -> Constraints | None:
        """(start, transitions, end) bool buffers, or None without constraints."""
        if self.allowed_transitions is None:
            return None
        return self.allowed_start, self.allowed_transitions, self.allowed_end

    def _tables(self) -> dict:
        return {
            "transitions": self.transitions,
            "start_transitions": self.start_transitions,
            "end_transitions": self.end_transitions,
            "constraints": self.constraints,
        }

    def forward(
        self,
        emissions: Tensor,
        tags: Tensor,
        lengths=None,
        *,
        mask: Tensor | None = None,
        reduction: str = "mean",
    ) -> Tensor:
        """The NLL of ``tags``; see :func:`crf_loss`."""
        return crf_loss(emissions, tags, lengths, mask=mask, reduction=reduction, **self._tables())

    def loss_terms(
        self,
        emissions: Tensor,
        tags: Tensor,
        lengths=None,
        *,
        mask: Tensor | None = None,
        reduction: str = "mean",
    ) -> LossTerms:
        """The NLL of ``tags`` as (total, count); see :func:`crf_loss_terms`."""
        return crf_loss_terms(
            emissions, tags, lengths, mask=mask, reduction=reduction, **self._tables()
        )

    def viterbi_decode(
        self, emissions: Tensor, lengths=None, *, mask: Tensor | None = None
    ) -> list[list[int]]:
        """The best tag sequence per row; see :func:`viterbi_decode`."""
        return viterbi_decode(emissions, lengths, mask=mask, **self._tables())

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}, constrained={self.constraints is not None}"
