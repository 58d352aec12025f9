"""The package root: ``help(rnnseq)`` lists the API with one line each, and importing
``rnnseq`` stays light."""

from __future__ import annotations

import os
import pydoc
import subprocess
import sys
from pathlib import Path

import rnnseq

SRC = Path(__file__).resolve().parents[1] / "src"


def test_help_lists_train_and_load_with_a_summary_each():
    text = pydoc.render_doc(rnnseq, renderer=pydoc.plaintext)
    assert "train(task=..., train=..., out=..., **options) -> TrainResult" in text
    assert "Train a model and write its folder, like ``rnnseq train``" in text
    assert "load(folder) -> Predictor" in text
    assert "Load a model folder written by train()" in text


def test_help_names_every_public_name():
    doc = rnnseq.__doc__
    missing = [name for name in rnnseq.__all__ if name != "__version__" and name not in doc]
    assert missing == []


def test_help_and_import_do_not_load_torch():
    code = "import pydoc, sys, rnnseq; pydoc.render_doc(rnnseq); print('torch' in sys.modules)"
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.stdout.strip() == "False", done.stderr
