"""Raw English text -> tokens and sentences, with character offsets into the text.

The tokens follow the Universal Dependencies / Penn Treebank conventions that
English taggers are trained on (UD English EWT's syntactic words): punctuation is
split off, clitics are split (``don't`` -> ``do n't``, ``Today's`` -> ``Today 's``,
``gonna`` -> ``gon na``, ``cannot`` -> ``can not``), abbreviations keep their period
(``U.S.``), hyphens between words are split (``wheel - chair``), and URLs, e-mail
addresses and emoticons stay whole. Text that is already tokenized and
space-separated (``do n't``, ``( 3 )``) keeps its tokens.

The work is done by spaCy's rule-based English tokenizer (that of ``spacy.blank("en")``:
no model, no download), chosen for agreeing best with EWT's gold tokens
(docs/TOKENIZATION.md has the measurement and its command), with five rules of ours:

1. a clitic written alone (``'m``, ``'ve``, ``'re``, ``'ll``, ``'d``, ``'s``,
   ``n't`` in any case, with ``'`` or ``’``) is one token, so that pre-tokenized
   text keeps it;
2. a run of adjacent punctuation tokens is one token when every character of the
   run is the same (``!!!``, ``***``, ``====``, ``<<``) or every character is one
   of ``. ! ?`` (``?!``, ``.?``), as EWT writes them;
3. sentences (:func:`split_sentences`) come from spaCy's rule-based
   ``sentencizer``, with an opening bracket or opening quote that the sentencizer
   left at the end of a sentence moved to the start of the next one;
4. a token that spaCy would split further when it stands alone (``0T:A`` gives
   ``0T``, but ``0T`` alone gives ``0 T``) is split so, which makes
   ``tokenize(" ".join(tokens))`` give ``tokens`` back for any text;
5. a hyphen between two digits does not split (``713-853-3989``, ``2004-05``,
   ``1996-12-06``), as in EWT (341 of 423 such hyphens) and CoNLL-2003.

Offsets are Python string indices: for every token ``text[token.start:token.end] ==
token.text``. Whitespace (``str.isspace``) never belongs to a token, and every other
character belongs to exactly one token. spaCy is imported on first use (about half a
second, without torch: see :func:`_import_spacy`), so importing this module costs
nothing.

    >>> [t.text for t in tokenize("Obama visited Paris yesterday.")]
    ['Obama', 'visited', 'Paris', 'yesterday', '.']
    >>> tokenize("I don't")
    [Token(text='I', start=0, end=1), Token(text='do', start=2, end=4), Token(text="n't", start=4, end=7)]
"""  # noqa: E501

from __future__ import annotations

import functools
import re
import sys
from typing import Any, NamedTuple

__all__ = ["Token", "tokenize", "pretokenized", "split_sentences", "tokenize_sentences"]


class Token(NamedTuple):
    """A piece of a text: ``text == source[start:end]`` (end exclusive).

    Sentences from :func:`split_sentences` are Tokens too (a span of the text)."""

    text: str
    start: int
    end: int


_NON_SPACE = re.compile(r"\S+")  # str patterns: \s is exactly str.isspace()
_SURROGATE = re.compile("[\ud800-\udfff]")
_CLITICS = ("'s", "'m", "'d", "'ll", "'re", "'ve", "n't")
_STOPS = frozenset(".!?")
_DIGITS = frozenset("0123456789")
_OPENING = frozenset("([{«‘“")
_QUOTES = frozenset("\"'`")


def pretokenized(text: str) -> list[Token]:
    """Whitespace-separated tokens, with offsets (for text that is already tokenized).

    >>> pretokenized("  do n't\\tstop ")
    [Token(text='do', start=2, end=4), Token(text="n't", start=5, end=8), Token(text='stop', start=9, end=13)]
    """  # noqa: E501
    return [Token(m.group(), m.start(), m.end()) for m in _NON_SPACE.finditer(text)]


def tokenize(text: str) -> list[Token]:
    """UD/PTB tokens of raw English ``text``, in order, with character offsets.

    Any string is accepted (the empty string gives ``[]``); see the module docstring
    for the conventions.
    """
    return _stable(text, _merge_runs(text, _spacy_tokens(_english().tokenizer(_safe(text)), text)))


def split_sentences(text: str) -> list[Token]:
    """The sentences of ``text``, as spans from the first to the last token of each.

    >>> [s.text for s in split_sentences('He left. "Why not?" We stayed!!')]
    ['He left.', '"Why not?"', 'We stayed!!']
    """
    return [
        Token(text[sent[0].start : sent[-1].end], sent[0].start, sent[-1].end)
        for sent in tokenize_sentences(text)
    ]


def tokenize_sentences(text: str) -> list[list[Token]]:
    """The tokens of ``text`` grouped by sentence (the same tokens as :func:`tokenize`)."""
    english = _english()
    doc = english.sentencizer(english.tokenizer(_safe(text)))
    groups = [_spacy_tokens(sent, text) for sent in doc.sents]
    groups = [g for g in groups if g]
    for k in range(len(groups) - 1):  # rule 3: an opening mark starts the next sentence
        while len(groups[k]) > 1 and _opens(groups[k][-1], text):
            groups[k + 1].insert(0, groups[k].pop())
    return [_stable(text, _merge_runs(text, g)) for g in groups]


class _English(NamedTuple):
    """spaCy's English tokenizer (with rule 1's special cases) and sentencizer."""

    tokenizer: Any
    sentencizer: Any


@functools.cache
def _english() -> _English:
    """The tokenizer and sentencizer of ``spacy.blank("en")``, built once, alone.

    The tokenizer is built as spaCy's own tokenizer factory (``spacy.Tokenizer.v1``)
    builds it for a blank English pipeline: the English vocabulary's lexical attributes
    (``create_vocab``), the English prefix, suffix and infix rules, exceptions, token
    and URL matches. Only the two pieces are made, not a whole ``Language`` with its
    config and registry look-ups (docs/TOKENIZATION.md has the timings).
    """
    _import_spacy()  # about half a second: only when raw text is first tokenized
    from spacy.lang.en import English
    from spacy.pipeline import Sentencizer
    from spacy.symbols import ORTH
    from spacy.tokenizer import Tokenizer
    from spacy.util import compile_infix_regex, compile_prefix_regex, compile_suffix_regex
    from spacy.vocab import create_vocab

    defaults = English.Defaults
    tokenizer = Tokenizer(
        create_vocab(English.lang, defaults),
        rules=defaults.tokenizer_exceptions,
        prefix_search=compile_prefix_regex(defaults.prefixes).search,
        suffix_search=compile_suffix_regex(defaults.suffixes).search,
        infix_finditer=compile_infix_regex(defaults.infixes).finditer,
        token_match=defaults.token_match,
        url_match=defaults.url_match,
    )
    for clitic in _CLITICS:  # rule 1
        for form in {clitic, clitic.upper()}:
            for apostrophe in ("'", "’"):
                written = form.replace("'", apostrophe)
                tokenizer.add_special_case(written, [{ORTH: written}])
    return _English(tokenizer, Sentencizer())


def _import_spacy():
    """spaCy, imported without torch when torch is not imported yet.

    spaCy imports thinc, whose ``thinc.compat`` imports torch if it can (for thinc's
    own PyTorch layers, which tokenizing never uses): about 2 s, longer than all the
    rest of a one-line ``rnnseq predict`` on the ONNX engine. thinc has no switch for
    it, so for the length of spaCy's import ``sys.modules["torch"]`` is None, which
    makes ``import torch`` raise ImportError, the case thinc handles (no torch
    installed); the entry is removed right after, and a later ``import torch``
    imports torch as usual. The one lasting effect: in such a process thinc's PyTorch
    layers stay off (import torch before spaCy to use spaCy pipelines that need them).
    Where torch is already imported, spaCy is imported as usual.
    """
    if "torch" in sys.modules or "spacy" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]
    try:
        import spacy
    finally:
        if sys.modules.get("torch", False) is None:
            del sys.modules["torch"]
    return spacy


def _safe(text: str) -> str:
    """``text`` with lone surrogates (which spaCy cannot encode) as U+FFFD: same length,
    so offsets into it are offsets into ``text``."""
    return _SURROGATE.sub("\ufffd", text)


def _spacy_tokens(tokens, text: str) -> list[Token]:
    """spaCy tokens as Tokens sliced from ``text``; whitespace dropped, and any token
    that holds whitespace inside (spaCy splits on spaces only) split there."""
    out = []
    for t in tokens:
        start, end = t.idx, t.idx + len(t.text)
        piece = text[start:end]
        if not any(c.isspace() for c in piece):
            out.append(Token(piece, start, end))
        else:
            out.extend(Token(m.group(), start + m.start(), start + m.end())
                       for m in _NON_SPACE.finditer(piece))
    return out


def _merge_runs(text: str, tokens: list[Token]) -> list[Token]:
    """Rule 2: adjacent punctuation tokens of one repeated character, or of . ! ? only,
    become one token. Rule 5: a hyphen between two digits joins its neighbours."""
    out: list[Token] = []
    for tok in tokens:
        if out and out[-1].end == tok.start and _run_of(out[-1].text + tok.text):
            first = out.pop()
        elif (len(out) >= 2 and out[-1].text == "-" and out[-2].end == out[-1].start
              and out[-1].end == tok.start and out[-2].text[-1] in _DIGITS
              and tok.text[0] in _DIGITS):
            out.pop()
            first = out.pop()
        else:
            out.append(tok)
            continue
        out.append(Token(text[first.start : tok.end], first.start, tok.end))
    return out


def _stable(text: str, tokens: list[Token]) -> list[Token]:
    """Rule 4: each token split further where it would be split when written alone, so
    that tokenizing the tokens joined by spaces gives the same tokens back."""
    out = []
    for tok in tokens:
        out.extend(Token(text[tok.start + a : tok.start + b], tok.start + a, tok.start + b)
                   for a, b in _alone(tok.text))
    return out


@functools.lru_cache(maxsize=1 << 16)
def _alone(word: str) -> tuple[tuple[int, int], ...]:
    """Spans of the tokens of ``word`` tokenized on its own, repeated until every token
    tokenizes to itself (tokens only shrink, so this ends)."""
    pieces = _merge_runs(word, _spacy_tokens(_english().tokenizer(_safe(word)), word))
    if len(pieces) <= 1:
        return ((0, len(word)),)
    return tuple((p.start + a, p.start + b) for p in pieces for a, b in _alone(p.text))


def _run_of(chars: str) -> bool:
    first = chars[0]
    if first.isalnum():
        return False
    return all(c == first for c in chars) or all(c in _STOPS for c in chars)


def _opens(tok: Token, text: str) -> bool:
    """An opening bracket, or a quote with a space (or the start) before it and none
    after it: it belongs to the sentence that follows."""
    if tok.text in _OPENING:
        return True
    if len(tok.text) == 1 and tok.text in _QUOTES:
        before = text[tok.start - 1] if tok.start else " "
        after = text[tok.end] if tok.end < len(text) else " "
        return before.isspace() and not after.isspace()
    return False
