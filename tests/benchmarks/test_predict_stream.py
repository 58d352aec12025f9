"""benchmarks/predict_stream.py --quick runs end to end: start-up on both engines (with
their steps), throughput of the earlier and the current path with ratios, and one long line."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_predict_benchmark_prints_startup_throughput_and_a_long_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    script = str(ROOT / "benchmarks" / "predict_stream.py")
    done = subprocess.run(
        [sys.executable, script, "--quick", "--work", str(tmp_path), "--long", "2000"],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    onnx = importlib.util.find_spec("onnxruntime") is not None  # else no exported folder
    for run in ("training folder, torch engine", *(["exported folder, onnx engine"] * onnx)):
        for text in ("--pretokenized", "raw text"):
            assert re.search(rf"\| {run}: {text} \| [\d.]+ \| [\d.]+ \| [\d. ]+ \|", out), run
    if onnx:
        assert "| import onnxruntime |" in out and "(spaCy, no torch) |" in out
    for step in ("import torch", "import rnnseq", "load the model folder", "first answer"):
        assert re.search(rf"\| {step}[^|]* \| [\d.]+ \| [\d.]+ \|", out), step
    rows = [line for line in out.splitlines() if line.startswith("| now: ")]
    assert len(rows) == 3 and all(line.endswith("| yes |") for line in rows)
    if "| earlier (" in out:  # git archive of the earlier commit worked
        assert re.search(r"\| earlier \(\w+\): whitespace, float32 \|.* \| 1\.00 \|", out)
    assert re.search(r"\| 2,000 \| [\d.]+ \| [\d.]+ \| \d+ \| yes \|", out)
