"""One very long record: classify and tag cut it to the task's default ``--max-length``
(one warning with the count), a language model reads it in ``--bptt`` windows, and a
batch that still does not fit in memory stops with one line (exit 1), never a traceback."""

from __future__ import annotations

import time

import pytest
import torch

import rnnseq
from conftest import TINY
from rnnseq.cli import main
from rnnseq.data import DataError
from rnnseq.options import OptionWarning
from rnnseq.task_model import TaskModel
from rnnseq.training import loop
from rnnseq.training.config import MAX_LENGTH, TrainConfig
from rnnseq.training.step import OutOfMemory, out_of_memory

LONG = 200_000


def write_long(tmp_path, task: str):
    """Ten short records and one of 200,000 tokens."""
    words = [f"w{i % 5000}" for i in range(LONG)]
    if task == "classify":
        path = tmp_path / "long.tsv"
        rows = [f"good film {i}\tpos" if i % 2 else f"bad film {i}\tneg" for i in range(10)]
        path.write_text("\n".join([*rows, " ".join(words) + "\tpos"]) + "\n")
    else:
        path = tmp_path / "long.conll"
        short = "".join(f"the X\nfilm {'Y' if i % 2 else 'Z'}\n\n" for i in range(10))
        path.write_text(short + "".join(f"{w} X\n" for w in words))
    return path


def spy_on_steps(monkeypatch) -> list[tuple[int, int]]:
    """The (N, T) shape of every training batch."""
    shapes = []
    real = loop.train_step

    def step(net, batch, *args, **kwargs):
        shapes.append(tuple(batch.tokens.shape))
        return real(net, batch, *args, **kwargs)

    monkeypatch.setattr(loop, "train_step", step)
    return shapes


def test_classify_and_tag_have_a_default_max_length_and_lm_has_none():
    for task, want in [("classify", 1024), ("tag", 512), ("lm", None)]:
        cfg = TrainConfig(task=task, train="t", out="m").resolved()
        assert cfg.data.max_length == want == MAX_LENGTH.get(task)


@pytest.mark.parametrize("task", ["classify", "tag"])
def test_a_200000_token_record_is_cut_to_the_default_with_one_warning(
    tmp_path, capsys, monkeypatch, task
):
    path = write_long(tmp_path, task)
    shapes = spy_on_steps(monkeypatch)
    argv = ["train", "--task", task, "--train", path, "--out", tmp_path / "m", *TINY]
    code = main([str(a) for a in [*argv, "--batch-size", "4", "--epochs", "1"]])
    err = capsys.readouterr().err
    assert code == 0, err
    limit = MAX_LENGTH[task]
    warnings = [line for line in err.splitlines() if "warning" in line and "dev" not in line]
    assert warnings == [
        f"rnnseq: warning: {path}: 1 of 11 sequences is longer than --max-length {limit} "
        f"tokens (the longest has 200,000) and cut to {limit:,}; a larger --max-length keeps "
        "more (a batch's memory grows with it), --on-long error refuses them"
    ]
    assert max(t for _, t in shapes) == limit


def test_the_python_api_warns_with_field_names(tmp_path):
    path = write_long(tmp_path, "classify")
    with pytest.warns(OptionWarning) as record:
        rnnseq.train(task="classify", train=path, out=tmp_path / "m", max_steps=1, hidden=8,
                     embedding_dim=8, progress=False, threads=1)  # fmt: skip
    (w,) = [r.message for r in record if "max_length" in str(r.message)]
    assert isinstance(w, OptionWarning)
    assert "longer than max_length=1024 tokens" in str(w)
    assert "a larger max_length keeps more" in str(w) and "on_long='error' refuses" in str(w)


def test_on_long_error_names_the_line_and_the_options(tmp_path, capsys):
    path = write_long(tmp_path, "classify")
    with pytest.raises(DataError) as info:
        rnnseq.train(task="classify", train=path, out=tmp_path / "m", on_long="error")
    assert str(info.value) == (
        f"{path}:11: sequence of 200,000 tokens is longer than max_length=1024 (with "
        "on_long='error'; the default cuts it instead)"
    )
    argv = ["train", "--task", "classify", "--train", path, "--out", tmp_path / "m"]
    assert main([str(a) for a in [*argv, "--on-long", "error"]]) == 2
    assert capsys.readouterr().err == (
        f"rnnseq train: error: {path}:11: sequence of 200,000 tokens is longer than "
        "--max-length 1024 (with --on-long error; the default cuts it instead)\n"
    )
    assert not (tmp_path / "m").exists()


def test_a_language_model_reads_a_200000_character_line_in_bptt_windows(
    tmp_path, capsys, monkeypatch
):
    path = tmp_path / "one-line.txt"
    path.write_text("".join("abcdefgh "[i % 9] for i in range(LONG)))  # no line end at all
    shapes = spy_on_steps(monkeypatch)
    argv = ["train", "--task", "lm", "--train", path, "--out", tmp_path / "m", *TINY]
    code = main([str(a) for a in [*argv, "--bptt", "32", "--max-steps", "3"]])
    assert code == 0, capsys.readouterr().err
    assert shapes == [(32, 32)] * 3


# Torch's CPU allocator refusing a request (the 200,000-token line without a limit).
CPU_OOM = (
    "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate "
    "memory: you tried to allocate 38654705664 bytes. Error code 12 (Cannot allocate memory)"
)


def test_an_allocation_failure_is_recognised_with_its_size():
    assert out_of_memory(RuntimeError(CPU_OOM)) == "38.7 GB"
    assert out_of_memory(MemoryError()) == ""
    assert out_of_memory(RuntimeError("mat1 and mat2 shapes cannot be multiplied")) is None
    with pytest.raises(RuntimeError) as info:  # this torch's own words, without the memory
        torch.empty(2**62, dtype=torch.uint8)
    assert out_of_memory(info.value) is not None


def test_a_batch_that_does_not_fit_stops_with_one_line_and_exit_1(
    tmp_path, capsys, monkeypatch
):
    path = write_long(tmp_path, "classify")

    def forward(self, batch, opts, state=None):
        raise RuntimeError(CPU_OOM)

    monkeypatch.setattr(TaskModel, "forward", forward)
    out = tmp_path / "m"
    argv = ["train", "--task", "classify", "--train", path, "--out", out, *TINY]
    code = main([str(a) for a in [*argv, "--max-length", "300000", "--batch-size", "16"]])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err
    assert err.splitlines()[-1] == (
        "rnnseq train: out of memory at step 1 (epoch 1): a batch of 11 sequence(s) of up to "
        "200,000 tokens (it asked the cpu for 38.7 GB more); a lower --batch-size or "
        "--max-length makes batches smaller; no checkpoint was written yet, so there is no "
        "model folder"
    )
    assert not out.exists()
    with pytest.raises(OutOfMemory, match="a lower batch_size or max_length makes"):
        rnnseq.train(task="classify", train=path, out=out, max_length=300000, progress=False)


def test_an_lm_file_too_large_for_memory_trains_from_its_token_file(
    tmp_path, capsys, monkeypatch
):
    from rnnseq.training import setup

    path = tmp_path / "one-line.txt"
    path.write_text("abcd " * 400_000)  # 2 MB, one line: about 80 MB read into memory
    monkeypatch.setattr(setup, "available_memory", lambda: 50_000_000)

    def never(*args):
        raise AssertionError("the text was read into memory")

    monkeypatch.setattr(setup.get_task("lm").__class__, "read", never)
    cache, out = tmp_path / "cache", tmp_path / "m"
    argv = ["train", "--task", "lm", "--train", path, "--out", out, *TINY, "--max-steps", "2",
            "--bptt", "16", "--token-cache", cache]  # fmt: skip
    assert main([str(a) for a in argv]) == 0, capsys.readouterr().err
    assert (out / "model.safetensors").exists()
    names = {p.suffix for p in cache.glob("one-line.txt.char.*.tokens*")}
    assert names == {".tokens", ".json", ".lock"}


def test_a_2_gb_text_with_a_nul_byte_is_refused_at_the_byte_without_reading_on(
    tmp_path, capsys
):
    path = tmp_path / "huge.txt"
    with open(path, "wb") as f:  # 1.2 MB of text, then a hole (NUL bytes): no disk space
        f.write(b"the cat sat on the mat " * 50_000)
        f.seek(2 * 10**9 - 1)
        f.write(b"\n")
    argv = ["train", "--task", "lm", "--train", path, "--out", tmp_path / "m", *TINY]
    started = time.process_time()
    assert main([str(a) for a in argv]) == 2
    assert time.process_time() - started < 30  # a full pass over 2 GB would take minutes
    err = capsys.readouterr().err
    assert err.startswith(f"rnnseq train: error: {path}:1: NUL byte at byte 1150001 "), err
    assert err.count("\n") == 1 and not (tmp_path / "m").exists()


@pytest.mark.parametrize("role", ["--train", "--dev"])
def test_a_one_character_text_is_refused_before_training(tmp_path, capsys, data, role):
    one = tmp_path / "one.txt"
    one.write_text("a")  # nothing to predict: formerly "ids must hold at least 2 units"
    files = {"--train": data / "text.txt", "--dev": data / "text.txt", role: one}
    argv = ["train", "--task", "lm", *[x for kv in files.items() for x in kv],
            "--out", tmp_path / "m", *TINY]  # fmt: skip
    assert main([str(a) for a in argv]) == 2
    assert capsys.readouterr().err.splitlines()[-1] == (
        f"rnnseq train: error: {one}: the text is 1 unit long; a language model needs at "
        "least 2 (one to read, the next to predict)"
    )
    assert not (tmp_path / "m").exists()
