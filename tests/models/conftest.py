"""Fixtures for tests/models: ``variant`` runs a test on every model variant."""

from __future__ import annotations

import pytest
from model_checks import VARIANTS, Variant


@pytest.fixture(params=[v for _, v in VARIANTS], ids=[name for name, _ in VARIANTS])
def variant(request) -> Variant:
    return request.param
