"""The model folder: everything needed to use a trained model, and nothing to execute.

Layout (every file written atomically; a copied folder works on its own)::

    config.json         format version, task, sizes, tag schemes, the run's options
    vocab.json          word, label and character vocabularies
    model.safetensors   the weights of the best model on dev (or the last, without dev)
    metrics.json        per-epoch train/dev losses and dev scores, best epoch
    loss_curve.png      train and dev loss per epoch
    resume.safetensors  the latest training state, for ``rnnseq train --resume``

config.json, format version 2 (one source for each fact)::

    {"format_version": 2, "rnnseq_version": "0.1.0",
     "task": "tag",                                   the task, stored once
     "sizes": {"vocab_size": .., "num_labels": .., "char_vocab_size": ..},
     "tag_scheme": {"source": "IOB2", "learned": "IOBES"},   (both null but for span tags)
     "files": {"weights": "model.safetensors", ...},
     "training": {"train": .., "dev": .., "out": .., "data": {..}, "model": {..},
                  "objective": {..}, "training": {..}}}    the resolved TrainConfig

The network is ``ModelConfig.of(training.model, **sizes)``; the loss kind, the
language model's unit and window come from the same training options. Choices that
belong to one run of the code, not to the model (the encoder implementation, bf16
training), are not part of the network. Format 1 folders (written before 2026-12)
are read by :func:`_from_format_1`, which refuses one whose fields disagree.

Loading trusts nothing in the folder: only JSON and safetensors are read (never
pickle); the config is validated field by field; every tensor's name and shape
must match the model the config describes; file names may not leave the folder;
a folder written by a newer format version is refused with a message saying so.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnseq import __version__
from rnnseq.models import ModelConfig
from rnnseq.models.config import ModelOptions
from rnnseq.options import OptionError
from rnnseq.preprocess import SchemeMap, Vocabularies
from rnnseq.serialization import (
    ModelFolderError,
    atomic_write_bytes,
    atomic_write_json,
    load_tensors,
    member_path,
    read_json,
    save_tensors,
)
from rnnseq.task_model import TaskModel
from rnnseq.tasks import TASK_NAMES, get_task
from rnnseq.tasks.base import Task
from rnnseq.training.config import TrainConfig

__all__ = [
    "FORMAT_VERSION",
    "FolderMeta",
    "LoadedModel",
    "ModelFolderError",
    "build_task_model",
    "create_folder",
    "load_model_folder",
    "write_weights",
    "unique_state",
    "write_metrics",
]

FORMAT_VERSION = 2
CONFIG = "config.json"
FILES = {
    "weights": "model.safetensors",
    "vocabularies": "vocab.json",
    "metrics": "metrics.json",
    "loss_curve": "loss_curve.png",
    "resume": "resume.safetensors",
}
_SIZES = ("vocab_size", "num_labels", "char_vocab_size")


@dataclass
class FolderMeta:
    """What config.json says besides the sizes: the task, the run's options, the schemes."""

    task: Task
    config: TrainConfig  # the run's resolved options
    schemes: SchemeMap  # span tag schemes (source, learned); both None for other tags

    @property
    def loss(self) -> str:
        """"ce" or "crf"."""
        return self.config.objective.loss


@dataclass
class LoadedModel:
    model: TaskModel
    vocabs: Vocabularies
    meta: FolderMeta
    folder: Path


def build_task_model(
    model_config: ModelConfig, meta: FolderMeta, vocabs: Vocabularies, *, bf16: bool = False
) -> TaskModel:
    """The TaskModel that config and vocabularies describe (fresh weights)."""
    use_crf = meta.loss == "crf"
    constraints = None
    if use_crf:
        constraints = meta.task.crf_constraints(vocabs.labels.tokens, meta.schemes)
    return TaskModel(
        meta.task, model_config, use_crf=use_crf, crf_constraints=constraints, bf16=bf16
    )


def network_config(meta: FolderMeta, vocabs: Vocabularies) -> ModelConfig:
    """The network of a run: its model options with the vocabularies' sizes."""
    return ModelConfig.of(meta.config.model, **meta.task.sizes(vocabs))


def create_folder(
    out: str | os.PathLike,
    model_config: ModelConfig,
    vocabs: Vocabularies,
    meta: FolderMeta,
    *,
    overwrite: bool,
) -> Path:
    """Create ``out`` with config.json and vocab.json, atomically: the files are written
    into a hidden sibling folder that is renamed into place, so a crash leaves no
    partial folder. An existing folder is replaced only with ``overwrite``."""
    out = Path(out)
    if out.exists() and not overwrite:
        raise ModelFolderError(
            f"{out} already exists; use --overwrite to replace it or --resume to continue it"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{os.getpid()}"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        atomic_write_json(staging / FILES["vocabularies"], vocabs.to_dict())
        atomic_write_json(staging / CONFIG, config_json(model_config, meta))
        if out.exists():
            shutil.rmtree(out)
        os.replace(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    return out


def config_json(model_config: ModelConfig, meta: FolderMeta) -> dict:
    """config.json of format 2 (see the module docstring)."""
    training = meta.config.to_dict()
    del training["task"]
    return {
        "format_version": FORMAT_VERSION,
        "rnnseq_version": __version__,
        "task": meta.task.name,
        "sizes": {k: getattr(model_config, k) for k in _SIZES},
        "tag_scheme": meta.schemes.to_dict(),
        "files": dict(FILES),
        "training": training,
    }


def write_weights(path: str | os.PathLike, model: TaskModel, metadata=None) -> None:
    """Save the model's parameters and buffers as safetensors, atomically.

    Tied parameters (one tensor under two names) are stored once, under the first name.
    """
    save_tensors(path, unique_state(model), metadata)


def unique_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The state dict with each tensor once: tied names after the first are dropped."""
    seen: set[int] = set()
    out = {}
    for name, tensor in model.state_dict().items():
        key = tensor.data_ptr()
        if key in seen and tensor.numel():
            continue
        seen.add(key)
        out[name] = tensor
    return out


def write_metrics(folder: Path, metrics: dict) -> None:
    """metrics.json and the loss-curve PNG, both atomically."""
    atomic_write_json(folder / FILES["metrics"], metrics)
    atomic_write_bytes(folder / FILES["loss_curve"], _loss_curve_png(metrics))


def _loss_curve_png(metrics: dict) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    epochs = metrics.get("epochs", [])
    fig = Figure(figsize=(6, 4), dpi=100)
    ax = fig.add_subplot()
    xs = [e["epoch"] for e in epochs]
    ax.plot(xs, [e["train_loss"] for e in epochs], "o-", label="train")
    dev = [(e["epoch"], e["dev_objective"]) for e in epochs if "dev_objective" in e]
    if dev:
        ax.plot([d[0] for d in dev], [d[1] for d in dev], "s-", label="dev")
    if metrics.get("best_epoch"):
        ax.axvline(metrics["best_epoch"], color="grey", linestyle=":", label="best")
    ax.set_xlabel("epoch")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    ax.set_ylabel(f"loss ({metrics.get('loss_label', 'training objective')})")
    ax.set_title(f"rnnseq {metrics.get('task', '')}: loss per epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


# --------------------------------------------------------------------------
# Loading.
# --------------------------------------------------------------------------


def load_model_folder(folder: str | os.PathLike, device: str | torch.device = "cpu"):
    """Read a model folder into a :class:`LoadedModel` (model in eval mode on ``device``).

    Raises:
        ModelFolderError: the folder is missing, damaged, tampered with or too new
            (one line naming the file and what is wrong).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelFolderError(f"{folder}: not a model folder (no such directory)")
    config_path = folder / CONFIG
    if not config_path.exists():
        raise ModelFolderError(f"{folder}: not a model folder (no {CONFIG})")
    raw = read_json(config_path)
    if not isinstance(raw, dict):
        raise ModelFolderError(f"{config_path}: expected a JSON object")
    version = raw.get("format_version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ModelFolderError(
            f"{config_path}: format_version must be a positive integer, got {_show(version)}"
        )
    if version > FORMAT_VERSION:
        raise ModelFolderError(
            f"{config_path}: written by a newer rnnseq (format version {_show(version)}; this "
            f"rnnseq {__version__} reads up to {FORMAT_VERSION}); upgrade rnnseq to load it"
        )
    try:
        if version == 1:
            raw = _from_format_1(raw)
        meta, sizes = _meta(raw)
        model_config = ModelConfig.of(meta.config.model, **sizes)
    except (ValueError, TypeError) as e:
        raise ModelFolderError(f"{config_path}: {_one_line(e)}") from None
    files = _member_files(folder, raw.get("files"), config_path)
    vocab_path = files["vocabularies"]
    try:
        vocabs = Vocabularies.from_dict(read_json(vocab_path))
    except ModelFolderError:
        raise
    except ValueError as e:
        raise ModelFolderError(f"{vocab_path}: {_one_line(e)}") from None
    _check_sizes(model_config, vocabs, config_path)

    weights_path = files["weights"]
    tensors, _ = load_tensors(weights_path)
    _check_finite(tensors, weights_path)
    # Compare the file with the model the config describes before allocating that
    # model: a tampered config (hidden=16384, layers=32) must not make us allocate
    # hundreds of gigabytes; once the shapes match, the model is no bigger than the file.
    with torch.device("meta"):
        skeleton = build_task_model(model_config, meta, vocabs)
    _check_tensors(skeleton, tensors, weights_path)
    model = build_task_model(model_config, meta, vocabs)
    load_weights(model, tensors, weights_path)
    model.to(device).eval()
    return LoadedModel(model=model, vocabs=vocabs, meta=meta, folder=folder)


def _member_files(folder: Path, files: object, config_path: Path) -> dict[str, Path]:
    """The folder's files named in config.json, each checked to be a plain name inside it."""
    if not isinstance(files, dict):
        raise ModelFolderError(
            f"{config_path}: files must be a JSON object naming the folder's files"
        )
    for role in ("weights", "vocabularies"):
        if role not in files:
            raise ModelFolderError(f"{config_path}: files names no {role} file")
    # Every name is checked, also those this function does not open: none may leave
    # the folder (absolute paths, "..", sub-folders, links to elsewhere).
    return {str(role): member_path(folder, name) for role, name in files.items()}


def _check_finite(tensors: dict[str, torch.Tensor], source) -> None:
    """Training stops at the first NaN or inf, so saved weights are finite; others are damage."""
    for name, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelFolderError(
                f"{source}: tensor {name} holds NaN or infinite values; the weights are damaged"
            )


def _check_tensors(model: torch.nn.Module, tensors: dict[str, torch.Tensor], source) -> None:
    """Every tensor of ``model`` (which may live on the meta device) is in ``tensors``
    with its shape and dtype, and nothing else is (tied names may be stored once)."""
    expected = model.state_dict()
    unknown = sorted(set(tensors) - set(expected))
    if unknown:
        raise ModelFolderError(f"{source}: unexpected tensors {unknown[:5]} for this model")
    for name, tensor in tensors.items():
        want = expected[name]
        if tuple(tensor.shape) != tuple(want.shape) or tensor.dtype != want.dtype:
            raise ModelFolderError(
                f"{source}: tensor {name} has shape {tuple(tensor.shape)} {tensor.dtype}, "
                f"the config needs {tuple(want.shape)} {want.dtype}"
            )
    # named_parameters() yields a tied parameter once, under its first name.
    needed = {name for name, _ in model.named_parameters()}
    needed |= {name for name, _ in model.named_buffers() if name in expected}
    missing = sorted(needed - set(tensors))
    if missing:
        raise ModelFolderError(f"{source}: missing tensors {missing[:5]}")


def load_weights(model: torch.nn.Module, tensors: dict[str, torch.Tensor], source) -> None:
    """Copy ``tensors`` into ``model``, refusing unknown, missing or mis-shaped entries."""
    _check_tensors(model, tensors, source)
    # Tied names absent from the file share storage with one that is present.
    model.load_state_dict(tensors, strict=False)


def _show(value: object) -> str:
    """A value from an untrusted file, for a message: its repr, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:300]


def _meta(raw: dict) -> tuple[FolderMeta, dict]:
    """The folder's task, options and schemes, and the network's sizes (format 2)."""
    name = raw.get("task")
    if name not in TASK_NAMES:
        names = ", ".join(TASK_NAMES[:-1]) + " or " + TASK_NAMES[-1]
        raise ValueError(f"task must be {names}, got {_show(name)}")
    task = get_task(name)
    training = raw.get("training")
    if not isinstance(training, dict):
        raise ValueError("training must be a JSON object with the run's options")
    if "task" in training:
        raise ValueError("training holds a task of its own; the task is stored once, at the top")
    sizes = raw.get("sizes")
    if not isinstance(sizes, dict) or set(sizes) != set(_SIZES):
        raise ValueError(f"sizes must be a JSON object with {', '.join(_SIZES)}")
    try:
        config = TrainConfig.from_dict({**training, "task": name}).resolved()
    except (OptionError, TypeError) as e:
        raise ValueError(f"training: {e}") from None
    schemes = SchemeMap.from_dict(raw.get("tag_scheme"))
    task.check_folder(config, schemes)
    return FolderMeta(task=task, config=config, schemes=schemes), sizes


def _from_format_1(raw: dict) -> dict:
    """A format-1 config.json as format 2.

    Format 1 stored the task twice (``task`` and ``model.task``), the loss kind, unit
    and window beside the training options, and every training option whatever the
    task; the network (``model``) is what the weights were made with, so it wins over
    the training record. A folder whose two tasks disagree is refused.
    """
    model = raw.get("model")
    if not isinstance(model, dict):
        raise ValueError("model must be a JSON object")
    task = raw.get("task")
    if model.get("task") != task:
        raise ValueError(
            f"task says {_show(task)} but model.task says {_show(model.get('task'))}; "
            "the folder was edited or damaged"
        )
    training = raw.get("training", {})
    if not isinstance(training, dict):
        raise ValueError("training must be a JSON object")
    if training.get("task", task) != task:
        other = _show(training["task"])
        raise ValueError(f"task says {_show(task)} but training.task says {other}")
    arch = {f.name for f in dataclasses.fields(ModelOptions)}
    unknown = sorted(set(model) - arch - set(_SIZES) - {"task", "implementation", "bf16"})
    if unknown:
        raise ValueError(f"ModelConfig has no field {unknown[0]!r}")
    options = {k: v for k, v in training.items() if k != "task"}
    options.update({k: v for k, v in model.items() if k in arch})
    options.update(loss=raw.get("loss"), unit=raw.get("unit"), bptt=raw.get("bptt"))
    options["bf16"] = model.get("bf16", options.get("bf16", False))
    options.setdefault("train", "(not recorded)")
    options.setdefault("out", "(not recorded)")
    try:
        config = TrainConfig(task=task, **options).at_task_defaults()
    except OptionError as e:
        raise ValueError(f"training: {e}") from None
    training2 = config.to_dict()
    del training2["task"]
    missing = [k for k in _SIZES if k not in model]
    if missing:
        raise ValueError(f"ModelConfig.{missing[0]} is missing")
    return {
        "format_version": FORMAT_VERSION,
        "task": task,
        "sizes": {k: model[k] for k in _SIZES},
        "tag_scheme": raw.get("tag_scheme"),
        "files": raw.get("files"),
        "training": training2,
    }


def _check_sizes(config: ModelConfig, vocabs: Vocabularies, source) -> None:
    checks = [
        ("vocab_size", config.vocab_size, len(vocabs.words), "words"),
        ("num_labels", config.num_labels, len(vocabs.labels), "labels"),
        (
            "char_vocab_size",
            config.char_vocab_size,
            0 if vocabs.chars is None else len(vocabs.chars),
            "chars",
        ),
    ]
    for field, value, size, name in checks:
        if value != size:
            raise ModelFolderError(
                f"{source}: model.{field} is {value} but the {name} vocabulary has {size} entries"
            )
