"""What classify and tag share: files of examples, each a token sequence with labels.

Both read examples (:func:`rnnseq.data.read_dataset`), cut them to ``max_length``,
build word (and character) vocabularies from the training examples, encode them
once and train on length-bucketed batches; both predict token lists in
length-sorted batches and put the answers back in input order. They differ in
their labels (one per example, one per token), which the subclasses say.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import torch

from rnnseq.data import Vocab, bucket_batches, collate, read_dataset
from rnnseq.data.encoded import MAX_WORD_LEN, EncodedDataset
from rnnseq.preprocess import Vocabularies, limit_lengths
from rnnseq.tasks.base import RunData, Task
from rnnseq.training.sharding import epoch_batches

__all__ = ["ExamplesTask"]


class ExamplesTask(Task):
    """A task whose data is a list of examples (``tokens`` plus labels)."""

    # --------------------------------------------------------------- reading

    def read(self, path: str, cfg) -> list:
        data = read_dataset(path, self.name, format=cfg.data.format, column=cfg.data.column)
        return limit_lengths(data, cfg.data.max_length, cfg.data.on_long, path)

    def read_labelled(self, path: str, *, format, column, config) -> list:
        return read_dataset(path, self.name, format=format, column=column)

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
        once too, so a dev file the model could not score fails now, not after an epoch."""
        learned = schemes.to_learned(train, path=cfg.train)
        if vocabs is None:
            vocabs = self.build_vocabularies(learned, cfg)
        encoded = self.encode(learned, vocabs, path=cfg.train)
        if dev is not None:
            self.encode(schemes.to_learned(dev, path=dev_name), vocabs, path=dev_name)
        return RunData(vocabs, schemes, encoded, dev, dev_name, len(train), encoded.targets)

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
        )

    def batch(self, data: RunData, item) -> Any:
        return collate(data.train, item)

    # ------------------------------------------------------------ prediction

    def decode(self, predictor, ids: Any) -> Any:
        """One example's prediction from its best label ids (subclasses)."""
        raise NotImplementedError

    def empty_prediction(self) -> Any:
        """The prediction for an input without tokens."""
        raise NotImplementedError

    def best_ids(self, model, scores, lengths) -> list:
        """Best label id(s) per row of a batch."""
        raise NotImplementedError

    @torch.no_grad()
    def predict_tokens(self, predictor, sentences: list[list[str]], decode=None) -> list:
        """Predictions for token lists, in order; an empty list gets
        :meth:`empty_prediction`. ``decode(ids)`` turns a row's best ids into its answer
        (default :meth:`decode`)."""
        decode = decode or (lambda ids: self.decode(predictor, ids))
        out: list = [self.empty_prediction() for _ in sentences]
        nonempty = [i for i, s in enumerate(sentences) if s]
        if not nonempty:
            return out
        encoded = self.encode_tokens([sentences[i] for i in nonempty], predictor.vocabs)
        for rows in bucket_batches(encoded.lengths, predictor.batch_size, shuffle=False):
            batch = collate(encoded, rows).to(predictor.device)
            scores, _ = predictor.model.scores(batch)
            best = self.best_ids(predictor.model, scores, batch.lengths)
            for k, ids in zip(batch.indices, best, strict=True):
                out[nonempty[k]] = decode(ids)
        return out

    def predict_blocks(self, predictor, sentences: Iterable[Sequence[str]], *, chunk: int
                       ) -> Iterator[str]:  # fmt: skip
        """The output block of each token list, ``chunk`` lists at a time."""
        buffer: list[list[str]] = []
        for tokens in sentences:
            buffer.append(list(tokens))
            if len(buffer) >= chunk:
                yield from self._blocks(predictor, buffer)
                buffer = []
        if buffer:
            yield from self._blocks(predictor, buffer)

    def _blocks(self, predictor, sentences: list[list[str]]) -> Iterator[str]:
        predictions = self.predict_tokens(predictor, sentences)
        for tokens, pred in zip(sentences, predictions, strict=True):
            yield self.format_prediction(tokens, pred)

    def format_prediction(self, tokens: list[str], prediction: Any) -> str:
        """The ``rnnseq predict`` output block of one input."""
        raise NotImplementedError

    def predict_lines(self, predictor, lines, *, chunk: int, **options) -> Iterator[str]:
        return self.predict_blocks(predictor, (line.split() for line in lines), chunk=chunk)

    def predict_labelled(self, predictor, data, *, chunk: int) -> Iterator[str]:
        return self.predict_blocks(predictor, (e.tokens for e in data), chunk=chunk)

    # ------------------------------------------------------------ evaluation

    @torch.no_grad()
    def evaluate(self, predictor, data, path: str, objective=None, encoded=None) -> dict:
        """Loss, accuracy, macro-F1 (and span scores for span tags) on labelled examples."""
        from rnnseq.inference import ObjectiveTally

        tally = ObjectiveTally(predictor.model, objective)
        if encoded is None:
            encoded = self.encode_labelled(predictor, data, path)
        loss_sum = count = 0.0
        predicted: list = [None] * len(data)
        model = predictor.model
        for rows in bucket_batches(encoded.lengths, predictor.batch_size, shuffle=False):
            batch = collate(encoded, rows).to(predictor.device)
            scores, _ = model.scores(batch)
            total, n = model.eval_terms(batch, scores)
            loss_sum += float(total)
            count += float(n)
            tally.add(scores, batch)
            for k, row in zip(batch.indices, self.best_ids(model, scores, batch.lengths),
                              strict=True):  # fmt: skip
                predicted[k] = row
        result = {"loss": loss_sum / count if count else 0.0}
        result.update(self.score(predictor, data, predicted))
        return tally.into(result)

    def score(self, predictor, data: Sequence, predicted_ids: list) -> dict:
        """Accuracy, macro-F1, per-class (and span) scores of predicted ids against
        the examples' gold labels, with n_examples and n_tokens."""
        raise NotImplementedError

    # ------------------------------------------------------------- explain

    @torch.no_grad()
    def scores_of(self, predictor, tokens: list[str]):
        """(scores, lengths) of one token list, as a batch of one."""
        encoded = self.encode_tokens([tokens], predictor.vocabs)
        batch = collate(encoded, [0]).to(predictor.device)
        scores, _ = predictor.model.scores(batch)
        return scores, batch.lengths


def unknown_label(label: str, known: Sequence[str]) -> ValueError:
    """The error for a label the model does not know (naming some it does)."""
    return ValueError(f"label {label!r} is not one this model knows ({', '.join(known[:30])})")
