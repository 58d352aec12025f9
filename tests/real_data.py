"""Where the tests find the real datasets: ``$RNNSEQ_SHARED_DATA`` when set, else the
first ``shared/data`` folder above the repository (``<repo>/../shared/data``; a git
worktree nested deeper finds the same folder further up). CI has it; elsewhere the
tests that need it skip, saying so."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def find_shared_data() -> Path | None:
    """The shared data folder, or None when there is none."""
    if os.environ.get("RNNSEQ_SHARED_DATA"):
        given = Path(os.environ["RNNSEQ_SHARED_DATA"])
        if given.is_dir():
            return given.resolve()
    for parent in REPO.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


def require_shared_data(why: str = "") -> Path:
    """The shared data folder; skips the calling test, with a message, when it is absent."""
    found = find_shared_data()
    if found is None:
        reason = "real datasets not found: ../shared/data (or $RNNSEQ_SHARED_DATA) is absent"
        pytest.skip(f"{reason}; {why}" if why else reason)
    return found
