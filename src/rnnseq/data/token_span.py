"""A part of a token file: a language model's training or dev text, as ids on disk.

``rnnseq train --task lm`` keeps its text as spans of token files rather than as
lists of units: the training text is ``TokenSpan(tokens, 0, cut)`` of the
``--train`` file's token file, the dev text either ``TokenSpan(tokens, cut, n)``
(``--holdout``) or the whole token file of ``--dev``, encoded with the training
vocabulary. A span is read on demand (:meth:`reader`, :meth:`chunks`), so it
costs no memory whatever its length.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from rnnseq.data.id_file import IdReader
from rnnseq.data.token_file import TokenFile

__all__ = ["TokenSpan"]

_CHUNK = 1 << 22  # ids read at a time by chunks()


@dataclass(frozen=True)
class TokenSpan:
    """Ids ``[start, stop)`` of the token file ``tokens``.

    Example::

        >>> span = TokenSpan(tokens, 0, len(tokens))     # the whole text
        >>> train, dev = span.split(len(span) - 100)      # the last 100 units held out
    """

    tokens: TokenFile
    start: int
    stop: int

    def __post_init__(self) -> None:
        if not 0 <= self.start <= self.stop <= len(self.tokens):
            raise ValueError(
                f"a span must satisfy 0 <= start <= stop <= {len(self.tokens)}, "
                f"got [{self.start}, {self.stop})"
            )

    @classmethod
    def whole(cls, tokens: TokenFile) -> TokenSpan:
        return cls(tokens, 0, len(tokens))

    def __len__(self) -> int:
        return self.stop - self.start

    @property
    def vocab(self):
        """The vocabulary the ids index."""
        return self.tokens.vocab

    def split(self, cut: int) -> tuple[TokenSpan, TokenSpan]:
        """The first ``cut`` ids and the rest."""
        return (
            TokenSpan(self.tokens, self.start, self.start + cut),
            TokenSpan(self.tokens, self.start + cut, self.stop),
        )

    def reader(self) -> IdReader:
        """The span's ids read from the file on demand (``reader[a:b]``), not mapped."""
        return self.tokens.reader(self.start, self.stop)

    def chunks(self, size: int = _CHUNK) -> Iterator[np.ndarray]:
        """The span's ids in order, ``size`` at a time."""
        reader = self.reader()
        try:
            for a in range(0, len(self), size):
                yield reader[a : a + size]
        finally:
            reader.close()

    def count(self, unit_id: int) -> int:
        """How many of the span's ids equal ``unit_id``."""
        return sum(int(np.count_nonzero(chunk == unit_id)) for chunk in self.chunks())

    def last(self) -> int | None:
        """The span's last id (None when it is empty)."""
        if not len(self):
            return None
        reader = self.reader()
        try:
            return int(reader[len(self) - 1 : len(self)][0])
        finally:
            reader.close()
