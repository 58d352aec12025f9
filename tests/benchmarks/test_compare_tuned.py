"""benchmarks/defaults/compare_tuned.py: the defaults-against-tuned table from result files."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks" / "defaults"))

import compare_tuned  # noqa: E402


def _curve_run(folder, name, seed, scores, stopped="the process ended", definition=2):
    curve = [{"epoch": k, "score": s} for k, s in enumerate(scores, 1)]
    run = {"seed": seed, "curve": curve, "stopped": stopped, "process_cpu_s": 100.0 * seed}
    if definition is not None:
        run["definition"] = definition
    (folder / name).write_text(json.dumps(run))


def test_defaults_rows_take_the_best_dev_the_test_file_and_skip_old_definitions(
    tmp_path, monkeypatch
):
    monkeypatch.setattr(compare_tuned, "TTA", tmp_path)
    (tmp_path / "test").mkdir()
    _curve_run(tmp_path, "ewt-defaults-seed1.json", 1, [0.93, 0.951, 0.95])
    _curve_run(tmp_path, "ewt-defaults-seed2.json", 2, [0.94], stopped="CPU budget of 900 s spent")
    _curve_run(tmp_path, "ewt-defaults-seed3.json", 3, [0.99], definition=None)  # version 1
    (tmp_path / "test" / "ewt-defaults-seed1.json").write_text(json.dumps({"accuracy": 0.953}))
    runs = compare_tuned.default_runs("ewt", "defaults")
    assert [r["seed"] for r in runs] == [1, 2]
    assert runs[0]["dev"] == 0.951 and runs[0]["test"] == 0.953 and not runs[0]["partial"]
    assert runs[1]["test"] is None and runs[1]["partial"]


def test_table_has_a_row_per_setting_and_says_which_were_not_run(tmp_path, monkeypatch):
    monkeypatch.setattr(compare_tuned, "TTA", tmp_path)
    _curve_run(tmp_path, "ewt-defaults-seed1.json", 1, [0.95])
    table = compare_tuned.table()
    lines = table.splitlines()
    row = next(line for line in lines if "| UD EWT (UPOS accuracy) | defaults |" in line)
    assert "| 1 | 95.00 | — |" in row
    assert "| CoNLL-2003 (span F1) | defaults + GloVe 6B 50d | not run |" in table
    tuned = next(line for line in table.splitlines() if "| tuned + GloVe 6B 50d | 1 2 3 |" in line)
    assert "89.80 / 90.62 / 89.96" in tuned and "90.13 ± 0.43" in tuned
