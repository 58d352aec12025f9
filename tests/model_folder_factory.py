"""Small model folders for tests, written without training (a second, not a minute).

The weights are a fresh initialisation: what the reliability tests need is a real
folder (config, vocabularies, safetensors weights) that ``rnnseq.load`` and
``rnnseq evaluate`` accept, not a good model.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from rnnseq.data import TagExample, demo_sentiment, demo_tagging
from rnnseq.model_folder import (
    FILES,
    FolderMeta,
    build_task_model,
    create_folder,
    network_config,
    write_weights,
)
from rnnseq.tasks import get_task
from rnnseq.training.config import TrainConfig

LM_TEXT = "to be or not to be, that is the question.\nwhether tis nobler in the mind\n" * 5
NER = [
    TagExample(["EU", "rejects", "German", "call"], ["B-ORG", "O", "B-MISC", "O"]),
    TagExample(["Peter", "Blackburn", "said"], ["B-PER", "I-PER", "O"]),
]


def training_data(task: str):
    """The examples (or lm text) a factory folder's vocabularies come from."""
    if task == "classify":
        return demo_sentiment(60, seed=5)
    if task == "tag":
        return demo_tagging(60, seed=5)
    if task == "ner":
        return NER * 3
    return list(LM_TEXT)


def make_model_folder(
    out: str | Path,
    task: str = "classify",
    *,
    seed: int = 0,
    data: list | None = None,
    **options,
) -> Path:
    """Write a loadable folder at ``out`` for "classify", "tag", "ner" (span tags) or "lm",
    its vocabularies built from ``data`` (default: :func:`training_data`); ``options``:
    more training options (``loss="crf"``: the CRF's transition scores are random too,
    so that decoding has something to do)."""
    out = Path(out)
    data = training_data(task) if data is None else data
    kind = get_task("tag" if task == "ner" else task)
    window = {"bptt": 16} if kind.name == "lm" else {}
    small = {"min_freq": 1, "embedding_dim": 8, "hidden": 8, "char_dim": 4, "char_hidden": 4}
    cfg = TrainConfig(
        task=kind.name, train="(generated)", out=str(out), **{**small, **window, **options}
    ).resolved()
    schemes = kind.schemes(data, cfg)
    vocabs = kind.prepare(data, None, None, cfg, None, schemes).vocabs
    meta = FolderMeta(kind, cfg, schemes)
    config = network_config(meta, vocabs)
    create_folder(out, config, vocabs, meta, overwrite=False)
    torch.manual_seed(seed)
    model = build_task_model(config, meta, vocabs)
    if model.crf is not None:
        with torch.no_grad():
            for p in model.crf.parameters():
                p.normal_(0.0, 1.0)
    write_weights(out / FILES["weights"], model)
    return out


def edit_config(folder: Path, change) -> None:
    """Apply ``change(config_dict)`` to the folder's config.json (tampering, in tests)."""
    path = Path(folder) / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))
