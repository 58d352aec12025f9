"""Using a trained model: predict, evaluate, explain, generate.

:class:`Predictor` wraps a :class:`~rnnseq.task_model.TaskModel` with its
vocabularies. It reads raw text the way training read its data, batches it
(length-sorted, order restored), and turns ids back into labels, in the tag
scheme of the training file.

    >>> p = Predictor.load("runs/ewt-pos")                          # doctest: +SKIP
    >>> p.predict(["The cat sat on the mat ."])                      # doctest: +SKIP
    [['DET', 'NOUN', 'VERB', 'ADP', 'DET', 'NOUN', 'PUNCT']]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnseq.data import EOS, IGNORE_INDEX, bucket_batches, collate, read_dataset
from rnnseq.data.lm_stream import lm_stream_batches
from rnnseq.evaluation import classification_scores, perplexity, tagging_scores
from rnnseq.model_folder import FolderMeta, load_model_folder
from rnnseq.preprocess import Vocabularies, encode_examples, encode_texts
from rnnseq.tag_schemes import convert, detect_scheme
from rnnseq.task_model import LossOptions, TaskModel

__all__ = ["Predictor", "Explanation", "ExplainedStep", "resolve_device"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """ "auto" -> cuda when available, else cpu; "cuda" without a GPU is a ValueError."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA GPU")
    return device


@dataclass
class ExplainedStep:
    input: str  # the step's input (token, character, or the whole text for classify)
    label: str  # the true label (given) or the predicted one
    probability: float  # p_j, the model's probability of that label
    loss: float  # L_j = -ln p_j


@dataclass
class Explanation:
    steps: list[ExplainedStep]
    labels_given: bool  # True: labels came from the user (or the text itself, for lm)

    @property
    def total(self) -> float:
        """Σ_j L_j."""
        return sum(s.loss for s in self.steps)

    @property
    def mean(self) -> float:
        """Σ_j L_j / T (0 for no step)."""
        return self.total / len(self.steps) if self.steps else 0.0

    def to_dict(self) -> dict:
        return {
            "steps": [vars(s) for s in self.steps],
            "labels_given": self.labels_given,
            "sum": self.total,
            "mean": self.mean,
        }


class Predictor:
    """A trained model ready for use (eval mode, no gradients)."""

    def __init__(
        self,
        model: TaskModel,
        vocabs: Vocabularies,
        meta: FolderMeta,
        device: torch.device | str = "cpu",
        batch_size: int = 64,
    ):
        self.model = model
        self.vocabs = vocabs
        self.meta = meta
        self.device = torch.device(device)
        self.batch_size = batch_size

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto", batch_size: int = 64) -> Predictor:
        """Load a model folder (see :mod:`rnnseq.model_folder`)."""
        dev = resolve_device(device)
        loaded = load_model_folder(folder, dev)
        return cls(loaded.model, loaded.vocabs, loaded.meta, dev, batch_size)

    @property
    def task(self) -> str:
        return self.meta.task

    # ---------------------------------------------------------------- predict

    def predict(
        self,
        texts: Sequence[str] | Sequence[Sequence[str]],
        *,
        max_new: int = 200,
        temperature: float = 0.8,
        seed: int = 0,
    ) -> list:
        """Predictions for a list of raw inputs, in order.

        classify: one label per text; tag: one tag per token (a text is split on
        whitespace, or give token lists); lm: each prompt's continuation
        (see :meth:`generate`, which ``max_new``, ``temperature`` and ``seed`` go to).
        An empty input is an error for classify, gives ``[]`` for tag, and for lm a
        line generated from scratch.
        """
        if isinstance(texts, str):
            raise ValueError("texts must be a list of inputs, got one string: use predict([text])")
        if self.task == "lm":
            return [self.generate(t, max_new, temperature, seed) for t in texts]
        sentences = [t.split() if isinstance(t, str) else list(t) for t in texts]
        if self.task == "classify":
            for i, s in enumerate(sentences):
                if not s:
                    raise ValueError(f"texts[{i}] is empty: a classifier needs at least one word")
        return self._predict_tokens(sentences)

    def predict_lines(
        self,
        lines: Iterable[str],
        *,
        chunk: int = 256,
        max_new: int = 200,
        temperature: float = 0.8,
        seed: int = 0,
    ) -> Iterator[str]:
        """What ``rnnseq predict`` writes: one output block per input line, streamed.

        classify: ``label\\n``; tag: ``token\\ttag\\n`` per token, then ``\\n``; lm:
        ``continuation\\n``. Lines are read and answered ``chunk`` at a time, so memory
        stays flat for any input size. A blank line gives a blank line (tag: the
        empty block; classify: no label), so output stays aligned with the input.
        """
        if self.task == "lm":
            for line in lines:
                yield self.generate(line.rstrip("\r\n"), max_new, temperature, seed) + "\n"
            return
        yield from self.predict_blocks((line.split() for line in lines), chunk=chunk)

    def predict_blocks(
        self, sentences: Iterable[Sequence[str]], *, chunk: int = 256
    ) -> Iterator[str]:
        """classify, tag: the output block of :meth:`predict_lines` for each token list
        (so a labelled file's tokens are predicted as they were read, spaces and all)."""
        if self.task == "lm":
            raise ValueError("predict_blocks is for classify and tag; an lm continues prompts")
        buffer: list[list[str]] = []
        for tokens in sentences:
            buffer.append(list(tokens))
            if len(buffer) >= chunk:
                yield from self._blocks(buffer)
                buffer = []
        if buffer:
            yield from self._blocks(buffer)

    def _blocks(self, sentences: list[list[str]]) -> Iterator[str]:
        predictions = self._predict_tokens(sentences)
        for tokens, pred in zip(sentences, predictions, strict=True):
            if self.task == "classify":
                yield ("" if pred is None else pred) + "\n"
            else:
                yield "".join(f"{w}\t{t}\n" for w, t in zip(tokens, pred, strict=True)) + "\n"

    @torch.no_grad()
    def _predict_tokens(self, sentences: list[list[str]], scheme: str | None = None) -> list:
        """Labels (classify) or tag lists (tag) for token lists; an empty one gets None
        (classify) or [] (tag). Tags are written in ``scheme`` (None: the training file's)."""
        out: list = [None if self.task == "classify" else [] for _ in sentences]
        nonempty = [i for i, s in enumerate(sentences) if s]
        if not nonempty:
            return out
        encoded = encode_texts([sentences[i] for i in nonempty], self.vocabs, self.task)
        labels = self.vocabs.labels
        for rows in bucket_batches(encoded.lengths, self.batch_size, shuffle=False):
            batch = collate(encoded, rows).to(self.device)
            scores, _ = self.model.scores(batch)
            for k, ids in zip(
                batch.indices, self.model.predict_ids(scores, batch.lengths), strict=True
            ):
                if self.task == "classify":
                    out[nonempty[k]] = labels.decode([ids])[0]
                else:
                    tags = labels.decode(ids)
                    out[nonempty[k]] = self.meta.schemes.predicted_to(tags, scheme)
        return out

    # --------------------------------------------------------------- evaluate

    def evaluate(self, path: str | Path, *, format: str | None = None, column: str | None = None):
        """Scores on a labelled file (the keys of ``rnnseq evaluate --json``)."""
        kw = {"format": format, "column": column}
        if self.task == "lm":
            kw["unit"] = self.meta.unit
        data = read_dataset(path, self.task, **kw)
        return self.evaluate_data(data, str(path))

    def encode_labelled(self, examples, path: str):
        """Labelled examples as ids in the model's label scheme (for :meth:`evaluate_data`)."""
        learned = self.meta.schemes.to_learned(examples) if self.task == "tag" else examples
        return encode_examples(learned, self.vocabs, self.task, path=path)

    @torch.no_grad()
    def evaluate_data(
        self, data, path: str, objective: LossOptions | None = None, encoded=None
    ) -> dict:
        """Scores on already-read data (examples, or the unit stream for lm). With
        ``objective``, also "objective": the training loss on this data, on the scale
        of the training loss (same reductions, smoothing and weights). ``encoded``:
        the examples already passed through :meth:`encode_labelled` (a training run
        encodes its dev set once, not every epoch)."""
        tally = _Objective(self.model, objective)
        if self.task == "lm":
            return self._evaluate_lm(data, tally)
        examples = data
        if encoded is None:
            encoded = self.encode_labelled(examples, path)
        loss_sum = count = 0.0
        predicted: list = [None] * len(examples)
        for rows in bucket_batches(encoded.lengths, self.batch_size, shuffle=False):
            batch = collate(encoded, rows).to(self.device)
            scores, _ = self.model.scores(batch)
            total, n = self.model.eval_terms(batch, scores)
            loss_sum += float(total)
            count += float(n)
            tally.add(scores, batch)
            ids = self.model.predict_ids(scores, batch.lengths)
            for k, row in zip(batch.indices, ids, strict=True):
                predicted[k] = row
        labels = self.vocabs.labels
        if self.task == "classify":
            gold = [e.label for e in examples]
            scores = classification_scores(gold, labels.decode(predicted))
            n_tokens = len(examples)
        else:
            gold = [e.tags for e in examples]
            file_scheme = detect_scheme(gold)
            pred = [
                self.meta.schemes.predicted_to(labels.decode(p), file_scheme) for p in predicted
            ]
            scores = tagging_scores(gold, pred)
            n_tokens = sum(len(g) for g in gold)
        result = {
            "loss": loss_sum / count if count else 0.0,
            "accuracy": scores["accuracy"],
            "macro_f1": scores["macro_f1"],
        }
        if "span_f1" in scores:
            result["span_f1"] = scores["span_f1"]
            result["tag_scheme"] = scores["tag_scheme"]
        result["n_examples"] = len(examples)
        result["n_tokens"] = n_tokens
        result["per_class"] = scores["per_class"]
        return tally.into(result)

    def _evaluate_lm(self, units: list[str], tally: _Objective, rows: int = 16) -> dict:
        ids = self.vocabs.words.encode(units)
        loss_sum = count = correct = 0.0
        state = None
        bptt = max(self.meta.bptt, 64)
        for batch in lm_stream_batches(ids, min(rows, max(1, len(ids) - 1)), bptt):
            batch = batch.to(self.device)
            scores, state = self.model.scores(batch, state)
            total, n = self.model.eval_terms(batch, scores)
            loss_sum += float(total)
            count += float(n)
            tally.add(scores, batch)
            real = batch.targets != IGNORE_INDEX
            correct += float(((scores.argmax(-1) == batch.targets) & real).sum())
        loss = loss_sum / count if count else 0.0
        result = {
            "loss": loss,
            "accuracy": correct / count if count else 0.0,
            "perplexity": perplexity(loss),
            "n_examples": _count_lines(units),
            "n_tokens": int(count),
        }
        return tally.into(result)

    # ---------------------------------------------------------------- explain

    @torch.no_grad()
    def explain(self, text: str, labels: Sequence[str] | str | None = None) -> Explanation:
        """Each step's input, true label (given, else predicted), p_j and L_j = -ln p_j.

        classify: one step, the whole text, and ``labels`` one label. tag: one step per
        whitespace token, ``labels`` one tag per token (span tags in any scheme; p_j is
        that of the tag in the scheme the model learned); a CRF's p_j is the marginal
        p(y_j | x). lm: the text's own units are the labels (``labels`` must be None);
        see :meth:`_explain_lm`.
        """
        if self.task == "lm":
            if labels is not None:
                raise ValueError(
                    "--labels does not apply to lm: the text's next units are the labels"
                )
            return self._explain_lm(text)
        tokens = text.split()
        if not tokens:
            raise ValueError("--text is empty")
        if isinstance(labels, str):
            labels = labels.split() if self.task == "tag" else [labels]
        encoded = encode_texts([tokens], self.vocabs, self.task)
        batch = collate(encoded, [0]).to(self.device)
        scores, _ = self.model.scores(batch)
        probs = self.model.probabilities(scores, batch.lengths)[0]  # (C,) or (T, C)
        vocab = self.vocabs.labels
        if self.task == "classify":
            if labels is not None and len(labels) != 1:
                raise ValueError(f"--labels must be one label for classify, got {len(labels)}")
            label = labels[0] if labels else vocab.decode([int(probs.argmax())])[0]
            p = float(probs[self._label_id(label)])
            return Explanation([_step(" ".join(tokens), label, p)], labels is not None)
        if labels is not None and len(labels) != len(tokens):
            raise ValueError(
                f"--labels must give one tag per token: {len(tokens)} tokens, {len(labels)} tags"
            )
        if labels is None:
            learned = vocab.decode(self.model.predict_ids(scores, batch.lengths)[0])
            shown = self.meta.schemes.predicted_to(learned, None)
        else:  # span tags may be given in any scheme: score them in the learned one
            shown = list(labels)
            learned = self._to_learned(shown)
            for given, tag in zip(shown, learned, strict=True):
                if tag not in vocab:
                    self._label_id(given)  # names the tag the user gave
        steps = [
            _step(w, s, float(probs[j, self._label_id(t)]))
            for j, (w, s, t) in enumerate(zip(tokens, shown, learned, strict=True))
        ]
        return Explanation(steps, labels is not None)

    def _to_learned(self, tags: list[str]) -> list[str]:
        schemes = self.meta.schemes
        given = detect_scheme([tags])
        if schemes.learned is None or given is None or given == schemes.learned:
            return tags
        return convert(tags, given, schemes.learned)

    def _label_id(self, label: str) -> int:
        if label not in self.vocabs.labels:
            known = ", ".join(self.vocabs.labels.tokens[:30])
            raise ValueError(f"label {label!r} is not one this model knows ({known})")
        return self.vocabs.labels.encode([label])[0]

    def _line_start(self) -> int | None:
        """The id of the unit that precedes every line of the training text ("\\n" for
        characters, <eos> for words), or None when the vocabulary lacks it."""
        words = self.vocabs.words
        unit = "\n" if self.meta.unit == "char" else EOS
        return words.encode([unit])[0] if unit in words else None

    def _prompt_ids(self, text: str) -> tuple[list[str], list[int]]:
        """The units of ``text`` (characters, or whitespace words) and their ids."""
        units = list(text) if self.meta.unit == "char" else text.split()
        return units, self.vocabs.words.encode(units)

    def _explain_lm(self, text: str) -> Explanation:
        """Step j reads unit j-1 (the line start before the first unit) and is scored
        on unit j, as when the text is a line of the training file. Without a line
        start in the vocabulary, the first unit is context only."""
        units, ids = self._prompt_ids(text)
        start = self._line_start()
        shown = units
        if start is not None:
            shown = [self.vocabs.words.decode([start])[0], *units]
            ids = [start, *ids]
        if len(ids) < 2:
            raise ValueError("--text is empty: give at least one unit for the model to predict")
        tokens = torch.tensor([ids[:-1]], device=self.device)  # (1, T)
        lengths = torch.tensor([len(ids) - 1])  # (1,)
        hidden, _ = self.model.net.features(tokens, lengths, return_state=False)  # (1, T, H)
        probs = torch.softmax(self.model.net.output(hidden).float(), -1)[0]  # (T, V)
        steps = [
            _step(shown[j], shown[j + 1], float(probs[j, ids[j + 1]])) for j in range(len(ids) - 1)
        ]
        return Explanation(steps, True)

    # --------------------------------------------------------------- generate

    @torch.no_grad()
    def generate(
        self, prompt: str, max_new: int = 200, temperature: float = 0.8, seed: int = 0
    ) -> str:
        """Continue ``prompt`` as the start of a line (lm).

        Each step feeds the last unit and draws the next from softmax(z / temperature)
        (temperature 0: the most likely unit), never <pad> or <unk>. Generation stops
        when the model ends the line (it draws "\\n" or <eos>, which is not returned)
        or after ``max_new`` units, so the result is one line, possibly empty. The same
        prompt and seed give the same continuation.
        """
        if self.task != "lm":
            raise ValueError("generate needs a language model (--task lm)")
        if isinstance(max_new, bool) or not isinstance(max_new, int) or max_new < 0:
            raise ValueError(f"max_new must be an integer >= 0, got {max_new!r}")
        if not (isinstance(temperature, (int, float)) and 0 <= temperature < math.inf):
            raise ValueError(f"temperature must be a number >= 0, got {temperature!r}")
        words = self.vocabs.words
        _, ids = self._prompt_ids(prompt)
        start = self._line_start()
        if start is not None:
            ids = [start, *ids]
        if not ids:  # no line start and no prompt: begin from <unk>
            ids = [words.unk_id]
        ends = {words.encode([u])[0] for u in ("\n", EOS) if u in words}  # line ends
        generator = torch.Generator(device="cpu").manual_seed(seed)
        state = None
        out: list[str] = []
        for _ in range(max_new):
            tokens = torch.tensor([ids], device=self.device)  # (1, T)
            hidden, state = self.model.net.features(tokens, torch.tensor([len(ids)]), state=state)
            logits = self.model.net.output(hidden[0, -1]).float().cpu()  # (V,)
            logits[[words.pad_id, words.unk_id]] = -math.inf
            if temperature == 0:
                nxt = int(logits.argmax())
            else:
                probs = torch.softmax(logits / temperature, -1)  # (V,)
                nxt = int(torch.multinomial(probs, 1, generator=generator))
            if nxt in ends:
                break
            out.append(words.decode([nxt])[0])
            ids = [nxt]
        return "".join(out) if self.meta.unit == "char" else " ".join(out)


def _count_lines(units: Sequence[str]) -> int:
    """Lines of an lm unit stream: its line ends, plus an unfinished last line."""
    ends = sum(1 for u in units if u in ("\n", EOS))
    return ends + (1 if units and units[-1] not in ("\n", EOS) else 0)


class _Objective:
    """Σ total / Σ count of the training objective over evaluation batches."""

    def __init__(self, model: TaskModel, opts: LossOptions | None):
        self.model, self.opts = model, opts
        self.total = self.count = 0.0

    def add(self, scores, batch) -> None:
        if self.opts is not None:
            total, count = self.model.objective(scores, batch, self.opts)
            self.total += float(total)
            self.count += 1.0 if count is None else float(count)

    def into(self, result: dict) -> dict:
        if self.opts is not None:
            result["objective"] = self.total / self.count if self.count else 0.0
        return result


def _step(inp: str, label: str, p: float) -> ExplainedStep:
    return ExplainedStep(inp, label, p, -math.log(p) if p > 0 else math.inf)
