"""Every reader fed random bytes or mutated lines of the real files: the only
allowed outcomes are a well-formed dataset or a DataError (never another
exception, never a hang). The same files through ``rnnseq evaluate``: scores, or
exit status 2 with one line on stderr."""

from __future__ import annotations

import csv
import io
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from model_folder_factory import make_model_folder
from real_data import find_shared_data
from rnnseq.cli import main
from rnnseq.data import ClassifyExample, DataError, TagExample, read_dataset

CASES = [  # (format, task, unit)
    ("conllu", "tag", "char"),
    ("conll", "tag", "char"),
    ("tsv", "classify", "char"),
    ("csv", "classify", "char"),
    ("jsonl", "classify", "char"),
    ("jsonl", "tag", "char"),
    ("text", "lm", "char"),
    ("text", "lm", "word"),
    (None, "tag", "char"),
    (None, "classify", "char"),
]
FUZZ = settings(
    max_examples=int(os.environ.get("RNNSEQ_FUZZ_EXAMPLES", "40")),  # raise it to hunt
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _head(path, n: int) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [next(f).rstrip("\n") for _ in range(n)]


def _base_lines() -> dict[str, list[str]]:
    """Seed lines per format: the head of each real file, or a built-in sample."""
    root = find_shared_data()
    if root is None:
        conllu = ["# sent_id = 1", "1\tHi\thi\tINTJ\tUH\t_\t0\troot\t_\t_", "2-3\tdon't\t_"]
        conllu[-1] += "\t_" * 7
        conll = ["-DOCSTART- -X- O O", "", "EU NNP I-NP I-ORG", "rejects VBZ I-VP O", ""]
        sst = ["hide new secretions from the parental units \t0", "good \t1"]
        text = ["First Citizen:", "Before we proceed any further, hear me speak.", ""]
    else:
        conllu = _head(root / "ud_english_ewt" / "en_ewt-ud-dev.conllu", 60)
        conll = _head(root / "conll2003" / "eng.testa", 40)
        sst = _head(root / "sst2" / "sentiment-dev", 20)
        text = _head(root / "tinyshakespeare" / "input.txt", 20)
        text += _head(root / "ptb_word" / "ptb.valid.txt", 10)
    pairs = [line.rsplit("\t", 1) for line in sst]
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows((t.strip(), y) for t, y in pairs)
    jsonl_classify = [json.dumps({"text": t, "label": int(y)}) for t, y in pairs]
    sentences, tokens = [], []
    for line in conll + [""]:
        if line.strip() and not line.startswith("-DOCSTART-"):
            tokens.append(line.split())
        elif tokens:
            sentences.append(tokens)
            tokens = []
    jsonl_tag = [
        json.dumps({"tokens": [t[0] for t in s], "tags": [t[-1] for t in s]}) for s in sentences
    ]
    return {
        "conllu": conllu,
        "conll": conll,
        "tsv": sst,
        "csv": buffer.getvalue().splitlines(),
        "jsonl-classify": jsonl_classify,
        "jsonl-tag": jsonl_tag,
        "text": text,
    }


BASE = _base_lines()
NOISE = st.text(alphabet='\t \n\r#-_.{}[]",:019éX\x00\ufeff\u2028', min_size=1, max_size=4)


@st.composite
def mutated(draw, lines: list[str]) -> bytes:
    """The seed lines with a few random edits; sometimes with invalid UTF-8 bytes."""
    lines = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        line = lines[i]
        op = draw(
            st.sampled_from(["insert", "delete", "cut", "drop", "duplicate", "swap", "blank"])
        )
        at = draw(st.integers(0, len(line)))
        if op == "insert":
            lines[i] = line[:at] + draw(NOISE) + line[at:]
        elif op == "delete":
            lines[i] = line[:at] + line[at + draw(st.integers(1, 5)) :]
        elif op == "cut":
            lines[i] = line[:at]
        elif op == "drop" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, line)
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "blank":
            lines.insert(i, draw(st.sampled_from(["", " ", "\t"])))
    data = "\n".join(lines).encode()
    if draw(st.booleans()) and draw(st.integers(0, 9)) == 0:
        at = draw(st.integers(0, len(data)))
        data = (
            data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\xe2\x82", b"\x80"])) + data[at:]
        )
    return data


def _check(path, fmt, task, unit) -> None:
    """Read and accept only a well-formed dataset or a DataError."""
    try:
        data = read_dataset(path, task, format=fmt, unit=unit)
    except DataError as e:
        assert "\n" not in str(e) and str(e).startswith(str(path))
        return
    assert isinstance(data, list) and data
    for item in data:
        if task == "classify":
            assert isinstance(item, ClassifyExample) and item.tokens and item.label
            assert all(t and not any(c.isspace() for c in t) for t in item.tokens)
        elif task == "tag":
            assert isinstance(item, TagExample) and item.tokens
            assert len(item.tokens) == len(item.tags) and all(item.tokens) and all(item.tags)
        else:
            assert isinstance(item, str) and item


@pytest.fixture(scope="module")
def fuzz_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.parametrize("fmt, task, unit", CASES)
@FUZZ
@given(data=st.binary(max_size=400))
def test_random_bytes_give_a_dataset_or_a_data_error(fuzz_dir, fmt, task, unit, data):
    path = fuzz_dir / f"bytes-{fmt}-{task}-{unit}"
    path.write_bytes(data)
    _check(path, fmt, task, unit)


@pytest.mark.parametrize("fmt, task, unit", CASES)
@FUZZ
@given(data=st.data())
def test_mutated_real_lines_give_a_dataset_or_a_data_error(fuzz_dir, fmt, task, unit, data):
    key = {"jsonl": f"jsonl-{task}", None: "conllu" if task == "tag" else "tsv"}.get(fmt, fmt)
    path = fuzz_dir / f"lines-{fmt}-{task}-{unit}"
    path.write_bytes(data.draw(mutated(BASE[key])))
    _check(path, fmt, task, unit)


# --------------------------------------------------------------------------
# The same files through the command line: rnnseq evaluate.
# --------------------------------------------------------------------------

EVALUATE_CASES = [case for case in CASES if case[2] == "char"]  # the lm folder reads chars
FUZZ_CLI = settings(FUZZ, max_examples=max(1, FUZZ.max_examples // 2))


@pytest.fixture(scope="module")
def eval_models(tmp_path_factory):
    """A folder per task whose labels are those of the seed lines (SST-2's 0 and 1)."""
    root = tmp_path_factory.mktemp("fuzz-models")
    labels = [ClassifyExample(["good"], "0"), ClassifyExample(["bad"], "1")]
    return {
        "classify": make_model_folder(root / "classify", "classify", data=labels),
        "tag": make_model_folder(root / "tag", "tag"),
        "lm": make_model_folder(root / "lm", "lm"),
    }


@pytest.mark.parametrize("fmt, task, unit", EVALUATE_CASES)
@FUZZ_CLI
@given(data=st.data())
def test_evaluate_on_fuzzed_files_gives_scores_or_one_line(
    eval_models, fuzz_dir, capsys, fmt, task, unit, data
):
    key = {"jsonl": f"jsonl-{task}", None: "conllu" if task == "tag" else "tsv"}.get(fmt, fmt)
    path = fuzz_dir / f"evaluate-{fmt}-{task}"
    path.write_bytes(data.draw(st.one_of(st.binary(max_size=400), mutated(BASE[key]))))
    argv = ["evaluate", "--model", str(eval_models[task]), "--data", str(path), "--json"]
    code = main(argv + (["--format", fmt] if fmt else []))
    out, err = capsys.readouterr()
    if code == 0:
        result = json.loads(out)
        assert result["n_examples"] >= 1 and 0.0 <= result["accuracy"] <= 1.0
        assert all(line.startswith("rnnseq: warning: ") for line in err.splitlines())
    else:
        assert code == 2 and out == "", err
        assert len(err.splitlines()) == 1 and err.startswith("rnnseq evaluate: error: "), err
