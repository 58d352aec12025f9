"""The model folder of a training run, as rank 0 writes it: whole, or not at all.

The folder appears at the run's first checkpoint, complete: config, vocabularies,
weights, metrics, loss curve and the resume checkpoint are written into a hidden
staging folder ``.NAME.partial-PID`` beside it, which is then renamed into place.
From then on each file is replaced atomically (:mod:`rnnseq.serialization`), the
resume checkpoint last. So a run killed at any moment leaves either no folder
(before its first checkpoint) or a folder whose every file is whole and whose
resume checkpoint is the last complete one.

What a killed run can leave behind — a staging folder beside the model folder, a
``.FILE.tmp-PID`` inside it — is removed the next time a run creates or resumes
that folder, once no live process owns it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from pathlib import Path

from rnnseq.model_folder import FILES, FolderMeta, create_folder, write_metrics, write_weights
from rnnseq.preprocess import Vocabularies
from rnnseq.serialization import FolderExistsError, ModelFolderError, fsync_folder
from rnnseq.task_model import TaskModel

__all__ = ["RunFolder", "remove_leftovers", "check_writable"]


def check_writable(out: Path) -> None:
    """Fail now, not at the first checkpoint an epoch later, when ``out`` cannot be
    created or written: the nearest existing folder on its path must be writable."""
    target = Path(out)
    probe = target if target.exists() else target.parent
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir():
        raise ModelFolderError(f"{out}: cannot create the model folder ({probe} is not a folder)")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise ModelFolderError(f"{out}: cannot create the model folder ({probe} is not writable)")


class RunFolder:
    """Writes one run's model folder ``out`` (call only on rank 0).

    Args:
        out: the folder.
        vocabs, meta: what config.json and vocab.json describe.
        overwrite: replace an existing folder when this run's folder is created.
        exists: the folder is already there (a resumed run).
    """

    def __init__(
        self,
        out: Path,
        vocabs: Vocabularies,
        meta: FolderMeta,
        *,
        overwrite: bool = False,
        exists: bool = False,
    ):
        self.out, self.vocabs, self.meta = Path(out), vocabs, meta
        self.overwrite, self.exists = overwrite, exists

    def checkpoint(
        self,
        model: TaskModel,
        write_resume: Callable[[Path], None],
        *,
        metrics: dict | None = None,
        weights: bool = False,
    ) -> None:
        """Save model.safetensors (if ``weights``), the metrics and loss curve (if
        given), then the resume checkpoint (``write_resume(path)``). The first call
        creates the folder with all of them."""
        if not self.exists:
            self._create(model, write_resume, metrics or {})
            return
        if weights:
            write_weights(self.out / FILES["weights"], model)
        if metrics is not None:
            write_metrics(self.out, metrics)
        write_resume(self.out / FILES["resume"])

    def _create(self, model: TaskModel, write_resume, metrics: dict) -> None:
        out, pid = self.out, os.getpid()
        if out.exists() and not self.overwrite:
            raise FolderExistsError(out)
        remove_leftovers(out)
        staging = out.parent / f".{out.name}.partial-{pid}"
        create_folder(staging, model.config, self.vocabs, self.meta, overwrite=True)
        old = out.parent / f".{out.name}.old-{pid}"
        try:
            write_weights(staging / FILES["weights"], model)
            write_metrics(staging, metrics)
            write_resume(staging / FILES["resume"])
            if out.exists():  # --overwrite: move the old folder aside, then drop it
                os.replace(out, old)
            os.replace(staging, out)
            fsync_folder(out.parent)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            shutil.rmtree(old, ignore_errors=True)
        self.exists = True


_TMP = re.compile(r"^\..+\.tmp-(\d+)$")  # serialization.atomic_write_bytes


def remove_leftovers(out: Path) -> list[Path]:
    """Remove what killed runs left around folder ``out``: staging and set-aside folders
    beside it, temporary files inside it — each only when the process that made it is
    gone. Returns what was removed."""
    out = Path(out)
    beside = re.compile(r"^\.+" + re.escape(out.name) + r"\.(?:partial|old)-(\d+)")
    removed = []
    places = [(out.parent, beside)] + ([(out, _TMP)] if out.is_dir() else [])
    for folder, pattern in places:
        try:
            entries = list(folder.iterdir())
        except OSError:
            continue
        for entry in entries:
            m = pattern.match(entry.name)
            if m is None or _alive(int(m.group(1))):
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry, ignore_errors=True)
            else:
                entry.unlink(missing_ok=True)
            removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    """A process with this id runs on this machine (our own id: we made nothing yet)."""
    if pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:  # someone else's process
        return True
    return True
