"""Comparing two training runs' model folders, tensor by tensor."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from rnnseq.serialization import load_tensors


def _without_seconds(x):
    if isinstance(x, dict):
        return {k: _without_seconds(v) for k, v in x.items() if "seconds" not in k}
    if isinstance(x, list):
        return [_without_seconds(v) for v in x]
    return x


def assert_same_run(a: Path, b: Path) -> None:
    """Folders ``a`` and ``b`` hold bit-for-bit the same model, checkpoint (weights,
    optimizer, RNG and lm states, counters) and metrics, timings aside."""
    for name in ("model.safetensors", "resume.safetensors"):
        ta, meta_a = load_tensors(a / name)
        tb, meta_b = load_tensors(b / name)
        assert sorted(ta) == sorted(tb), name
        different = [k for k in ta if not torch.equal(ta[k], tb[k])]
        assert different == [], f"{name}: {different[:5]}"
        assert _without_seconds(meta_a) == _without_seconds(meta_b), name
    ma = json.loads((a / "metrics.json").read_text())
    mb = json.loads((b / "metrics.json").read_text())
    assert _without_seconds(ma) == _without_seconds(mb)
