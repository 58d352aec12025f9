"""rnnseq.data.tokenize: offsets that always slice the text, UD/PTB tokens, sentences."""

from __future__ import annotations

import doctest
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import rnnseq.data.tokenize as tokenize_module
from rnnseq.data.tokenize import (
    Token,
    pretokenized,
    split_sentences,
    tokenize,
    tokenize_sentences,
)

# Text that reaches every rule: clitics, quotes, brackets, runs of punctuation, odd
# whitespace, letters of other scripts, lone surrogates (text read with
# errors="surrogateescape" has them).
_PIECES = list("ab Ab.!?'’\"`()[-*=_<>:/@#$%0123\t\n\u00a0\u2028\u3000é中\ud800\x00\u0301")
_TRICKY = st.lists(
    st.sampled_from(_PIECES + ["n't", "'s", "'m", "'ve", "U.S.", "don't", "gonna", "  "]),
    max_size=30,
).map("".join)
_ANY = st.one_of(st.text(max_size=80), _TRICKY,
                 st.text(st.characters(codec=None, exclude_categories=()), max_size=40))


def _check_spans(text: str, tokens: list[Token]) -> None:
    """Every token slices the text, holds no whitespace, and the tokens, in order and
    without overlap, hold every non-space character of the text."""
    previous_end = 0
    for tok in tokens:
        assert isinstance(tok, Token)
        assert text[tok.start : tok.end] == tok.text
        assert tok.text and not any(c.isspace() for c in tok.text)
        assert tok.start >= previous_end
        previous_end = tok.end
    assert "".join(t.text for t in tokens) == "".join(c for c in text if not c.isspace())


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_tokens_slice_the_text_in_order_and_cover_every_non_space_character(text):
    tokens = tokenize(text)
    _check_spans(text, tokens)
    _check_spans(text, pretokenized(text))
    sentences = tokenize_sentences(text)
    assert all(sentences)
    assert [t for sent in sentences for t in sent] == tokens  # the same tokens, grouped
    spans = split_sentences(text)
    assert [(s.start, s.end) for s in spans] == [(g[0].start, g[-1].end) for g in sentences]
    assert all(text[s.start : s.end] == s.text for s in spans)


@settings(max_examples=300, deadline=None)
@given(_ANY)
def test_tokenizing_the_tokens_joined_by_spaces_gives_them_back(text):
    words = [t.text for t in tokenize(text)]
    assert [t.text for t in tokenize(" ".join(words))] == words


def test_examples_from_the_issue():
    assert [t.text for t in tokenize("Obama visited Paris yesterday.")] == [
        "Obama", "visited", "Paris", "yesterday", "."]
    assert tokenize("Paris yesterday.")[-2:] == [Token("yesterday", 6, 15), Token(".", 15, 16)]
    assert [t.text for t in tokenize("I don't live in the U.S. anymore.")] == [
        "I", "do", "n't", "live", "in", "the", "U.S.", "anymore", "."]


@pytest.mark.parametrize(
    "words",
    [
        "do n't",
        "I 'm sure we 've seen it , they 're right",
        "Today 's news",
        "the U.S. economy ( 3 ) grew 3.5 %",
        "gon na , wan na , can not",
        "Wow !!! Really ?! *** ==== ...",
        "e - mail him at john@example.com or http://example.com/a?b=1 :-)",
        "DO N'T",
        "call 713-853-3989 on 1996-12-06 ; it ended 2-0",
    ],
)
def test_already_tokenized_text_keeps_its_tokens(words):
    assert [t.text for t in tokenize(words)] == words.split()


def test_raw_text_is_split_as_ud_english_ewt_splits_it():
    text = "I'm gonna e-mail Today's wheel-chair deal!!! Isn't it?!"
    assert [t.text for t in tokenize(text)] == [
        "I", "'m", "gon", "na", "e", "-", "mail", "Today", "'s", "wheel", "-", "chair",
        "deal", "!!!", "Is", "n't", "it", "?!"]


def test_a_hyphen_splits_words_but_not_numbers():
    assert [t.text for t in tokenize("a wheel-chair, F-16s, 10-20 and 713-853-3989")] == [
        "a", "wheel", "-", "chair", ",", "F-16s", ",", "10-20", "and", "713-853-3989"]


def test_pretokenized_splits_on_whitespace_only():
    assert pretokenized("  don't\tstop!\u00a0now ") == [
        Token("don't", 2, 7), Token("stop!", 8, 13), Token("now", 14, 17)]
    assert pretokenized("") == [] and tokenize("") == [] and tokenize(" \n\t") == []


def test_sentences_start_with_their_opening_quote_or_bracket():
    text = 'He left. "Why not?" she asked. (Laughter.) Then we went home'
    assert [s.text for s in split_sentences(text)] == [
        "He left.", '"Why not?"', "she asked.", "(Laughter.)", "Then we went home"]
    assert split_sentences("One sentence") == [Token("One sentence", 0, 12)]
    assert split_sentences("") == [] and tokenize_sentences(" ") == []


def test_docstring_examples_run():
    result = doctest.testmod(tokenize_module)
    assert result.attempted > 0 and result.failed == 0


def test_importing_the_module_leaves_spacy_unloaded():
    code = "import sys, rnnseq.data.tokenize; print('spacy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "False"


def test_tokenizing_in_a_process_without_torch_never_imports_torch():
    code = (
        "import sys\n"
        "from rnnseq.data.tokenize import tokenize, split_sentences\n"
        "assert [t.text for t in tokenize(\"I don't\")] == ['I', 'do', \"n't\"]\n"
        "assert len(split_sentences('He left. We stayed.')) == 2\n"
        "print('torch' in sys.modules, sys.modules.get('torch', 'absent'))\n"
        "import torch\n"  # and torch still imports afterwards
        "print(torch.tensor([1]).sum().item())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[:2] == ["False absent", "1"]


_BUILT_ALONE = (
    "Obama visited Paris yesterday. I don't know; she can't've gone to the U.S. at 5:30pm!!",
    "e-mail me: john.doe@example.com, or see https://example.com/a?b=c :-) (ok?) 'quoted' ",
    "Mr. Smith's co-op ... costs $1,000.50 -- 20% off\u2026 don\u2019t \u201cquote\u201d "
    "\ud800 gonna",
)


@pytest.mark.parametrize("text", _BUILT_ALONE)
def test_the_tokenizer_built_alone_splits_as_spacy_blank_english(text):
    spacy = pytest.importorskip("spacy")
    from spacy.symbols import ORTH

    blank = spacy.blank("en").tokenizer  # what this module used before building it alone
    for clitic in tokenize_module._CLITICS:  # rule 1, as _english adds it
        for form in {clitic, clitic.upper()}:
            for apostrophe in ("'", "\u2019"):
                written = form.replace("'", apostrophe)
                blank.add_special_case(written, [{ORTH: written}])
    safe = tokenize_module._safe(text)
    ours = tokenize_module._english().tokenizer(safe)
    assert [(t.idx, t.text) for t in ours] == [(t.idx, t.text) for t in blank(safe)]


# ---------------------------------------------------------------- agreement with EWT


def _ewt_sentences(path, limit):
    """(text, gold word spans, word forms) of the first ``limit`` sentences. EWT's
    syntactic words ("do" "n't" for the surface token "don't") follow each other in
    the ``# text`` line, so they are found one after another, past whitespace."""
    out, text, forms = [], None, []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# text = "):
            text = line[len("# text = ") :]
        elif line and not line.startswith("#"):
            ident, form = line.split("\t")[:2]
            if ident.isdigit():
                forms.append(form)
        elif not line and forms:
            spans, pos = [], 0
            for form in forms:
                while text[pos].isspace():
                    pos += 1
                assert text.startswith(form, pos)
                spans.append((pos, pos + len(form)))
                pos += len(form)
            out.append((text, spans, forms))
            forms = []
            if len(out) == limit:
                break
    return out


# Measured on these 1,000 sentences with spacy 3.8.18 (benchmarks/tokenizer_agreement.py
# scores all of EWT; docs/TOKENIZATION.md).
_F1_DEV_1000 = 0.9884
_ROUND_TRIP_DEV_1000 = 0.9650  # sentences whose gold words, joined by spaces, come back


def test_agreement_with_ewt_dev_words(shared_data):
    sentences = _ewt_sentences(shared_data / "ud_english_ewt" / "en_ewt-ud-dev.conllu", 1000)
    tp = n_pred = n_gold = same = 0
    for text, gold, forms in sentences:
        pred = {(t.start, t.end) for t in tokenize(text)}
        tp += len(pred & set(gold))
        n_pred += len(pred)
        n_gold += len(gold)
        same += [t.text for t in tokenize(" ".join(forms))] == forms
    precision, recall = tp / n_pred, tp / n_gold
    f1 = 2 * precision * recall / (precision + recall)
    assert f1 >= _F1_DEV_1000 - 0.005
    assert same / len(sentences) >= _ROUND_TRIP_DEV_1000 - 0.01
