"""How a tagger answers its inputs, without torch: tags, probabilities and entities
written as TSV, JSON Lines or into CoNLL-U.

:class:`TagLines` cuts each input's tokens into model rows (a short input is one row,
gathered ``chunk`` inputs at a time; a long one is read in overlapping windows, see
:mod:`rnnseq.windows`), asks the engine for each row's answer
(:meth:`~rnnseq.tasks.example_lines.ExampleLines.run_rows`: the PyTorch network in
:class:`~rnnseq.tasks.tag.TagTask`, onnxruntime in :mod:`rnnseq.onnx_engine`), and
formats the answers with :mod:`rnnseq.tasks.tag_output`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from rnnseq.options import OptionError
from rnnseq.tasks.example_lines import ExampleLines, joined
from rnnseq.tasks.tag_output import JsonWriter, TagBlock, TagOutput, format_tsv
from rnnseq.text_input import CHUNK
from rnnseq.windows import CONTEXT, SIZE, windows

__all__ = ["TagLines", "TOKEN_BUDGET", "WINDOW_TOKENS"]

TOKEN_BUDGET = 1 << 18  # tokens of short inputs held at a time (with CHUNK lines at most)
WINDOW_TOKENS = 1 << 15  # tokens of a long input's windows run at a time


class TagLines(ExampleLines):
    """A tagger's inputs in, its output out (the engine's :meth:`run_rows` in between)."""

    name = "tag"

    def labels(self, predictor) -> list[str]:
        """The tags the model writes, in the training file's scheme."""
        learned = predictor.vocabs.labels.tokens
        schemes = predictor.meta.schemes
        if schemes.source is None or schemes.source == schemes.learned:
            return learned
        kinds = sorted({t[2:] for t in learned if t != "O"})
        prefixes = "BIES" if schemes.source == "IOBES" else "BI"
        return ["O", *(f"{p}-{k}" for k in kinds for p in prefixes)]

    def events(self, predictor, items, *, probs: bool, top_k: int | None, chunk: int
               ) -> Iterator[tuple]:  # fmt: skip
        """Per ``(text, tokens)`` input: ``("begin", text)``, then ``("tokens", records)``
        one or more times (a :class:`~rnnseq.tasks.tag_output.TagBlock`), then
        ``("end", entities)``.

        Inputs of up to one window's length go through the model ``chunk`` at a time
        (fewer when they hold many tokens); a longer one is read in overlapping windows
        (:mod:`rnnseq.windows`), ``batch_size`` windows at a time (fewer when they would
        hold more than ``WINDOW_TOKENS`` tokens), so memory stays bounded whatever its
        length.
        """
        limit = SIZE + 2 * CONTEXT
        short: list = []
        held = 0  # tokens in short
        for text, tokens in items:
            tokens = iter(tokens)
            head = list(itertools.islice(tokens, limit + 1))
            if len(head) <= limit:
                short.append((text, head))
                held += len(head)
                if len(short) >= chunk or held >= TOKEN_BUDGET:
                    yield from self._short_events(predictor, short, probs, top_k)
                    short, held = [], 0
                continue
            yield from self._short_events(predictor, short, probs, top_k)
            short, held = [], 0
            yield from self._long_events(predictor, text, itertools.chain(head, tokens),
                                         probs, top_k)  # fmt: skip
        yield from self._short_events(predictor, short, probs, top_k)

    def _output(self, predictor) -> TagOutput:
        schemes = predictor.meta.schemes
        return TagOutput(schemes.source, schemes.learned)

    def _block(self, tokens, answer, names) -> TagBlock:
        """A row's predictions as a :class:`~rnnseq.tasks.tag_output.TagBlock` of learned
        tags."""
        ids, p, top = answer
        if top is not None:
            top = [[(names[j], q) for j, q in row] for row in top]
        return TagBlock(tokens, [names[i] for i in ids], p, top)

    def _short_events(self, predictor, inputs, probs, top_k) -> Iterator[tuple]:
        if not inputs:
            return
        rows = [[t[0] for t in tokens] for _, tokens in inputs if tokens]
        answers = iter(self.run_rows(predictor, rows, probs=probs, top_k=top_k))
        names = predictor.vocabs.labels.tokens
        for text, tokens in inputs:
            out = self._output(predictor)
            yield "begin", text
            if tokens:
                block = out.add(self._block(tokens, next(answers), names), text)
                rest = out.finish(text)
                yield "tokens", block.then(rest) if len(rest) else block
            yield "end", out.entities

    def _long_events(self, predictor, text, tokens, probs, top_k) -> Iterator[tuple]:
        out = self._output(predictor)
        names = predictor.vocabs.labels.tokens
        yield "begin", text
        cut = windows(tokens, SIZE, CONTEXT)
        per_call = max(1, min(predictor.batch_size, WINDOW_TOKENS // (SIZE + 2 * CONTEXT)))
        while group := list(itertools.islice(cut, per_call)):
            rows = [[t[0] for t in items] for items, _, _ in group]
            answers = self.run_rows(predictor, rows, probs=probs, top_k=top_k)
            for (items, a, b), answer in zip(group, answers, strict=True):
                kept = self._block(items, answer, names).cut(a, b)
                yield "tokens", out.add(kept, text)
        yield "tokens", out.finish(text)
        yield "end", out.entities

    def write(self, predictor, items, settings, *, chunk: int) -> Iterator[str]:
        """TSV (``token<TAB>tag`` lines and a blank line per input) or JSON Lines; a
        short input is one string, a long one comes in pieces as its windows are read."""
        jsonl = settings.output == "jsonl"
        writer = JsonWriter(predictor.meta.schemes.source is not None) if jsonl else None
        parts: list[str] = []
        events = self.events(predictor, items, probs=jsonl, top_k=settings.top_k, chunk=chunk)
        for kind, value in events:
            if kind == "begin":
                parts = [writer.begin(value)] if jsonl else []
            elif kind == "tokens":
                parts.append(writer.tokens(value) if jsonl else format_tsv(value))
                if len(parts) > 64:  # a long input: write what is ready
                    yield "".join(parts)
                    parts = []
            else:
                parts.append(writer.end(value) if jsonl else "\n")
                yield "".join(parts)

    def check_predict(self, settings) -> None:
        if settings.top_k is not None and settings.output == "tsv":
            raise OptionError("{0} lists the K most probable tags of each token in {1}",
                              "top_k", ("output", "jsonl"))  # fmt: skip

    def predict(self, predictor, texts, settings) -> list:
        """Tags per input (with ``probs``: (tag, probability) pairs; with ``top_k``: each
        token's K most probable (tag, probability) pairs, in the learned scheme)."""
        items = self.items(texts, settings.pretokenized)
        probs = settings.probs or settings.top_k is not None
        answers, current = [], []
        for kind, value in self.events(predictor, items, probs=probs, top_k=settings.top_k,
                                       chunk=CHUNK):  # fmt: skip
            if kind == "tokens":
                current += value.answers(settings.probs, settings.top_k is not None)
            elif kind == "end":
                answers.append(current)
                current = []
        return answers

    def predict_spans(self, predictor, texts, settings) -> list[list[dict]]:
        """The entities of each input: {"text", "label", "start", "end", "score"}."""
        if predictor.meta.schemes.source is None:
            raise ValueError("predict_spans needs a model of span tags (IOB1, IOB2, IOBES); "
                             "this model's tags are not")  # fmt: skip
        items = self.items(texts, settings.pretokenized)
        return [
            [e.to_dict() for e in value]
            for kind, value in self.events(predictor, items, probs=True, top_k=None,
                                           chunk=CHUNK)  # fmt: skip
            if kind == "end"
        ]

    def predict_conllu(self, predictor, path: str, column: str | None, *, chunk: int
                       ) -> Iterator[bytes]:  # fmt: skip
        """The CoNLL-U file at ``path`` with the predicted tags in ``column`` (default:
        the column the model was trained on, else UPOS), every other byte kept."""
        from rnnseq.conllu_fill import fill_conllu

        column = column or predictor.meta.config.data.column or "upos"

        def tag(sentences: list[list[str]]) -> list[list[str]]:
            tags, current = [], []
            items = (joined(s) for s in sentences)
            for kind, value in self.events(predictor, items, probs=False, top_k=None,
                                           chunk=len(sentences)):  # fmt: skip
                if kind == "tokens":
                    current += value.tags
                elif kind == "end":
                    tags.append(current)
                    current = []
            return tags

        return fill_conllu(path, column, tag, chunk=chunk)
