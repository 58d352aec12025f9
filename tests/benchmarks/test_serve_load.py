"""benchmarks/serve_load.py runs end to end in a tiny configuration (2 clients x 5
requests, batching on and off) against a tiny tagger, every answer checked."""

import json
import os
import subprocess
import sys
from pathlib import Path

from serve_helpers import train_tiny_models

ROOT = Path(__file__).resolve().parents[2]


def test_load_script_answers_every_request_and_prints_its_figures(tmp_path):
    model = train_tiny_models(tmp_path)["tag"]
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "serve_load.py"), "--model", str(model),
         "--clients", "2", "--requests", "5", "--inputs", "20", "--mode", "both"],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("batch: 10/10 answered right, p50 ")
    assert lines[1].startswith("lock: 10/10 answered right, p50 ")
    summary = json.loads(lines[-1])
    for mode in ("batch", "lock"):
        got = summary[mode]
        assert got["requests"] == got["answered_ok"] == 10 and got["errors"] == 0
        assert 0 < got["p50_ms"] <= got["p99_ms"] <= got["max_ms"]
        assert got["requests_per_s"] > 0
    assert summary["load_before"] and summary["command"].startswith("python benchmarks/")
