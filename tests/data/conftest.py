"""Shared fixtures for tests/data: the real datasets in <repo>/../shared/data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_REPO = Path(__file__).resolve().parents[2]


def find_shared_data() -> Path | None:
    """The shared data folder: $RNNSEQ_SHARED_DATA, else <repo>/../shared/data.

    A git worktree one level deeper (``<parent>/wt/<name>``) also finds
    ``<parent>/shared/data``.
    """
    candidates = [_REPO / ".." / "shared" / "data", _REPO / ".." / ".." / "shared" / "data"]
    if os.environ.get("RNNSEQ_SHARED_DATA"):
        candidates.insert(0, Path(os.environ["RNNSEQ_SHARED_DATA"]))
    return next((p.resolve() for p in candidates if p.is_dir()), None)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = find_shared_data()
    if path is None:
        pytest.skip("real datasets not found: ../shared/data (or $RNNSEQ_SHARED_DATA) is absent")
    return path
