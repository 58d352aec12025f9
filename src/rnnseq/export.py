"""``rnnseq export``: a model folder made fit to hand over.

The exported folder holds what using the model needs and nothing else — the weights,
config, vocabularies, metrics and loss curve, copied unchanged, but not the resume
checkpoint (three times the model's size) — plus a model card, ``README.md``
(:mod:`rnnseq.model_card`), and with ``onnx=True`` the network as an ONNX graph
(:mod:`rnnseq.onnx_export`). It loads with :func:`rnnseq.load` and predicts and scores
exactly as the folder it came from.

The folder appears whole or not at all: everything is written into a hidden staging
folder beside ``out`` that is renamed into place at the end; on any error the staging
folder (and any parent folder made for it) is removed.
"""

from __future__ import annotations

import datetime
import hashlib
import os
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from rnnseq import __version__
from rnnseq.model_card import CardFacts, DataFile, render_card
from rnnseq.model_folder import (
    CONFIG,
    FILES,
    FORMAT_VERSION,
    config_json,
    load_model_folder,
    network_config,
    unique_state,
)
from rnnseq.serialization import (
    ModelFolderError,
    atomic_write_bytes,
    atomic_write_json,
    fsync_folder,
    read_json,
)

__all__ = ["ExportResult", "export_folder", "CARD", "ONNX_FILES"]

CARD = "README.md"
# role in config.json "files" -> file name, for what --onnx adds.
ONNX_FILES = {"onnx": "model.onnx", "onnx_manifest": "onnx.json", "crf": "crf.json"}
_COPIED = ("weights", "vocabularies", "metrics", "loss_curve")  # roles of FILES kept


@dataclass
class ExportResult:
    out: Path
    files: list[str]  # the exported folder's files
    test_scores: dict | None  # rnnseq evaluate's result on --test
    onnx_check: dict | None  # onnx.json's "check" with --onnx


def export_folder(
    model: str | os.PathLike,
    out: str | os.PathLike,
    *,
    test: str | os.PathLike | None = None,
    format: str | None = None,
    column: str | None = None,
    onnx: bool = False,
    overwrite: bool = False,
    date: datetime.date | None = None,
) -> ExportResult:
    """Write the shippable folder ``out`` for the model folder ``model``.

    Args:
        model: a model folder written by ``rnnseq train``.
        out: the folder to write; it must not exist, unless ``overwrite`` (then it must
            be a model folder or empty, and is replaced).
        test: a labelled file scored as ``rnnseq evaluate`` scores it, for the card.
        format, column: how to read ``test`` (default: as the training data was read).
        onnx: also write model.onnx, onnx.json (and crf.json for a CRF tagger).
        date: the export date on the card (default: today, UTC).

    Raises:
        ModelFolderError: ``model`` is not a loadable model folder, ``out`` exists or
            cannot be written, or onnx/onnxruntime are missing for ``onnx``.
        DataError: ``test`` cannot be read or scored.
    """
    source, out = Path(model), Path(out)
    if onnx:
        from rnnseq.onnx_export import require_onnx

        require_onnx()
    loaded = load_model_folder(source, "cpu")
    _check_out(source, out, overwrite)
    raw = read_json(source / CONFIG)

    from rnnseq.inference import Predictor

    predictor = Predictor(loaded.model, loaded.vocabs, loaded.meta, "cpu")
    config = loaded.meta.config
    test_scores = None
    if test is not None:
        fmt = format if format is not None else config.data.format
        col = column if column is not None else config.data.column
        test_scores = predictor.evaluate(str(test), format=fmt, column=col)

    target = Path(os.path.abspath(out))  # "." and ".." resolved: a real name to stage beside
    made = _missing_parents(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.partial-{os.getpid()}"
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    done = False
    try:
        staging.mkdir()
        files = _copy_files(source, raw.get("files", {}), staging)
        onnx_manifest = None
        if onnx:
            onnx_manifest = _write_onnx(loaded, staging, files)
        network = network_config(loaded.meta, loaded.vocabs)
        folder_config = config_json(network, loaded.meta)
        files["model_card"] = CARD
        folder_config["files"] = files
        atomic_write_json(staging / CONFIG, folder_config)
        facts = _facts(
            loaded, raw, target, network, test, test_scores, staging, onnx_manifest, date
        )
        atomic_write_bytes(staging / CARD, render_card(facts).encode("utf-8"))
        if target.exists():  # overwrite: move the old folder aside, then drop it
            os.replace(target, old)
        os.replace(staging, target)
        fsync_folder(target.parent)
        done = True
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)
        if not done:
            for folder in made:  # deepest first; only if still empty
                try:
                    folder.rmdir()
                except OSError:
                    break
    return ExportResult(
        out=out,
        files=sorted(p.name for p in target.iterdir()),
        test_scores=test_scores,
        onnx_check=None if onnx_manifest is None else onnx_manifest["check"],
    )


# ---------------------------------------------------------------- the folder


def _check_out(source: Path, out: Path, overwrite: bool) -> None:
    """Refuse an ``out`` that exists (unless ``overwrite`` and it is a model folder or
    empty), that is the source folder, or whose nearest existing parent is not writable."""
    from rnnseq.training.folder import check_writable

    if out.exists():
        if out.resolve() == source.resolve():
            raise ModelFolderError(f"{out}: --out must be a new folder, not the model folder")
        if not overwrite:
            raise ModelFolderError(f"{out} already exists; use --overwrite to replace it")
        if not out.is_dir() or (any(out.iterdir()) and not (out / CONFIG).exists()):
            raise ModelFolderError(
                f"{out} exists and is not a model folder; --overwrite replaces only a model "
                "folder or an empty folder"
            )
    check_writable(out)


def _missing_parents(out: Path) -> list[Path]:
    """The folders above ``out`` (absolute) that do not exist yet, deepest first."""
    missing = []
    parent = out.parent
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    return missing


def _copy_files(source: Path, files: dict, staging: Path) -> dict[str, str]:
    """Copy the files using the model needs (byte for byte); returns config.json's
    ``files`` for them. The resume checkpoint and files an earlier export added are not
    copied (the latter are made anew)."""
    from rnnseq.serialization import member_path

    kept = {}
    for role in _COPIED:
        name = files.get(role, FILES[role])
        path = member_path(source, name)
        if path.is_file():
            shutil.copyfile(path, staging / name)
            kept[role] = name
    return kept


def _write_onnx(loaded, staging: Path, files: dict[str, str]) -> dict:
    """model.onnx, crf.json (CRF taggers) and onnx.json in ``staging``; returns onnx.json."""
    from rnnseq.onnx_export import crf_tables, export_onnx, manifest

    model, meta = loaded.model, loaded.meta
    metadata = {
        "rnnseq_version": __version__,
        "task": meta.task.name,
        "vocabularies": FILES["vocabularies"],
    }
    check = export_onnx(model, staging / ONNX_FILES["onnx"], metadata=metadata)
    files["onnx"] = ONNX_FILES["onnx"]
    tables = crf_tables(model)
    crf_file = None
    if tables is not None:
        crf_file = ONNX_FILES["crf"]
        atomic_write_json(staging / crf_file, {"tags": loaded.vocabs.labels.tokens, **tables})
        files["crf"] = crf_file
    info = manifest(model, meta.schemes, check, crf_file=crf_file)
    atomic_write_json(staging / ONNX_FILES["onnx_manifest"], info)
    files["onnx_manifest"] = ONNX_FILES["onnx_manifest"]
    return info


# ---------------------------------------------------------------- the card's facts


def _facts(loaded, raw, out, network, test, test_scores, staging, onnx_manifest, date) -> CardFacts:
    meta, model = loaded.meta, loaded.model
    config = meta.config
    metrics_path = staging / FILES["metrics"]
    metrics = read_json(metrics_path) if metrics_path.exists() else None
    dev_scores, dev_epoch = _dev_scores(metrics)
    data_files = [_data_file("training data", config.train)]
    if config.dev is not None:
        data_files.append(_data_file("dev data", config.dev))
    versions = {
        "rnnseq (training)": str(raw.get("rnnseq_version", "not recorded")),
        "rnnseq (export)": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }
    if onnx_manifest is not None:
        import onnx
        import onnxruntime

        versions["onnx"] = onnx.__version__
        versions["onnxruntime"] = onnxruntime.__version__
    files = {p.name: p.stat().st_size for p in sorted(staging.iterdir()) if p.name != CARD}
    when = date or datetime.datetime.now(datetime.timezone.utc).date()
    return CardFacts(
        folder_name=out.name,
        task=meta.task,
        config=config,
        network=network,
        schemes=meta.schemes,
        vocabs=loaded.vocabs,
        parameters=sum(t.numel() for t in unique_state(model).values() if t.is_floating_point()),
        has_crf=model.crf is not None,
        metrics=metrics,
        dev_scores=dev_scores,
        dev_epoch=dev_epoch,
        test_scores=test_scores,
        data_files=data_files,
        test_file=None if test is None else _data_file("test data", os.fspath(test)),
        files=files,
        versions=versions,
        format_version=FORMAT_VERSION,
        date=when.isoformat(),
        onnx=onnx_manifest,
    )


def _dev_scores(metrics: dict | None) -> tuple[dict[str, float], int | None]:
    """The kept epoch's dev scores (``dev_`` keys, prefix removed) and that epoch."""
    if not metrics:
        return {}, None
    best = metrics.get("best") or {}
    scores = {k[4:]: v for k, v in best.items() if k.startswith("dev_")}
    return scores, (metrics.get("best_epoch") if scores else None)


def _data_file(role: str, path: str) -> DataFile:
    """Size and SHA-256 of the file at ``path`` now, or only its name if it is gone."""
    p = Path(path)
    if not p.is_file():
        return DataFile(role, path)
    digest = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return DataFile(role, path, p.stat().st_size, digest.hexdigest())
