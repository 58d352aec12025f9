"""Fixtures for the whole suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from real_data import require_shared_data


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real datasets folder (see tests/real_data.py); skips when it is absent."""
    return require_shared_data()
