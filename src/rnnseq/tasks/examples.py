"""What classify and tag share: files of examples, each a token sequence with labels.

Both read examples (:func:`rnnseq.data.read_dataset`), cut them to ``max_length``,
build word (and character) vocabularies from the training examples, encode them
once and train on length-bucketed batches; both predict token lists in
length-sorted batches and put the answers back in input order. They differ in
their labels (one per example, one per token), which the subclasses say. What needs
no torch (inputs in, output lines out) is in :mod:`rnnseq.tasks.example_lines`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import torch

from rnnseq.data import Vocab, bucket_batches, collate, read_dataset
from rnnseq.data.encoded import MAX_WORD_LEN, EncodedDataset
from rnnseq.preprocess import SchemeMap, Vocabularies, limit_lengths
from rnnseq.tasks.base import RunData
from rnnseq.tasks.example_lines import EVAL_TOKENS, ExampleLines
from rnnseq.tasks.word_vectors import pretrained_vocabulary
from rnnseq.training.sharding import epoch_batches

RELEASE_EVERY = 256  # batches between two EncodedDataset.release() (a mapped training set)

__all__ = ["ExamplesTask"]


class ExamplesTask(ExampleLines):
    """A task whose data is a list of examples (``tokens`` plus labels); reading inputs
    and writing answers is :class:`~rnnseq.tasks.example_lines.ExampleLines`' (no torch),
    running the network on token lists (:meth:`run_rows`) is this class's."""

    # --------------------------------------------------------------- reading

    def read(self, path: str, cfg) -> list:
        data = read_dataset(path, self.name, format=cfg.data.format, column=cfg.data.column)
        return limit_lengths(data, cfg.data.max_length, cfg.data.on_long, path)

    def stream_run_data(self, cfg, vocabs, schemes, resolve=None) -> RunData | None:
        """A training file larger than ``stream_bytes()`` (64 MiB) is read in streaming
        passes and trained on from arrays on disk (:mod:`rnnseq.tasks.streamed_examples`);
        None for a smaller one (read into memory)."""
        from rnnseq.tasks.streamed_examples import stream_run_data

        return stream_run_data(self, cfg, vocabs, schemes, resolve)

    def stream_summary(self, scan: dict, *, has_dev: bool):
        """:meth:`data_summary` of a streamed training file, from its scan's counts
        (None: this task's defaults do not depend on the data)."""
        return None

    def span_scheme(self, label_rows) -> str | None:
        """The span scheme of the training labels (one list per example), or None; may
        stop reading ``label_rows`` early."""
        return None

    def schemes_from(self, source: str | None, cfg) -> SchemeMap:
        """:meth:`schemes` of training labels in the span scheme ``source``."""
        return SchemeMap(None, None)

    # ---------------------------------------------------- labels (subclasses)

    def labels_of(self, example) -> list[str]:
        """The labels of one example, as a list (one for classify, one per token for tag)."""
        raise NotImplementedError

    def encode_targets(self, examples: Sequence, labels: Vocab, path: str) -> list:
        """The label ids of labelled examples (what ``EncodedDataset.targets`` holds)."""
        raise NotImplementedError

    # ------------------------------------------------------------ vocabulary

    def prepare(self, train, dev, dev_name, cfg, vocabs, schemes) -> RunData:
        """Vocabularies and the encoded training examples; the dev examples are encoded
        once too, so a dev file the model could not score fails now, not after an epoch.
        With ``--embeddings`` the word vocabulary takes the file's first ``--max-vectors``
        words too, and ``word_vectors`` holds the embedding's initial weight."""
        learned = schemes.to_learned(train, path=cfg.train)
        weight = None
        if vocabs is None:  # a resumed run reuses the saved vocabularies and weights
            vocabs = self.build_vocabularies(learned, cfg)
            if cfg.model.embeddings is not None:
                words, weight = pretrained_vocabulary(vocabs.words, cfg, extend=True)
                added = len(words) - len(vocabs.words)
                vocabs = replace(vocabs, words=words, added_words=added)
        encoded = self.encode(learned, vocabs, path=cfg.train)
        if dev is not None:
            self.encode(schemes.to_learned(dev, path=dev_name), vocabs, path=dev_name)
        return RunData(vocabs, schemes, encoded, dev, dev_name, len(train), encoded.targets,
                       word_vectors=weight)  # fmt: skip

    def build_vocabularies(self, train: Sequence, cfg) -> Vocabularies:
        """Word, label and (with character features) character vocabularies, from the
        training examples alone (labels of dev are never added)."""
        words = Vocab.build(
            (e.tokens for e in train), min_freq=cfg.data.min_freq, lowercase=cfg.data.lowercase
        )
        labels = Vocab.build((self.labels_of(e) for e in train), specials=())
        chars = None
        if cfg.model.char_features != "none":
            chars = Vocab.build(w for e in train for w in e.tokens)
        return Vocabularies(words=words, labels=labels, chars=chars)

    def encode_tokens(self, sentences: Sequence[Sequence[str]], vocabs: Vocabularies
                      ) -> EncodedDataset:  # fmt: skip
        """Unlabelled token lists -> ids (``targets`` None)."""
        return EncodedDataset.from_tokens(
            sentences,
            vocabs.words,
            per_step=self.per_step,
            char_vocab=vocabs.chars,
            max_word_len=MAX_WORD_LEN,
        )

    def encode(self, examples: Sequence, vocabs: Vocabularies, *, path: str) -> EncodedDataset:
        """Labelled examples -> ids with targets (see :meth:`encode_targets`)."""
        encoded = self.encode_tokens([e.tokens for e in examples], vocabs)
        encoded.targets = self.encode_targets(examples, vocabs.labels, path)
        return encoded

    def encode_labelled(self, predictor, examples, path: str) -> EncodedDataset:
        learned = predictor.meta.schemes.to_learned(examples, path=path)
        return self.encode(learned, predictor.vocabs, path=path)

    # -------------------------------------------------------------- training

    def epoch_plan(self, data: RunData, cfg, epoch: int, rank: int, world_size: int) -> list:
        return epoch_batches(
            data.train.lengths,
            cfg.training.batch_size,
            seed=cfg.training.seed,
            epoch=epoch,
            rank=rank,
            world_size=world_size,
            pool_batches=cfg.training.bucket_pool,
            max_tokens=cfg.training.batch_tokens or None,
        )

    def batch(self, data: RunData, item) -> Any:
        made = data.plan_cache.get("batches", 0) + 1
        data.plan_cache["batches"] = made
        if made % RELEASE_EVERY == 0:  # a mapped set: the plan's pages leave the RSS
            data.train.release()
        return collate(data.train, item)

    # ------------------------------------------------------------ prediction

    def row_answers(self, predictor, scores, lengths, *, probs: bool, top_k: int | None
                    ) -> list:  # fmt: skip
        """One answer per row of a batch's scores (subclasses): the best label id(s),
        and with ``probs`` their probabilities and the ``top_k`` most probable labels."""
        raise NotImplementedError

    def run_rows(self, predictor, rows: list[list[str]], *, probs: bool = False,
                 top_k: int | None = None) -> list:  # fmt: skip
        """:meth:`row_answers` for each (non-empty) token list, in order; the rows go
        through the model in batches of rows of equal length, ``predictor.batch_size``
        rows at most (:func:`rnnseq.predict_batch.length_batches`)."""
        from rnnseq.predict_batch import length_batches, rows_batch

        out: list = [None] * len(rows)
        model = predictor.model
        lengths = [len(r) for r in rows]
        spelled = predictor.char_features is None  # else model_call spells what it needs
        with predictor.predicting():
            for indices in length_batches(lengths, predictor.batch_size, EVAL_TOKENS):
                batch, distinct = rows_batch([rows[i] for i in indices], predictor.vocabs,
                                             predictor.spellings, spelled=spelled)  # fmt: skip
                with predictor.model_call(distinct):
                    scores, _ = model.scores(batch.to(predictor.device))  # (N, C) / (N, T, C)
                answers = self.row_answers(predictor, scores.float(), batch.lengths,
                                           probs=probs, top_k=top_k)  # fmt: skip
                for k, answer in zip(indices, answers, strict=True):
                    out[k] = answer
        return out

    # ------------------------------------------------------------ evaluation

    @torch.no_grad()
    def evaluate(self, predictor, data, path: str, objective=None, encoded=None,
                 reports=None) -> dict:  # fmt: skip
        """Loss, accuracy, macro-F1 (and span scores for span tags) on labelled examples;
        ``reports`` (confusion, errors): files to draw and write (see :meth:`write_reports`)."""
        from rnnseq.inference import ObjectiveTally

        tally = ObjectiveTally(predictor.model, objective)
        if encoded is None:
            encoded = self.encode_labelled(predictor, data, path)
        loss_sum = count = 0.0
        predicted: list = [None] * len(data)
        model = predictor.model
        for rows in bucket_batches(encoded.lengths, predictor.batch_size, shuffle=False,
                                   max_tokens=EVAL_TOKENS):  # fmt: skip
            batch = collate(encoded, rows).to(predictor.device)
            scores = self.evaluation_scores(model, batch)
            total, n = model.eval_terms(batch, scores)
            loss_sum += float(total)
            count += float(n)
            tally.add(scores, batch)
            for k, row in zip(batch.indices, self.best_ids(model, scores, batch.lengths),
                              strict=True):  # fmt: skip
                predicted[k] = row
        labels = self.decode_predicted(predictor, data, predicted)
        result = {"loss": loss_sum / count if count else 0.0}
        result.update(self.score(data, labels))
        if reports is not None:
            self.write_reports(data, labels, path, *reports)
        return tally.into(result)

    def evaluation_scores(self, model, batch) -> torch.Tensor:
        """The network's scores of an evaluation batch (its rows hold at most
        ``EVAL_TOKENS`` padded tokens, or one longer row alone)."""
        scores, _ = model.scores(batch)
        return scores

    def decode_predicted(self, predictor, data: Sequence, predicted_ids: list) -> list:
        """The predicted ids as labels, as the examples' gold labels are written."""
        raise NotImplementedError

    def score(self, data: Sequence, predicted: list) -> dict:
        """Accuracy, macro-F1, per-class (and span) scores of the predicted labels against
        the examples' gold labels, with n_examples and n_tokens."""
        raise NotImplementedError

    def write_reports(self, data: Sequence, predicted: list, path: str,
                      confusion: str | None, errors: str | None) -> None:  # fmt: skip
        """Draw the confusion matrix as a PNG at ``confusion`` and list the wrongly
        labelled examples at ``errors`` (each when not None)."""
        raise NotImplementedError

    # ------------------------------------------------------------- explain

    @torch.no_grad()
    def scores_of(self, predictor, tokens: list[str]):
        """(scores, lengths) of one token list, as a batch of one."""
        encoded = self.encode_tokens([tokens], predictor.vocabs)
        batch = collate(encoded, [0]).to(predictor.device)
        scores, _ = predictor.model.scores(batch)
        return scores, batch.lengths
