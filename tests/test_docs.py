"""The examples in docstrings run and give the values they show."""

import doctest

import pytest

import rnnseq.losses
import rnnseq.reference


@pytest.mark.parametrize("module", [rnnseq.reference, rnnseq.losses])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0
