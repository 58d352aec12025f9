"""The one error type every reader raises for bad input data."""

from __future__ import annotations

import os

__all__ = ["DataError"]


class DataError(ValueError):
    """Input data that does not have the expected form.

    ``str(error)`` is one line naming the file, the line (when there is one) and
    what was expected, e.g. ``"train.conllu:17: expected 10 tab-separated
    fields, got 9"``, so a command line can print it as it is.

    Attributes:
        path: the file, as a string.
        line: the 1-based line number, or None when the problem is the whole file.
        reason: what was wrong and what was expected (one line).
    """

    def __init__(self, path: str | os.PathLike[str], line: int | None, reason: str) -> None:
        self.path = os.fspath(path)
        self.line = line
        # A reason is one line by contract; fold any newline a caller passed in.
        self.reason = " ".join(str(reason).split("\n"))
        where = self.path if line is None else f"{self.path}:{line}"
        super().__init__(f"{where}: {self.reason}")

    def __reduce__(self):  # keep the attributes when pickled (e.g. by multiprocessing)
        return (type(self), (self.path, self.line, self.reason))
