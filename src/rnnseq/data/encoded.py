"""Examples turned into ids once, before training: the input of :func:`collate`.

Pure Python lists (no torch), so a dataset is encoded once and every epoch's
batches are cut from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rnnseq.data.examples import ClassifyExample, TagExample
from rnnseq.data.vocab import Vocab

__all__ = ["EncodedDataset", "MAX_WORD_LEN"]

MAX_WORD_LEN = 20  # characters kept per word for character features (the first ones)


@dataclass
class EncodedDataset:
    """A dataset as id lists.

    per_step: True when there is one target per token (tagging), False for one per
        example (classification).
    tokens: word ids of each example, ``tokens[i][j]``.
    targets: classify: ``targets[i]`` a label id; tag: ``targets[i][j]`` a tag
        id; None for unlabelled input (prediction).
    chars: character ids of each word, ``chars[i][j][k]`` (at most
        ``max_word_len`` per word), or None without character features.
    """

    per_step: bool
    tokens: list[list[int]]
    targets: list[int] | list[list[int]] | None = None
    chars: list[list[list[int]]] | None = None

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def lengths(self) -> list[int]:
        """Tokens per example (what :func:`bucket_batches` sorts by)."""
        return [len(t) for t in self.tokens]

    @classmethod
    def from_examples(
        cls,
        examples: Sequence[ClassifyExample] | Sequence[TagExample],
        vocab: Vocab,
        labels: Vocab,
        *,
        char_vocab: Vocab | None = None,
        max_word_len: int = MAX_WORD_LEN,
    ) -> EncodedDataset:
        """Encode labelled examples (all ClassifyExample or all TagExample).

        Args:
            examples: what a reader returned.
            vocab: word vocabulary (unknown words -> ``<unk>``).
            labels: label or tag vocabulary, usually without specials; a label
                it does not hold is a ValueError naming that label.
            char_vocab: character vocabulary whose ``<pad>`` is id 0, or None.
            max_word_len: characters kept per word.
        """
        if all(isinstance(e, ClassifyExample) for e in examples):
            per_step = False
            targets: list = labels.encode([e.label for e in examples])
        elif all(isinstance(e, TagExample) for e in examples):
            per_step = True
            targets = [labels.encode(e.tags) for e in examples]
        else:
            raise ValueError("examples must be all ClassifyExample or all TagExample")
        encoded = cls.from_tokens(
            [e.tokens for e in examples],
            vocab,
            per_step=per_step,
            char_vocab=char_vocab,
            max_word_len=max_word_len,
        )
        encoded.targets = targets
        return encoded

    @classmethod
    def from_tokens(
        cls,
        sentences: Sequence[Sequence[str]],
        vocab: Vocab,
        *,
        per_step: bool,
        char_vocab: Vocab | None = None,
        max_word_len: int = MAX_WORD_LEN,
    ) -> EncodedDataset:
        """Encode unlabelled token lists (``targets`` is None), e.g. for prediction;
        ``per_step`` as the field of that name."""
        if max_word_len < 1:
            raise ValueError(f"max_word_len must be >= 1, got {max_word_len}")
        if char_vocab is not None and char_vocab.pad_id != 0:
            raise ValueError("char_vocab must have <pad> as id 0 (char padding is 0)")
        tokens = [vocab.encode(s) for s in sentences]
        chars = None
        if char_vocab is not None:
            chars = [[char_vocab.encode(w[:max_word_len]) for w in s] for s in sentences]
        return cls(per_step=per_step, tokens=tokens, targets=None, chars=chars)
