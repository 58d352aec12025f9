"""Using a trained model: predict, evaluate, explain, generate.

:class:`Predictor` wraps a :class:`~rnnseq.task_model.TaskModel` with its
vocabularies and its folder's description. It reads raw text the way training read
its data, batches it (length-sorted, order restored) and turns ids back into
labels, in the tag scheme of the training file — each of these through the
model's task object (:mod:`rnnseq.tasks`).

    >>> p = Predictor.load("runs/ewt-pos")                          # doctest: +SKIP
    >>> p.predict(["The cat sat on the mat ."])                      # doctest: +SKIP
    [['DET', 'NOUN', 'VERB', 'ADP', 'DET', 'NOUN', 'PUNCT']]
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch

from rnnseq.explanation import ExplainedStep, Explanation
from rnnseq.model_folder import FolderMeta, load_model_folder
from rnnseq.options import OptionError
from rnnseq.predict_batch import WordFeatures
from rnnseq.predict_options import (
    BATCH_SIZE,
    Evaluation,
    PredictSettings,
    check_device,
    check_for_task,
    check_values,
)
from rnnseq.preprocess import Vocabularies
from rnnseq.task_model import Objective, TaskModel
from rnnseq.text_input import CHUNK

__all__ = [
    "Predictor",
    "Explanation",
    "ExplainedStep",
    "ObjectiveTally",
    "resolve_device",
    "native_bf16",
]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """"auto" -> cuda when available, else cpu; "cuda" without a GPU is a ValueError; any
    other name is an OptionError naming ``device`` and the choices."""
    if not isinstance(device, torch.device):
        check_device("device", device)
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA GPU")
    return device


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` multiplies bfloat16 matrices natively: a CUDA GPU that supports
    bfloat16, or a CPU with AVX-512-BF16 or AMX (private torch probes; False if absent)."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    return any(getattr(torch.cpu, name, lambda: False)() for name in probes)


class Predictor:
    """A trained model ready for use (eval mode, no gradients).

    Args:
        model, vocabs, meta: what the model folder holds.
        device: where the model runs.
        batch_size: inputs (or windows of a long input) per batch.
        bf16: predict with bfloat16 matrix products (autocast); None: where the device
            has native bfloat16 (:func:`native_bf16`). Evaluation and explain always
            compute in float32, so reported figures are float32 figures.
    """

    def __init__(
        self,
        model: TaskModel,
        vocabs: Vocabularies,
        meta: FolderMeta,
        device: torch.device | str = "cpu",
        batch_size: int = 64,
        bf16: bool | None = False,
    ):
        self.model = model
        self.vocabs = vocabs
        self.meta = meta
        self.device = torch.device(device)
        self.batch_size = batch_size
        self.bf16 = native_bf16(self.device) if bf16 is None else bool(bf16)
        self.spellings: dict = {}  # word -> character ids, kept between batches
        self.word_features = WordFeatures()  # word -> character features, likewise

    @classmethod
    def load(cls, folder: str | Path, device: str = "auto", batch_size: int = BATCH_SIZE,
             bf16: bool | None = None) -> Predictor:  # fmt: skip
        """Load a model folder (see :mod:`rnnseq.model_folder`); ``device`` "auto" (the
        default, as for ``rnnseq train``), "cpu", "cuda" or "cuda:N"."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise OptionError(f"{{0}} must be an integer >= 1, got {batch_size!r}", "batch_size")
        dev = resolve_device(device)
        loaded = load_model_folder(folder, dev)
        return cls(loaded.model, loaded.vocabs, loaded.meta, dev, batch_size, bf16)

    @property
    def task(self) -> str:
        """The task's name: "classify", "tag" or "lm"."""
        return self.meta.task.name

    @property
    def labels(self) -> list[str]:
        """The labels the model writes: classes (classify), tags in the training file's
        scheme (tag), units (lm)."""
        return self.meta.task.labels(self)

    def predicting(self):
        """The context predictions run in: no gradients (:meth:`model_call` adds the rest)."""
        return torch.no_grad()

    @contextlib.contextmanager
    def model_call(self, distinct=None):
        """Around one call of the model on a prediction batch: bfloat16 products when
        ``bf16`` is set, and with ``distinct`` (:func:`rnnseq.predict_batch.rows_batch`)
        the character features of words met before taken from :attr:`word_features`."""
        autocast = torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)
        key = (self.bf16, self.device)
        with autocast, self.word_features.used_by(self.char_features, distinct, key):
            yield

    @property
    def char_features(self) -> torch.nn.Module | None:
        """The network's character-feature module (``net.embedder.chars``), or None."""
        return getattr(getattr(self.model.net, "embedder", None), "chars", None)

    # ---------------------------------------------------------------- predict

    def settings(self, *, probs: bool = False, lines: bool = False, **options
                 ) -> PredictSettings:  # fmt: skip
        """The predict options for this model, checked (OptionError names a field);
        ``lines``: for output lines (:meth:`predict_lines`)."""
        return PredictSettings.resolve(self.meta.task, probs=probs, lines=lines, **options)

    def predict(self, texts: Sequence[str] | Sequence[Sequence[str]], *, probs: bool = False,
                **options) -> list:  # fmt: skip
        """Predictions for a list of inputs, in order.

        A string is raw text (tag: tokenized by the built-in UD/PTB tokenizer unless
        ``pretokenized=True``; classify: split on whitespace unless
        ``pretokenized=False``); a list of strings is taken as its tokens. Answers:

        - classify: the label (None for a blank text); ``probs=True``: (label, p);
          ``top_k=K``: the K most probable (label, p) pairs;
        - tag: one tag per token ([] for a blank text); ``probs=True``: (tag, p) per
          token (a CRF's p is the marginal p(y_t | x)); ``top_k=K``: per token the K
          most probable (tag, p), in the scheme the model learned;
        - lm: each prompt's continuation ("" for a blank prompt; ``max_new``,
          ``temperature``, ``top_k``, ``seed``, ``stop`` as in ``rnnseq predict``).

        Options are those of ``rnnseq predict`` (``pretokenized``, ``top_k``,
        ``max_tokens``, ``max_new``, ``temperature``, ``seed``, ``stop``); one that does
        not apply to the model's task is an OptionError naming it.
        """
        if isinstance(texts, str):
            raise ValueError("texts must be a list of inputs, got one string: use predict([text])")
        settings = self.settings(probs=probs, **options)
        return self.meta.task.predict(self, list(texts), settings)

    def predict_spans(self, texts: Sequence[str] | Sequence[Sequence[str]], *,
                      pretokenized: bool | None = None) -> list[list[dict]]:  # fmt: skip
        """The entities of each input (a tagger of span tags): a list of {"text",
        "label", "start", "end", "score"} per input, ``text[start:end]`` being the
        entity's text (for a token list: offsets into its tokens joined by single
        spaces); ``score`` is the product of its tokens' tag probabilities."""
        if isinstance(texts, str):
            raise ValueError("texts must be a list of inputs, got one string")
        settings = self.settings(pretokenized=pretokenized)
        return self.meta.task.predict_spans(self, list(texts), settings)

    def predict_lines(self, lines: Iterable[str], *, chunk: int = CHUNK, **options
                      ) -> Iterator[str]:  # fmt: skip
        """What ``rnnseq predict`` writes: the output of each input line, streamed.

        Lines (with or without their line end) are read and answered ``chunk`` at a
        time, so memory stays flat for any input size; a long line is read in bounded
        windows. A blank line gives a blank result, so output stays aligned with the
        input. ``options`` as for :meth:`predict`, plus ``output`` ("tsv", "jsonl").
        """
        settings = self.settings(lines=True, **options)
        return self.meta.task.predict_lines(self, lines, settings, chunk=chunk)

    def predict_labelled(self, data, *, chunk: int = CHUNK, **options) -> Iterator[str]:
        """The output of each example of a labelled file (its tokens as read)."""
        settings = self.settings(lines=True, **options)
        return self.meta.task.predict_labelled(self, data, settings, chunk=chunk)

    def predict_conllu(self, path: str | Path, *, column: str | None = None, chunk: int = CHUNK
                       ) -> Iterator[bytes]:  # fmt: skip
        """The CoNLL-U file at ``path`` with the predicted tags in ``column`` (default: the
        model's training column, else UPOS); every other byte as it was."""
        self.settings(output="conllu", lines=True)
        return self.meta.task.predict_conllu(self, str(path), column, chunk=chunk)

    # --------------------------------------------------------------- evaluate

    def evaluate(self, path: str | Path, *, format: str | None = None, column: str | None = None,
                 confusion: str | Path | None = None, errors: str | Path | None = None
                 ) -> dict:  # fmt: skip
        """Scores on a labelled file: the keys of ``rnnseq evaluate --json`` plus
        "per_class". ``confusion``: also draw the confusion matrix as a PNG there;
        ``errors``: also write the wrongly labelled examples there (classify, tag)."""
        task = self.meta.task
        reports = None
        if confusion is not None or errors is not None:
            section = Evaluation(data=str(path), confusion=_text(confusion), errors=_text(errors))
            check_values([section])
            check_for_task([section], task.name)
            reports = (section.confusion, section.errors)
        data = task.read_labelled(path, format=format, column=column, config=self.meta.config)
        return self.evaluate_data(data, str(path), reports=reports)

    def encode_labelled(self, data, path: str):
        """Labelled data as ids in the model's label scheme (for :meth:`evaluate_data`)."""
        return self.meta.task.encode_labelled(self, data, path)

    @torch.no_grad()
    def evaluate_data(self, data, path: str, objective: Objective | None = None, encoded=None,
                      reports=None) -> dict:  # fmt: skip
        """Scores on already-read data (examples, or the unit stream for lm). With
        ``objective``, also "objective": the training loss on this data, on the scale
        of the training loss (same reductions, smoothing and weights). ``encoded``:
        the data already passed through :meth:`encode_labelled` (a training run
        encodes its dev set once, not every epoch). Always float32."""
        return self.meta.task.evaluate(self, data, path, objective, encoded, reports)

    # ---------------------------------------------------------------- explain

    @torch.no_grad()
    def explain(self, text: str, labels: Sequence[str] | str | None = None, *,
                pretokenized: bool | None = None) -> Explanation:  # fmt: skip
        """Each step's input, true label (given, else predicted), p_j and L_j = -ln p_j.

        classify: one step, the whole text, and ``labels`` one label. tag: one step per
        token (the text tokenized as :meth:`predict` tokenizes it), ``labels`` one tag per
        token (span tags in any scheme; p_j is that of the tag in the scheme the model
        learned); a CRF's p_j is the marginal p(y_j | x). lm: the text's own units are
        the labels (``labels`` must be None). Always float32.
        """
        task = self.meta.task
        tokens = self.settings(pretokenized=pretokenized)
        if isinstance(labels, str):
            labels = task.parse_labels(labels)
        return task.explain(self, text, labels, pretokenized=tokens.pretokenized)

    # --------------------------------------------------------------- generate

    def generate(self, prompt: str, max_new: int = 200, temperature: float = 0.8, seed: int = 0,
                 *, top_k: int | None = None, stop: str | None = None) -> str:  # fmt: skip
        """Continue ``prompt`` as the start of a line (lm; see ``rnnseq predict``): at most
        ``max_new`` units, ending before ``stop`` (None: a word model's line end, never
        for a character model; "" never)."""
        generate = getattr(self.meta.task, "generate", None)
        if generate is None:
            raise ValueError("generate needs a language model (--task lm)")
        return generate(self, prompt, max_new, temperature, seed, top_k=top_k, stop=stop)


def _text(path) -> str | None:
    return None if path is None else os.fspath(path)


class ObjectiveTally:
    """Σ total / Σ count of the training objective over evaluation batches."""

    def __init__(self, model: TaskModel, objective: Objective | None):
        self.model, self.objective = model, objective
        self.total = self.count = 0.0
        self.steps = 0  # real steps (tokens) of the batches

    def add(self, scores, batch) -> None:
        if self.objective is not None:
            total, count = self.model.objective(scores, batch, self.objective)
            self.total += float(total)
            self.count += 1.0 if count is None else float(count)
            self.steps += batch.n_tokens

    def into(self, result: dict) -> dict:
        """``objective`` (reduced as in training) and ``objective_per_step`` (its sum
        per real step, comparable with the loss in nats per step when it sums steps)."""
        if self.objective is not None:
            result["objective"] = self.total / self.count if self.count else 0.0
            result["objective_per_step"] = self.total / self.steps if self.steps else 0.0
        return result
