"""rnnseq's command line end to end on small generated files (train -> evaluate -> predict
-> explain), and its one-line errors."""

import json

import pytest

from rnnseq.cli import main
from rnnseq.data.demo import demo_sentiment, demo_tagging


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("data")
    tags = demo_tagging(300, seed=3)
    (d / "tags.jsonl").write_text(
        "".join(json.dumps({"tokens": e.tokens, "tags": e.tags}) + "\n" for e in tags)
    )
    (d / "tags.conll").write_text(
        "\n".join(
            "\n".join(f"{w} {t}" for w, t in zip(e.tokens, e.tags, strict=True)) + "\n"
            for e in tags
        )
    )
    reviews = demo_sentiment(300, seed=3)
    (d / "reviews.tsv").write_text("".join(f"{' '.join(e.tokens)}\t{e.label}\n" for e in reviews))
    (d / "text.txt").write_text("to be or not to be, that is the question.\n" * 40)
    return d


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("task", "name", "keys"),
    [
        ("tag", "tags.jsonl", {"loss", "accuracy", "macro_f1", "n_examples", "n_tokens"}),
        ("tag", "tags.conll", {"loss", "accuracy", "macro_f1", "n_examples", "n_tokens"}),
        ("classify", "reviews.tsv", {"loss", "accuracy", "macro_f1", "n_examples", "n_tokens"}),
        ("lm", "text.txt", {"loss", "accuracy", "perplexity", "n_examples", "n_tokens"}),
    ],
)
def test_train_evaluate_predict_explain(tmp_path, files, capsys, task, name, keys):
    data, out = files / name, tmp_path / "model"
    code, stdout, err = run(
        capsys,
        "train",
        "--task",
        task,
        "--train",
        data,
        "--dev",
        data,
        "--out",
        out,
        "--epochs",
        2,
        "--hidden",
        16,
        "--embedding-dim",
        16,
        "--batch-size",
        16,
        "--bptt",
        16,
        "--no-progress",
    )
    assert code == 0, err
    assert {"config.json", "vocab.json", "model.safetensors", "metrics.json", "loss_curve.png"} <= {
        p.name for p in out.iterdir()
    }
    code, stdout, err = run(capsys, "evaluate", "--model", out, "--data", data, "--json")
    assert code == 0, err
    result = json.loads(stdout)
    assert set(result) == keys
    assert 0 <= result["accuracy"] <= 1 and result["n_tokens"] > 0
    if task == "lm":
        assert result["perplexity"] == pytest.approx(2.718281828 ** result["loss"], rel=1e-6)

    inputs = tmp_path / "in.txt"
    inputs.write_text("the dog runs .\nthat watch plays with the cat\n")
    code, stdout, err = run(capsys, "predict", "--model", out, inputs)
    assert code == 0, err
    if task == "tag":
        blocks = stdout.split("\n\n")
        assert [line.split("\t")[0] for line in blocks[0].splitlines()] == "the dog runs .".split()
    elif task == "classify":
        assert len(stdout.splitlines()) == 2
    else:
        assert len(stdout.splitlines()) == 2

    text = "the dog runs ." if task != "lm" else "to be or not"
    code, stdout, err = run(capsys, "explain", "--model", out, "--text", text, "--json")
    assert code == 0, err
    expl = json.loads(stdout)
    steps = expl["steps"]
    assert len(steps) == {"tag": 4, "classify": 1, "lm": len(text) - 1}[task]
    assert expl["sum"] == pytest.approx(sum(s["loss"] for s in steps))
    assert expl["mean"] == pytest.approx(expl["sum"] / len(steps))


@pytest.mark.parametrize(
    "argv",
    [
        ["train", "--task", "tag", "--train", "/does/not/exist", "--out", "{tmp}/m"],
        ["train", "--task", "nope", "--train", "x", "--out", "{tmp}/m"],
        ["train", "--task", "tag", "--train", "{data}/reviews.tsv", "--out", "{tmp}/m"],
        ["evaluate", "--model", "{tmp}/absent", "--data", "{data}/tags.jsonl"],
        [
            "train",
            "--task",
            "classify",
            "--train",
            "{data}/reviews.tsv",
            "--out",
            "{tmp}/m",
            "--epochs",
            "0",
        ],
    ],
)
def test_bad_usage_exits_2_with_one_line_and_no_folder(tmp_path, files, capsys, argv):
    argv = [a.format(tmp=tmp_path, data=files) for a in argv]
    with pytest.raises(SystemExit) if argv[2] == "nope" else _nothing():
        code = main(argv)
        assert code == 2
    _, err = capsys.readouterr()
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "m").exists()


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False
