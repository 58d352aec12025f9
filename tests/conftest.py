"""Fixtures for the whole suite: the real datasets, tiny generated ones, one thread."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from real_data import require_shared_data
from tiny_data import write_tiny_data


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets folder (see tests/real_data.py); skips when it is absent."""
    return require_shared_data()


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """tags.jsonl (120 tagged sentences), reviews.tsv (120 reviews), text.txt (lm)."""
    return write_tiny_data(tmp_path_factory.mktemp("tiny_data"))


@pytest.fixture(scope="session", autouse=True)
def _token_cache(tmp_path_factory):
    """Token files (rnnseq train --task lm) go to a folder of the test session, not to the
    user's cache; subprocesses inherit it."""
    before = os.environ.get("RNNSEQ_CACHE_DIR")
    os.environ["RNNSEQ_CACHE_DIR"] = str(tmp_path_factory.mktemp("token_cache"))
    yield
    if before is None:
        os.environ.pop("RNNSEQ_CACHE_DIR", None)
    else:
        os.environ["RNNSEQ_CACHE_DIR"] = before


@pytest.fixture(autouse=True)
def _one_thread():
    """The models in tests are tiny, and the machine is shared: one torch thread is much
    faster than two fighting. Restored after each test (the CLI's --threads changes it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
