"""What a run says on stderr: a line when there is no dev data, epoch lines whose names
are metrics.json's keys (with the per-step mean beside a summed objective), progress
lines every LINE_SECONDS when stderr is not a terminal, a bar whose last frame is
complete at a terminal."""

from __future__ import annotations

import json
import re

import pytest

import rnnseq
from conftest import train_argv
from rnnseq.cli import main
from rnnseq.options import OptionWarning
from rnnseq.training import progress
from rnnseq.training.progress import EpochProgress, duration

STEPS_PER_EPOCH = 15  # 120 tagged sentences in batches of 8


def run(capsys, argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def without_dev(argv: list[str]) -> list[str]:
    k = argv.index("--dev")
    return argv[:k] + argv[k + 2 :]


# ------------------------------------------------------------------ no dev data

NO_DEV = (
    "rnnseq: warning: no dev data: no model selection and no early stopping, so the folder "
    "keeps the last epoch's weights and the learning rate never decays (--schedule plateau "
    "follows dev scores); give a dev file (--dev) or hold out part of the training data "
    "(--holdout 0.1) to keep the best epoch"
)


def test_training_without_dev_says_so_once_and_how_to_select(data, tmp_path, capsys):
    argv = without_dev(train_argv("classify", data, tmp_path / "m", "--epochs", 2))
    code, _, err = run(capsys, argv)
    assert code == 0
    assert [line for line in err.splitlines() if "warning" in line] == [NO_DEV]


def test_without_a_plateau_schedule_the_line_says_nothing_of_the_rate(data, tmp_path, capsys):
    argv = without_dev(train_argv("classify", data, tmp_path / "m", "--schedule", "none"))
    code, _, err = run(capsys, argv)
    (line,) = [line for line in err.splitlines() if "no dev data" in line]
    assert "learning rate" not in line and "keeps the last epoch's weights;" in line


@pytest.mark.parametrize("extra", [[], ["--holdout", "0.2"]])
def test_with_dev_data_nothing_is_said(data, tmp_path, capsys, extra):
    argv = train_argv("classify", data, tmp_path / "m", *extra)
    if extra:
        argv = without_dev(argv)
    code, _, err = run(capsys, argv)
    assert code == 0 and "no dev data" not in err


def test_the_python_api_warns_with_field_names(data, tmp_path):
    with pytest.warns(OptionWarning) as record:
        rnnseq.train(task="classify", train=data / "reviews.tsv", out=tmp_path / "m",
                     max_steps=1, hidden=8, embedding_dim=8, progress=False)  # fmt: skip
    (w,) = [str(r.message) for r in record if "no dev data" in str(r.message)]
    assert "give a dev file (dev) or hold out part of the training data (holdout=0.1)" in w
    assert "(schedule='plateau' follows dev scores)" in w


# ------------------------------------------------------------------ epoch lines


def epoch_lines(err: str) -> list[dict]:
    """Each epoch line as {name: value}, "(X per step)" as name_per_step."""
    found = []
    for line in err.splitlines():
        if not re.match(r"epoch \d+/\d+ \|", line):
            continue
        values = {}
        for part in line.split(" | ")[1:-2]:  # without the epoch, lr and seconds
            m = re.fullmatch(r"(\w+) (-?[\d.]+)(?: \((-?[\d.]+) per step\))?", part)
            assert m, part
            values[m.group(1)] = float(m.group(2))
            if m.group(3) is not None:
                per_step = "train_loss_per_step" if m.group(1) == "train_loss" else \
                    f"{m.group(1)}_per_step"  # fmt: skip
                values[per_step] = float(m.group(3))
        found.append(values)
    return found


@pytest.mark.parametrize(
    "task, extra, per_step",
    [
        ("lm", [], True),  # time sum, batch mean: nats per window, and per character
        ("tag", [], True),
        ("tag", ["--loss", "crf"], True),
        ("tag", ["--reduction", "token_mean"], False),  # already per step
        ("tag", ["--time-reduction", "mean"], False),
        ("classify", [], False),  # one step per text
    ],
)
def test_epoch_lines_name_the_metrics_json_keys_with_their_values(
    data, tmp_path, capsys, task, extra, per_step
):
    out = tmp_path / "m"
    argv = train_argv(task, data, out, "--epochs", 2, *extra)
    if task == "lm":
        argv += ["--holdout", "0.1"]
    code, stdout, err = run(capsys, argv)
    assert code == 0, err
    records = json.loads((out / "metrics.json").read_text())["epochs"]
    lines = epoch_lines(err)
    assert len(lines) == len(records) == 2
    for line, record in zip(lines, records, strict=True):
        assert "dev_loss" in line and "dev_accuracy" in line
        for name, value in line.items():
            assert value == pytest.approx(record[name], abs=6e-5), name
        assert ("train_loss_per_step" in record) is per_step
        assert ("dev_objective_per_step" in record) is per_step
        assert ("train_loss_per_step" in line) is per_step
    summary = json.loads(stdout)
    best = next(r for r in records if r["epoch"] == summary["best_epoch"])
    assert {k: v for k, v in summary.items() if k.startswith("dev_")} == {
        k: v for k, v in best.items() if k.startswith("dev_")
    }


def test_the_per_step_mean_of_a_summed_cross_entropy_is_the_dev_loss(data, tmp_path, capsys):
    out = tmp_path / "m"
    code, _, err = run(capsys, train_argv("tag", data, out, "--epochs", 1))
    (record,) = json.loads((out / "metrics.json").read_text())["epochs"]
    # Plain cross-entropy summed over steps: per step it is the contract's dev loss.
    assert record["dev_objective_per_step"] == pytest.approx(record["dev_loss"], rel=1e-6)
    assert record["dev_objective"] > 3 * record["dev_loss"]  # sentences of several words
    assert record["train_loss"] > 3 * record["train_loss_per_step"]


# ---------------------------------------------------------------- progress


def test_progress_lines_when_stderr_is_not_a_terminal(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)  # a line after every step
    argv = train_argv("tag", data, tmp_path / "m", "--epochs", 2)
    argv.remove("--no-progress")
    code, _, err = run(capsys, argv)
    assert code == 0
    pattern = re.compile(
        r"epoch (\d)/2: step (\d+)/15 \((\d+)%\) \| train_loss [\d.]+ \([\d.]+ per step\) \| "
        r"[\d,]+ tokens/s \| ETA \d+s"
    )
    lines = [line for line in err.splitlines() if ": step " in line]
    steps = [(int(m[1]), int(m[2])) for m in map(pattern.fullmatch, lines) if m]
    assert len(steps) == len(lines)  # every progress line has the format
    # Every step but an epoch's last (its summary line follows at once).
    assert steps == [(e, s) for e in (1, 2) for s in range(1, STEPS_PER_EPOCH)]
    assert "\r" not in err


def test_no_progress_lines_within_the_interval(data, tmp_path, capsys):
    argv = train_argv("tag", data, tmp_path / "m", "--epochs", 1)
    argv.remove("--no-progress")
    code, _, err = run(capsys, argv)
    assert code == 0 and ": step " not in err  # a tiny epoch takes far less than 30 s


def test_no_progress_means_no_progress(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "LINE_SECONDS", 0.0)
    code, _, err = run(capsys, train_argv("tag", data, tmp_path / "m", "--epochs", 1))
    assert code == 0 and ": step " not in err and "\r" not in err


def test_the_bars_last_frame_is_complete(data, tmp_path, capsys):
    argv = train_argv("tag", data, tmp_path / "m", "--epochs", 2)
    argv[argv.index("--no-progress")] = "--progress"
    code, _, err = run(capsys, argv)
    assert code == 0
    last_of = {}
    for frame in err.split("\r"):  # tqdm's frames
        m = re.search(r"epoch (\d)/2: .*?(\d+)/15", frame)
        if m:
            last_of[m[1]] = int(m[2])
    assert last_of == {"1": STEPS_PER_EPOCH, "2": STEPS_PER_EPOCH}


def test_a_resumed_epochs_eta_counts_only_this_sessions_steps(capsys):
    import io

    out = io.StringIO()
    shown = EpochProgress("lines", total=100, done=50, label="epoch 2/3", interval=0.0, file=out)
    shown.started -= 10.0  # 10 s for the 10 steps below: 1 s a step
    shown.update(60, "train_loss 1.0000", 6000)
    assert out.getvalue() == (
        "epoch 2/3: step 60/100 (60%) | train_loss 1.0000 | 600 tokens/s | ETA 40s\n"
    )


@pytest.mark.parametrize("seconds, text", [(9, "9s"), (75, "1m15s"), (4000, "1h06m")])
def test_durations_read_as_a_clock(seconds, text):
    assert duration(seconds) == text
