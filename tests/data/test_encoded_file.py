"""EncodedWriter: a dataset appended a chunk at a time is the dataset encoded at once."""

from __future__ import annotations

import numpy as np
import pytest

from rnnseq.data import EncodedDataset, Vocab
from rnnseq.data.demo import demo_sentiment, demo_tagging
from rnnseq.data.encoded_file import EncodedWriter


def _encoded(examples, per_step: bool, chars: bool):
    words = Vocab.build(e.tokens for e in examples)
    labels = Vocab.build((e.tags if per_step else [e.label] for e in examples), specials=())
    letters = Vocab.build(w for e in examples for w in e.tokens) if chars else None
    return EncodedDataset.from_examples(examples, words, labels, char_vocab=letters)


@pytest.mark.parametrize("per_step, chars", [(True, True), (True, False), (False, True)])
def test_chunks_appended_load_as_the_whole_set(tmp_path, per_step, chars):
    examples = demo_tagging(230, seed=4) if per_step else demo_sentiment(230, seed=4)
    whole = _encoded(examples, per_step, chars)
    dtypes = {"tokens": np.uint16, "targets": np.int16}
    if chars:
        dtypes["chars"] = np.uint8
    writer = EncodedWriter(tmp_path / "w", per_step, dtypes)
    for start in (0, 1, 100, 229):  # chunks of 1, 99, 129 and 1 examples
        stop = {0: 1, 1: 100, 100: 229, 229: 230}[start]
        part = EncodedDataset(per_step, whole.tokens.tolist()[start:stop])
        part.targets = (whole.targets.tolist() if per_step else whole.targets)[start:stop]
        if chars:
            part.chars = [whole.chars[i] for i in range(start, stop)]
        writer.add(part)
    back = writer.finish()
    assert back.tokens == whole.tokens and back.file_rows is not None
    assert back.targets.tolist() == whole.targets.tolist()
    assert (back.chars == whole.chars) if chars else back.chars is None


def test_provisional_label_ids_are_renumbered_at_the_end(tmp_path):
    writer = EncodedWriter(tmp_path / "w", True, {"tokens": np.uint8, "targets": np.uint8})
    part = EncodedDataset(True, [[2, 3], [4]])
    part.targets = [[0, 1], [2]]  # provisional: first appearance
    writer.add(part)
    back = writer.finish(relabel=np.array([2, 0, 1], dtype=np.uint8))
    assert back.targets.tolist() == [[2, 0], [1]]


def test_ids_that_do_not_fit_the_declared_type_are_refused(tmp_path):
    writer = EncodedWriter(tmp_path / "w", False, {"tokens": np.uint8, "targets": np.uint8})
    part = EncodedDataset(False, [[300]], [0])
    with pytest.raises(ValueError, match="tokens ids must fit uint8"):
        writer.add(part)
    writer.discard()
    assert not (tmp_path / "w").exists()
