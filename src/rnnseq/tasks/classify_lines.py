"""How a classifier answers its inputs, without torch: a label per text, with its
probability and the K most probable labels, written as TSV or JSON Lines.

The engine (:meth:`~rnnseq.tasks.example_lines.ExampleLines.run_rows`: the PyTorch
network in :class:`~rnnseq.tasks.classify.ClassifyTask`, onnxruntime in
:mod:`rnnseq.onnx_engine`) gives each text's (label id, probability, top-k); this
module reads the texts, caps them at ``max_tokens`` and writes the answers.
"""

from __future__ import annotations

import itertools
import json
import warnings
from collections.abc import Iterator

from rnnseq.options import OptionError
from rnnseq.tasks.example_lines import ExampleLines, chunks
from rnnseq.tasks.tag_output import rounded
from rnnseq.text_input import CHUNK

__all__ = ["ClassifyLines", "TOKEN_BUDGET"]

TOKEN_BUDGET = 1 << 15  # tokens held at a time


class ClassifyLines(ExampleLines):
    """A classifier's inputs in, its output out (the engine's :meth:`run_rows` in between)."""

    name = "classify"

    def labels(self, predictor) -> list[str]:
        return predictor.vocabs.labels.tokens

    def answers(self, predictor, items, settings, *, chunk: int) -> Iterator[tuple]:
        """``(text, (label, probability, top) or None)`` per ``(text, tokens)`` input, in
        order; a text longer than ``settings.max_tokens`` tokens is read up to there (a
        warning at the end says how many were)."""
        cut = 0
        limit = settings.max_tokens

        def capped(items):
            nonlocal cut
            for text, tokens in items:
                head = list(itertools.islice(tokens, limit + 1))
                if len(head) > limit:
                    cut += 1
                    head = head[:limit]
                yield text, head

        names = predictor.vocabs.labels.tokens
        for batch in chunks(capped(items), chunk, TOKEN_BUDGET):
            rows = [[t[0] for t in tokens] for _, tokens in batch if tokens]
            found = iter(self.run_rows(predictor, rows, probs=True, top_k=settings.top_k))
            for text, tokens in batch:
                if not tokens:
                    yield text, None
                    continue
                i, p, top = next(found)
                yield text, (names[i], p, None if top is None else [(names[j], q) for j, q in top])
        if cut:
            warnings.warn(
                f"{cut} text(s) had more than {limit} tokens (max_tokens, --max-tokens): each "
                f"was classified on its first {limit}",
                stacklevel=2,
            )

    def write(self, predictor, items, settings, *, chunk: int) -> Iterator[str]:
        """TSV: the label (blank for a blank input); JSON Lines: {"text", "label",
        "probability"} and with ``top_k`` "top_k": [{"label", "probability"}, ...]."""
        jsonl = settings.output == "jsonl"
        for text, answer in self.answers(predictor, items, settings, chunk=chunk):
            if not jsonl:
                yield ("" if answer is None else answer[0]) + "\n"
                continue
            label, p, top = answer if answer is not None else (None, None, [])
            line = {"text": text, "label": label, "probability": rounded(p)}
            if settings.top_k is not None:
                line["top_k"] = [{"label": name, "probability": rounded(q)} for name, q in top]
            yield json.dumps(line, ensure_ascii=False) + "\n"

    def check_predict(self, settings) -> None:
        if settings.top_k is not None and settings.output == "tsv":
            raise OptionError("{0} lists the K most probable labels in {1}",
                              "top_k", ("output", "jsonl"))  # fmt: skip

    def predict(self, predictor, texts, settings) -> list:
        """The label of each input (None for a blank one); with ``probs``: (label,
        probability); with ``top_k``: the K most probable (label, probability) pairs."""
        out = []
        items = self.items(texts, settings.pretokenized)
        for _, answer in self.answers(predictor, items, settings, chunk=CHUNK):
            if answer is None:
                out.append([] if settings.top_k is not None else None)
            elif settings.top_k is not None:
                out.append(answer[2])
            else:
                out.append((answer[0], answer[1]) if settings.probs else answer[0])
        return out
