"""Defaults against the tuned configs, with and without pretrained vectors (issue 13).

    python benchmarks/defaults/compare_tuned.py --evaluate   # test-score the finished runs
    python benchmarks/defaults/compare_tuned.py              # the Markdown table only

The defaults' figures come from the runs of `benchmarks/time_to_accuracy.py` (variants
`defaults` and `vectors`: `rnnseq train` with nothing beyond the data, --out, --seed,
--threads 1 and, for vectors, --embeddings): the best dev score of each curve
(`docs/results/tta/DATASET-VARIANT-seedN.json`, current definition only) and the test
score of its model folder (`runs/tta/DATASET-VARIANT-N`, which keeps the best dev
epoch), which --evaluate writes to `docs/results/tta/test/DATASET-VARIANT-seedN.json`
with `rnnseq evaluate --model DIR --data TEST --json` (skipping those already there).
The tuned figures come from `benchmarks/quality/run.py` results: `docs/results/DATASET.json`
and `DATASET_glove.json` (seed 1), and the other seeds of CoNLL-2003 + GloVe in
`docs/results/embeddings/g_conll_s2.json` and `g_conll_s3.json`.

A run whose curve stopped before its model ended by itself is marked "(partial)" and
left out of the mean.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
sys.path.insert(0, str(REPO / "benchmarks" / "quality"))

from run import find_data  # noqa: E402

from time_to_accuracy import DEFINITION  # noqa: E402

TTA = REPO / "docs" / "results" / "tta"
RESULTS = REPO / "docs" / "results"
TEST = {
    "ewt": "ud_english_ewt/en_ewt-ud-test.conllu",
    "conll2003": "conll2003/eng.testb",
}
METRIC = {"ewt": "accuracy", "conll2003": "span_f1"}
TUNED = {  # (dataset, with vectors) -> the quality results, seed order
    ("ewt", False): ["ewt.json"],
    ("ewt", True): ["ewt_glove.json"],
    ("conll2003", False): ["conll2003.json"],
    ("conll2003", True): [
        "conll2003_glove.json",
        "embeddings/g_conll_s2.json",
        "embeddings/g_conll_s3.json",
    ],
}


def default_runs(dataset: str, variant: str) -> list[dict]:
    """The current-definition time-to-accuracy runs of a variant, by seed, with test."""
    runs = []
    for path in sorted(TTA.glob(f"{dataset}-{variant}-seed*.json")):
        run = json.loads(path.read_text(encoding="utf-8"))
        if run.get("definition", 1) != DEFINITION[variant]:
            continue
        test_path = TTA / "test" / path.name
        test = None
        if test_path.exists():
            test = json.loads(test_path.read_text(encoding="utf-8"))[METRIC[dataset]]
        top = max(e["score"] for e in run["curve"])
        runs.append(
            {
                "seed": run["seed"],
                "dev": top,
                "test": test,
                "epochs": len(run["curve"]),
                "cpu_s": run["process_cpu_s"],
                "partial": run["stopped"] != "the process ended",
                "source": f"docs/results/tta/{path.name}",
            }
        )
    return runs


def tuned_runs(dataset: str, vectors: bool) -> list[dict]:
    runs = []
    for name in TUNED[(dataset, vectors)]:
        result = json.loads((RESULTS / name).read_text(encoding="utf-8"))
        key = "dev_" + METRIC[dataset]
        dev = max(e[key] for e in result["dev_curve"])
        runs.append(
            {
                "seed": result["config"].get("seed", 1),
                "dev": dev,
                "test": result["value"],
                "epochs": result["epochs_run"],
                "cpu_s": result["train"]["cpu_s"],
                "partial": False,
                "source": f"docs/results/{name}",
            }
        )
    return runs


def evaluate(data_root: Path) -> None:
    """`rnnseq evaluate --json` on each finished defaults/vectors model without a test file."""
    (TTA / "test").mkdir(exist_ok=True)
    env = dict(os.environ, OMP_NUM_THREADS="1")
    for dataset, test in TEST.items():
        for variant in ("defaults", "vectors"):
            for path in sorted(TTA.glob(f"{dataset}-{variant}-seed*.json")):
                run = json.loads(path.read_text(encoding="utf-8"))
                target = TTA / "test" / path.name
                model = REPO / "runs" / "tta" / f"{dataset}-{variant}-{run['seed']}"
                if target.exists() or run.get("definition", 1) != DEFINITION[variant]:
                    continue
                cmd = [sys.executable, "-m", "rnnseq", "evaluate", "--model", str(model)]
                cmd += ["--data", str(data_root / test), "--json"]
                print("$ " + " ".join(cmd), flush=True)
                out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
                scores = json.loads(out.stdout)
                scores["command"] = " ".join(cmd[1:])
                target.write_text(json.dumps(scores, indent=1) + "\n", encoding="utf-8")


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.2f}"


def _summary(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return "—"
    if len(known) == 1:
        return _pct(known[0])
    return f"{_pct(statistics.mean(known))} ± {100 * statistics.stdev(known):.2f}"


def table() -> str:
    head = "| dataset (test metric) | setting | seeds | best dev, each seed | test, each seed "
    head += "| test, mean ± sd | epochs | CPU s of the train process | from |"
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for dataset in ("ewt", "conll2003"):
        label = "UD EWT (UPOS accuracy)" if dataset == "ewt" else "CoNLL-2003 (span F1)"
        for vectors in (False, True):
            variant = "vectors" if vectors else "defaults"
            suffix = " + GloVe 6B 50d" if vectors else ""
            for setting, runs in (
                ("defaults" + suffix, default_runs(dataset, variant)),
                ("tuned" + suffix, tuned_runs(dataset, vectors)),
            ):
                if not runs:
                    lines.append(f"| {label} | {setting} | not run | | | | | | |")
                    continue
                mark = [" (partial)" if r["partial"] else "" for r in runs]
                cells = [
                    label,
                    setting,
                    " ".join(str(r["seed"]) for r in runs),
                    " / ".join(_pct(r["dev"]) + m for r, m in zip(runs, mark, strict=True)),
                    " / ".join(_pct(r["test"]) for r in runs),
                    _summary([r["test"] for r in runs if not r["partial"]]),
                    " / ".join(str(r["epochs"]) for r in runs),
                    " / ".join(f"{r['cpu_s']:.0f}" for r in runs),
                    ", ".join(f"`{r['source']}`" for r in runs),
                ]
                lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--evaluate", action="store_true", help="test-score finished models first")
    ap.add_argument("--data", type=Path, help="data folder (default: ../shared/data)")
    args = ap.parse_args(argv)
    if args.evaluate:
        data = args.data or find_data(REPO / "benchmarks")
        if data is None:
            ap.error("no shared/data folder found above this script; give --data")
        evaluate(data)
    print(table(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
