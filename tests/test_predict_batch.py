"""rnnseq.predict_batch: the fast prediction batch equals collate's, and computing each
distinct word's character features once changes no feature."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnseq.data import Vocab, collate
from rnnseq.data.encoded import MAX_WORD_LEN, EncodedDataset
from rnnseq.models.char_features import CharBiLSTM, CharCNN
from rnnseq.predict_batch import WordFeatures, length_batches, rows_batch
from rnnseq.preprocess import Vocabularies

WORDS = ["the", "The", "dog", "runs", ".", "unseen", "x" * (MAX_WORD_LEN + 5), "é", "a-b"]


def _vocabs(lowercase: bool, chars: bool) -> Vocabularies:
    words = Vocab(["the", "dog", "runs", "."], lowercase=lowercase)
    labels = Vocab(["A"], specials=())
    char_vocab = Vocab.build(["the dog runs.x-é"]) if chars else None
    return Vocabularies(words=words, labels=labels, chars=char_vocab)


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(st.lists(st.sampled_from(WORDS), min_size=1, max_size=6), min_size=1,
                  max_size=5),  # fmt: skip
    lowercase=st.booleans(),
    chars=st.booleans(),
)
def test_rows_batch_equals_collate_of_the_encoded_rows(rows, lowercase, chars):
    vocabs = _vocabs(lowercase, chars)
    batch, distinct = rows_batch(rows, vocabs, {})
    encoded = EncodedDataset.from_tokens(rows, vocabs.words, per_step=True,
                                         char_vocab=vocabs.chars)  # fmt: skip
    expected = collate(encoded, range(len(rows)))
    assert torch.equal(batch.tokens, expected.tokens)
    assert torch.equal(batch.lengths, expected.lengths)
    assert batch.indices == expected.indices and batch.targets is None
    if chars:
        assert torch.equal(batch.chars, expected.chars)
        assert torch.equal(distinct.chars(), batch.chars)
        assert len(distinct.words) == len({w for r in rows for w in r})
        placeholder, _ = rows_batch(rows, vocabs, {}, spelled=False)
        assert placeholder.chars.shape == (*batch.chars.shape[:2], 1)
        assert not placeholder.chars.any()
    else:
        assert batch.chars is None and distinct is None


def _seen_rows(module) -> tuple[list, object]:
    """Record how many words each call of ``module`` computes (rows reaching its
    embedding after the empty ones are dropped)."""
    seen: list = []
    hook = module.embedding.register_forward_pre_hook(
        lambda m, a, seen=seen: seen.append(a[0].shape[0])
    )
    return seen, hook


def test_word_features_give_the_same_features_computing_each_word_once():
    torch.manual_seed(0)
    vocabs = _vocabs(False, True)
    first = [["the", "dog", "the"], ["runs", ".", "dog", "the", "x"], ["é"]]
    second = [["the", "dog"], ["a-b", "the"]]
    for module in (CharCNN(len(vocabs.chars), 6, 8).eval(), CharBiLSTM(len(vocabs.chars), 6, 8)):
        cache = WordFeatures()
        seen, hook = _seen_rows(module)
        for rows, new in ((first, 6), (second, 1)):  # "a-b" is the only new word
            batch, distinct = rows_batch(rows, vocabs)
            plain = module(batch.chars)
            with cache.used_by(module, distinct, key="fp32"):
                fast = module(batch.chars)
            assert torch.allclose(fast, plain, atol=1e-6)
            assert seen[-1] == new
        hook.remove()
        assert not module._forward_hooks and not module._forward_pre_hooks


def test_word_features_start_over_for_another_key_or_when_full():
    torch.manual_seed(0)
    vocabs = _vocabs(False, True)
    module = CharCNN(len(vocabs.chars), 6, 8).eval()
    batch, distinct = rows_batch([["the", "dog", "runs"]], vocabs)
    cache = WordFeatures(capacity=4)
    seen, hook = _seen_rows(module)
    for key, computed in (("a", [3]), ("a", []), ("b", [3])):  # words computed per call
        before = len(seen)
        with cache.used_by(module, distinct, key=key):
            module(batch.chars)
        assert seen[before:] == computed
    other, distinct2 = rows_batch([["x", "é"]], vocabs)
    with cache.used_by(module, distinct2, key="b"):  # 3 kept + 2 new > 4: start over
        assert torch.allclose(module(other.chars), module.__class__.forward(module, other.chars))
    assert set(cache.index) == {"x", "é"}
    hook.remove()


def test_a_placeholder_batch_gets_the_features_of_its_words_kept_or_not():
    torch.manual_seed(0)
    vocabs = _vocabs(False, True)
    rows = [["the", "dog", "the"], ["runs", ".", "x"]]
    module = CharCNN(len(vocabs.chars), 6, 8).eval()
    full, _ = rows_batch(rows, vocabs)
    plain = module(full.chars)
    for capacity in (1 << 10, 2):  # kept; too many words to keep: spelled whole
        placeholder, distinct = rows_batch(rows, vocabs, {}, spelled=False)
        with WordFeatures(capacity).used_by(module, distinct, key="fp32"):
            got = module(placeholder.chars)
        assert torch.allclose(got, plain, atol=1e-6), capacity
        assert not module._forward_hooks and not module._forward_pre_hooks


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(1, 12), max_size=80),
    batch_size=st.integers(1, 9),
    max_tokens=st.integers(1, 40),
)
def test_length_batches_hold_every_row_once_in_full_batches_of_one_length(lengths, batch_size,
                                                                          max_tokens):  # fmt: skip
    batches = length_batches(lengths, batch_size, max_tokens)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    full: dict[int, int] = {}  # length -> rows in batches of one length that are full
    for b in batches:
        sizes = [lengths[i] for i in b]
        cap = max(1, min(batch_size, max_tokens // max(sizes)))
        assert 1 <= len(b) <= batch_size
        assert len(b) == 1 or len(b) * max(sizes) <= max_tokens  # padded tokens
        if len(set(sizes)) == 1 and len(b) == cap:
            full[sizes[0]] = full.get(sizes[0], 0) + len(b)
    for n in set(lengths):  # fewer than one batch of each length is left over
        cap = max(1, min(batch_size, max_tokens // n))
        assert lengths.count(n) - full.get(n, 0) < cap


def test_length_batches_give_full_batches_of_one_length_first_then_the_rest_sorted():
    lengths = [3, 1, 3, 3, 1, 2, 3, 5, 2, 2]
    # length 1: [1, 4]; length 3: [0, 2], [3, 6]; left over: 5 and 8 (length 2),
    # 9 (length 2), 7 (length 5), cut by length as evaluation batches are
    assert length_batches(lengths, 2, 100) == [[1, 4], [5, 8], [0, 2], [3, 6], [9, 7]]
    # at most 5 tokens: one row of length 3 or 5 fills a batch, so only 9 is left over
    assert length_batches(lengths, 2, 5) == [[1, 4], [5, 8], [0], [2], [3], [6], [7], [9]]
