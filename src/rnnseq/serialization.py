"""Saving and loading without pickle: safetensors for tensors, JSON for the rest.

Every file is written atomically — to a temporary file in the same folder,
flushed and fsync'ed, then renamed over the target — so a crash at any moment
leaves either the old file or the new one, never a torn one.

Nested training state (optimizer and scheduler state dicts, RNG states) is
split into a JSON tree and a flat dict of tensors by :func:`flatten_state`;
:func:`unflatten_state` puts it back, preserving int dict keys and tuples, which
``Optimizer.load_state_dict`` relies on.

Anything read from disk may come from someone else: a damaged, truncated or
tampered file gives a :class:`ModelFolderError` naming the file, never a raw
exception from deep inside a library, and nothing is ever unpickled.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as safetensors_load
from safetensors.torch import save as safetensors_save

from rnnseq.options import OptionError, literal

__all__ = [
    "ModelFolderError",
    "FolderExistsError",
    "atomic_write_bytes",
    "fsync_folder",
    "atomic_write_json",
    "save_tensors",
    "load_tensors",
    "read_json",
    "member_path",
    "flatten_state",
    "unflatten_state",
]

_META_KEY = "rnnseq"


class ModelFolderError(ValueError):
    """A model folder (or a file in it) is missing, damaged, tampered with or too new."""


class FolderExistsError(ModelFolderError, OptionError):
    """A training run's folder already exists and neither ``overwrite`` nor ``resume``
    was asked for. Names those options as fields in Python (``overwrite=True``) and as
    flags on the command line (``--overwrite``)."""

    def __init__(self, out: str | os.PathLike[str]):
        self.out = Path(out)
        OptionError.__init__(
            self,
            f"{literal(out)} already exists; use {{0}} to replace it or {{1}} to continue it",
            ("overwrite", True),
            ("resume", True),
        )


def fsync_folder(folder: Path) -> None:
    """Make a rename inside ``folder`` durable (best effort: not every file system can)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some file systems cannot open folders; the rename is still atomic
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, whole."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    fsync_folder(path.parent)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, allow_nan=True) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"))


def save_tensors(
    path: str | os.PathLike, tensors: dict[str, torch.Tensor], metadata: Any = None
) -> None:
    """Write tensors (and optional JSON-able metadata) as one safetensors file, atomically."""
    cpu = {name: t.detach().to("cpu").contiguous() for name, t in tensors.items()}
    header = None if metadata is None else {_META_KEY: json.dumps(metadata)}
    atomic_write_bytes(path, safetensors_save(cpu, metadata=header))


def load_tensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], Any]:
    """Read a safetensors file written by :func:`save_tensors`: (tensors, metadata).

    Nothing in the file is executed: a pickle (what ``torch.save`` writes) is
    refused with a message saying so, without being opened as one.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ModelFolderError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        tensors = safetensors_load(data)
    except Exception as e:  # safetensors raises its own error types for damaged headers
        if data.startswith(_PICKLE_SIGNATURES):
            raise ModelFolderError(
                f"{path}: this is a pickle or torch.save file, not safetensors; rnnseq never "
                "unpickles (that can run code), so it loads only safetensors weights"
            ) from None
        raise ModelFolderError(f"{path}: not a valid safetensors file ({_one_line(e)})") from None
    metadata = None
    if len(data) >= 8:
        header_size = int.from_bytes(data[:8], "little")
        try:
            header = json.loads(data[8 : 8 + header_size])
            raw = header.get("__metadata__", {}).get(_META_KEY)
            metadata = None if raw is None else json.loads(raw)
        except (ValueError, TypeError, AttributeError, RecursionError) as e:
            raise ModelFolderError(f"{path}: damaged metadata ({_one_line(e)})") from None
    return tensors, metadata


# How a file that is not safetensors is recognised as a pickle, only to say so (it is
# never opened as one): torch.save writes a zip archive (PK..) holding a pickle;
# pickle.dump and old torch write a bare pickle, which starts with PROTO (0x80).
_PICKLE_SIGNATURES = (b"PK\x03\x04", b"\x80")


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())[:300]


def read_json(path: str | os.PathLike) -> Any:
    """Parse a JSON file, with a :class:`ModelFolderError` naming it when that fails."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelFolderError(f"{path}: file is missing") from None
    except OSError as e:
        raise ModelFolderError(f"{path}: cannot read ({e.strerror or e})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ModelFolderError(
            f"{path}: not UTF-8 text (byte 0x{data[e.start]:02x} at offset {e.start})"
        ) from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ModelFolderError(f"{path}:{e.lineno}: not valid JSON ({e.msg})") from None
    except (ValueError, RecursionError) as e:  # RecursionError: absurdly deep nesting
        raise ModelFolderError(f"{path}: not valid JSON ({_one_line(e)})") from None


def member_path(folder: str | os.PathLike, name: Any) -> Path:
    """The path of file ``name`` inside ``folder``, refusing anything that would leave it.

    File names read from a model folder's JSON are untrusted: absolute paths,
    ``..`` and sub-folders are all rejected.
    """
    folder = Path(folder)
    if (
        not isinstance(name, str)
        or not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\0" in name
        or Path(name).is_absolute()
    ):
        raise ModelFolderError(
            f"{folder}: file name {name!r} is not a plain name inside the folder"
        )
    path = folder / name
    if path.resolve().parent != folder.resolve():
        raise ModelFolderError(f"{folder}: file name {name!r} points outside the folder")
    return path


# --------------------------------------------------------------------------
# Nested state <-> (JSON tree, flat tensors).
# --------------------------------------------------------------------------


def flatten_state(obj: Any, prefix: str = "state") -> tuple[Any, dict[str, torch.Tensor]]:
    """Split a nested structure into a JSON-able tree and a flat dict of tensors.

    Tensors become ``{"__tensor__": key}``; dicts with non-string keys become
    ``{"__dict__": [[key, value], ...]}``; tuples become ``{"__tuple__": [...]}``.
    """
    tensors: dict[str, torch.Tensor] = {}

    def walk(x: Any, key: str) -> Any:
        if isinstance(x, torch.Tensor):
            tensors[key] = x
            return {"__tensor__": key}
        if isinstance(x, dict):
            if all(isinstance(k, str) for k in x) and not (set(x) & _TAGS):
                return {k: walk(v, f"{key}.{k}") for k, v in x.items()}
            return {"__dict__": [[k, walk(v, f"{key}.{i}")] for i, (k, v) in enumerate(x.items())]}
        if isinstance(x, tuple):
            return {"__tuple__": [walk(v, f"{key}.{i}") for i, v in enumerate(x)]}
        if isinstance(x, list):
            return [walk(v, f"{key}.{i}") for i, v in enumerate(x)]
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        raise TypeError(f"cannot store {type(x).__name__} at {key} without pickle")

    return walk(obj, prefix), tensors


_TAGS = {"__tensor__", "__dict__", "__tuple__"}


def unflatten_state(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`. A tree that is not one (tampered or damaged)
    gives a :class:`ModelFolderError`."""
    try:
        return _unflatten(tree, tensors)
    except RecursionError:
        raise ModelFolderError("saved state is nested too deeply to be rnnseq's") from None
    except (TypeError, ValueError) as e:  # e.g. a "__dict__" entry that is not a pair
        if isinstance(e, ModelFolderError):
            raise
        raise ModelFolderError(f"saved state is damaged ({_one_line(e)})") from None


def _unflatten(tree: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(tree, list):
        return [_unflatten(v, tensors) for v in tree]
    if isinstance(tree, dict):
        if set(tree) == {"__tensor__"}:
            key = tree["__tensor__"]
            if not isinstance(key, str) or key not in tensors:
                raise ModelFolderError(f"saved state refers to a missing tensor {key!r:.60}")
            return tensors[key]
        if set(tree) == {"__tuple__"}:
            return tuple(_unflatten(v, tensors) for v in tree["__tuple__"])
        if set(tree) == {"__dict__"}:
            return {_hashable(k): _unflatten(v, tensors) for k, v in tree["__dict__"]}
        return {k: _unflatten(v, tensors) for k, v in tree.items()}
    return tree


def _hashable(key: Any) -> Any:
    return tuple(_hashable(k) for k in key) if isinstance(key, list) else key
