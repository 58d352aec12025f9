"""``rnnseq prepare``: a language model's token files encoded ahead of training, which
``rnnseq train`` with the same data options then maps instead of encoding again."""

from __future__ import annotations

import pytest

from rnnseq.cli import main
from rnnseq.data.token_file import open_token_file

TINY = ["--hidden", "8", "--embedding-dim", "8", "--no-progress", "--threads", "1"]


def test_prepare_prints_the_token_files_that_train_then_maps(tiny_data, tmp_path, capsys):
    text, cache = tiny_data / "text.txt", tmp_path / "cache"
    dev = tmp_path / "dev.txt"
    dev.write_text("To be, or not to be\n")
    data = ["--task", "lm", "--train", text, "--dev", dev, "--unit", "word",
            "--token-cache", cache]  # fmt: skip
    assert main([str(a) for a in ["prepare", *data]]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[0] for line in lines] == [str(text), str(dev)]
    paths = [line.split(": ")[1].split(" (")[0] for line in lines]
    train_tokens, dev_tokens = (open_token_file(p) for p in paths)
    assert lines[0].endswith(f"({len(train_tokens):,} word units, vocabulary of "
                             f"{len(train_tokens.vocab):,})")  # fmt: skip
    assert dev_tokens.vocab == train_tokens.vocab
    before = {p: (cache / p).stat().st_mtime_ns for p in paths}

    out = tmp_path / "m"
    argv = ["train", *data, "--out", out, "--max-steps", "2", "--bptt", "8", *TINY]
    assert main([str(a) for a in argv]) == 0
    assert {p: (cache / p).stat().st_mtime_ns for p in paths} == before  # mapped, not rewritten
    assert sorted(str(p) for p in cache.glob("*.tokens")) == sorted(paths)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--task", "tag"], "--task tag reads its files into memory when it trains: there is "
                            "nothing to prepare"),
        (["--task", "lm", "--column", "x", "--token-cache", "CACHE"],
         "--column does not apply to --task lm"),
        (["--task", "lm", "--format", "tsv", "--token-cache", "CACHE"],
         "format 'tsv' cannot feed task 'lm'"),
    ],
)
def test_prepare_refuses_what_train_would_refuse_in_one_line(tiny_data, tmp_path, capsys,
                                                             argv, message):  # fmt: skip
    argv = [str(tmp_path / "cache") if a == "CACHE" else a for a in argv]
    full = ["prepare", *argv, "--train", str(tiny_data / "text.txt")]
    assert main(full) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"rnnseq prepare: error: {message}") and err.count("\n") == 1
    assert not list(tmp_path.glob("cache/*.tokens"))


def test_prepare_is_listed_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "prepare" in capsys.readouterr().out
