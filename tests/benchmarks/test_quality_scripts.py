"""benchmarks/quality/run.py and summarize.py under a Python without rnnseq's
dependencies (``-I -S``: no site-packages, no PYTHONPATH): one line saying what to
run and exit status 2, or (summarize, which needs only the standard library) the
table."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
QUALITY = ROOT / "benchmarks" / "quality"
BARE = [sys.executable, "-I", "-S"]  # this interpreter without any installed package


def test_bare_python_cannot_import_the_dependencies():
    done = subprocess.run([*BARE, "-c", "import torch"], capture_output=True, cwd=ROOT)
    assert done.returncode != 0  # else the tests below would not test anything


def test_run_under_a_python_without_dependencies_says_what_to_run(tmp_path):
    runs = tmp_path / "runs"
    argv = [*BARE, "benchmarks/quality/run.py", "ewt", "--data", str(tmp_path), "--runs", str(runs)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "Traceback" not in done.stderr
    assert "lacks torch, numpy, conllu" in done.stderr
    assert "`make test` creates .venv with them (once), then run: " in done.stderr
    assert done.stderr.rstrip().endswith(
        f".venv/bin/python benchmarks/quality/run.py ewt --data {tmp_path} --runs {runs}"
    )
    assert not runs.exists()  # nothing started, nothing left behind


def test_summarize_needs_only_the_standard_library(tmp_path):
    done = subprocess.run(
        [*BARE, str(QUALITY / "summarize.py"), "--runs", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("| run | metric (test) | ours | target |")
