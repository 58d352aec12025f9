"""What ``GET /info`` tells about the served model: the facts of its model card.

The same facts ``rnnseq export`` writes on the card (:mod:`rnnseq.model_card`), as JSON:
the task and its labels (and entity types and tag schemes for span tags), the network,
the run's ``rnnseq train`` command (:func:`rnnseq.train_command.train_command`), the
kept epoch's dev scores, the versions; and the server's limits, so a client knows what
it may send. An exported folder's card itself (its ``README.md``) is included as text.
"""

from __future__ import annotations

import dataclasses
import platform
from pathlib import Path

import torch

from rnnseq import __version__
from rnnseq.inference import Predictor
from rnnseq.model_folder import FORMAT_VERSION, network_config, unique_state
from rnnseq.serialization import read_json
from rnnseq.serve_options import Serving
from rnnseq.tag_schemes import span_types
from rnnseq.tasks import REGISTRY
from rnnseq.train_command import train_command

__all__ = ["model_info"]

_CARD = "README.md"  # rnnseq.export.CARD; not imported, export pulls in ONNX helpers
_METRICS = "metrics.json"


def model_info(predictor: Predictor, folder: str | Path, serving: Serving) -> dict:
    """The model card's facts and the server's limits, as one JSON-ready dict."""
    folder = Path(folder)
    meta, vocabs, model = predictor.meta, predictor.vocabs, predictor.model
    config = meta.config
    network = network_config(meta, vocabs)
    raw = read_json(folder / "config.json")
    info: dict = {
        "name": folder.resolve().name,
        "task": meta.task.name,
        "what": REGISTRY[meta.task.name][2],
        "labels": predictor.labels,
        "tag_scheme": None,
        "entity_types": None,
        "loss": meta.loss,
        "network": dataclasses.asdict(network),
        "parameters": sum(t.numel() for t in unique_state(model).values() if t.is_floating_point()),
        "train_command": train_command(config).shell(),
        "training_data": config.train,
        "dev_data": config.dev,
    }
    if meta.schemes.source is not None:
        info["tag_scheme"] = {"source": meta.schemes.source, "learned": meta.schemes.learned}
        info["entity_types"] = span_types(vocabs.labels.tokens)
    if meta.task.name == "lm":
        info["unit"] = config.data.unit
    metrics_path = folder / _METRICS
    metrics = read_json(metrics_path) if metrics_path.is_file() else {}
    best = metrics.get("best") or {}
    dev = {k[4:]: v for k, v in best.items() if k.startswith("dev_")}
    info["dev_scores"] = dev or None
    info["dev_epoch"] = metrics.get("best_epoch") if dev else None
    info["versions"] = {
        "rnnseq (training)": str(raw.get("rnnseq_version", "not recorded")),
        "rnnseq (serving)": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
        "model folder format": FORMAT_VERSION,
    }
    card = folder / _CARD
    info["card"] = card.read_text(encoding="utf-8") if card.is_file() else None
    info["device"] = str(predictor.device)
    info["limits"] = {
        "max_texts": serving.max_texts,
        "max_chars": serving.max_chars,
        "max_body": serving.max_body,
    }
    return info
