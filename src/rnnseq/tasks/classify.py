"""``classify``: one label per text (the sentiment of a review).

    v = Pool(RecurrentEncoder(x_1..x_T)),   z = W v + b,   L_i = -log softmax(z_i)[c_i]

The loss has one term per example; ``rnnseq predict`` writes one label per line.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from rnnseq.evaluation import classification_scores
from rnnseq.explanation import Explanation, explained_step
from rnnseq.losses import sequence_classification_loss_terms
from rnnseq.models.classifier import SequenceClassifier
from rnnseq.preprocess import encode_classes
from rnnseq.tasks.classify_lines import ClassifyLines
from rnnseq.tasks.example_lines import unknown_label
from rnnseq.tasks.examples import ExamplesTask

__all__ = ["ClassifyTask"]


class ClassifyTask(ClassifyLines, ExamplesTask):
    """The classifier: its network, objective and evaluation; how it reads inputs and
    writes answers is :class:`~rnnseq.tasks.classify_lines.ClassifyLines`' (no torch)."""

    name = "classify"
    loss_unit = "example"
    per_step = False

    # ------------------------------------------------------------------ data

    def labels_of(self, example) -> list[str]:
        return [example.label]

    def encode_targets(self, examples, labels, path: str) -> list[int]:
        return encode_classes(examples, labels, path)

    # --------------------------------------------------------------- network

    def build_network(self, config, *, bf16: bool = False) -> SequenceClassifier:
        return SequenceClassifier(config, bf16=bf16)

    # ------------------------------------------------------------- objective

    def objective_terms(self, model, scores, batch, objective):
        opts = objective.options
        return sequence_classification_loss_terms(
            scores,
            batch.targets,
            weight=objective.class_weights,
            label_smoothing=opts.label_smoothing,
            reduction=opts.reduction,
        )

    def eval_terms(self, model, batch, scores):
        return sequence_classification_loss_terms(scores, batch.targets)  # per example

    # ------------------------------------------------------------ prediction

    def best_ids(self, model, scores, lengths) -> list:
        return scores.argmax(dim=-1).tolist()

    def row_answers(self, predictor, scores, lengths, *, probs, top_k) -> list:
        """Per row: (label id, its probability, the top_k (id, p) or None)."""
        p = torch.softmax(scores.float(), dim=-1)  # (N, C)
        chosen, best = p.max(dim=-1)  # (N,), (N,)
        top = None
        if top_k is not None:
            values, indices = p.topk(min(top_k, p.shape[1]), dim=1)  # (N, K)
            top = [list(zip(i, v, strict=True))
                   for i, v in zip(indices.tolist(), values.tolist(), strict=True)]
        return [(b, c, None if top is None else top[k])
                for k, (b, c) in enumerate(zip(best.tolist(), chosen.tolist(), strict=True))]

    def decode_predicted(self, predictor, data, predicted_ids) -> list:
        return predictor.vocabs.labels.decode(predicted_ids)

    def score(self, data, predicted) -> dict:
        gold = [e.label for e in data]
        scores = classification_scores(gold, predicted)
        return {
            "accuracy": scores["accuracy"],
            "macro_f1": scores["macro_f1"],
            "n_examples": len(data),
            "n_tokens": len(data),
            "per_class": scores["per_class"],
        }

    def write_reports(self, data, predicted, path, confusion, errors) -> None:
        gold = [e.label for e in data]
        if confusion is not None:
            from rnnseq.confusion_plot import save_confusion_png

            title = f"Confusion matrix: {os.path.basename(path)}"
            save_confusion_png(confusion, gold, predicted, title=title)
        if errors is not None:
            from rnnseq.error_listing import write_classification_errors

            where = [f"{path}:{e.line}" if e.line else None for e in data]
            texts = [" ".join(e.tokens) for e in data]
            write_classification_errors(errors, texts, gold, predicted, where=where)

    # ---------------------------------------------------------------- explain

    @torch.no_grad()
    def explain(self, predictor, text: str, labels: Sequence[str] | None, *,
                pretokenized: bool = True) -> Explanation:  # fmt: skip
        """One step: the whole text (tokenized as predict does), its label (given, else
        predicted), p and -ln p."""
        tokens = self.explain_tokens(text, pretokenized)
        if labels is not None and len(labels) != 1:
            raise ValueError(f"--labels must be one label for classify, got {len(labels)}")
        scores, _ = self.scores_of(predictor, tokens)
        probs = torch.softmax(scores.float(), dim=-1)[0]  # (C,)
        vocab = predictor.vocabs.labels
        label = labels[0] if labels else vocab.decode([int(probs.argmax())])[0]
        if label not in vocab:
            raise unknown_label(label, vocab.tokens)
        p = float(probs[vocab.encode([label])[0]])
        return Explanation([explained_step(" ".join(tokens), label, p)], labels is not None)
