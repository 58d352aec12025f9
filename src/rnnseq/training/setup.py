"""Before the first step: read the files, build (or reuse) the vocabularies, encode.

Everything that can be wrong with the user's input is found here, before a model
folder exists, so bad input never leaves a partial folder behind.
"""

from __future__ import annotations

from dataclasses import dataclass

from rnnseq.data import EncodedDataset, read_dataset
from rnnseq.models import ModelConfig
from rnnseq.preprocess import (
    SchemeMap,
    Vocabularies,
    build_vocabularies,
    encode_examples,
    limit_lengths,
)
from rnnseq.training.config import TrainConfig

__all__ = ["RunData", "read_run_data", "model_config_for"]


@dataclass
class RunData:
    """The training run's data, ready for batching."""

    vocabs: Vocabularies
    schemes: SchemeMap
    train: EncodedDataset | None  # classify / tag
    train_ids: list[int] | None  # lm: the unit stream
    dev: list | None  # dev examples (classify/tag) or units (lm), as read
    dev_name: str | None  # what to call the dev data in messages
    n_train: int  # examples (classify/tag) or units (lm)


def _read(path: str, cfg: TrainConfig):
    if cfg.task == "lm":
        return read_dataset(path, "lm", format=cfg.format, unit=cfg.unit)
    data = read_dataset(path, cfg.task, format=cfg.format, column=cfg.column)
    return limit_lengths(data, cfg.max_length, cfg.on_long, path)


def read_run_data(
    cfg: TrainConfig, vocabs: Vocabularies | None = None, schemes: SchemeMap | None = None
) -> RunData:
    """Read --train and --dev (or hold out the end of --train); build vocabularies from
    the training part unless given (a resumed run reuses the saved ones)."""
    train = _read(cfg.train, cfg)
    dev, dev_name = None, None
    if cfg.dev is not None:
        dev, dev_name = _read(cfg.dev, cfg), cfg.dev
    elif cfg.holdout > 0:
        cut = len(train) - max(1, int(round(len(train) * cfg.holdout)))
        if cut < 2:
            raise ValueError(
                f"--holdout {cfg.holdout} leaves too little of {cfg.train} to train on"
            )
        train, dev = train[:cut], train[cut:]
        dev_name = f"{cfg.train} (last {cfg.holdout:.0%})"

    if cfg.task == "lm":
        if vocabs is None:
            vocabs = build_vocabularies(
                train, "lm", min_freq=cfg.min_freq, lowercase=False, char_features=False
            )
        return RunData(
            vocabs,
            SchemeMap(None, None),
            None,
            vocabs.words.encode(train),
            dev,
            dev_name,
            len(train),
        )

    if schemes is None:
        schemes = (
            SchemeMap.choose(train, cfg.tag_scheme) if cfg.task == "tag" else SchemeMap(None, None)
        )
    learned = schemes.to_learned(train) if cfg.task == "tag" else train
    if vocabs is None:
        vocabs = build_vocabularies(
            learned,
            cfg.task,
            min_freq=cfg.min_freq,
            lowercase=cfg.lowercase,
            char_features=cfg.char_features != "none",
        )
    encoded = encode_examples(learned, vocabs, cfg.task, path=cfg.train)
    if dev is not None and cfg.task == "classify":
        encode_examples(dev, vocabs, cfg.task, path=dev_name)  # unseen labels: fail now
    return RunData(vocabs, schemes, encoded, None, dev, dev_name, len(train))


def model_config_for(cfg: TrainConfig, vocabs: Vocabularies) -> ModelConfig:
    """The network a run trains, from its options and vocabularies."""
    return ModelConfig(
        task=cfg.task,
        vocab_size=len(vocabs.words),
        num_labels=len(vocabs.labels),
        char_vocab_size=0 if vocabs.chars is None else len(vocabs.chars),
        cell=cfg.cell,
        embedding_dim=cfg.embedding_dim,
        hidden=cfg.hidden,
        layers=cfg.layers,
        bidirectional=cfg.bidirectional,
        dropout=cfg.dropout,
        pooling=cfg.pooling,
        char_features=cfg.char_features,
        tie_embeddings=cfg.tie_embeddings,
        word_dropout=cfg.word_dropout,
        bf16=cfg.bf16,
    )
