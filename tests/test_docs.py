"""The examples in docstrings run and give the values they show."""

import doctest

import pytest

import rnnseq.data.lm_windows
import rnnseq.data.ragged
import rnnseq.kernels.plan
import rnnseq.linear_losses
import rnnseq.losses
import rnnseq.reductions
import rnnseq.reference

MODULES = [
    rnnseq.reference,
    rnnseq.losses,
    rnnseq.linear_losses,
    rnnseq.reductions,
    rnnseq.kernels.plan,
    rnnseq.data.ragged,
    rnnseq.data.lm_windows,
]


@pytest.mark.parametrize("module", MODULES, ids=lambda module: module.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
