"""Fixtures for tests/models: ``model_config`` runs a test on every model variant."""

from __future__ import annotations

import pytest
import torch
from model_checks import VARIANTS

from rnnseq.models import ModelConfig


@pytest.fixture(params=[cfg for _, cfg in VARIANTS], ids=[name for name, _ in VARIANTS])
def model_config(request) -> ModelConfig:
    return request.param


@pytest.fixture(autouse=True)
def _one_thread():
    """The models here are tiny: one thread is faster than waking a pool on a busy machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
