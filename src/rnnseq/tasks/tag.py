"""``tag``: one label per token (part-of-speech tags, entity tags).

    z_t = W · RecurrentEncoder(x_1..x_T)_t + b,    L_t = -log softmax(z_t)[c_t]

or, with ``--loss crf``, a linear-chain CRF over the tag sequence (one loss per
sentence). Span tags (IOB1, IOB2, IOBES) are learned in the scheme ``--tag-scheme``
asks for and written back in the file's own scheme; spans are scored as conlleval does.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

import torch

from rnnseq.data import IGNORE_INDEX
from rnnseq.evaluation import tagging_scores
from rnnseq.explanation import Explanation, explained_step
from rnnseq.losses import LossTerms, sequence_labeling_loss_terms
from rnnseq.models.tagger import SequenceTagger
from rnnseq.preprocess import SchemeMap, encode_tags
from rnnseq.tag_schemes import allowed_transitions, convert, detect_scheme
from rnnseq.tasks.example_lines import unknown_label
from rnnseq.tasks.examples import EVAL_TOKENS, ExamplesTask
from rnnseq.tasks.tag_lines import TagLines
from rnnseq.windows import CONTEXT, SIZE, windows

__all__ = ["TagTask"]


class TagTask(TagLines, ExamplesTask):
    """The tagger: its network, objective, decoding and evaluation; how it reads inputs
    and writes answers is :class:`~rnnseq.tasks.tag_lines.TagLines`' (no torch)."""

    name = "tag"

    # ------------------------------------------------------------------ data

    def labels_of(self, example) -> list[str]:
        return example.tags

    def data_summary(self, train, *, has_dev: bool):
        from rnnseq.training.auto_defaults import summarize_tags

        return summarize_tags(((e.tokens, e.tags) for e in train), has_dev=has_dev)

    def schemes(self, train, cfg) -> SchemeMap:
        return SchemeMap.choose(train, cfg.data.tag_scheme)

    def schemes_from(self, source, cfg) -> SchemeMap:
        return SchemeMap.from_source(source, cfg.data.tag_scheme)

    def span_scheme(self, label_rows) -> str | None:
        return detect_scheme(label_rows)

    def stream_summary(self, scan: dict, *, has_dev: bool):
        """What :meth:`data_summary` says of the same examples (:func:`summarize_tags`)."""
        from rnnseq.training.auto_defaults import DataSummary

        return DataSummary(examples=scan["examples"], tokens=scan["tokens"],
                           labels=len(scan["labels"]), tag_scheme=scan["scheme"],
                           has_dev=has_dev)  # fmt: skip

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

    def evaluation_scores(self, model, batch) -> torch.Tensor:
        """Scores (1, T, C) of a row too long for one evaluation batch, read in the
        overlapping windows :meth:`events` reads it in (:mod:`rnnseq.windows`): each
        window's middle ``SIZE`` steps keep their scores, so memory grows with the
        window, not with T. A row that fits is scored whole."""
        T = batch.tokens.shape[1]
        if batch.n_examples != 1 or T <= EVAL_TOKENS:
            return super().evaluation_scores(model, batch)
        # (window start, window end, kept slice of the window), as predict cuts them
        spans = [(w[0], w[-1] + 1, a, b) for w, a, b in windows(iter(range(T)), SIZE, CONTEXT)]
        per_call = max(1, EVAL_TOKENS // (SIZE + 2 * CONTEXT))
        out = None
        for g in range(0, len(spans), per_call):
            group = spans[g : g + per_call]
            cut = [(start, end) for start, end, _, _ in group]
            width = max(end - start for start, end in cut)
            lengths = torch.tensor([b - a for a, b in cut])
            tokens = batch.tokens.new_zeros((len(cut), width))
            chars = None if batch.chars is None else batch.chars.new_zeros(
                (len(cut), width, batch.chars.shape[2]))  # fmt: skip
            for k, (a, b) in enumerate(cut):
                tokens[k, : b - a] = batch.tokens[0, a:b]
                if chars is not None:
                    chars[k, : b - a] = batch.chars[0, a:b]
            part = replace(batch, tokens=tokens, lengths=lengths, targets=None, chars=chars,
                           indices=[0] * len(cut))  # fmt: skip
            scores, _ = model.scores(part)  # (k, width, C)
            if out is None:
                out = scores.new_empty((1, T, scores.shape[-1]))
            for k, (start, _, a, b) in enumerate(group):
                out[0, start + a : start + b] = scores[k, a:b]
        return out

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

    def row_answers(self, predictor, scores, lengths, *, probs, top_k) -> list:
        """Per row: (tag ids, their probabilities or None, the top_k (id, p) per token
        or None)."""
        model = predictor.model
        best = self.best_ids(model, scores, lengths)
        if not probs and top_k is None:
            return [(ids, None, None) for ids in best]
        p = self.probabilities(model, scores, lengths)  # (N, T, C)
        n, t = scores.shape[:2]
        padded = torch.zeros(n, t, dtype=torch.long, device=scores.device)  # (N, T)
        for i, ids in enumerate(best):
            padded[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        chosen = p.gather(2, padded.unsqueeze(2)).squeeze(2).tolist()  # (N, T)
        top_ids = top_p = None
        if top_k is not None:
            values, indices = p.topk(min(top_k, p.shape[2]), dim=2)  # (N, T, K)
            top_ids, top_p = indices.tolist(), values.tolist()
        out = []
        for i, ids in enumerate(best):
            k = len(ids)
            row_top = None
            if top_ids is not None:
                row_top = [list(zip(a, b, strict=True))
                           for a, b in zip(top_ids[i][:k], top_p[i][:k], strict=True)]
            out.append((ids, chosen[i][:k], row_top))
        return out

    def decode(self, predictor, ids, scheme: str | None = None) -> list[str]:
        """Tag names of a row's ids, in ``scheme`` (None: the training file's)."""
        tags = predictor.vocabs.labels.decode(ids)
        return predictor.meta.schemes.predicted_to(tags, scheme)

    def decode_predicted(self, predictor, data, predicted_ids) -> list:
        file_scheme = detect_scheme([e.tags for e in data])
        return [self.decode(predictor, p, file_scheme) for p in predicted_ids]

    def score(self, data, predicted) -> dict:
        gold = [e.tags for e in data]
        scores = tagging_scores(gold, predicted)
        result = {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"]}
        for key in ("span_f1", "span_precision", "span_recall", "tag_scheme", "per_type"):
            if key in scores:
                result[key] = scores[key]
        result["n_examples"] = len(data)
        result["n_tokens"] = sum(len(g) for g in gold)
        result["per_class"] = scores["per_class"]
        return result

    def write_reports(self, data, predicted, path, confusion, errors) -> None:
        gold = [e.tags for e in data]
        if confusion is not None:
            from rnnseq.confusion_plot import save_confusion_png

            flat_gold = [t for tags in gold for t in tags]
            flat_pred = [t for tags in predicted for t in tags]
            title = f"Confusion matrix: {os.path.basename(path)}"
            save_confusion_png(confusion, flat_gold, flat_pred, title=title)
        if errors is not None:
            from rnnseq.error_listing import write_tagging_errors

            where = [f"{path}:{e.line}" if e.line else None for e in data]
            write_tagging_errors(errors, [e.tokens for e in data], gold, predicted, where=where)

    def selection_score(self, scores: dict) -> list[float]:
        """Span F1 first for span tags (then accuracy and minus the loss break ties, so a
        tagger whose span F1 is still 0 in the first epochs is selected on them)."""
        primary = [scores["span_f1"]] if "span_f1" in scores else []
        return [*primary, scores["accuracy"], -scores["loss"]]

    # ---------------------------------------------------------------- explain

    def parse_labels(self, text: str) -> list[str]:
        return text.split()

    @torch.no_grad()
    def explain(self, predictor, text: str, labels: Sequence[str] | None, *,
                pretokenized: bool = False) -> Explanation:  # fmt: skip
        """One step per token (tokenized as predict does); ``labels`` one tag per token
        (span tags in any scheme: p_j is that of the tag in the scheme the model
        learned); a CRF's p_j is the marginal p(y_j | x)."""
        tokens = self.explain_tokens(text, pretokenized)
        if labels is not None and len(labels) != len(tokens):
            shown = " ".join(tokens[:12]) + (" ..." if len(tokens) > 12 else "")
            hint = "" if pretokenized else "; --pretokenized splits the text on whitespace only"
            raise ValueError(
                f"--labels must give one tag per token: {len(tokens)} tokens ({shown}), "
                f"{len(labels)} tags{hint}"
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
