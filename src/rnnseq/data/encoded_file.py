"""An :class:`~rnnseq.data.encoded.EncodedDataset` written to disk a chunk at a time.

A training set too large to hold is encoded a chunk of examples at a time; each
chunk's arrays are appended to the files :meth:`EncodedDataset.save` writes, so
:meth:`EncodedDataset.load` maps the result. The offsets of each chunk are shifted
by what came before::

    file offsets = [0, then for each chunk: its offsets[1:] + values written before it]

Value types are fixed up front, from the vocabulary sizes (every chunk must fit
them); offsets are uint64. Label ids may be written provisionally and renumbered
once at the end (:meth:`EncodedWriter.finish` with ``relabel``), for labels whose
vocabulary is only known after the last chunk.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from rnnseq.data.encoded import _FORMAT, EncodedDataset
from rnnseq.data.ragged import Ragged

__all__ = ["EncodedWriter"]

_OFFSET = np.dtype("<u8")


class EncodedWriter:
    """Append :class:`EncodedDataset` chunks to a folder, then :meth:`finish` it.

    Args:
        folder: where the arrays go (created; written in place: write to a temporary
            folder and rename it when done).
        per_step: as the datasets' field.
        dtypes: the value type of each array: "tokens", "targets" (if labelled),
            "chars" (with character ids); every chunk's values must fit.
    """

    def __init__(self, folder: str | os.PathLike[str], per_step: bool, dtypes: dict) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.per_step = per_step
        self.dtypes = {name: np.dtype(d).newbyteorder("<") for name, d in dtypes.items()}
        self.lengths: dict[str, int] = {}
        self.files = {}
        self.ends: dict[str, int] = {}  # ragged array -> values written so far
        ragged = ["tokens", "chars"] + (["targets"] if per_step else [])
        for name in self.dtypes:
            self._open(name)
            if name in ragged:
                self._open(_offsets_name(name))
                self._write(_offsets_name(name), np.zeros(1, _OFFSET))
                self.ends[name] = 0

    def add(self, part: EncodedDataset) -> None:
        """Append the examples of ``part`` (with the arrays the writer was opened for)."""
        if part.per_step != self.per_step:
            raise ValueError(f"part must have per_step={self.per_step}")
        arrays = {"tokens": part.tokens}
        if "targets" in self.dtypes:
            arrays["targets"] = part.targets
        if "chars" in self.dtypes:
            arrays["chars"] = part.chars.words
        for name, array in arrays.items():
            if array is None:
                raise ValueError(f"part must have {name}")
            if isinstance(array, Ragged):
                self._write(name, self._checked(name, array.values))
                ends = array.offsets[1:].astype(_OFFSET) + np.uint64(self.ends[name])
                self._write(_offsets_name(name), ends)
                self.ends[name] += len(array.values)
            else:
                self._write(name, self._checked(name, np.asarray(array)))

    def finish(self, relabel: np.ndarray | None = None) -> EncodedDataset:
        """Close the files, write ``dataset.json`` and map the result.

        Args:
            relabel: (P,) the final id of each provisional label id written, or None
                (the targets were final ids); its type becomes the targets' type.
        """
        for f in self.files.values():
            f.close()
        if relabel is not None:
            self._relabel(np.asarray(relabel))
        described = {
            name: {"dtype": dtype.str, "length": length}
            for name, length in self.lengths.items()
            for dtype in [self._dtype(name)]
        }
        meta = {"format": _FORMAT, "per_step": self.per_step, "arrays": described}
        (self.folder / "dataset.json").write_text(json.dumps(meta) + "\n", encoding="utf-8")
        return EncodedDataset.load(self.folder)

    def discard(self) -> None:
        """Close and remove what was written (after an error)."""
        for f in self.files.values():
            f.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    # ------------------------------------------------------------------ parts

    def _open(self, name: str) -> None:
        self.files[name] = open(self.folder / f"{name}.bin", "wb")  # noqa: SIM115
        self.lengths[name] = 0

    def _write(self, name: str, values: np.ndarray) -> None:
        self.files[name].write(np.ascontiguousarray(values).tobytes())
        self.lengths[name] += len(values)

    def _checked(self, name: str, values: np.ndarray) -> np.ndarray:
        dtype = self.dtypes[name]
        info = np.iinfo(dtype)
        if len(values) and (values.min() < info.min or values.max() > info.max):
            raise ValueError(f"{name} ids must fit {dtype.name}")
        return values.astype(dtype, copy=False)

    def _dtype(self, name: str) -> np.dtype:
        return self.dtypes.get(name, _OFFSET)

    def _relabel(self, final: np.ndarray, chunk: int = 1 << 24) -> None:
        """Rewrite targets.bin through ``final`` (provisional id -> id), a chunk at a time."""
        path, tmp = self.folder / "targets.bin", self.folder / "targets.bin.relabel"
        n = self.lengths["targets"]
        dtype = final.dtype.newbyteorder("<")
        with open(path, "rb") as f, open(tmp, "wb") as out:
            for start in range(0, n, chunk):
                ids = np.fromfile(f, dtype=self.dtypes["targets"], count=min(chunk, n - start))
                out.write(final[ids].astype(dtype).tobytes())
        os.replace(tmp, path)
        self.dtypes["targets"] = dtype


def _offsets_name(name: str) -> str:
    return {"tokens": "token_offsets", "chars": "char_offsets", "targets": "target_offsets"}[name]
