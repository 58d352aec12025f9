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

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import torch

from rnnseq.explanation import ExplainedStep, Explanation
from rnnseq.model_folder import FolderMeta, load_model_folder
from rnnseq.preprocess import Vocabularies
from rnnseq.task_model import Objective, TaskModel

__all__ = ["Predictor", "Explanation", "ExplainedStep", "ObjectiveTally", "resolve_device"]


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """ "auto" -> cuda when available, else cpu; "cuda" without a GPU is a ValueError."""
    if str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("--device cuda was asked for, but torch sees no CUDA GPU")
    return device


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
        """The task's name: "classify", "tag" or "lm"."""
        return self.meta.task.name

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
        (``max_new``, ``temperature`` and ``seed`` as in ``rnnseq predict``).
        An empty input is an error for classify, gives ``[]`` for tag, and for lm a
        line generated from scratch.
        """
        if isinstance(texts, str):
            raise ValueError("texts must be a list of inputs, got one string: use predict([text])")
        options = {"max_new": max_new, "temperature": temperature, "seed": seed}
        return self.meta.task.predict(self, texts, **options)

    def predict_lines(self, lines: Iterable[str], *, chunk: int = 256, **options) -> Iterator[str]:
        """What ``rnnseq predict`` writes: one output block per input line, streamed.

        classify: ``label\\n``; tag: ``token\\ttag\\n`` per token, then ``\\n``; lm:
        ``continuation\\n``. Lines are read and answered ``chunk`` at a time, so memory
        stays flat for any input size. A blank line gives a blank line (tag: the
        empty block; classify: no label), so output stays aligned with the input.
        """
        return self.meta.task.predict_lines(self, lines, chunk=chunk, **options)

    def predict_labelled(self, data, *, chunk: int = 256) -> Iterator[str]:
        """The output block of each example of a labelled file (its tokens as read)."""
        return self.meta.task.predict_labelled(self, data, chunk=chunk)

    # --------------------------------------------------------------- evaluate

    def evaluate(self, path: str | Path, *, format: str | None = None, column: str | None = None):
        """Scores on a labelled file (the keys of ``rnnseq evaluate --json``)."""
        task = self.meta.task
        data = task.read_labelled(path, format=format, column=column, config=self.meta.config)
        return self.evaluate_data(data, str(path))

    def encode_labelled(self, data, path: str):
        """Labelled data as ids in the model's label scheme (for :meth:`evaluate_data`)."""
        return self.meta.task.encode_labelled(self, data, path)

    @torch.no_grad()
    def evaluate_data(self, data, path: str, objective: Objective | None = None, encoded=None
                      ) -> dict:  # fmt: skip
        """Scores on already-read data (examples, or the unit stream for lm). With
        ``objective``, also "objective": the training loss on this data, on the scale
        of the training loss (same reductions, smoothing and weights). ``encoded``:
        the data already passed through :meth:`encode_labelled` (a training run
        encodes its dev set once, not every epoch)."""
        return self.meta.task.evaluate(self, data, path, objective, encoded)

    # ---------------------------------------------------------------- explain

    @torch.no_grad()
    def explain(self, text: str, labels: Sequence[str] | str | None = None) -> Explanation:
        """Each step's input, true label (given, else predicted), p_j and L_j = -ln p_j.

        classify: one step, the whole text, and ``labels`` one label. tag: one step per
        whitespace token, ``labels`` one tag per token (span tags in any scheme; p_j is
        that of the tag in the scheme the model learned); a CRF's p_j is the marginal
        p(y_j | x). lm: the text's own units are the labels (``labels`` must be None).
        """
        task = self.meta.task
        if isinstance(labels, str):
            labels = task.parse_labels(labels)
        return task.explain(self, text, labels)

    # --------------------------------------------------------------- generate

    def generate(
        self, prompt: str, max_new: int = 200, temperature: float = 0.8, seed: int = 0
    ) -> str:
        """Continue ``prompt`` as the start of a line (lm; see ``rnnseq predict``)."""
        generate = getattr(self.meta.task, "generate", None)
        if generate is None:
            raise ValueError("generate needs a language model (--task lm)")
        return generate(self, prompt, max_new, temperature, seed)


class ObjectiveTally:
    """Σ total / Σ count of the training objective over evaluation batches."""

    def __init__(self, model: TaskModel, objective: Objective | None):
        self.model, self.objective = model, objective
        self.total = self.count = 0.0

    def add(self, scores, batch) -> None:
        if self.objective is not None:
            total, count = self.model.objective(scores, batch, self.objective)
            self.total += float(total)
            self.count += 1.0 if count is None else float(count)

    def into(self, result: dict) -> dict:
        if self.objective is not None:
            result["objective"] = self.total / self.count if self.count else 0.0
        return result
