"""How classify and tag answer inputs, without torch: texts in, output lines out.

:class:`ExampleLines` is the half of :class:`~rnnseq.tasks.examples.ExamplesTask`
that reads inputs and writes answers: raw lines cut into tokens (lazily, with
character offsets), labelled files read with their own tokens, the answers
written in the requested output. It reaches the network through one method,
:meth:`ExampleLines.run_rows` (token lists in, one answer per list out), which the
PyTorch task objects implement with their network and
:mod:`rnnseq.onnx_engine` with onnxruntime; so both engines write the same lines
through the same code, and this module (with its subclasses
:mod:`rnnseq.tasks.tag_lines`, :mod:`rnnseq.tasks.classify_lines`) imports no torch.

What the answers are read from, on ``predictor``: ``meta.schemes`` (the tag
schemes), ``meta.config.data`` (the training file's format and column),
``vocabs.labels.tokens`` (label names by id) and ``batch_size``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from rnnseq.tasks.base import Task

__all__ = ["ExampleLines", "EVAL_TOKENS", "joined", "chunks", "unknown_label"]

EVAL_TOKENS = 1 << 15  # padded tokens of one evaluation batch at most (one input at least)


class ExampleLines(Task):
    """Inputs in, output lines out, for a task whose data is a list of examples."""

    def run_rows(self, predictor, rows: list[list[str]], *, probs: bool = False,
                 top_k: int | None = None) -> list:  # fmt: skip
        """One answer per (non-empty) token list, in order (the engine's job): for
        tag (tag ids, their probabilities or None, each token's ``top_k`` (id, p) or
        None); for classify (label id, its probability, the ``top_k`` (id, p) or None)."""
        raise NotImplementedError

    def read_labelled(self, path: str, *, format, column, config) -> list:
        """A labelled file; its tags come from ``column``, else, for a file of the model's
        training format (CoNLL-U, CoNLL), from the column the model was trained on."""
        from rnnseq.data import read_dataset

        if column is None and config.data.column is not None:
            column = _training_column(path, format, config, self.name)
        return read_dataset(path, self.name, format=format, column=column)

    def items(self, texts: Iterable, pretokenized: bool, limit: int | None = None
              ) -> Iterator[tuple[str, Iterator]]:  # fmt: skip
        """``(text, tokens)`` per input: a string is tokenized (lazily; see
        :func:`rnnseq.text_input.line_tokens`), a token list is taken as it is, with
        offsets into its tokens joined by single spaces."""
        from rnnseq.text_input import line_tokens

        for t in texts:
            if isinstance(t, str):
                yield t, line_tokens(t, pretokenized=pretokenized)
            else:
                yield joined(list(t))

    def predict_labelled(self, predictor, data, settings, *, chunk: int) -> Iterator[str]:
        """What ``rnnseq predict --format F`` writes for a labelled file's inputs (their
        tokens as read; offsets into the tokens joined by single spaces)."""
        return self.write(predictor, (joined(e.tokens) for e in data), settings, chunk=chunk)

    def predict_lines(self, predictor, lines, settings, *, chunk: int) -> Iterator[str]:
        from rnnseq.text_input import strip_line_end

        texts = (strip_line_end(line) for line in lines)
        return self.write(predictor, self.items(texts, settings.pretokenized), settings,
                          chunk=chunk)  # fmt: skip

    def write(self, predictor, items, settings, *, chunk: int) -> Iterator[str]:
        """The output of each ``(text, tokens)`` input, in ``settings.output``."""
        raise NotImplementedError

    def explain_tokens(self, text: str, pretokenized: bool) -> list[str]:
        """The tokens of an explained text, as :meth:`items` reads a raw input."""
        from rnnseq.text_input import line_tokens

        tokens = [t[0] for t in line_tokens(text, pretokenized=pretokenized)]
        if not tokens:
            raise ValueError("--text is empty")
        return tokens


def joined(tokens: list[str]) -> tuple[str, list]:
    """``(text, tokens)`` for a token list: the tokens joined by single spaces, and each
    token with its offsets into that text."""
    from rnnseq.text_input import Token

    out, start = [], 0
    for t in tokens:
        out.append(Token(t, start, start + len(t)))
        start += len(t) + 1
    return " ".join(tokens), out


def chunks(items: Iterable, chunk: int, budget: int) -> Iterator[list]:
    """``items`` in lists of at most ``chunk``, or fewer once their ``len`` sum reaches
    ``budget`` (each item is ``(text, tokens)``)."""
    buffer: list = []
    size = 0
    for item in items:
        buffer.append(item)
        size += len(item[1])
        if len(buffer) >= chunk or size >= budget:
            yield buffer
            buffer, size = [], 0
    if buffer:
        yield buffer


def _training_column(path: str, format: str | None, config, task: str) -> str | None:
    """The model's training column, when ``path`` has the training file's format."""
    from rnnseq.data.formats import detect_format

    trained = config.data.format
    if trained is None:
        try:
            trained = detect_format(config.train, task)
        except (OSError, ValueError):
            return None
    here = format or detect_format(path, task)
    return config.data.column if here == trained and here in ("conllu", "conll") else None


def unknown_label(label: str, known: Sequence[str]) -> ValueError:
    """The error for a label the model does not know (naming some it does)."""
    return ValueError(f"label {label!r} is not one this model knows ({', '.join(known[:30])})")
