"""Bad input through the command line: one line on stderr naming the file and the line,
exit status 2, no traceback and no model folder left behind. And the odd input that is
not an error (an unseen tag, a long sequence, IOB1 tags) gives a result and one warning.
"""

from __future__ import annotations

import io
import json
import os
import sys

import pytest

from model_folder_factory import make_model_folder
from rnnseq.cli import main
from rnnseq.inference import Predictor

TINY = ["--epochs", "1", "--hidden", "8", "--embedding-dim", "8", "--batch-size", "8"]
TINY += ["--no-progress", "--seed", "3"]
MEGABYTE = 1 << 20

GOOD_TSV = b"a fine film\tpos\nnot good\tneg\nvery good indeed\tpos\nbad\tneg\n"
GOOD_CONLL = b"EU B-ORG\nrejects O\n\nPeter B-PER\nBlackburn I-PER\n"


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, command, *names):
    assert code == 2, err
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    assert err.startswith(f"rnnseq {command}: error: ")
    for name in names:
        assert str(name) in err, err


# --------------------------------------------------------------------------
# train
# --------------------------------------------------------------------------

# id -> (task, {file name: bytes}; the first file is --train, a "dev." file is --dev,
#        extra options, what the message must say after "<file>:")
BAD_TRAINING_DATA = {
    "empty tsv": ("classify", {"train.tsv": b""}, [], " no rows found"),
    "empty conllu": ("tag", {"train.conllu": b""}, [], " no sentences found"),
    "empty conll": ("tag", {"train.conll": b""}, [], " no sentences found"),
    "empty jsonl": ("tag", {"train.jsonl": b""}, [], " no JSON objects found"),
    "empty text for lm": ("lm", {"train.txt": b""}, [], " the file is empty"),
    "blank lines tsv": ("classify", {"train.tsv": b"\n \n\t\n"}, [], " no rows found"),
    "blank lines csv": ("classify", {"train.csv": b"\n\n"}, [], " no rows found"),
    "blank lines conllu": ("tag", {"train.conllu": b"\n\n \n"}, [], " no sentences found"),
    "blank lines conll": ("tag", {"train.conll": b"\n\n\n"}, [], " no sentences found"),
    "blank lines jsonl": ("classify", {"train.jsonl": b"\n \n"}, [], " no JSON objects"),
    "blank lines lm chars": ("lm", {"train.txt": b"\n\n \n"}, [], " the file is only blank lines"),
    "blank lines lm words": ("lm", {"train.txt": b"\n\n"}, ["--unit", "word"], " no words"),
    "tsv column count": (
        "classify",
        {"train.tsv": b"a b\tpos\nc d\tx\tneg\n"},
        [],
        "2: expected 2 fields as on line 1, got 3",
    ),
    "csv column count": (
        "classify",
        {"train.csv": b"a b,pos\nc d,x,neg\n"},
        [],
        "2: expected 2 fields as on line 1, got 3",
    ),
    "conll column count": (
        "tag",
        {"train.conll": b"EU NNP B-ORG\nrejects O\n"},
        [],
        "2: expected 3 columns as on line 1, got 2",
    ),
    "conllu field count": (
        "tag",
        {"train.conllu": b"1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_\n2\tyou\tyou\tPRON\n"},
        [],
        "2: expected 10 tab-separated fields, got 4",
    ),
    "class in dev never seen in training": (
        "classify",
        {"train.tsv": GOOD_TSV, "dev.tsv": b"so so\tmeh\n"},
        [],
        "1: label 'meh' never occurs in the training data",
    ),
    "invalid UTF-8 in tsv": (
        "classify",
        {"train.tsv": b"good\tpos\nba\xffd\tneg\n"},
        [],
        "2: invalid UTF-8 byte 0xff at byte 3 of the line",
    ),
    "invalid UTF-8 in conllu": (
        "tag",
        {"train.conllu": b"# sent_id = 1\n1\tH\xc3\tx\tX\t_\t_\t0\troot\t_\t_\n"},
        [],
        "2: invalid UTF-8 byte 0xc3 at byte 4 of the line",
    ),
    "invalid UTF-8 in lm text": (
        "lm",
        {"train.txt": b"to be\nor not\xe2\x82 to be\n"},
        [],
        "2: invalid UTF-8 byte 0xe2 at byte 7 of the line",
    ),
    "1 MB line in conll": (
        "tag",
        {"train.conll": b"x" * MEGABYTE + b"\n"},
        [],
        "1: expected a token and a tag column, got 1 column",
    ),
    "1 MB line of JSON nesting": (
        "tag",
        {"train.jsonl": b"[" * MEGABYTE + b"\n"},
        [],
        "1: expected one JSON object per line",
    ),
    "1 MB line in tsv": (
        "classify",
        {"train.tsv": b"word " * (MEGABYTE // 5) + b"\n"},
        [],
        "1: expected a text and a label column, got 1 column",
    ),
    "1 MB unterminated csv quote": (
        "classify",
        {"train.csv": b'"' + b"x" * MEGABYTE + b"\n"},
        [],
        "1: expected a text and a label column, got 1 column",
    ),
    "sequence longer than --max-length with --on-long error": (
        "classify",
        {"train.tsv": GOOD_TSV},
        ["--max-length", "2", "--on-long", "error"],
        "1: sequence of 3 tokens is longer than --max-length 2",
    ),
    "empty text to classify in tsv": (
        "classify",
        {"train.tsv": b"good\tpos\n \tneg\n"},
        [],
        "2: expected a text, got an empty one",
    ),
    "empty text to classify in csv": (
        "classify",
        {"train.csv": b'text,label\ngood,pos\n"",neg\n'},
        [],
        "3: expected a text, got an empty one",
    ),
    "empty text to classify in jsonl": (
        "classify",
        {"train.jsonl": b'{"text": "good", "label": 1}\n{"text": "", "label": 0}\n'},
        [],
        '2: expected a text, got an empty "text"',
    ),
}


@pytest.mark.parametrize("case", BAD_TRAINING_DATA, ids=list(BAD_TRAINING_DATA))
def test_bad_training_data_exits_2_with_one_line_and_no_folder(tmp_path, capsys, case):
    task, files, extra, message = BAD_TRAINING_DATA[case]
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    first = tmp_path / next(iter(files))
    dev = [a for name in files if name.startswith("dev.") for a in ("--dev", tmp_path / name)]
    runs = tmp_path / "runs"
    code, _, err = run(
        capsys, "train", "--task", task, "--train", first, *dev, "--out", runs / "m", *TINY, *extra
    )
    assert_one_line_error(code, err, "train")
    named = [tmp_path / name for name in files if f"{tmp_path / name}:" in err]
    assert len(named) == 1 and f"{named[0]}:{message}" in err, err
    assert not runs.exists() or list(runs.iterdir()) == []  # not even a hidden partial one


@pytest.mark.parametrize("which", ["--train", "--dev"])
def test_directory_as_a_data_file_exits_2_naming_it(tmp_path, capsys, which):
    (tmp_path / "train.tsv").write_bytes(GOOD_TSV)
    (tmp_path / "folder").mkdir()
    files = {"--train": tmp_path / "train.tsv", "--dev": tmp_path / "train.tsv"}
    files[which] = tmp_path / "folder"
    code, _, err = run(
        capsys,
        "train",
        "--task",
        "classify",
        "--train",
        files["--train"],
        "--dev",
        files["--dev"],
        "--out",
        tmp_path / "m",
        *TINY,
    )
    assert_one_line_error(code, err, "train", tmp_path / "folder", "Is a directory")
    assert not (tmp_path / "m").exists()


def test_missing_training_file_exits_2_naming_it(tmp_path, capsys):
    code, _, err = run(
        capsys, "train", "--task", "tag", "--train", tmp_path / "absent.conllu", "--out", "m"
    )
    assert_one_line_error(code, err, "train", tmp_path / "absent.conllu", "No such file")


# --------------------------------------------------------------------------
# train: odd input that is not an error
# --------------------------------------------------------------------------


def _warnings(err: str) -> list[str]:
    return [line for line in err.splitlines() if line.startswith("rnnseq: warning: ")]


def test_long_sequences_are_truncated_with_one_warning(tmp_path, capsys):
    (tmp_path / "train.tsv").write_bytes(GOOD_TSV)
    code, _, err = run(
        capsys,
        "train",
        "--task",
        "classify",
        "--train",
        tmp_path / "train.tsv",
        "--out",
        tmp_path / "m",
        "--max-length",
        "2",
        *TINY,
    )
    assert code == 0, err
    assert _warnings(err) == [
        f"rnnseq: warning: {tmp_path / 'train.tsv'}: 2 sequence(s) longer than --max-length 2 "
        "were truncated"
    ]
    assert (tmp_path / "m" / "model.safetensors").exists()


def test_unseen_dev_tag_counts_as_wrong_with_one_warning_over_epochs(tmp_path, capsys):
    (tmp_path / "train.conll").write_bytes(GOOD_CONLL)
    (tmp_path / "dev.conll").write_bytes(b"EU B-ORG\nsaid B-VERB\n")
    code, _, err = run(
        capsys,
        "train",
        "--task",
        "tag",
        "--train",
        tmp_path / "train.conll",
        "--dev",
        tmp_path / "dev.conll",
        "--out",
        tmp_path / "m",
        *TINY,
        "--epochs",
        "3",
        "--patience",
        "0",
    )
    assert code == 0, err
    assert len(_warnings(err)) == 1, err  # once, not once per epoch
    assert f"{tmp_path / 'dev.conll'}: 1 token(s) carry tags never seen in training" in err
    epochs = json.loads((tmp_path / "m" / "metrics.json").read_text())["epochs"]
    assert len(epochs) == 3 and all(e["dev_accuracy"] <= 0.5 for e in epochs)


def test_tags_starting_with_i_are_read_as_iob1_and_reported(tmp_path, capsys):
    iob1 = b"EU I-ORG\nrejects O\nGerman I-MISC\n\nPeter I-PER\nBlackburn I-PER\n" * 4
    (tmp_path / "train.conll").write_bytes(iob1)
    code, _, err = run(
        capsys,
        "train",
        "--task",
        "tag",
        "--train",
        tmp_path / "train.conll",
        "--out",
        tmp_path / "m",
        *TINY,
    )
    assert code == 0, err
    code, out, err = run(
        capsys, "evaluate", "--model", tmp_path / "m", "--data", tmp_path / "train.conll", "--json"
    )
    assert code == 0, err
    assert json.loads(out)["tag_scheme"] == "IOB1"
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["tag_scheme"] == {"source": "IOB1", "learned": "IOBES"}


# --------------------------------------------------------------------------
# evaluate and predict
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    return {task: make_model_folder(root / task, task) for task in ("classify", "tag", "lm")}


@pytest.fixture
def write(tmp_path):
    def write(name: str, data: bytes):
        path = tmp_path / name
        path.write_bytes(data)
        return path

    return write


# id -> (task, data file name, bytes, what the message says after "<file>:")
BAD_EVALUATION_DATA = {
    "odd bytes classify": ("classify", "d.tsv", b"good\tpos\n\x00\x9f\xfe\n", "2: invalid UTF-8"),
    "odd bytes tag": ("tag", "d.conllu", b"# x\n\n1\t\xff\n", "3: invalid UTF-8 byte 0xff"),
    "odd bytes lm": ("lm", "d.txt", b"to be\r\n\x80", "2: invalid UTF-8 byte 0x80 at byte 1"),
    "empty file": ("classify", "d.tsv", b"", " no rows found"),
    "only blank lines": ("tag", "d.conll", b"\n\n", " no sentences found"),
    "class never seen in training": ("classify", "d.tsv", b"good\tmeh\n", "1: label 'meh'"),
    "wrong column count": ("classify", "d.tsv", b"a\tpositive\nb\n", "2: expected 2 fields"),
}


@pytest.mark.parametrize("case", BAD_EVALUATION_DATA, ids=list(BAD_EVALUATION_DATA))
def test_bad_evaluation_data_exits_2_with_one_line(models, write, capsys, case):
    task, name, data, message = BAD_EVALUATION_DATA[case]
    path = write(name, data)
    code, out, err = run(capsys, "evaluate", "--model", models[task], "--data", path, "--json")
    assert_one_line_error(code, err, "evaluate", f"{path}:{message}")
    assert out == ""


def test_evaluate_names_a_missing_model_folder_a_file_or_a_directory(
    models, write, tmp_path, capsys
):
    data = write("d.tsv", b"good\tpositive\n")
    for model, problem in [
        (tmp_path / "absent", "not a model folder"),
        (data, "not a model folder"),
        (tmp_path, "not a model folder (no config.json)"),
    ]:
        code, _, err = run(capsys, "evaluate", "--model", model, "--data", data)
        assert_one_line_error(code, err, "evaluate", model, problem)
    code, _, err = run(capsys, "evaluate", "--model", models["classify"], "--data", tmp_path)
    assert_one_line_error(code, err, "evaluate", tmp_path, "Is a directory")


def test_unseen_tag_in_evaluation_data_counts_as_wrong_with_one_warning(models, write, capsys):
    tags = ["ZZZ", "YYY", "NOUN"]  # one tag the model knows: something is left to score
    path = write("d.jsonl", json.dumps({"tokens": ["a", "b", "c"], "tags": tags}).encode())
    code, out, err = run(capsys, "evaluate", "--model", models["tag"], "--data", path, "--json")
    assert code == 0, err
    assert len(err.splitlines()) == 1 and "2 token(s) carry tags never seen in training" in err
    result = json.loads(out)
    assert result["n_tokens"] == 3 and result["accuracy"] <= 1 / 3


@pytest.fixture
def stdin(monkeypatch):
    def feed(data: bytes):
        monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data), encoding="utf-8"))

    return feed


def test_predict_names_the_line_and_byte_of_invalid_utf8_in_a_file(models, write, capsys):
    lines = b"good\n" * 300 + b"fine \xff\xfe film\n"  # past the first chunk of 256
    path = write("in.txt", lines)
    code, out, err = run(capsys, "predict", "--model", models["classify"], path)
    assert_one_line_error(code, err, "predict", f"{path}:301: invalid UTF-8 byte 0xff at byte 6")
    assert len(out.splitlines()) == 256  # the lines before the bad chunk were answered


def test_predict_names_the_line_of_invalid_utf8_on_stdin(models, stdin, capsys):
    stdin(b"good\n\xc3(\n")
    code, _, err = run(capsys, "predict", "--model", models["tag"])
    assert_one_line_error(code, err, "predict", "<stdin>:2: invalid UTF-8 byte 0xc3 at byte 1")


@pytest.mark.parametrize("task", ["classify", "tag"])
def test_predict_on_empty_stdin_exits_2(models, stdin, capsys, task):
    stdin(b"")
    code, out, err = run(capsys, "predict", "--model", models[task], "-")
    assert_one_line_error(code, err, "predict", "<stdin>: no input")
    assert out == ""


def test_predict_on_an_empty_file_exits_2(models, write, capsys):
    path = write("in.txt", b"")
    code, _, err = run(capsys, "predict", "--model", models["tag"], path)
    assert_one_line_error(code, err, "predict", f"{path}: no input")


def test_predict_names_the_line_of_an_empty_text_to_classify(models, write, capsys):
    path = write("in.txt", b"good\n" * 299 + b"  \n")
    code, _, err = run(capsys, "predict", "--model", models["classify"], path)
    assert_one_line_error(code, err, "predict", f"{path}:300: empty line")


def test_predict_names_a_directory_a_missing_file_and_a_missing_model(
    models, tmp_path, write, capsys
):
    code, _, err = run(capsys, "predict", "--model", models["tag"], tmp_path)
    assert_one_line_error(code, err, "predict", tmp_path, "Is a directory")
    code, _, err = run(capsys, "predict", "--model", models["tag"], tmp_path / "absent.txt")
    assert_one_line_error(code, err, "predict", tmp_path / "absent.txt", "No such file")
    path = write("in.txt", b"good\n")
    code, _, err = run(capsys, "predict", "--model", tmp_path / "absent", path)
    assert_one_line_error(code, err, "predict", tmp_path / "absent", "not a model folder")


def test_predict_answers_a_one_megabyte_line(models, write, capsys):
    path = write("in.txt", (b"x" * 4000 + b" ") * 256 + b"\nfine\n")  # 1 MB, 256 tokens
    code, out, err = run(capsys, "predict", "--model", models["classify"], path)
    assert code == 0, err
    assert len(out.splitlines()) == 2


def test_predict_reads_a_byte_order_mark_and_crlf_line_ends(models, write, capsys):
    path = write("in.txt", "\ufeffthe dog runs\r\nhe sleeps\r\n".encode())
    code, out, err = run(capsys, "predict", "--model", models["tag"], path)
    assert code == 0, err
    tokens = [line.split("\t")[0] for line in out.splitlines() if line]
    assert tokens == ["the", "dog", "runs", "he", "sleeps"]


# --------------------------------------------------------------------------
# streaming
# --------------------------------------------------------------------------


@pytest.mark.parametrize("task", ["classify", "tag"])
def test_predict_streams_ten_thousand_lines_from_stdin(models, stdin, capsys, task):
    sentences = ["the dog runs", "a very good film indeed", "he sleeps", "not bad at all"]
    stdin("".join(f"{sentences[i % 4]}\n" for i in range(10_000)).encode())
    code, out, err = run(capsys, "predict", "--model", models[task])
    assert code == 0, err
    if task == "classify":
        assert len(out.splitlines()) == 10_000
    else:
        blocks = out.split("\n\n")
        assert len(blocks) == 10_001 and blocks[-1] == ""
        assert [b.split("\t")[0] for b in blocks[4].splitlines()] == ["the", "dog", "runs"]


def test_predict_at_a_terminal_answers_each_line_before_reading_the_next(
    models, capsys, monkeypatch
):
    answered_before = []

    def typed():
        for line in (b"a good film\n", b"not good\n"):
            yield line
            answered_before.append(capsys.readouterr().out)  # runs when the next is read

    class Terminal:
        buffer = typed()

        def isatty(self):
            return True

    monkeypatch.setattr(sys, "stdin", Terminal())
    assert main(["predict", "--model", str(models["classify"])]) == 0
    assert [len(out.splitlines()) for out in answered_before] == [1, 1]


def test_predict_bounds_the_cpu_kernel_cache_unless_the_user_set_it(
    models, write, capsys, monkeypatch
):
    """oneDNN keeps a kernel per input shape (1024 by default): over a million lines that
    took a tagger's peak memory to 705 MiB instead of 541 (benchmarks/predict_stream.py)."""
    path = write("in.txt", b"the dog runs\n")
    monkeypatch.delenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", raising=False)
    assert run(capsys, "predict", "--model", models["tag"], path)[0] == 0
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "64"
    monkeypatch.setenv("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "8")
    assert run(capsys, "predict", "--model", models["tag"], path)[0] == 0
    assert os.environ["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] == "8"


def test_predict_lines_reads_one_chunk_ahead_of_its_answers(models):
    predictor = Predictor.load(models["tag"], device="cpu")
    consumed = 0

    def lines():
        nonlocal consumed
        for _ in range(10_000):
            consumed += 1
            yield "the dog runs\n"

    answers = predictor.predict_lines(lines(), chunk=256)
    for _ in range(256):
        next(answers)
    assert consumed == 256  # one chunk read, not the whole input
    next(answers)
    assert consumed == 512
    assert sum(1 for _ in answers) == 10_000 - 257 and consumed == 10_000


def test_interrupted_training_says_how_to_resume(tmp_path, capsys, monkeypatch):
    def interrupted(config):
        out = tmp_path / "m"
        out.mkdir()
        (out / "resume.safetensors").write_bytes(b"")
        raise KeyboardInterrupt

    monkeypatch.setattr("rnnseq.training.loop.train", interrupted)
    (tmp_path / "train.tsv").write_bytes(GOOD_TSV)
    out = tmp_path / "m"
    code, _, err = run(
        capsys, "train", "--task", "classify", "--train", tmp_path / "train.tsv", "--out", out
    )
    assert code == 130
    assert (
        err
        == f"rnnseq train: interrupted; the last checkpoint is in {out}: add --resume to continue\n"
    )
