"""Plain text for language modelling -> a stream of units (characters or words).

- ``unit="char"``: every character of the file, newlines included, as one
  stream (``\\r\\n`` line ends read as ``\\n``). Tiny Shakespeare gives 1,115,394.
- ``unit="word"``: each line's whitespace-separated words followed by
  ``"<eos>"`` (the Penn Treebank convention, Mikolov et al. 2010); a blank line
  gives ``"<eos>"`` alone. PTB train gives 929,589 units.
"""

from __future__ import annotations

import os

from rnnseq.data.errors import DataError
from rnnseq.data.textfile import numbered_lines, read_text

__all__ = ["read_units", "EOS", "UNITS"]

EOS = "<eos>"
UNITS = ("char", "word")


def read_units(path: str | os.PathLike[str], *, unit: str = "char") -> list[str]:
    """Read a text file as a list of units (``unit`` is "char" or "word").

    Raises:
        ValueError: unknown ``unit`` (names ``unit``).
        DataError: the file holds no word, only blank lines or nothing at all.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    name = os.fspath(path)
    text = read_text(path)
    if unit == "char":
        if not text.strip():  # nothing to learn from newlines and spaces alone
            what = "empty" if not text else "only blank lines"
            raise DataError(name, None, f"the file is {what}; expected text")
        return list(text.replace("\r\n", "\n"))
    units: list[str] = []
    n_lines = 0
    for _, line in numbered_lines(text):
        units.extend(line.split())
        units.append(EOS)
        n_lines += 1
    if len(units) == n_lines:  # nothing but <eos>
        raise DataError(name, None, "no words found; expected whitespace-separated words")
    return units
