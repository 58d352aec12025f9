"""Training errors that name an option name it as Python does in Python (``overwrite=True``,
``batch_size``) and as the command line does on the command line (``--overwrite``,
``--batch-size``): the same failure through ``rnnseq.train`` and through ``rnnseq train``."""

from __future__ import annotations

import re

import pytest

import rnnseq
from conftest import train_argv
from rnnseq.cli import main
from rnnseq.options import OptionError
from rnnseq.serialization import FolderExistsError, ModelFolderError
from rnnseq.task_model import TaskModel
from rnnseq.training.sharding import epoch_batches
from rnnseq.training.step import NumericalError

TINY = {"hidden": 8, "embedding_dim": 8, "batch_size": 8, "threads": 1, "progress": False}
FLAG = re.compile(r"--[a-z]")


def python_error(exc_type, **options) -> str:
    with pytest.raises(exc_type) as info:
        rnnseq.train(**{**TINY, **options})
    return str(info.value)


def cli_error(capsys, argv) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    return code, err[-1]


def test_an_existing_folder_names_overwrite_and_resume(data, tmp_path, capsys):
    out = tmp_path / "m"
    out.mkdir()
    message = python_error(FolderExistsError, task="tag", train=data / "tags.jsonl", out=out)
    assert message == f"{out} already exists; use overwrite=True to replace it or resume=True "\
        "to continue it"  # fmt: skip
    assert not FLAG.search(message)
    code, line = cli_error(capsys, train_argv("tag", data, out))
    assert code == 2
    assert line == f"rnnseq train: error: {out} already exists; use --overwrite to replace it "\
        "or --resume to continue it"  # fmt: skip


def test_folder_exists_is_still_a_model_folder_error_and_an_option_error(tmp_path):
    e = FolderExistsError(tmp_path / "{0}")
    assert isinstance(e, ModelFolderError) and isinstance(e, OptionError)
    assert str(e).startswith(f"{tmp_path / '{0}'} already exists")  # braces in a path kept


def test_a_holdout_that_leaves_nothing_names_holdout(tmp_path, capsys):
    train = tmp_path / "two.tsv"
    train.write_text("a b\tpos\nc d\tneg\n")
    out = tmp_path / "m"
    message = python_error(OptionError, task="classify", train=train, out=out, holdout=0.4)
    assert message == f"holdout=0.4 leaves too little of {train} to train on"
    argv = ["train", "--task", "classify", "--train", train, "--out", out, "--holdout", "0.4"]
    code, line = cli_error(capsys, argv)
    assert (code, line) == (2, f"rnnseq train: error: --holdout 0.4 leaves too little of "
                               f"{train} to train on")  # fmt: skip
    assert not out.exists()


@pytest.mark.parametrize(
    "spec, python, cli",
    [
        ("positive=x", "class_weights: 'x' is not a number", "--class-weights: 'x' is not"),
        ("nope=2", "class_weights must be 'balanced' or LABEL", "--class-weights must be"),
        ("positive=-1", "class_weights: weights must be >= 0", "--class-weights: weights must"),
    ],
)
def test_bad_class_weights_name_class_weights(data, tmp_path, capsys, spec, python, cli):
    out = tmp_path / "m"
    message = python_error(
        OptionError, task="classify", train=data / "reviews.tsv", out=out, class_weights=spec
    )
    assert message.startswith(python) and not FLAG.search(message)
    code, line = cli_error(capsys, train_argv("classify", data, out, "--class-weights", spec))
    assert code == 2 and line.startswith(f"rnnseq train: error: {cli}")
    assert not out.exists()


def test_too_few_batches_for_the_processes_names_batch_size():
    with pytest.raises(OptionError) as info:
        epoch_batches([3, 4, 5], 8, seed=1, epoch=1, rank=0, world_size=2)
    assert str(info.value) == (
        "batch_size=8 makes 1 batch(es) of the training data, fewer than the 2 processes; "
        "use a smaller batch_size"
    )
    assert info.value.for_cli().startswith("--batch-size 8 makes 1 batch(es)")
    assert info.value.for_cli().endswith("use a smaller --batch-size")


def test_a_nan_loss_advises_fields_in_python_and_flags_on_the_command_line(
    data, tmp_path, capsys, monkeypatch
):
    real = TaskModel.forward

    def forward(self, batch, opts, state=None):
        total, count, state = real(self, batch, opts, state)
        return total * float("nan"), count, state

    monkeypatch.setattr(TaskModel, "forward", forward)
    out = tmp_path / "m"
    message = python_error(NumericalError, task="tag", train=data / "tags.jsonl", out=out)
    assert message.endswith(
        "try a lower lr or clip=1 (and detect_anomaly=True to find the operation that made it)"
    )
    assert not FLAG.search(message)
    code, line = cli_error(capsys, train_argv("tag", data, out))
    assert code == 1
    assert line.endswith(
        "try a lower --lr or --clip 1 (and --detect-anomaly to find the operation that made it)"
    )


def test_a_gpu_that_is_not_there_names_device(data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    out = tmp_path / "m"
    message = python_error(OptionError, task="tag", train=data / "tags.jsonl", out=out,
                           device="cuda")  # fmt: skip
    assert message == "device='cuda' was asked for, but torch sees no CUDA GPU"
    code, line = cli_error(capsys, train_argv("tag", data, out, "--device", "cuda"))
    assert (code, line) == (2, "rnnseq train: error: --device cuda was asked for, but torch "
                               "sees no CUDA GPU")  # fmt: skip
    assert not out.exists()


@pytest.mark.parametrize("value", ["inf", "nan", "-1"])
def test_an_impossible_learning_rate_names_the_flag_and_the_range(data, tmp_path, capsys, value):
    code, line = cli_error(capsys, train_argv("tag", data, tmp_path / "m", "--lr", value))
    assert (code, line) == (2, f"rnnseq train: error: --lr must be a finite number > 0, got "
                               f"{float(value)}")  # fmt: skip
    assert not (tmp_path / "m").exists()
