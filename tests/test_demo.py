"""`make demo` (that is, `rnnseq demo` in a fresh folder) finishes, prints the explain
tables, and leaves model folders that the README's quick start loads."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _tables(stdout: str) -> list[list[str]]:
    """The explain tables in the demo's output, each as its lines."""
    tables, lines = [], stdout.splitlines()
    for k, line in enumerate(lines):
        if line.startswith("step  input"):
            end = next(j for j in range(k, len(lines)) if "mean over" in lines[j])
            tables.append(lines[k : end + 1])
    return tables


@pytest.mark.slow
def test_demo_trains_explains_and_leaves_models_the_quick_start_loads(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO / "src"))
    env.pop("NO_COLOR", None)
    done = subprocess.run(
        [sys.executable, "-m", "rnnseq", "demo"],  # what `make demo` runs, in a fresh folder
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "\033[" not in done.stdout  # not a terminal: no colour

    tables = _tables(done.stdout)
    assert len(tables) == 4  # tagger with true labels, tagger predicting, two reviews
    for table in tables:
        rows = table[2:-3]
        losses = [float(row.split()[-1]) for row in rows]
        total, mean = float(table[-2].split()[-1]), float(table[-1].split()[-1])
        assert "Σ_j L_j" in table[-2] and f"mean over {len(rows)} step(s)" in table[-1]
        assert total == pytest.approx(sum(losses), abs=5e-4 * len(rows))
        assert mean == pytest.approx(total / len(rows), abs=1e-4)
    assert "true label" in tables[0][0] and "predicted label" in tables[1][0]
    assert [len(t) - 5 for t in tables[2:]] == [1, 1]  # classify: one step, the sequence

    accuracies = re.search(
        r"tagger dev accuracy ([0-9.]+), classifier dev accuracy ([0-9.]+); (\d+)s", done.stdout
    )
    assert accuracies, done.stdout[-500:]
    assert float(accuracies[1]) > 0.95 and float(accuracies[2]) > 0.95
    for name in ("tagger", "classifier"):
        assert (tmp_path / "runs" / "demo" / name / "model.safetensors").exists()

    quick_start = (
        "import rnnseq\n"
        'model = rnnseq.load("runs/demo/tagger")\n'
        'print(model.predict(["she thinks that the flies can fly ."]))\n'
    )
    done = subprocess.run(
        [sys.executable, "-c", quick_start],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(
        [["PRON", "VERB", "SCONJ", "DET", "NOUN", "AUX", "VERB", "PUNCT"]]
    )
