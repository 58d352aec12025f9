"""``rnnseq predict`` without torch: the exported ONNX graph run by onnxruntime.

A folder written by ``rnnseq export --onnx`` holds the network as ``model.onnx``
(docs/EXPORT.md). Importing torch alone takes 1.5-2 CPU s, more than a one-line
``rnnseq predict`` may take, so where the folder has the graph and onnxruntime is
installed, predict runs it instead (``--engine auto``, the default) and never imports
torch: :class:`OnnxPredictor` reads ``config.json``, ``vocab.json``, ``onnx.json`` and
``crf.json`` with json, turns token lists into the graph's inputs with NumPy, and
decodes the scores in NumPy (argmax and softmax, or for a CRF Viterbi and the
forward-backward marginals of :mod:`rnnseq.crf_numpy`). Reading the input and writing
the answers is the same code the PyTorch path runs
(:mod:`rnnseq.tasks.tag_lines`, :mod:`rnnseq.tasks.classify_lines`), so the two
engines write the same lines: the same tags and labels, the same probabilities up to
float32 rounding (tests/test_onnx_engine.py: 1e-5).

It serves taggers and classifiers, on the CPU, in float32 (as ``--no-bf16``); a
language model, ``--device cuda`` or ``--bf16`` run on torch (:func:`choose`).
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rnnseq.options import OptionError
from rnnseq.tasks.classify_lines import ClassifyLines
from rnnseq.tasks.example_lines import EVAL_TOKENS
from rnnseq.tasks.tag_lines import TagLines
from rnnseq.text_input import CHUNK

__all__ = ["OnnxPredictor", "choose", "tag_answers", "classify_answers"]

INSTALL_HINT = "pip install 'rnnseq[onnx]'"


# ------------------------------------------------------------------ which engine


def choose(use, engine: str, bf16: bool | None) -> OnnxPredictor | None:
    """The ONNX predictor for a ``rnnseq predict`` run, or None for the PyTorch one.

    ``use`` is the run's :class:`~rnnseq.predict_options.ModelUse`. ``engine`` "torch":
    None; "auto": the ONNX one when it can serve the run, else None, silently;
    "onnx": the ONNX one, or an OptionError saying why it cannot serve the run.
    """
    if engine == "torch":
        return None
    why = _why_not(use, bf16, _read_json(Path(use.model) / "config.json"))
    if why is None:
        return OnnxPredictor.load(use.model, batch_size=use.batch_size, threads=use.threads)
    if engine == "onnx":
        raise OptionError("{0} " + why, ("engine", "onnx"))
    return None


def _why_not(use, bf16: bool | None, config: Any) -> str | None:
    """Why the ONNX engine cannot serve this run (None: it can); ``config`` is the
    folder's config.json (None: unreadable)."""
    folder = Path(use.model)
    if str(use.device) not in ("auto", "cpu"):
        return f"runs on the CPU, not --device {use.device}"
    if bf16:
        return "computes in float32; leave out --bf16"
    if not isinstance(config, dict) or config.get("format_version") != 2:
        return f"needs a model folder of format 2: {folder}/config.json"
    if config.get("task") not in _TASKS:
        return f"serves tag and classify models, not task {config.get('task')}"
    files = config.get("files")
    if not isinstance(files, dict) or "onnx" not in files or "onnx_manifest" not in files:
        return f"needs the ONNX graph in {folder} (rnnseq export --onnx writes it)"
    if importlib.util.find_spec("onnxruntime") is None:
        return f"needs onnxruntime: {INSTALL_HINT}"
    return None


def _read_json(path: Path) -> Any:
    """The JSON in ``path``, or None when it cannot be read (the torch path says why)."""
    try:
        return _load_json(path)
    except ValueError:
        return None


# ------------------------------------------------------------------ the folder


class Schemes(NamedTuple):
    """config.json ``tag_scheme``: the training file's span scheme and the learned one."""

    source: str | None
    learned: str | None


@dataclass(frozen=True)
class DataOptions:
    format: str | None  # the training file's --format
    column: str | None  # its --column


@dataclass(frozen=True)
class RunFacts:
    """What prediction reads of the training run's options (config.json ``training``)."""

    train: str
    data: DataOptions


@dataclass(frozen=True)
class FolderMeta:
    """The folder's task object, tag schemes and training options, as prediction reads
    them (the PyTorch path's :class:`rnnseq.model_folder.FolderMeta`, without torch)."""

    task: TagLines | ClassifyLines
    schemes: Schemes
    config: RunFacts


@dataclass(frozen=True)
class Vocabularies:
    words: Any  # rnnseq.data.vocab.Vocab
    labels: Any
    chars: Any  # None: the model reads no characters


class OnnxPredictor:
    """A model folder's ONNX graph under onnxruntime, answering as
    :class:`rnnseq.inference.Predictor` answers ``rnnseq predict``.

    Args:
        session: the onnxruntime session of ``model.onnx``.
        vocabs, meta: what the folder's JSON files hold.
        crf: (start, transitions, end) of ``crf.json`` for a CRF tagger, else None.
        batch_size: inputs (or windows of a long input) per batch.
        max_word_length: characters of a word the graph reads.
    """

    def __init__(self, session, vocabs: Vocabularies, meta: FolderMeta, *, crf=None,
                 batch_size: int = 128, max_word_length: int = 20):  # fmt: skip
        self.session, self.vocabs, self.meta = session, vocabs, meta
        self.crf = crf
        self.batch_size = batch_size
        self.max_word_length = max_word_length
        self.reads_chars = any(i.name == "chars" for i in session.get_inputs())
        self.spellings: dict[str, list[int]] = {}  # word -> character ids, kept

    @classmethod
    def load(cls, folder: str | Path, *, batch_size: int = 128, threads: int | None = None
             ) -> OnnxPredictor:  # fmt: skip
        """Read an exported folder (``rnnseq export --onnx``).

        Raises:
            ValueError: a file is missing or damaged (one line naming it).
        """
        import onnxruntime

        from rnnseq.data.vocab import Vocab

        folder = Path(folder)
        config = _load_json(folder / "config.json")
        files = config["files"]
        info = _load_json(_member(folder, files["onnx_manifest"]))
        vocab_json = _load_json(_member(folder, files["vocabularies"]))
        try:
            vocabs = Vocabularies(
                Vocab.from_dict(vocab_json["words"]),
                Vocab.from_dict(vocab_json["labels"]),
                None if vocab_json["chars"] is None else Vocab.from_dict(vocab_json["chars"]),
            )
            schemes = Schemes(config["tag_scheme"]["source"], config["tag_scheme"]["learned"])
            data = config["training"]["data"]
            facts = RunFacts(config["training"]["train"], DataOptions(data["format"],
                                                                      data["column"]))
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{folder}: damaged model folder ({type(e).__name__}: {e})") from None
        crf = None
        if info.get("crf"):
            tables = _load_json(_member(folder, info["crf"]))
            crf = tuple(np.asarray(tables[k], dtype=np.float64)
                        for k in ("start", "transitions", "end"))  # fmt: skip
        options = onnxruntime.SessionOptions()
        if threads is not None:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        graph = _member(folder, files["onnx"])
        try:
            session = onnxruntime.InferenceSession(str(graph), options,
                                                   providers=["CPUExecutionProvider"])  # fmt: skip
        except Exception as e:  # onnxruntime's own errors: a damaged or foreign file
            message = " ".join(str(e).split())[:200]
            raise ValueError(f"{graph}: onnxruntime cannot load it ({message})") from None
        task = OnnxTag() if config["task"] == "tag" else OnnxClassify()
        meta = FolderMeta(task, schemes, facts)
        return cls(session, vocabs, meta, crf=crf, batch_size=batch_size,
                   max_word_length=int(info.get("max_word_length", 20)))  # fmt: skip

    @property
    def task(self) -> str:
        return self.meta.task.name

    # ---------------------------------------------------------------- predict

    def settings(self, *, lines: bool = True, **options):
        """The predict options for this model, checked (OptionError names a field)."""
        from rnnseq.predict_options import PredictSettings

        return PredictSettings.resolve(self.meta.task, lines=lines, **options)

    def predict_lines(self, lines, *, chunk: int, **options) -> Iterator[str]:
        """What ``rnnseq predict`` writes for raw input lines."""
        return self.meta.task.predict_lines(self, lines, self.settings(**options), chunk=chunk)

    def predict_labelled(self, data, *, chunk: int = CHUNK, **options) -> Iterator[str]:
        """What ``rnnseq predict --format F`` writes for a labelled file's examples."""
        return self.meta.task.predict_labelled(self, data, self.settings(**options),
                                               chunk=chunk)  # fmt: skip

    def predict_conllu(self, path, *, column: str | None = None, chunk: int = CHUNK
                       ) -> Iterator[bytes]:  # fmt: skip
        """``rnnseq predict --output conllu``: the CoNLL-U file with the tags filled in."""
        self.settings(output="conllu")
        return self.meta.task.predict_conllu(self, str(path), column, chunk=chunk)

    # ---------------------------------------------------------------- the graph

    def scores(self, rows: list[list[str]]) -> tuple[np.ndarray, np.ndarray]:
        """(scores, lengths) of one padded batch of (non-empty) token lists.

        Shape: scores (N, C) (classify) or (N, T, C) (tag), float32; lengths (N,).
        """
        feeds = self.inputs(rows)
        try:
            scores = self.session.run(None, feeds)[0]
        except Exception as e:  # e.g. a vocabulary that does not fit the graph (tampering)
            message = " ".join(str(e).split())[:200]
            raise ValueError(f"onnxruntime could not run the model's graph: {message}") from None
        return scores, feeds["lengths"]

    def inputs(self, rows: list[list[str]]) -> dict[str, np.ndarray]:
        """The graph's inputs (docs/EXPORT.md, pre-processing): word ids padded with 0,
        and each word's first ``max_word_length`` character ids, left-aligned."""
        lengths = np.array([len(r) for r in rows], dtype=np.int64)  # (N,)
        n, t = len(rows), int(lengths.max())
        types: dict[str, int] = {}
        flat = np.array([types.setdefault(w, len(types)) for r in rows for w in r])  # (P,)
        words = list(types)
        real = np.arange(t)[None, :] < lengths[:, None]  # (N, T)
        tokens = np.zeros((n, t), dtype=np.int64)  # (N, T)
        tokens[real] = np.asarray(self.vocabs.words.encode(words), dtype=np.int64)[flat]
        feeds = {"tokens": tokens, "lengths": lengths}
        if self.reads_chars:
            spelled = self.spell(words)
            sizes = np.array([len(s) for s in spelled], dtype=np.int64)  # (U,)
            width = max(1, int(sizes.max()))
            table = np.zeros((len(words), width), dtype=np.int64)  # (U, W)
            table[np.arange(width)[None, :] < sizes[:, None]] = np.fromiter(
                (c for s in spelled for c in s), dtype=np.int64, count=int(sizes.sum()))
            chars = np.zeros((n, t, width), dtype=np.int64)  # (N, T, W)
            chars[real] = table[flat]
            feeds["chars"] = chars
        return feeds

    def spell(self, words: list[str]) -> list[list[int]]:
        """Each word's character ids (its first ``max_word_length`` characters)."""
        known, encode, cut = self.spellings, self.vocabs.chars.encode, self.max_word_length
        if len(known) > 1 << 17:
            known.clear()
        out = []
        for w in words:
            ids = known.get(w)
            if ids is None:
                ids = known[w] = encode(w[:cut])
            out.append(ids)
        return out


def _member(folder: Path, name: object) -> Path:
    """A file named in config.json: a plain name inside the folder."""
    if not isinstance(name, str) or not name or Path(name).name != name or name in (".", ".."):
        raise ValueError(f"{folder}/config.json: file names must be plain names, got {name!r}")
    return folder / name


def _load_json(path: Path) -> Any:
    """The JSON in ``path``; a ValueError naming the file when it cannot be read."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except OSError as e:
        raise ValueError(f"{path}: cannot read ({e.strerror or e})") from None
    except ValueError as e:
        raise ValueError(f"{path}: not valid JSON ({e})") from None


# ------------------------------------------------------------------ the tasks


def _batched(predictor: OnnxPredictor, rows: list[list[str]], answer) -> list:
    """``answer(scores, lengths)``'s answers for each row, in order; the rows go through
    the graph in length-sorted batches (as the PyTorch path batches them)."""
    from rnnseq.data.buckets import bucket_batches

    out: list = [None] * len(rows)
    for indices in bucket_batches([len(r) for r in rows], predictor.batch_size,
                                  shuffle=False, max_tokens=EVAL_TOKENS):  # fmt: skip
        scores, lengths = predictor.scores([rows[i] for i in indices])
        for k, a in zip(indices, answer(scores, lengths), strict=True):
            out[k] = a
    return out


class OnnxTag(TagLines):
    """A tagger's answers from the graph's scores."""

    def run_rows(self, predictor, rows, *, probs=False, top_k=None) -> list:
        return _batched(predictor, rows, lambda scores, lengths: tag_answers(
            scores, lengths, predictor.crf, probs=probs, top_k=top_k))  # fmt: skip


class OnnxClassify(ClassifyLines):
    """A classifier's answers from the graph's scores."""

    def run_rows(self, predictor, rows, *, probs=False, top_k=None) -> list:
        return _batched(predictor, rows,
                        lambda scores, _: classify_answers(scores, top_k=top_k))  # fmt: skip


_TASKS = ("tag", "classify")


def tag_answers(scores: np.ndarray, lengths: np.ndarray, crf, *, probs: bool,
                top_k: int | None) -> list:  # fmt: skip
    """Per row: (tag ids, their probabilities or None, the ``top_k`` (id, p) per token
    or None), as :meth:`rnnseq.tasks.tag.TagTask.row_answers` gives them. Tags: argmax
    of the scores, or Viterbi with ``crf`` (start, transitions, end); probabilities:
    softmax, or the CRF's marginals p(y_t | x).

    Shape: scores (N, T, C), lengths (N,).
    """
    from rnnseq.crf_numpy import marginals, viterbi

    if crf is not None:
        best = viterbi(scores, lengths, *crf)
    else:
        best = [row[:n] for row, n in zip(scores.argmax(axis=2).tolist(), lengths.tolist(),
                                           strict=True)]  # fmt: skip
    if not probs and top_k is None:
        return [(ids, None, None) for ids in best]
    p = marginals(scores, lengths, *crf) if crf is not None else _softmax(scores)  # (N, T, C)
    out = []
    for i, ids in enumerate(best):
        k = len(ids)
        chosen = p[i, np.arange(k), ids].tolist()  # (k,)
        out.append((ids, chosen, None if top_k is None else _top(p[i, :k], top_k)))
    return out


def classify_answers(scores: np.ndarray, *, top_k: int | None) -> list:
    """Per row: (label id, its probability, the ``top_k`` (id, p) or None), as
    :meth:`rnnseq.tasks.classify.ClassifyTask.row_answers` gives them.

    Shape: scores (N, C).
    """
    p = _softmax(scores)  # (N, C)
    best = p.argmax(axis=1)  # (N,)
    top = [None] * len(p) if top_k is None else _top(p, top_k)
    return [(int(b), float(p[i, b]), top[i]) for i, b in enumerate(best)]


def _softmax(scores: np.ndarray) -> np.ndarray:
    from rnnseq.reference import softmax

    return softmax(scores, axis=-1)


def _top(p: np.ndarray, k: int) -> list:
    """The ``k`` most probable (id, p) of each row of ``p`` (..., C), most probable
    first (ties: the lower id first)."""
    order = np.argsort(-p, axis=-1, kind="stable")[..., :k]  # (..., K)
    values = np.take_along_axis(p, order, axis=-1)
    return [list(zip(a, b, strict=True)) for a, b in zip(order.tolist(), values.tolist(),
                                                         strict=True)]  # fmt: skip
