"""``classify``: one label per text (the sentiment of a review).

    v = Pool(RecurrentEncoder(x_1..x_T)),   z = W v + b,   L_i = -log softmax(z_i)[c_i]

The loss has one term per example; ``rnnseq predict`` writes one label per line.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rnnseq.evaluation import classification_scores
from rnnseq.explanation import Explanation, explained_step
from rnnseq.losses import sequence_classification_loss_terms
from rnnseq.models.classifier import SequenceClassifier
from rnnseq.preprocess import encode_classes
from rnnseq.tasks.examples import ExamplesTask, unknown_label

__all__ = ["ClassifyTask"]


class ClassifyTask(ExamplesTask):
    name = "classify"
    loss_unit = "example"
    per_step = False
    needs_text = True

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

    def decode(self, predictor, ids) -> str:
        return predictor.vocabs.labels.decode([ids])[0]

    def empty_prediction(self):
        return None

    def predict(self, predictor, texts, **options) -> list:
        sentences = [t.split() if isinstance(t, str) else list(t) for t in texts]
        for i, s in enumerate(sentences):
            if not s:
                raise ValueError(f"texts[{i}] is empty: a classifier needs at least one word")
        return self.predict_tokens(predictor, sentences)

    def format_prediction(self, tokens, prediction) -> str:
        return ("" if prediction is None else prediction) + "\n"

    def score(self, predictor, data, predicted_ids) -> dict:
        gold = [e.label for e in data]
        scores = classification_scores(gold, predictor.vocabs.labels.decode(predicted_ids))
        return {
            "accuracy": scores["accuracy"],
            "macro_f1": scores["macro_f1"],
            "n_examples": len(data),
            "n_tokens": len(data),
            "per_class": scores["per_class"],
        }

    # ---------------------------------------------------------------- explain

    @torch.no_grad()
    def explain(self, predictor, text: str, labels: Sequence[str] | None) -> Explanation:
        """One step: the whole text, its label (given, else predicted), p and -ln p."""
        tokens = text.split()
        if not tokens:
            raise ValueError("--text is empty")
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
