"""A vocabulary: the map between strings (words, characters, tags) and integer ids.

One class serves every vocabulary of the project:

- words: ``Vocab.build(sentences)`` -> ``<pad>`` = 0, ``<unk>`` = 1, then words;
- labels and tags: ``Vocab.build(tag_sequences, specials=())``;
- characters: ``Vocab.build(words)`` (a word is a sequence of characters; case
  is kept), or ``Vocab.build([units], specials=())`` for a character LM.

Order of ids: the specials first, in the order given, then the other entries by
frequency, most frequent first, ties broken by first appearance in the data.
So the same data always gives the same ids.

Saved as JSON: ``{"tokens": [...all entries in id order...], "specials":
[...], "lowercase": false}``, plus ``"lowercase_fallback": true`` when that is set
(a vocabulary extended with pretrained word vectors, rnnseq.data.embeddings).
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from rnnseq.data.errors import DataError

__all__ = ["Vocab", "PAD", "UNK"]

PAD = "<pad>"
UNK = "<unk>"
_KEYS = {"tokens", "specials", "lowercase", "lowercase_fallback"}


class Vocab:
    """Strings <-> ids.

    Args:
        tokens: the non-special entries, in id order (after the specials).
        specials: entries placed first; ``"<pad>"`` and ``"<unk>"`` by default.
            An unknown string encodes to ``<unk>`` when it is a special, else
            encoding it is an error (the right behaviour for label sets).
        lowercase: lowercase every string before looking it up.
        lowercase_fallback: look a string up as written, then, when it is not
            there, lowercased (so ``"Lisbon"`` finds the ``"lisbon"`` of a
            lowercased GloVe file); off by default.

    Example::

        >>> v = Vocab.build([["the", "cat"], ["the", "dog"]])
        >>> v.encode(["the", "bird"])
        [2, 1]
        >>> v.decode([2, 3])
        ['the', 'cat']
    """

    def __init__(
        self,
        tokens: Iterable[str],
        *,
        specials: Sequence[str] = (PAD, UNK),
        lowercase: bool = False,
        lowercase_fallback: bool = False,
    ) -> None:
        specials = tuple(specials)
        itos = [*specials, *tokens]
        if not all(isinstance(t, str) for t in itos):
            raise ValueError("tokens and specials must be strings")
        seen: set[str] = set()
        for token in itos:
            if token in seen:
                raise ValueError(f"tokens must be unique, {token!r} appears twice")
            seen.add(token)
        self._itos = itos
        self._stoi = {token: i for i, token in enumerate(itos)}
        self.specials = specials
        self.lowercase = bool(lowercase)
        self.lowercase_fallback = bool(lowercase_fallback)
        self.pad_id: int | None = self._stoi.get(PAD)
        self.unk_id: int | None = self._stoi.get(UNK)

    @classmethod
    def build(
        cls,
        sequences: Iterable[Iterable[str]],
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        lowercase: bool = False,
        specials: Sequence[str] = (PAD, UNK),
    ) -> Vocab:
        """Count the strings of ``sequences`` and keep the frequent ones.

        Args:
            sequences: e.g. sentences (lists of words), or words (strings, whose
                items are characters).
            min_freq: keep strings seen at least this often.
            max_size: keep at most this many non-special entries (None: all).
            lowercase: count and look up lowercased strings.
            specials: entries put first (``()`` for labels).
        """
        counts: Counter[str] = Counter()  # insertion order = first appearance
        for sequence in sequences:
            counts.update([t.lower() for t in sequence] if lowercase else sequence)
        return cls.from_counts(
            counts, min_freq=min_freq, max_size=max_size, lowercase=lowercase, specials=specials
        )

    @classmethod
    def from_counts(
        cls,
        counts: Mapping[str, int],
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        lowercase: bool = False,
        specials: Sequence[str] = (PAD, UNK),
    ) -> Vocab:
        """The vocabulary :meth:`build` makes from strings counted elsewhere.

        Args:
            counts: each string's count, in order of first appearance (the order
                breaks ties), already lowercased when ``lowercase`` is set;
                e.g. counted while streaming a file too large to hold
                (:mod:`rnnseq.data.unit_vocab`).
            min_freq, max_size, lowercase, specials: as in :meth:`build`.
        """
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < 0:
            raise ValueError(f"max_size must be >= 0 or None, got {max_size}")
        # sorted() is stable, so equal counts keep their first-appearance order.
        ranked = sorted(counts.items(), key=lambda item: -item[1])
        special = set(specials)
        kept = [t for t, n in ranked if n >= min_freq and t not in special]
        if max_size is not None:
            kept = kept[:max_size]
        return cls(kept, specials=specials, lowercase=lowercase)

    def __len__(self) -> int:
        return len(self._itos)

    def __contains__(self, token: object) -> bool:
        if not isinstance(token, str):
            return False
        return self._find(token) is not None

    def _find(self, token: str) -> int | None:
        """The id of ``token`` by the lookup rule (lowercase, fallback), or None."""
        if self.lowercase:
            return self._stoi.get(token.lower())
        i = self._stoi.get(token)
        if i is None and self.lowercase_fallback:
            i = self._stoi.get(token.lower())
        return i

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Vocab):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        fallback = ", lowercase_fallback=True" if self.lowercase_fallback else ""
        return (
            f"Vocab({len(self)} entries, specials={self.specials}, "
            f"lowercase={self.lowercase}{fallback})"
        )

    @property
    def tokens(self) -> list[str]:
        """All entries in id order (a copy)."""
        return list(self._itos)

    def encode(self, tokens: Iterable[str]) -> list[int]:
        """Ids of ``tokens``; unknown ones get ``unk_id``.

        Raises:
            ValueError: a token is unknown and the vocabulary has no ``<unk>``
                (the message names the token).
        """
        stoi, unk = self._stoi, self.unk_id
        if self.lowercase_fallback and not self.lowercase:
            stoi = _FallbackLookup(stoi)
        elif self.lowercase:
            tokens = (t.lower() for t in tokens)
        if unk is not None:
            return [stoi.get(t, unk) for t in tokens]
        ids = []
        for t in tokens:
            i = stoi.get(t)
            if i is None:
                raise ValueError(f"token {t!r} is not in the vocabulary (which has no {UNK})")
            ids.append(i)
        return ids

    def decode(self, ids: Iterable[int]) -> list[str]:
        """The entries with these ids."""
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self._itos):
                raise ValueError(f"ids must be in [0, {len(self._itos)}), got {i}")
            out.append(self._itos[i])
        return out

    def to_dict(self) -> dict:
        """A JSON-ready description: ``{"tokens", "specials", "lowercase"}``, and
        ``"lowercase_fallback": true`` only when it is set (so vocabularies without
        it are written exactly as before)."""
        d = {
            "tokens": list(self._itos),
            "specials": list(self.specials),
            "lowercase": self.lowercase,
        }
        if self.lowercase_fallback:
            d["lowercase_fallback"] = True
        return d

    @classmethod
    def from_dict(cls, d: object) -> Vocab:
        """The inverse of :meth:`to_dict`; checks every key and type (ValueError)."""
        if not isinstance(d, dict):
            raise ValueError(f"a vocabulary must be a JSON object, got {type(d).__name__}")
        if not {"tokens", "specials", "lowercase"} <= set(d) <= _KEYS:
            raise ValueError(
                "a vocabulary needs exactly the keys lowercase, specials, tokens "
                f"(and optionally lowercase_fallback), got {sorted(d)}"
            )
        tokens, specials, lowercase = d["tokens"], d["specials"], d["lowercase"]
        fallback = d.get("lowercase_fallback", False)
        for key, value in (("tokens", tokens), ("specials", specials)):
            if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
                raise ValueError(f"vocabulary {key!r} must be a list of strings")
        if not isinstance(lowercase, bool):
            raise ValueError("vocabulary 'lowercase' must be true or false")
        if not isinstance(fallback, bool):
            raise ValueError("vocabulary 'lowercase_fallback' must be true or false")
        if tokens[: len(specials)] != specials:
            raise ValueError("vocabulary 'tokens' must start with its 'specials'")
        return cls(
            tokens[len(specials) :],
            specials=specials,
            lowercase=lowercase,
            lowercase_fallback=fallback,
        )

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the vocabulary as UTF-8 JSON."""
        text = json.dumps(self.to_dict(), ensure_ascii=False, indent=0)
        Path(path).write_text(text + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Vocab:
        """Read a vocabulary written by :meth:`save`.

        Raises:
            DataError: the file is not valid JSON or not a vocabulary.
        """
        try:
            text = Path(path).read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise DataError(path, None, f"expected UTF-8 JSON: {e.reason}") from None
        try:
            d = json.loads(text)
        except ValueError as e:  # JSONDecodeError included
            line = e.lineno if isinstance(e, json.JSONDecodeError) else None
            msg = e.msg if isinstance(e, json.JSONDecodeError) else str(e)
            raise DataError(path, line, f"expected a JSON vocabulary: {msg}") from None
        try:
            return cls.from_dict(d)
        except ValueError as e:
            raise DataError(path, None, str(e)) from None


class _FallbackLookup:
    """``get`` of a string -> id dict that tries the string, then its lowercase."""

    __slots__ = ("_stoi",)

    def __init__(self, stoi: dict[str, int]) -> None:
        self._stoi = stoi

    def get(self, token: str, default: int | None = None) -> int | None:
        i = self._stoi.get(token)
        if i is None:
            i = self._stoi.get(token.lower(), default)
        return i
