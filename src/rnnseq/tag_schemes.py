"""Span tag schemes (IOB1, IOB2, IOBES): detection, conversion, spans, legal moves.

A span tag is ``O`` (outside any span) or ``P-TYPE`` with a one-letter prefix P:

    B-X  begins a span of type X       E-X  ends a span (IOBES)
    I-X  inside a span of type X       S-X  a one-token span (IOBES)

``U-``/``L-`` (BILOU's unit/last) are read as ``S-``/``E-``, so BILOU input is IOBES
input; output is always written with ``S-``/``E-``. The type is everything after the
first ``-`` and must not be empty.

The three schemes, on "John lives in New York":

    IOB1   I-PER O O I-LOC I-LOC   I- starts a span; B-X only when a span of type X
                                   directly follows another span of type X
    IOB2   B-PER O O B-LOC I-LOC   every span starts with B-
    IOBES  S-PER O O B-LOC E-LOC   one-token spans are S-, longer ones end with E-

Reading spans follows conlleval's chunk rules for every scheme, so any sequence of
span tags has one reading and nothing is dropped:

- a span starts at B-X and S-X; at I-X or E-X after O, E-, S- or a different type;
- a span ends before O, B- or S-; after E- or S-; or where the type changes.

IOB1 and IOB2 are read the same way; for IOB2 this is the usual lenient reading (an
I-X that starts a span counts as a start, as in conlleval and seqeval's default
mode). Conversions rebuild the tags from the spans, so they preserve spans exactly
and always produce a sequence that :func:`allowed_transitions` accepts.

Spans are ``(type, start, end)`` with ``end`` exclusive (Python slices): tokens
``tags[start:end]``.

Pure Python; no torch or NumPy needed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

__all__ = [
    "SCHEMES",
    "is_span_tag",
    "span_types",
    "detect_scheme",
    "spans",
    "to_iob1",
    "to_iob2",
    "to_iobes",
    "convert",
    "allowed_transitions",
]

SCHEMES = ("IOB1", "IOB2", "IOBES")
_PREFIXES = {"IOB1": "OBI", "IOB2": "OBI", "IOBES": "OBIES"}
_ALIASES = {"U": "S", "L": "E"}  # BILOU -> IOBES

Span = tuple[str, int, int]  # (type, start, end), end exclusive


def _parse(tag) -> tuple[str, str | None] | None:
    """'B-PER' -> ('B', 'PER'), 'O' -> ('O', None), anything else (e.g. 'NN') -> None."""
    if tag == "O":
        return "O", None
    if not isinstance(tag, str):
        return None
    prefix, sep, kind = tag.partition("-")
    if sep and kind and len(prefix) == 1 and prefix in "BIESUL":
        return _ALIASES.get(prefix, prefix), kind
    return None


def is_span_tag(tag: str) -> bool:
    """True for ``O`` and ``P-TYPE`` tags (P one of B, I, E, S, U, L), False for
    anything else, such as the part-of-speech tag ``NOUN``."""
    return _parse(tag) is not None


def span_types(tags: Iterable[str]) -> list[str]:
    """The span types of span tags, sorted: ``["B-PER", "O", "E-LOC"] -> ["LOC", "PER"]``;
    tags that are not span tags are skipped."""
    return sorted({p[1] for p in map(_parse, tags) if p is not None and p[1] is not None})


def _check_scheme(scheme) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    return scheme


def _parse_all(tags: Sequence[str], scheme: str) -> list[tuple[str, str | None]]:
    """Parse every tag, checking that its prefix belongs to the scheme."""
    parsed = []
    for k, tag in enumerate(tags):
        p = _parse(tag)
        if p is None or p[0] not in _PREFIXES[scheme]:
            allowed = "O, " + ", ".join(f"{c}-X" for c in _PREFIXES[scheme][1:])
            raise ValueError(f"tags[{k}] must be a tag of {scheme} ({allowed}), got {tag!r}")
        parsed.append(p)
    return parsed


def detect_scheme(tag_sequences: Iterable[Sequence[str]]) -> str | None:
    """Which span scheme a collection of tag sequences (sentences) uses.

    Rules, applied to all sequences together:

    1. A tag that is neither ``O`` nor ``P-TYPE`` (e.g. POS tags ``NN``, or
       IO-style ``PER``) -> ``None``: not a span scheme.
    2. Only ``O`` (or no tags at all) -> ``None``: no evidence of a span scheme.
    3. Any ``E-``/``S-`` (or ``L-``/``U-``) -> ``"IOBES"``.
    4. Any I-X that starts a span (first token, after ``O``, or after a tag of
       another type) -> ``"IOB1"``; this is how the original CoNLL-2003 files look.
    5. Otherwise -> ``"IOB2"`` (every span starts with B-; this includes data with
       only ``O`` and ``B-`` tags).

    Valid IOB1 data with at least one span always meets rule 4 (its first span starts
    with I-), so only all-``O`` data is ambiguous, and it gives ``None``. Detection
    classifies; it does not validate (rule 3 wins even if an I- starts a span).

    Args:
        tag_sequences: an iterable of tag lists, one per sentence.

    Example:
        >>> detect_scheme([["I-PER", "O", "I-LOC", "I-LOC"], ["O", "I-ORG"]])
        'IOB1'
        >>> detect_scheme([["B-PER", "O", "B-LOC", "I-LOC"]])
        'IOB2'
        >>> detect_scheme([["NN", "VBZ"]]) is None
        True
    """
    any_span_tag = uses_e_or_s = i_starts_span = False
    for n, sequence in enumerate(tag_sequences):
        if isinstance(sequence, str):
            raise ValueError(
                f"tag_sequences must hold one list of tags per sentence, got the string "
                f"{sequence!r} at position {n}"
            )
        prev_prefix, prev_kind = "O", None
        for tag in sequence:
            parsed = _parse(tag)
            if parsed is None:
                return None
            prefix, kind = parsed
            any_span_tag |= prefix != "O"
            uses_e_or_s |= prefix in "ES"
            i_starts_span |= prefix == "I" and (prev_prefix == "O" or prev_kind != kind)
            prev_prefix, prev_kind = prefix, kind
    if not any_span_tag:
        return None
    if uses_e_or_s:
        return "IOBES"
    return "IOB1" if i_starts_span else "IOB2"


def _ends_before(prev_prefix: str, prev_kind, prefix: str, kind) -> bool:
    """conlleval: does the span open at the previous token end before this one?"""
    if prev_prefix == "O":
        return False  # nothing open
    if prev_prefix in "ES":
        return True
    if prefix in "OBS":  # previous is B or I
        return True
    return kind != prev_kind


def _starts_here(prev_prefix: str, prev_kind, prefix: str, kind) -> bool:
    """conlleval: does a new span start at this token?"""
    if prefix == "O":
        return False
    if prefix in "BS":
        return True
    if prev_prefix in "OES":  # this one is I or E
        return True
    return kind != prev_kind


def _spans(parsed: list[tuple[str, str | None]]) -> list[Span]:
    """Spans in order, from parsed tags."""
    found: list[Span] = []
    start, open_kind = None, None
    prev_prefix, prev_kind = "O", None
    for k, (prefix, kind) in enumerate(parsed):
        if start is not None and _ends_before(prev_prefix, prev_kind, prefix, kind):
            found.append((open_kind, start, k))
            start = None
        if _starts_here(prev_prefix, prev_kind, prefix, kind):
            start, open_kind = k, kind
        prev_prefix, prev_kind = prefix, kind
    if start is not None:
        found.append((open_kind, start, len(parsed)))
    return found


def spans(tags: Sequence[str], scheme: str) -> set[Span]:
    """The labelled spans of one tag sequence, as ``{(type, start, end)}``, end exclusive.

    Example:
        >>> sorted(spans(["I-PER", "I-PER", "B-PER", "O", "I-LOC"], "IOB1"))
        [('LOC', 4, 5), ('PER', 0, 2), ('PER', 2, 3)]
    """
    return set(_spans(_parse_all(tags, _check_scheme(scheme))))


def _rebuild(tags: Sequence[str], scheme: str, *, iobes: bool) -> list[str]:
    out = ["O"] * len(tags)
    for kind, start, end in _spans(_parse_all(tags, _check_scheme(scheme))):
        if iobes and end - start == 1:
            out[start] = f"S-{kind}"
            continue
        out[start] = f"B-{kind}"
        for k in range(start + 1, end):
            out[k] = f"I-{kind}"
        if iobes:
            out[end - 1] = f"E-{kind}"
    return out


def to_iob1(tags: Sequence[str], scheme: str) -> list[str]:
    """One sentence's tags rewritten in IOB1 (I- everywhere; B-X only where a span of
    type X directly follows another span of type X); spans unchanged.

    Example:
        >>> to_iob1(["B-PER", "I-PER", "B-PER", "O", "B-LOC"], "IOB2")
        ['I-PER', 'I-PER', 'B-PER', 'O', 'I-LOC']
    """
    out = ["O"] * len(tags)
    previous_end, previous_kind = -1, None
    for kind, start, end in sorted(_spans(_parse_all(tags, _check_scheme(scheme))), key=_start):
        for k in range(start, end):
            out[k] = f"I-{kind}"
        if start == previous_end and kind == previous_kind:
            out[start] = f"B-{kind}"
        previous_end, previous_kind = end, kind
    return out


def convert(tags: Sequence[str], source: str, target: str) -> list[str]:
    """One sentence's tags rewritten from scheme ``source`` into scheme ``target``."""
    rewrite = {"IOB1": to_iob1, "IOB2": to_iob2, "IOBES": to_iobes}[_check_scheme(target)]
    return rewrite(tags, source)


def _start(span: Span) -> int:
    return span[1]


def to_iob2(tags: Sequence[str], scheme: str) -> list[str]:
    """One sentence's tags rewritten in IOB2 (B- on every span start); spans unchanged.

    Example:
        >>> to_iob2(["I-PER", "I-PER", "B-PER", "O", "I-LOC"], "IOB1")
        ['B-PER', 'I-PER', 'B-PER', 'O', 'B-LOC']
    """
    return _rebuild(tags, scheme, iobes=False)


def to_iobes(tags: Sequence[str], scheme: str) -> list[str]:
    """One sentence's tags rewritten in IOBES (S- for one token, else B- I-... E-).

    Example:
        >>> to_iobes(["I-PER", "I-PER", "B-PER", "O", "I-LOC"], "IOB1")
        ['B-PER', 'E-PER', 'S-PER', 'O', 'S-LOC']
    """
    return _rebuild(tags, scheme, iobes=True)


def _may_start(prefix: str, scheme: str) -> bool:
    return prefix in {"IOB1": "OI", "IOB2": "OB", "IOBES": "OBS"}[scheme]


def _may_end(prefix: str, scheme: str) -> bool:
    return scheme != "IOBES" or prefix in "OES"


def _may_follow(prev: tuple[str, str | None], cur: tuple[str, str | None], scheme: str) -> bool:
    (p, p_kind), (c, c_kind) = prev, cur
    same_kind = p != "O" and p_kind == c_kind
    if scheme == "IOB1":  # B-X only right after a span of type X
        return c != "B" or same_kind
    if scheme == "IOB2":  # I-X only inside a span of type X
        return c != "I" or (p in "BI" and same_kind)
    if p in "BI":  # IOBES: an open span must continue or end, with its own type
        return c in "IE" and same_kind
    return c in "OBS"  # after O, E-, S-: nothing is open


def allowed_transitions(
    tags: Sequence[str], scheme: str
) -> tuple[list[bool], list[list[bool]], list[bool]]:
    """Which moves the scheme allows, as boolean tables over a tag list (C tags).

    Returns ``(start, transitions, end)``: ``start[j]`` — a sentence may begin with
    ``tags[j]``; ``transitions[i][j]`` — ``tags[j]`` may directly follow ``tags[i]``;
    ``end[i]`` — a sentence may end with ``tags[i]``. Strict rules per scheme:

    - IOB1: start with O or I-; B-X only right after B-X or I-X (a new span of the
      same type); everything else free. Note: CoNLL-2003's eng.train breaks this
      twice (O -> B-MISC); convert to IOB2 or IOBES before training a constrained
      CRF on it.
    - IOB2: I-X only after B-X or I-X; everything else free.
    - IOBES: after O, E-, S-: O, B- or S-; after B-X or I-X: I-X or E-X; start
      with O, B-, S-; end with O, E-, S-.

    Plain Python lists of bools; ``torch.as_tensor`` turns them into bool tensors
    for :class:`rnnseq.crf.LinearChainCRF`.

    Shape:
        start (C,), transitions (C, C) [from i to j], end (C,).

    Example:
        >>> start, trans, end = allowed_transitions(["O", "B-PER", "I-PER"], "IOB2")
        >>> start, trans[0], end
        ([True, True, False], [True, True, False], [True, True, True])
    """
    parsed = _parse_all(tags, _check_scheme(scheme))
    start = [_may_start(p[0], scheme) for p in parsed]
    transitions = [[_may_follow(a, b, scheme) for b in parsed] for a in parsed]
    end = [_may_end(p[0], scheme) for p in parsed]
    return start, transitions, end
