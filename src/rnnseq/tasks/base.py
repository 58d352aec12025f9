"""``Task``: what a task is, as the trainer, the predictor and the model folder use it.

Each method is one thing that differs between tasks. The orchestration around them
(:class:`~rnnseq.task_model.TaskModel`, :class:`~rnnseq.inference.Predictor`,
:mod:`rnnseq.training`, :mod:`rnnseq.model_folder`) never looks at a task's name.

The data of a run travels as :class:`RunData`: examples (classify, tag) or a unit
stream (lm), as read, and the same encoded as ids.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import Tensor, nn

    from rnnseq.data import Batch
    from rnnseq.explanation import Explanation
    from rnnseq.inference import Predictor
    from rnnseq.losses import LossTerms
    from rnnseq.models import ModelConfig
    from rnnseq.preprocess import SchemeMap, Vocabularies
    from rnnseq.task_model import Objective, TaskModel
    from rnnseq.training.auto_defaults import DataSummary
    from rnnseq.training.config import TrainConfig

__all__ = ["Task", "RunData"]


@dataclass
class RunData:
    """A training run's data, ready for batching."""

    vocabs: Vocabularies
    schemes: SchemeMap
    # encoded training data: EncodedDataset (classify, tag), or unit ids (lm: a TokenSpan
    # of a token file when training, a list of ids from prepare)
    train: Any
    # dev data: examples as read (classify, tag), or units (lm: a TokenSpan when
    # training, a list of units from prepare); None without
    dev: Any
    dev_name: str | None  # what to call the dev data in messages
    n_train: int  # examples (classify, tag) or units (lm)
    class_targets: Any = None  # what class weights are counted over (None: none)
    plan_cache: dict = field(default_factory=dict)  # what a task keeps between epochs
    # The word embedding's initial weight from --embeddings: float32 (V, d), row i for
    # word id i of vocabs.words; None without pretrained vectors (or on resume).
    word_vectors: Any = None
    # The run's config with the defaults chosen from the data, when the task made the
    # data itself and chose them (:meth:`Task.stream_run_data` with ``resolve``); None:
    # the config is the caller's.
    config: Any = None


class Task:
    """One task: its data, network, objective, decoding and outputs."""

    name: str = ""
    # What one step's loss is counted per in "loss" of rnnseq evaluate (for reports).
    loss_unit: str = "step"
    # Whether the loss has one term per time step (time reductions apply).
    per_step: bool = True

    def __str__(self) -> str:
        return self.name

    # ------------------------------------------------------------------ data

    def check_config(self, cfg: TrainConfig) -> None:
        """Refuse options this task cannot honour together (an OptionError naming them);
        called when a config is validated, before any file is read."""

    def read(self, path: str, cfg: TrainConfig) -> Any:
        """A training or dev file, as read with the run's data options."""
        raise NotImplementedError

    def stream_run_data(
        self,
        cfg: TrainConfig,
        vocabs: Vocabularies | None,
        schemes: SchemeMap | None,
        resolve: Callable[[DataSummary], TrainConfig] | None = None,
    ) -> RunData | None:
        """The run's data, made by the task without reading the files into memory (a
        language model's token files, a training file of examples too large to read),
        or None: read with :meth:`read` and made by :meth:`prepare`. ``vocabs`` and
        ``schemes``: a resumed run's, else None. ``resolve``: a new run's way to the
        config with the defaults chosen from a :class:`DataSummary` (:meth:`data_summary`);
        a task that uses it returns that config in ``RunData.config``."""
        return None

    def prepare_files(self, cfg: TrainConfig) -> list[tuple[str, Any]]:
        """``rnnseq prepare``: encode the run's files ahead of training, as training would;
        returns (file, what was written for it). Only tasks that stream their data have
        something to prepare."""
        from rnnseq.options import OptionError

        raise OptionError(
            "{0} reads its files into memory when it trains: there is nothing to prepare "
            "(rnnseq prepare encodes the token files of --task lm)",
            ("task", self.name),
        )

    def training_memory(self, path: str, cfg: TrainConfig) -> int | None:
        """About how many bytes the data read from ``path`` takes in memory while training
        (an estimate on the low side, checked before reading), or None: not estimated."""
        return None

    def read_labelled(self, path: str, *, format: str | None, column: str | None,
                      config: TrainConfig) -> Any:  # fmt: skip
        """A labelled file to evaluate a model trained with ``config`` on."""
        raise NotImplementedError

    def data_summary(self, train: Any, *, has_dev: bool) -> DataSummary | None:
        """What the training defaults chosen from the data depend on
        (:mod:`rnnseq.training.auto_defaults`), or None: this task's defaults are fixed."""
        return None

    def schemes(self, train: Any, cfg: TrainConfig) -> SchemeMap:
        """How labels are rewritten for learning (span tag schemes; none by default)."""
        from rnnseq.preprocess import SchemeMap

        return SchemeMap(None, None)

    def prepare(
        self,
        train: Any,
        dev: Any,
        dev_name: str | None,
        cfg: TrainConfig,
        vocabs: Vocabularies | None,
        schemes: SchemeMap,
    ) -> RunData:
        """Vocabularies (built from ``train`` unless given) and the encoded training data."""
        raise NotImplementedError

    def sizes(self, vocabs: Vocabularies) -> dict[str, int]:
        """The network's sizes from the vocabularies (vocab_size, num_labels,
        char_vocab_size; and added_words when a vectors file added words)."""
        sizes = {
            "vocab_size": len(vocabs.words),
            "num_labels": len(vocabs.labels),
            "char_vocab_size": 0 if vocabs.chars is None else len(vocabs.chars),
        }
        if vocabs.added_words:
            sizes["added_words"] = vocabs.added_words
        return sizes

    # --------------------------------------------------------------- network

    def build_network(self, config: ModelConfig, *, bf16: bool = False) -> nn.Module:
        """A freshly initialised network for ``config``."""
        raise NotImplementedError

    def initialise(self, model: TaskModel, data: RunData) -> None:
        """Put what the data brings into a freshly built model: the pretrained word
        vectors (``data.word_vectors``) into its word embedding."""
        if data.word_vectors is not None:
            model.net.embedder.load_word_vectors(data.word_vectors)

    def check_folder(self, config: TrainConfig, schemes: SchemeMap) -> None:
        """Raise ValueError when a saved folder's fields disagree with this task."""
        if schemes.source is not None or schemes.learned is not None:
            raise ValueError(f"tag_scheme applies to task tag only, not to task {self.name}")

    def scores(self, model: TaskModel, batch: Batch, state: Any = None) -> tuple[Tensor, Any]:
        """The network's scores for a batch (and, for a stream, the state after it)."""
        return model.net(batch.tokens, batch.lengths, batch.chars), None

    # ------------------------------------------------------------- objective

    def loss_terms(
        self, model: TaskModel, batch: Batch, objective: Objective, state: Any = None
    ) -> tuple[LossTerms, Any]:
        """The training loss of a batch as (total, count), and the state after it."""
        scores, _ = self.scores(model, batch, state)
        return self.objective_terms(model, scores, batch, objective), None

    def objective_terms(
        self, model: TaskModel, scores: Tensor, batch: Batch, objective: Objective
    ) -> LossTerms:
        """The training objective of ``scores`` as (total, count) — the loss library's
        terms for the objective's reductions; count None = no division."""
        raise NotImplementedError

    def eval_terms(self, model: TaskModel, batch: Batch, scores: Tensor) -> LossTerms:
        """The contract's evaluation loss as (sum, count): cross-entropy in nats per
        counted step (per example for classify)."""
        raise NotImplementedError

    def class_weight_targets(self, data: RunData) -> Sequence:
        """The training targets "balanced" class weights are counted over."""
        return [] if data.class_targets is None else data.class_targets

    # ------------------------------------------------------------- training

    def epoch_plan(self, data: RunData, cfg: TrainConfig, epoch: int, rank: int,
                   world_size: int) -> list:  # fmt: skip
        """This process's batches of one epoch, in order (cheap items; see :meth:`batch`)."""
        raise NotImplementedError

    def batch(self, data: RunData, item: Any) -> Batch:
        """The Batch of one epoch-plan item."""
        raise NotImplementedError

    @property
    def carries_state(self) -> bool:
        """Whether the encoder state flows from one batch to the next (a text stream)."""
        return False

    def selection_score(self, scores: dict) -> list[float]:
        """Dev scores compared in order, higher is better: accuracy, then minus the loss."""
        return [scores["accuracy"], -scores["loss"]]

    # ------------------------------------------------------------ prediction

    def evaluate(self, predictor: Predictor, data: Any, path: str, objective=None,
                 encoded=None, reports=None) -> dict:  # fmt: skip
        """Scores on labelled data (the keys of ``rnnseq evaluate --json``); ``reports``:
        (confusion PNG path, errors path), each None or a file to write."""
        raise NotImplementedError

    def encode_labelled(self, predictor: Predictor, examples: Any, path: str) -> Any:
        """Labelled data as ids, once (a training run scores its dev set every epoch)."""
        return None

    def labels(self, predictor: Predictor) -> list[str]:
        """The labels the model writes (tags in the training file's scheme, classes, or a
        language model's units)."""
        raise NotImplementedError

    def check_predict(self, settings: Any) -> None:
        """Raise OptionError for a combination of predict options this task refuses
        (each option alone is checked by rnnseq.predict_options)."""

    def predict(self, predictor: Predictor, texts: Sequence, settings: Any) -> list:
        """Predictions for a list of raw inputs, in order (a blank input: a blank answer);
        ``settings``: :class:`rnnseq.predict_options.PredictSettings`."""
        raise NotImplementedError

    def predict_spans(self, predictor: Predictor, texts: Sequence, settings: Any) -> list:
        """The entities of each input, with character offsets (span tags only)."""
        raise ValueError(f"predict_spans needs a tagger of span tags, not a {self.name} model")

    def predict_lines(self, predictor: Predictor, lines: Iterable[str], settings: Any, *,
                      chunk: int) -> Iterator[str]:  # fmt: skip
        """What ``rnnseq predict`` writes for raw input lines (one result per line, in
        ``settings.output``), streamed: lines are read ``chunk`` at a time."""
        raise NotImplementedError

    def reads_labelled_input(self, format: str | None) -> bool:
        """Whether ``rnnseq predict --format F`` reads a labelled file (else raw lines)."""
        return format is not None

    def predict_labelled(self, predictor: Predictor, data: Any, settings: Any, *,
                         chunk: int) -> Iterator[str]:  # fmt: skip
        """What ``rnnseq predict --format F`` writes for a labelled file's inputs."""
        raise ValueError(f"a {self.name} model predicts raw text only; leave out --format")

    def predict_conllu(self, predictor: Predictor, path: str, column: str | None, *,
                       chunk: int) -> Iterator[bytes]:  # fmt: skip
        """``rnnseq predict --output conllu``: the CoNLL-U file with the predicted column
        filled in (tag only; the option is refused for other tasks)."""
        raise ValueError(f"--output conllu needs a tagger, not a {self.name} model")

    def explain(self, predictor: Predictor, text: str, labels: Sequence[str] | None, *,
                pretokenized: bool | None = None) -> Explanation:  # fmt: skip
        """Each step's input, true label, p_j and L_j = -ln p_j (``text`` tokenized as
        predict tokenizes a raw input)."""
        raise NotImplementedError

    def parse_labels(self, text: str) -> list[str]:
        """``rnnseq explain --labels`` as a list."""
        return [text.strip()]
