"""rnnseq.data.encoded: examples as flat id arrays, with optional character ids."""

import numpy as np
import pytest

from rnnseq.data import ClassifyExample, DataError, EncodedDataset, TagExample, Vocab
from rnnseq.data.ragged import Ragged

TAGGED = [TagExample(["The", "cat"], ["DET", "NOUN"]), TagExample(["Hi"], ["INTJ"])]


def test_tag_examples_become_token_tag_and_char_ids():
    words = Vocab.build(e.tokens for e in TAGGED)
    tags = Vocab.build((e.tags for e in TAGGED), specials=())
    chars = Vocab.build(w for e in TAGGED for w in e.tokens)
    data = EncodedDataset.from_examples(TAGGED, words, tags, char_vocab=chars)
    assert data.per_step and len(data) == 2 and data.lengths == [2, 1]
    assert data.tokens == [words.encode(["The", "cat"]), words.encode(["Hi"])]
    assert data.targets == [[0, 1], [2]]
    assert data.chars[0][1] == chars.encode("cat")


def test_classify_examples_get_one_target_each():
    examples = [ClassifyExample(["good"], "pos"), ClassifyExample(["bad", "!"], "neg")]
    labels = Vocab.build([[e.label for e in examples]], specials=())
    data = EncodedDataset.from_examples(examples, Vocab.build([["good"]]), labels)
    assert not data.per_step and data.targets.tolist() == [0, 1] and data.chars is None
    assert data.tokens == [[2], [1, 1]]


def test_long_words_keep_their_first_max_word_len_characters():
    chars = Vocab.build(["abcdef"])
    data = EncodedDataset.from_tokens(
        [["abcdef"]], Vocab([]), per_step=True, char_vocab=chars, max_word_len=3
    )
    assert data.chars == [[chars.encode("abc")]] and data.targets is None


def test_unknown_label_is_a_value_error_naming_it():
    labels = Vocab(["DET"], specials=())
    with pytest.raises(ValueError, match="'NOUN'"):
        EncodedDataset.from_examples(TAGGED, Vocab([]), labels)


def test_bad_arguments_are_value_errors_naming_them():
    with pytest.raises(ValueError, match="examples must be all"):
        EncodedDataset.from_examples([TAGGED[0], ClassifyExample(["a"], "x")], Vocab([]), Vocab([]))
    with pytest.raises(ValueError, match="char_vocab"):
        EncodedDataset.from_tokens(
            [["a"]], Vocab([]), per_step=True, char_vocab=Vocab(["a"], specials=())
        )
    with pytest.raises(ValueError, match="per_step"):
        EncodedDataset("tag", [[1]])
    with pytest.raises(ValueError, match="max_word_len"):
        EncodedDataset.from_tokens([["a"]], Vocab([]), per_step=True, max_word_len=0)


def test_ids_are_flat_arrays_of_the_smallest_type_read_as_lists():
    words = Vocab.build(e.tokens for e in TAGGED)
    tags = Vocab.build((e.tags for e in TAGGED), specials=())
    chars = Vocab.build(w for e in TAGGED for w in e.tokens)
    data = EncodedDataset.from_examples(TAGGED, words, tags, char_vocab=chars)
    assert data.tokens.values.dtype == data.targets.values.dtype == np.uint8
    assert data.tokens.values.tolist() == words.encode(["The", "cat", "Hi"])
    assert data.tokens.offsets.tolist() == [0, 2, 3]
    assert data.chars.words.values.tolist() == chars.encode("TheCatHi".replace("C", "c"))
    assert data.chars.words.lengths.tolist() == [3, 3, 2]
    assert data.tokens[1] == words.encode(["Hi"]) and isinstance(data.tokens[1], list)
    assert data.nbytes == sum(
        a.nbytes
        for a in (data.tokens.values, data.tokens.offsets, data.targets.values)
        + (data.targets.offsets, data.chars.words.values, data.chars.words.offsets)
    )


def test_lists_of_lists_are_accepted_and_converted():
    data = EncodedDataset(True, [[5, 6], [7]], [[0, -100], [1]], [[[3], [4, 4]], [[5]]])
    assert data.tokens == [[5, 6], [7]] and data.targets == [[0, -100], [1]]
    assert data.targets.values.dtype == np.int8
    assert data.chars == [[[3], [4, 4]], [[5]]] and data.chars[0][1] == [4, 4]
    data.targets = [[1, 1], [0]]  # assigning converts too (what preprocess does)
    assert data.targets.values.dtype == np.uint8 and data.targets[0] == [1, 1]


@pytest.mark.parametrize(
    "per_step, targets, chars, match",
    [
        (False, [1], None, "one label per example"),
        (True, [[1], [1]], None, "one tag per token"),
        (True, None, [[[1]], [[2]]], "one list of character ids per token"),
    ],
)
def test_misaligned_targets_or_chars_are_value_errors(per_step, targets, chars, match):
    with pytest.raises(ValueError, match=match):
        EncodedDataset(per_step, [[5, 6], [7]], targets, chars)


@pytest.mark.parametrize("mmap", [True, False])
def test_a_saved_dataset_loads_equal_and_maps_its_arrays(tmp_path, mmap):
    words = Vocab.build(e.tokens for e in TAGGED)
    tags = Vocab.build((e.tags for e in TAGGED), specials=())
    chars = Vocab.build(w for e in TAGGED for w in e.tokens)
    data = EncodedDataset.from_examples(TAGGED, words, tags, char_vocab=chars)
    data.save(tmp_path / "d")
    back = EncodedDataset.load(tmp_path / "d", mmap=mmap)
    assert back.per_step and back.tokens == data.tokens and back.targets == data.targets
    assert back.chars == data.chars
    assert (back.tokens.values.base is not None) == mmap  # a view of the file's map
    assert back.tokens.values.flags.writeable != mmap
    classify = EncodedDataset(False, [[2], [3, 4]], [1, 0])
    classify.save(tmp_path / "c")
    loaded = EncodedDataset.load(tmp_path / "c")
    assert loaded.targets.tolist() == [1, 0] and loaded.chars is None


def test_datasets_encoded_in_chunks_concatenate_to_the_whole():
    words = Vocab.build(e.tokens for e in TAGGED)
    tags = Vocab.build((e.tags for e in TAGGED), specials=())
    chars = Vocab.build(w for e in TAGGED for w in e.tokens)
    whole = EncodedDataset.from_examples(TAGGED * 3, words, tags, char_vocab=chars)
    parts = [
        EncodedDataset.from_examples(TAGGED * 2, words, tags, char_vocab=chars),
        EncodedDataset.from_examples(TAGGED, words, tags, char_vocab=chars),
    ]
    joined = EncodedDataset.concat(parts)
    assert joined.tokens == whole.tokens and joined.targets == whole.targets
    assert joined.chars == whole.chars
    classify = [EncodedDataset(False, [[1]], [0]), EncodedDataset(False, [[2, 3]], [300])]
    both = EncodedDataset.concat(classify)
    assert both.tokens == [[1], [2, 3]] and both.targets.tolist() == [0, 300]
    with pytest.raises(ValueError, match="all have targets"):
        EncodedDataset.concat([classify[0], EncodedDataset(False, [[1]])])
    with pytest.raises(ValueError, match="same per_step"):
        EncodedDataset.concat([classify[0], EncodedDataset(True, [[1]])])


def test_loading_something_else_than_a_saved_dataset_is_a_data_error(tmp_path):
    data = EncodedDataset(True, [[5, 6], [7]], [[0, 1], [2]])
    data.save(tmp_path / "d")
    (tmp_path / "d" / "tokens.bin").write_bytes(b"\x05")  # one byte short of three
    with pytest.raises(DataError, match="dataset.json: expected an encoded dataset: tokens.bin"):
        EncodedDataset.load(tmp_path / "d")
    (tmp_path / "d" / "dataset.json").write_text('{"arrays": {}}')
    with pytest.raises(DataError, match="expected an encoded dataset"):
        EncodedDataset.load(tmp_path / "d")


def test_release_lets_the_pages_of_a_mapped_set_go_and_keeps_its_rows(tmp_path):
    """Pages read through a map count in the process's resident set until released."""
    n = 1 << 22  # 4 MiB of word ids (uint8): 1,024 pages
    data = EncodedDataset(True, Ragged.from_lengths(np.ones(n, np.uint8) * 2, np.full(n // 4, 4)))
    data.targets = Ragged.from_lengths(np.zeros(n, np.uint8), np.full(n // 4, 4))
    data.save(tmp_path / "d")
    back = EncodedDataset.load(tmp_path / "d")

    def resident_kib() -> int:  # RssFile: pages of mapped files in this process's set
        for line in open("/proc/self/status"):
            if line.startswith("RssFile:"):
                return int(line.split()[1])
        pytest.skip("no RssFile in /proc/self/status")

    before = resident_kib()
    assert int(back.tokens.values.sum()) == 2 * n  # every page read
    read = resident_kib()
    back.release()
    assert read - before >= 3 * 1024 and resident_kib() <= before + 512
    assert back.tokens[5] == [2, 2, 2, 2] and back.targets[-1] == [0, 0, 0, 0]
    back.release()  # again, and on arrays in memory: nothing to do
    data.release()


@pytest.mark.parametrize("task", ["tag", "classify"])
def test_batches_of_a_set_on_disk_read_with_pread_equal_those_from_memory(tmp_path, task):
    from dataclasses import fields

    import torch

    from rnnseq.data import collate
    from rnnseq.data.demo import demo_sentiment, demo_tagging

    examples = demo_tagging(300, seed=3) if task == "tag" else demo_sentiment(300, seed=3)
    words = Vocab.build(e.tokens for e in examples)
    labels = Vocab.build(([e.label] if task == "classify" else e.tags for e in examples),
                         specials=())  # fmt: skip
    chars = Vocab.build(w for e in examples for w in e.tokens)
    data = EncodedDataset.from_examples(examples, words, labels, char_vocab=chars)
    data.save(tmp_path / "d")
    back = EncodedDataset.load(tmp_path / "d")
    assert back.file_rows is not None and data.file_rows is None
    rng = np.random.default_rng(0)
    for _ in range(20):
        rows = rng.choice(len(data), size=int(rng.integers(1, 40)), replace=False).tolist()
        a, b = collate(data, rows), collate(back, rows)
        for f in fields(a):
            x, y = getattr(a, f.name), getattr(b, f.name)
            assert (torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y), f.name
