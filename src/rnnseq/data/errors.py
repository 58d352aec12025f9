"""The one error type every reader raises for bad input data."""

from __future__ import annotations

import os

__all__ = ["DataError"]


class DataError(ValueError):
    """Input data that does not have the expected form.

    ``str(error)`` is one line naming the file, the line (when there is one) and
    what was expected, e.g. ``"train.conllu:17: expected 10 tab-separated
    fields, got 9"``, so a command line can print it as it is.

    A reason that names options (``refs`` given) is a template as in
    :class:`rnnseq.options.OptionError`: ``str(error)`` names them as Python fields
    (``max_length=512``), :meth:`for_cli` as flags (``--max-length 512``).

    Attributes:
        path: the file, as a string.
        line: the 1-based line number, or None when the problem is the whole file.
        reason: what was wrong and what was expected (one line).
    """

    def __init__(
        self, path: str | os.PathLike[str], line: int | None, reason: str, *refs
    ) -> None:
        self.path = os.fspath(path)
        self.line = line
        self.refs = refs
        # A reason is one line by contract; fold any newline a caller passed in.
        self.template = " ".join(str(reason).split("\n"))
        self.reason = self._render(cli=False)
        super().__init__(f"{self._where()}: {self.reason}")

    def _where(self) -> str:
        return self.path if self.line is None else f"{self.path}:{self.line}"

    def _render(self, *, cli: bool) -> str:
        if not self.refs:
            return self.template
        from rnnseq.options import render

        return render(self.template, self.refs, cli=cli)

    def for_cli(self) -> str:
        """The message with options written as command-line flags."""
        return f"{self._where()}: {self._render(cli=True)}"

    def __reduce__(self):  # keep the attributes when pickled (e.g. by multiprocessing)
        return (type(self), (self.path, self.line, self.template, *self.refs))
