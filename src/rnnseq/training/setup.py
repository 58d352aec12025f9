"""Before the first step: read the files, build (or reuse) the vocabularies, encode.

Everything that can be wrong with the user's input is found here, before a model
folder exists, so bad input never leaves a partial folder behind. What reading and
encoding mean for each task is the task object's business (:mod:`rnnseq.tasks`).
"""

from __future__ import annotations

from rnnseq.preprocess import SchemeMap, Vocabularies
from rnnseq.tasks import get_task
from rnnseq.tasks.base import RunData
from rnnseq.training.config import TrainConfig

__all__ = ["RunData", "read_run_data"]


def read_run_data(
    cfg: TrainConfig, vocabs: Vocabularies | None = None, schemes: SchemeMap | None = None
) -> RunData:
    """Read --train and --dev (or hold out the end of --train); build vocabularies from
    the training part unless given (a resumed run reuses the saved ones)."""
    task = get_task(cfg.task)
    train = task.read(cfg.train, cfg)
    dev, dev_name = None, None
    if cfg.dev is not None:
        dev, dev_name = task.read(cfg.dev, cfg), cfg.dev
    elif cfg.data.holdout > 0:
        holdout = cfg.data.holdout
        cut = len(train) - max(1, int(round(len(train) * holdout)))
        if cut < 2:
            raise ValueError(f"--holdout {holdout} leaves too little of {cfg.train} to train on")
        train, dev = train[:cut], train[cut:]
        dev_name = f"{cfg.train} (last {holdout:.0%})"
    if schemes is None:
        schemes = task.schemes(train, cfg)
    return task.prepare(train, dev, dev_name, cfg, vocabs, schemes)
