"""benchmarks/time_to_accuracy.py: the --quick run and the tables made from its curves.

The smoke run trains the rnnseq defaults and the plain loop on slices of EWT and
CoNLL-2003 (Flair is never installed here); the report tests feed made-up curves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))

import time_to_accuracy as tta  # noqa: E402
import tta_report  # noqa: E402


def test_quick_run_writes_one_curve_per_run_and_the_table_and_picture(shared_data, tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    cmd = [sys.executable, str(ROOT / "benchmarks" / "time_to_accuracy.py"), "--quick"]
    cmd += ["--only", "defaults", "plain", "--results", str(tmp_path), "--data", str(shared_data)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600, check=True)
    assert "load average before" in out.stdout and "load average after" in out.stdout
    for dataset, metric in (("ewt", "accuracy"), ("conll2003", "span_f1")):
        for variant in ("defaults", "plain"):
            run = json.loads((tmp_path / f"{dataset}-{variant}-seed1.json").read_text())
            assert run["metric"] == metric and run["quick"] is True
            curve = run["curve"]
            assert [e["epoch"] for e in curve] == [1, 2]
            for e in curve:
                assert 0.0 <= e["score"] <= 1.0
                assert 0.0 < e["train_cpu_s"] <= e["cpu_s"] <= run["process_cpu_s"] + 0.05
                assert e["wall_s"] > 0.0
            assert curve[0]["cpu_s"] < curve[1]["cpu_s"]
            assert len(run["load_average_before"]) == 3
        assert (tmp_path / f"{dataset}.png").stat().st_size > 0
        table = (tmp_path / f"{dataset}.md").read_text()
        assert "| rnnseq, defaults | 1 | 2 |" in table and "| plain PyTorch loop | 1 | 2 |" in table
    assert not (tmp_path / "flair-pip-freeze.txt").exists()


def _run(variant, seed, scores, step=10.0, dataset="ewt"):
    """A made-up run whose epoch k (from 1) ends at k * step CPU seconds."""
    curve = [
        {"epoch": k, "score": s, "cpu_s": k * step, "train_cpu_s": k * step / 2, "wall_s": k * step}
        for k, s in enumerate(scores, 1)
    ]
    metric = "accuracy" if dataset == "ewt" else "span_f1"
    return {"dataset": dataset, "variant": variant, "seed": seed, "metric": metric, "curve": curve}


def test_first_reach_is_the_first_epoch_at_or_above_the_level():
    curve = _run("plain", 1, [0.85, 0.92, 0.91, 0.95])["curve"]
    assert tta_report.first_reach(curve, 0.91)["epoch"] == 2
    assert tta_report.first_reach(curve, 0.95)["epoch"] == 4
    assert tta_report.first_reach(curve, 0.96) is None
    assert tta_report.best(curve)["epoch"] == 4


def test_table_gives_seconds_to_each_level_and_the_ratio_to_flairs_best():
    flair = _run("flair", 1, [0.80, 0.86, 0.85], step=100.0)  # best 0.86 at 200 s
    fast = _run("defaults", 1, [0.84, 0.90, 0.93], step=20.0)  # 0.86 reached at 40 s
    table = tta_report.table([fast, flair])
    assert "Flair's best (86.00 %)" in table
    first = table.split("training steps alone")[0]
    row = next(line for line in first.splitlines() if line.startswith("| rnnseq, defaults"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    # variant, seed, epochs, best, 90, 93, 94, 95, to Flair's best, ratio
    assert cells[3] == "93.00 (3)"
    assert cells[4:8] == ["40 (40)", "60 (60)", "—", "—"]
    assert cells[8:] == ["40 (40)", "5.0"]
    flair_row = next(line for line in first.splitlines() if line.startswith("| Flair"))
    assert flair_row.endswith("| 200 (200) | 1.0 |")


def test_table_adds_a_mean_row_over_seeds_and_counts_runs_that_never_reach():
    runs = [_run("defaults", 1, [0.91, 0.94]), _run("defaults", 2, [0.92, 0.93])]
    table = tta_report.table(runs)
    mean = next(line for line in table.splitlines() if "mean of 2" in line)
    cells = [c.strip() for c in mean.strip("|").split("|")]
    assert cells[3] == "93.50 ± 0.71"
    assert cells[4:7] == ["10", "20", "20 (1/2)"]  # 94 %: only seed 1, at 20 s


def test_conll_table_has_the_time_to_ninety_percent_of_the_runs_own_best():
    run = _run("defaults", 1, [0.70, 0.80, 0.88], dataset="conll2003")
    table = tta_report.table([run])
    assert "90 % of own best" in table
    row = next(line for line in table.splitlines() if line.startswith("| rnnseq, defaults"))
    assert row.rstrip().endswith("| 20 (20) |")  # 0.9 * 0.88 = 0.792: epoch 2


def test_into_docs_replaces_only_the_text_between_the_datasets_markers(tmp_path):
    doc = tmp_path / "P.md"
    doc.write_text("top\n<!-- tta ewt begin -->\nold\n<!-- tta ewt end -->\nbottom\n")
    tta_report.into_docs(doc, "ewt", "new table\n")
    expected = "top\n<!-- tta ewt begin -->\nnew table\n<!-- tta ewt end -->\nbottom\n"
    assert doc.read_text() == expected
    with pytest.raises(SystemExit, match="markers"):
        tta_report.into_docs(doc, "conll2003", "x\n")


def _command(variant, dataset="ewt", quick=False):
    args = SimpleNamespace(max_epochs=20, quick=quick, embeddings=Path("v.txt.gz"))
    files = (Path("train"), Path("dev"))
    return tta.rnnseq_command(variant, tta.DATASETS[dataset], files, Path("out"), 3, args)


def test_defaults_and_vectors_pass_nothing_beyond_the_data_out_seed_and_one_thread():
    base = ["--task", "tag", "--train", "train", "--dev", "dev", "--out", "out"]
    base += ["--overwrite", "--no-progress"]
    ours = ["--threads", "1", "--seed", "3"]
    assert _command("defaults")[4:] == base + ours  # after: python -m rnnseq train
    vectors = _command("vectors", "conll2003")[4:]
    assert vectors == base + ["--format", "conll", "--embeddings", "v.txt.gz"] + ours
    assert "--epochs" in _command("defaults", quick=True)  # the smoke run only


def test_tuned_keeps_its_config_with_our_epoch_count_and_no_patience():
    cmd = _command("tuned")
    assert cmd[cmd.index("--epochs") + 1] == "20" and cmd[cmd.index("--patience") + 1] == "0"


def test_reuse_keeps_only_results_of_the_variants_current_definition(tmp_path):
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps({"variant": "defaults"}))  # version 1 had no field
    new.write_text(json.dumps({"variant": "defaults", "definition": tta.DEFINITION["defaults"]}))
    assert not tta.current(old, "defaults") and tta.current(new, "defaults")
    assert not tta.current(tmp_path / "absent.json", "defaults")
    assert tta.current(old, "plain")  # plain's command line did not change
