"""Fixtures for the whole suite: the real datasets, tiny generated ones, one thread."""

from __future__ import annotations

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


@pytest.fixture(autouse=True)
def _one_thread():
    """The models in tests are tiny, and the machine is shared: one torch thread is much
    faster than two fighting. Restored after each test (the CLI's --threads changes it)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
