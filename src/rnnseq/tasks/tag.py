"""``tag``: one label per token (part-of-speech tags, entity tags).

    z_t = W · RecurrentEncoder(x_1..x_T)_t + b,    L_t = -log softmax(z_t)[c_t]

or, with ``--loss crf``, a linear-chain CRF over the tag sequence (one loss per
sentence). Span tags (IOB1, IOB2, IOBES) are learned in the scheme ``--tag-scheme``
asks for and written back in the file's own scheme; spans are scored as conlleval does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from rnnseq.data import IGNORE_INDEX
from rnnseq.evaluation import tagging_scores
from rnnseq.explanation import Explanation, explained_step
from rnnseq.losses import LossTerms, sequence_labeling_loss_terms
from rnnseq.models.tagger import SequenceTagger
from rnnseq.preprocess import SchemeMap, encode_tags
from rnnseq.tag_schemes import allowed_transitions, convert, detect_scheme
from rnnseq.tasks.examples import ExamplesTask, unknown_label

__all__ = ["TagTask"]


class TagTask(ExamplesTask):
    name = "tag"

    # ------------------------------------------------------------------ data

    def labels_of(self, example) -> list[str]:
        return example.tags

    def schemes(self, train, cfg) -> SchemeMap:
        return SchemeMap.choose(train, cfg.data.tag_scheme)

    def check_folder(self, config, schemes) -> None:
        if config.objective.loss == "crf" and schemes.learned is None and schemes.source:
            raise ValueError("tag_scheme.learned is missing for a CRF over span tags")

    def encode_targets(self, examples, labels, path: str) -> list[list[int]]:
        return encode_tags(examples, labels, path)

    # --------------------------------------------------------------- network

    def build_network(self, config, *, bf16: bool = False) -> SequenceTagger:
        return SequenceTagger(config, bf16=bf16)

    @staticmethod
    def crf_constraints(labels: Sequence[str], schemes: SchemeMap):
        """The CRF's allowed moves for span tags in the learned scheme (None otherwise)."""
        if schemes.learned is None:
            return None
        return allowed_transitions(list(labels), schemes.learned)

    # ------------------------------------------------------------- objective

    def objective_terms(self, model, scores, batch, objective):
        opts, targets = objective.options, batch.targets
        lengths = batch.lengths.to(scores.device)
        if model.crf is not None:
            tags = torch.where(targets == IGNORE_INDEX, 0, targets)  # unseen dev tags
            return model.crf.loss_terms(scores, tags, lengths, reduction=opts.reduction)
        return sequence_labeling_loss_terms(
            scores,
            targets,
            lengths,
            time_reduction=opts.time_reduction,
            reduction=opts.reduction,
            weight=objective.class_weights,
            label_smoothing=opts.label_smoothing,
        )

    def eval_terms(self, model, batch, scores):
        """Cross-entropy (a CRF: its sequence NLL) summed, per counted step."""
        targets = batch.targets
        lengths = batch.lengths.to(scores.device)
        terms = sequence_labeling_loss_terms(scores, targets, lengths, reduction="token_mean")
        if model.crf is None:
            return terms
        tags = torch.where(targets == IGNORE_INDEX, 0, targets)
        total = model.crf.loss_terms(scores, tags, lengths, reduction="sum").total
        return LossTerms(total, terms.count)

    # ------------------------------------------------------------ prediction

    def best_ids(self, model, scores, lengths) -> list:
        if model.crf is not None:
            return model.crf.viterbi_decode(scores, lengths.to(scores.device))
        best = scores.argmax(dim=-1).tolist()  # (N, T)
        return [row[:n] for row, n in zip(best, lengths.tolist(), strict=True)]

    def probabilities(self, model, scores, lengths) -> torch.Tensor:
        """The model's distribution over tags at each step: softmax of the scores, or
        for a CRF the marginals p(y_t = c | x), obtained as ∂ log Z / ∂ emission[t, c].

        Shape: scores (N, T, C), lengths (N,) -> (N, T, C).
        """
        if model.crf is None:
            return torch.softmax(scores.float(), dim=-1)
        with torch.enable_grad():
            emissions = scores.detach().float().requires_grad_(True)
            dummy = torch.zeros(emissions.shape[:2], dtype=torch.long, device=scores.device)
            nll = model.crf(emissions, dummy, lengths.to(scores.device), reduction="sum")
            # NLL = log Z - score(dummy), and score(dummy) is linear in the emissions, so
            # ∂ log Z / ∂ emission = ∂ NLL / ∂ emission + the dummy path's one-hot.
            (grad,) = torch.autograd.grad(nll, emissions)
        one_hot = torch.nn.functional.one_hot(dummy, scores.shape[-1]).float()
        steps = torch.arange(scores.shape[1], device=scores.device)[None, :]
        real = (steps < lengths.to(scores.device)[:, None]).float()[..., None]
        return (grad + one_hot * real).clamp(0.0, 1.0)

    def decode(self, predictor, ids, scheme: str | None = None) -> list[str]:
        """Tag names of a row's ids, in ``scheme`` (None: the training file's)."""
        tags = predictor.vocabs.labels.decode(ids)
        return predictor.meta.schemes.predicted_to(tags, scheme)

    def empty_prediction(self):
        return []

    def predict(self, predictor, texts, **options) -> list:
        sentences = [t.split() if isinstance(t, str) else list(t) for t in texts]
        return self.predict_tokens(predictor, sentences)

    def format_prediction(self, tokens, prediction) -> str:
        return "".join(f"{w}\t{t}\n" for w, t in zip(tokens, prediction, strict=True)) + "\n"

    def score(self, predictor, data, predicted_ids) -> dict:
        gold = [e.tags for e in data]
        file_scheme = detect_scheme(gold)
        pred = [self.decode(predictor, p, file_scheme) for p in predicted_ids]
        scores = tagging_scores(gold, pred)
        result = {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}
        if "span_f1" in scores:
            result["span_f1"] = scores["span_f1"]
            result["tag_scheme"] = scores["tag_scheme"]
        result["n_examples"] = len(data)
        result["n_tokens"] = sum(len(g) for g in gold)
        result["per_class"] = scores["per_class"]
        return result

    def selection_score(self, scores: dict) -> list[float]:
        """Span F1 first for span tags (then accuracy and minus the loss break ties, so a
        tagger whose span F1 is still 0 in the first epochs is selected on them)."""
        primary = [scores["span_f1"]] if "span_f1" in scores else []
        return [*primary, scores["accuracy"], -scores["loss"]]

    # ---------------------------------------------------------------- explain

    def parse_labels(self, text: str) -> list[str]:
        return text.split()

    @torch.no_grad()
    def explain(self, predictor, text: str, labels: Sequence[str] | None) -> Explanation:
        """One step per whitespace token; ``labels`` one tag per token (span tags in any
        scheme: p_j is that of the tag in the scheme the model learned); a CRF's p_j is
        the marginal p(y_j | x)."""
        tokens = text.split()
        if not tokens:
            raise ValueError("--text is empty")
        if labels is not None and len(labels) != len(tokens):
            raise ValueError(
                f"--labels must give one tag per token: {len(tokens)} tokens, {len(labels)} tags"
            )
        model, vocab = predictor.model, predictor.vocabs.labels
        scores, lengths = self.scores_of(predictor, tokens)
        probs = self.probabilities(model, scores, lengths)[0]  # (T, C)
        schemes = predictor.meta.schemes
        if labels is None:
            learned = vocab.decode(self.best_ids(model, scores, lengths)[0])
            shown = schemes.predicted_to(learned, None)
        else:  # span tags may be given in any scheme: score them in the learned one
            shown = list(labels)
            learned = _to_learned(shown, schemes)
            for given, tag in zip(shown, learned, strict=True):
                if tag not in vocab:
                    raise unknown_label(given, vocab.tokens)
        steps = [
            explained_step(w, s, float(probs[j, vocab.encode([t])[0]]))
            for j, (w, s, t) in enumerate(zip(tokens, shown, learned, strict=True))
        ]
        return Explanation(steps, labels is not None)


def _to_learned(tags: list[str], schemes: SchemeMap) -> list[str]:
    given = detect_scheme([tags])
    if schemes.learned is None or given is None or given == schemes.learned:
        return tags
    return convert(tags, given, schemes.learned)
