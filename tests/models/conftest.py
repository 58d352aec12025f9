"""Fixtures for tests/models: ``model_config`` runs a test on every model variant."""

from __future__ import annotations

import pytest
from model_checks import VARIANTS

from rnnseq.models import ModelConfig


@pytest.fixture(params=[cfg for _, cfg in VARIANTS], ids=[name for name, _ in VARIANTS])
def model_config(request) -> ModelConfig:
    return request.param
