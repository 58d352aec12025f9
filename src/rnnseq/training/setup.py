"""Before the first step: read the files, build (or reuse) the vocabularies, encode.

Everything that can be wrong with the user's input is found here, before a model
folder exists, so bad input never leaves a partial folder behind. What reading and
encoding mean for each task is the task object's business (:mod:`rnnseq.tasks`).
"""

from __future__ import annotations

import os
from pathlib import Path

from rnnseq.data import DataError
from rnnseq.options import OptionError, literal
from rnnseq.preprocess import SchemeMap, Vocabularies
from rnnseq.tasks import get_task
from rnnseq.tasks.base import RunData
from rnnseq.training.config import TrainConfig

__all__ = [
    "RunData",
    "read_run_data",
    "read_run_files",
    "prepare_run_data",
    "check_fits",
    "available_memory",
]


def read_run_data(
    cfg: TrainConfig, vocabs: Vocabularies | None = None, schemes: SchemeMap | None = None
) -> RunData:
    """Read --train and --dev (or hold out the end of --train); build vocabularies from
    the training part unless given (a resumed run reuses the saved ones). A task that
    streams its data (lm) makes it itself (:meth:`Task.stream_run_data`).

    Raises:
        DataError: a file whose data would not fit in the memory available (checked
            before reading it), or bad data.
    """
    streamed = get_task(cfg.task).stream_run_data(cfg, vocabs, schemes)  # lm: token files
    if streamed is not None:
        return streamed
    train, dev, dev_name = read_run_files(cfg)
    return prepare_run_data(cfg, train, dev, dev_name, vocabs, schemes)


def read_run_files(cfg: TrainConfig) -> tuple:
    """``(train, dev, dev_name)`` as the task reads them: --train and --dev, or the end
    of --train held out as dev (``dev`` None when there is neither). Not for a task
    that streams its data (:meth:`Task.stream_run_data`).

    Raises:
        DataError: as :func:`read_run_data`.
    """
    task = get_task(cfg.task)
    for path in (cfg.train, cfg.dev):
        if path is not None:
            check_fits(task, path, cfg)
    train = task.read(cfg.train, cfg)
    dev, dev_name = None, None
    if cfg.dev is not None:
        dev, dev_name = task.read(cfg.dev, cfg), cfg.dev
    elif cfg.data.holdout > 0:
        holdout = cfg.data.holdout
        cut = len(train) - max(1, int(round(len(train) * holdout)))
        if cut < 2:
            raise OptionError(
                f"{{0}} leaves too little of {literal(cfg.train)} to train on", ("holdout", holdout)
            )
        train, dev = train[:cut], train[cut:]
        dev_name = f"{cfg.train} (last {holdout:.0%})"
    return train, dev, dev_name


def prepare_run_data(
    cfg: TrainConfig,
    train,
    dev,
    dev_name: str | None,
    vocabs: Vocabularies | None = None,
    schemes: SchemeMap | None = None,
) -> RunData:
    """The run's data from what :func:`read_run_files` read, as :func:`read_run_data`."""
    task = get_task(cfg.task)
    if schemes is None:
        schemes = task.schemes(train, cfg)
    return task.prepare(train, dev, dev_name, cfg, vocabs, schemes)


def check_fits(task, path: str, cfg: TrainConfig) -> None:
    """Refuse, before reading it, a file whose data would not fit in the memory available
    (a clear line instead of the system killing the process part-way through)."""
    try:
        need = task.training_memory(path, cfg)
    except OSError:
        return  # a missing or unreadable file: the reader says so
    free = available_memory()
    if need is None or free is None or need <= free:
        return
    size = os.path.getsize(path)
    raise DataError(
        path,
        None,
        f"training on this {_size(size)} file takes about {_size(need)} of memory, more than "
        f"the {_size(free)} available: train on a part of it, or on a machine with more memory",
    )


def available_memory() -> int | None:
    """Bytes of memory this process may still take: the system's MemAvailable, or less
    under a cgroup (container) limit; None where neither can be read."""
    found = []
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError):
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = Path("/sys/fs/cgroup/memory.current").read_text().strip()
        if limit != "max":
            found.append(int(limit) - int(used))
    except (OSError, ValueError):
        pass
    return min(found) if found else None


def _size(n: int) -> str:
    """1234567890 -> "1.2 GB"."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("KB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n} bytes"
