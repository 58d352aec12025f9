"""The ``rnnseq train`` command of a recorded run, rebuilt from the option declarations.

A model folder records every option of its run, resolved (``config.json``
``training``). The command that reproduces it needs only those whose value differs
from the default the declaration gives for the task — given the other recorded values,
as :meth:`~rnnseq.training.config.TrainConfig.resolved` fills defaults in (so ``--lr`` is
left out when it is the default of the recorded ``--optimizer``). Which options exist,
their flags and their defaults all come from :data:`rnnseq.training.config.SECTIONS`;
nothing is restated here.

    >>> cfg = TrainConfig(task="tag", train="train.conllu", out="runs/pos", hidden=64)
    >>> train_command(cfg.resolved()).shell()
    'rnnseq train --task tag --train train.conllu --out runs/pos --hidden 64'
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass
from typing import Any

from rnnseq.options import default_value, flag, spec_of
from rnnseq.training.config import SECTIONS, TrainConfig

__all__ = ["TrainCommand", "train_command"]

# Options that say how a run handled its folder or its terminal, not what it learned:
# left out of the reconstructed command.
_NOT_REPRODUCED = ("resume", "overwrite", "progress")


@dataclass
class TrainCommand:
    """The ``rnnseq train`` command of a recorded run.

    argv: the command, options that differ from their defaults only.
    api_only: options that differ but have no command-line flag (``rnnseq.train`` sets them).
    resumed: the run's last session was ``--resume`` (left out of ``argv``).
    """

    argv: list[str]
    api_only: dict[str, Any]
    resumed: bool

    def shell(self) -> str:
        return shlex.join(self.argv)


def train_command(config: TrainConfig) -> TrainCommand:
    """The command that trains ``config`` (a resolved run), from the option declarations:
    every option whose recorded value differs from its default for the task (given the
    other recorded values, as :meth:`TrainConfig.resolved` fills them in)."""
    argv = ["rnnseq", "train", "--task", config.task, "--train", config.train]
    if config.dev is not None:
        argv += ["--dev", config.dev]
    argv += ["--out", config.out]
    values = config.options()
    api_only: dict[str, Any] = {}
    for section in SECTIONS:
        part = getattr(config, section)
        for f in dataclasses.fields(part):
            spec, value = spec_of(f), getattr(part, f.name)
            if f.name in _NOT_REPRODUCED:
                continue
            if value == default_value(spec, f.default, config.task, values):
                continue
            if not spec.cli:
                api_only[f.name] = value
            elif isinstance(value, bool):
                # A tri-state option (Python default None) has --x and --no-x.
                argv.append(flag(f.name) if value else "--no-" + flag(f.name)[2:])
            else:
                argv += [flag(f.name), str(value)]
    return TrainCommand(argv, api_only, bool(config.training.resume))
