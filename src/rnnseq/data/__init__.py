"""Data for rnnseq: file -> reader -> examples -> vocab -> ids -> batches.

The readers, the vocabulary, the pretrained word vectors and the demo data need
no torch; the batching names (``Batch``, ``collate``, ``lm_stream_batches``,
``LMWindows``) import torch on first use. Token files (a language model's corpus
encoded once and mapped) live in :mod:`rnnseq.data.token_cache` and
:mod:`rnnseq.data.token_file`.

    >>> from rnnseq.data import read_dataset, Vocab
    >>> train = read_dataset("en_ewt-ud-train.conllu", "tag")      # doctest: +SKIP
    >>> words = Vocab.build(e.tokens for e in train)                # doctest: +SKIP
"""

from __future__ import annotations

import importlib

from rnnseq.data.buckets import bucket_batches, shard_batches
from rnnseq.data.conll_reader import read_conll
from rnnseq.data.conllu_reader import read_conllu
from rnnseq.data.demo import demo_sentiment, demo_tagging
from rnnseq.data.embeddings import Coverage, embedding_matrix, extend_vocab
from rnnseq.data.encoded import MAX_WORD_LEN, EncodedDataset
from rnnseq.data.errors import DataError
from rnnseq.data.examples import ClassifyExample, TagExample
from rnnseq.data.formats import FORMATS, TASKS, detect_format, read_dataset
from rnnseq.data.jsonl_reader import read_jsonl
from rnnseq.data.table_reader import read_csv, read_tsv
from rnnseq.data.text_reader import EOS, read_units
from rnnseq.data.vocab import PAD, UNK, Vocab
from rnnseq.data.word_vectors import WordVectors, read_word_vectors, word_vector_dim

# name -> module that defines it, imported on first use (these need torch).
_LAZY = {
    "Batch": "rnnseq.data.batching",
    "collate": "rnnseq.data.batching",
    "IGNORE_INDEX": "rnnseq.data.batching",
    "PAD_ID": "rnnseq.data.batching",
    "lm_stream_batches": "rnnseq.data.lm_stream",
    "LMWindows": "rnnseq.data.lm_windows",
}

__all__ = [
    "DataError",
    "ClassifyExample",
    "TagExample",
    "read_dataset",
    "detect_format",
    "FORMATS",
    "TASKS",
    "read_conllu",
    "read_conll",
    "read_tsv",
    "read_csv",
    "read_jsonl",
    "read_units",
    "EOS",
    "Vocab",
    "PAD",
    "UNK",
    "WordVectors",
    "read_word_vectors",
    "word_vector_dim",
    "embedding_matrix",
    "extend_vocab",
    "Coverage",
    "EncodedDataset",
    "MAX_WORD_LEN",
    "bucket_batches",
    "shard_batches",
    "demo_tagging",
    "demo_sentiment",
    *_LAZY,
]


def __getattr__(name: str):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'rnnseq.data' has no attribute {name!r}")
