"""rnnseq.data.embeddings: the embedding matrix from word vectors, and the extended vocabulary."""

from __future__ import annotations

import gzip
import itertools

import numpy as np
import pytest

from rnnseq.data import (
    PAD,
    UNK,
    Coverage,
    DataError,
    Vocab,
    embedding_matrix,
    extend_vocab,
    read_word_vectors,
)

FILE = "the 1 0 0\nparis 0 1 0\nLisbon 0 0 1\nof 2 2 2\nrome 3 3 3\nberlin 4 4 4\n"


@pytest.fixture
def vectors(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text(FILE)
    return read_word_vectors(path)


def test_rows_take_the_word_as_written_then_lowercased_and_pad_is_zero(vectors):
    vocab = Vocab(["the", "Paris", "Lisbon", "lisbon", "unseen"])
    matrix, coverage = embedding_matrix(vocab, vectors, seed=0)
    assert matrix.dtype == np.float32 and matrix.shape == (len(vocab), 3)
    np.testing.assert_array_equal(matrix[0], 0.0)  # <pad>
    np.testing.assert_array_equal(matrix[2], [1, 0, 0])  # the
    np.testing.assert_array_equal(matrix[3], [0, 1, 0])  # Paris -> paris
    np.testing.assert_array_equal(matrix[4], [0, 0, 1])  # Lisbon as written
    assert not np.array_equal(matrix[5], [0, 0, 1])  # lisbon: the file has only "Lisbon"
    assert coverage == Coverage(exact=2, lowercased=1, missing=2)
    assert coverage.total == 5 and "2 not in the file (40.0%" in str(coverage)


def test_missing_rows_follow_the_files_per_dimension_mean_and_std(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(loc=[5.0, -3.0], scale=[0.1, 2.0], size=(2000, 2)).astype(np.float32)
    path = tmp_path / "v.txt"
    path.write_text("".join(f"w{i} {a!r} {b!r}\n" for i, (a, b) in enumerate(x.tolist())))
    vocab = Vocab([f"new{i}" for i in range(4000)] + ["w0"])
    matrix, coverage = embedding_matrix(vocab, read_word_vectors(path), seed=1)
    random_rows = matrix[1:-1]  # <unk> and the 4000 missing words
    np.testing.assert_allclose(random_rows.mean(axis=0), [5.0, -3.0], atol=0.1)
    np.testing.assert_allclose(random_rows.std(axis=0), [0.1, 2.0], rtol=0.05)
    assert coverage.missing == 4000 and coverage.exact == 1


def test_same_seed_gives_the_same_matrix_another_seed_other_random_rows(vectors):
    vocab = Vocab(["the", "x", "y"])
    a, _ = embedding_matrix(vocab, vectors, seed=3)
    b, _ = embedding_matrix(vocab, vectors, seed=3)
    c, _ = embedding_matrix(vocab, vectors, seed=4)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[2], c[2])  # found: the file's vector
    assert not np.array_equal(a[3:], c[3:])


def test_specials_are_never_looked_up_in_the_file(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text(f"{UNK} 9 9\n{PAD} 9 9\nword 1 1\n")
    matrix, coverage = embedding_matrix(Vocab(["word"]), read_word_vectors(path), seed=0)
    np.testing.assert_array_equal(matrix[0], 0.0)
    assert not np.array_equal(matrix[1], [9, 9]) and coverage.total == 1


def test_a_vocabulary_the_file_does_not_know_at_all_is_a_data_error(vectors):
    with pytest.raises(DataError, match="none of the 2 vocabulary words"):
        embedding_matrix(Vocab(["xyz", "abc"]), vectors, seed=0)


def test_no_vectors_read_is_a_data_error(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text(FILE)
    empty = read_word_vectors(path, keep=["absent"])
    with pytest.raises(DataError, match="no vectors were read"):
        embedding_matrix(Vocab(["absent"]), empty, seed=0)


def test_extend_vocab_appends_the_first_file_words_training_lacks_and_keeps_ids(vectors):
    vocab = Vocab(["of", "Paris", "zebra"])
    extended = extend_vocab(vocab, vectors, max_vectors=4)
    assert extended.tokens[: len(vocab)] == vocab.tokens  # training ids unchanged
    assert extended.tokens[len(vocab) :] == ["the", "paris", "Lisbon"]  # "of" is there already
    assert extended.lowercase_fallback and extended.specials == vocab.specials
    assert extended.encode(["Lisbon", "PARIS", "LISBON", "Rome"]) == [7, 6, 1, 1]  # rome: 5th
    assert extend_vocab(vocab, vectors, max_vectors=0).tokens == vocab.tokens


def test_extended_vocab_finds_unseen_capitalised_words_through_lowercase(vectors):
    extended = extend_vocab(Vocab(["the"]), vectors, max_vectors=6)
    ids = extended.encode(["Berlin", "Rome", "PARIS", "Lisbon", "Madrid"])
    assert extended.decode(ids) == ["berlin", "rome", "paris", "Lisbon", UNK]
    matrix, coverage = embedding_matrix(extended, vectors, seed=0)
    np.testing.assert_array_equal(matrix[ids[0]], [4, 4, 4])
    assert coverage.missing == 0


def test_extend_vocab_of_a_lowercasing_vocabulary_adds_lowercased_words(vectors):
    vocab = Vocab.build([["Lisbon"]], lowercase=True)
    extended = extend_vocab(vocab, vectors, max_vectors=3)
    assert extended.tokens[2:] == ["lisbon", "the", "paris"] and extended.lowercase


def test_extend_vocab_needs_vectors_read_with_at_least_that_many_first_words(tmp_path):
    path = tmp_path / "v.txt"
    path.write_text(FILE)
    few = read_word_vectors(path, keep=["rome"], max_vectors=2)
    assert len(extend_vocab(Vocab([]), few, max_vectors=2)) == 4
    with pytest.raises(ValueError, match="only the file's first 2 vectors were read"):
        extend_vocab(Vocab([]), few, max_vectors=3)
    with pytest.raises(ValueError, match="max_vectors must be >= 0"):
        extend_vocab(Vocab([]), few, max_vectors=-1)
    everything = read_word_vectors(path)
    assert len(extend_vocab(Vocab([]), everything, max_vectors=10**6)) == 2 + 6


def test_real_glove_slice_gives_conll_words_their_vectors(tmp_path, shared_data):
    source = shared_data / "glove_6b_50d" / "glove.6B.50d.txt.gz"
    if not source.exists():
        pytest.skip(f"{source} is absent")
    path = tmp_path / "glove.2000.txt"
    with gzip.open(source, "rb") as f:
        path.write_bytes(b"".join(itertools.islice(f, 2000)))
    vocab = Vocab(["The", "European", "Commission", "said", "Xqzzy"])
    glove = read_word_vectors(path, keep=vocab.tokens)
    matrix, coverage = embedding_matrix(vocab, glove, seed=0)
    assert coverage == Coverage(exact=1, lowercased=3, missing=1)
    np.testing.assert_array_equal(matrix[2, :3], np.float32([0.418, 0.24968, -0.41242]))
