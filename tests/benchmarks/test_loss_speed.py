"""benchmarks/loss_speed.py --quick runs and prints a ratio for every variant, under the
kernel plan it is given."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_quick_loss_benchmark_prints_ratios_for_every_variant():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    script = str(ROOT / "benchmarks" / "loss_speed.py")
    plan = ["--plan", "path=fused", "--plan", "chunk_elements=4096"]
    out = subprocess.run(
        [sys.executable, script, "--quick", *plan],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    ).stdout
    assert re.search(r"Copy bandwidth, 1 thread\(s\): [\d.]+ GB/s", out)
    plan_line = "Kernel plan, 1 thread(s), with --plan path=fused chunk_elements=4096: KernelPlan("
    assert plan_line in out
    assert "path='fused'" in out and "chunk_elements=4096," in out
    rows = [line.split("|")[1:-1] for line in out.splitlines() if re.match(r"\| \S.*\| \d", line)]
    variants = {(row[0].strip(), row[2].strip()) for row in rows}
    for variant in ("naive", "flat", "allennlp", "rnnseq"):
        assert ("word-LM (small) (4, 20, 3000)", variant) in variants
    assert ("head (small) (4, 20, 64, 3000)", "unfused") in variants
    assert ("head (small) (4, 20, 64, 3000)", "rnnseq") in variants
    for row in rows:
        ratios = [float(cell) for cell in row[3:]]  # times, ratios, memory: all numbers
        assert all(value >= 0 for value in ratios)
    baseline = [row for row in rows if row[2].strip() in ("naive", "unfused")]
    assert all(float(row[5]) == 1.0 for row in baseline)  # each ratio is to its own baseline


def test_profile_counts_operations_and_parallel_regions_per_step():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    script = str(ROOT / "benchmarks" / "loss_speed.py")
    out = subprocess.run(
        [sys.executable, script, "--quick", "--profile"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    ).stdout
    rows = [line.split("|")[1:-1] for line in out.splitlines() if re.match(r"\| \S.*\| \d", line)]
    by_variant = {row[2].strip(): [float(cell) for cell in row[3:]] for row in rows}
    assert set(by_variant) == {"naive", "rnnseq"}
    naive = by_variant["naive"]
    assert naive[0] >= naive[1] >= naive[2] >= 1  # ops >= ops reading data >= parallel-sized
    assert naive[3] == round(4 * 20 * 3000 * 4 / 2**20, 1)  # its parallel ops read the logits
    assert "Output layer" not in out  # --profile prints the profile instead of the tables


def test_plans_side_by_side_prints_a_ratio_per_plan():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    script = str(ROOT / "benchmarks" / "loss_plans.py")
    out = subprocess.run(
        [sys.executable, script, "tagging", "1", "", "path=plain", "--repeats", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    ).stdout
    lines = [line for line in out.splitlines() if "x naive" in line]
    assert len(lines) == 3 and "x naive 1.00" in lines[0]
    assert "(default plan)" in lines[1] and "path=plain" in lines[2]
