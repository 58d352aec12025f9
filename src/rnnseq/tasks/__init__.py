"""The three tasks, registered once: everything that differs by task lives in its object.

===========  ==========================================  ==========================
task         what it learns                              object
===========  ==========================================  ==========================
classify     one label per text                          :class:`ClassifyTask`
tag          one label per token                         :class:`TagTask`
lm           the next character or word at every step    :class:`LanguageModelTask`
===========  ==========================================  ==========================

A task object (:class:`rnnseq.tasks.base.Task`) reads its data and builds its
vocabularies, makes its network, computes its objective and evaluation terms,
decodes, formats predictions, explains them and scores a dev set for model
selection. The trainer, the predictor and the model folder only orchestrate.

A new task is one new module with a :class:`~rnnseq.tasks.base.Task` subclass plus
one line in :data:`REGISTRY`. This module stays light (no torch): the command line
and the configuration read task names and descriptions from it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rnnseq.tasks.base import Task

__all__ = ["REGISTRY", "TASK_NAMES", "describe", "get_task"]

# name -> (module, class, what it learns)
REGISTRY: dict[str, tuple[str, str, str]] = {
    "classify": ("rnnseq.tasks.classify", "ClassifyTask", "one label per text"),
    "tag": ("rnnseq.tasks.tag", "TagTask", "one label per token"),
    "lm": ("rnnseq.tasks.lm", "LanguageModelTask", "predict the next character or word"),
}
TASK_NAMES: tuple[str, ...] = tuple(REGISTRY)

_made: dict[str, Task] = {}


def get_task(name: str) -> Task:
    """The task object registered as ``name``.

    Raises:
        ValueError: no task has that name.
    """
    if name not in REGISTRY:
        raise ValueError(f"task must be one of {', '.join(TASK_NAMES)}, got {name!r}")
    if name not in _made:
        module, cls, _ = REGISTRY[name]
        _made[name] = getattr(importlib.import_module(module), cls)()
    return _made[name]


def describe() -> str:
    """One line per task for --help: "classify: one label per text; ..."."""
    return "; ".join(f"{name}: {what}" for name, (_, _, what) in REGISTRY.items())
