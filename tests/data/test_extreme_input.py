"""Odd but valid input, and characters a format forbids, through ``read_dataset`` for
every format and task (the reader half of issue 15's extreme-input test; the command
line half runs the same files through ``rnnseq``).

1. Generated datasets of emoji, combining marks, right-to-left text, zero-width and
   other unusual characters, with ``\\n`` and ``\\r\\n`` mixed line by line, with or
   without a final line end and a UTF-8 byte-order mark, read back exactly.
2. A tab or a NUL put into a token where the format forbids it is a DataError naming
   the file and a line (the very line, for NUL).
3. Sizes: a 200,000-token line, a million one-token sentences, 10,000 classes. Each
   read runs in its own process, which reports its peak memory (``ru_maxrss``) over
   the interpreter's; that is asserted against a budget per example, per token and
   per byte of input (docs/RELIABILITY.md has the measured figures).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from rnnseq.data import EOS, ClassifyExample, DataError, TagExample, read_dataset
from rnnseq.data.table_reader import LABEL_NAMES, TEXT_NAMES

SRC = Path(__file__).resolve().parents[2] / "src"
CASES = [  # (format, task, unit, file name)
    ("conllu", "tag", "char", "data.conllu"),
    ("conll", "tag", "char", "data.conll"),
    ("tsv", "classify", "char", "data.tsv"),
    ("csv", "classify", "char", "data.csv"),
    ("jsonl", "classify", "char", "data.jsonl"),
    ("jsonl", "tag", "char", "data.jsonl"),
    ("text", "lm", "char", "data.txt"),
    ("text", "lm", "word", "data.txt"),
]
IDS = [f"{fmt}-{task}-{unit}" for fmt, task, unit, _ in CASES]
SETTINGS = settings(
    max_examples=int(os.environ.get("RNNSEQ_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# ----------------------------------------------------------------------------
# Writing a dataset in each format.
# ----------------------------------------------------------------------------


def to_lines(fmt: str, task: str, records: list, tabs: bool = False) -> list[str]:
    """The lines (without their ends) of a ``fmt`` file holding ``records``: (tokens,
    tags) for tag, (tokens, label) for classify, the words of a line for lm."""
    if task == "lm":
        return [" ".join(words) for words in records]
    if fmt == "conllu":
        out = []
        for tokens, tags in records:
            out += [
                f"{i}\t{t}\t{t}\t{g}\t_\t_\t0\tdep\t_\t_"
                for i, (t, g) in enumerate(zip(tokens, tags, strict=True), 1)
            ]
            out.append("")
        return out
    if fmt == "conll":
        out = []
        for tokens, tags in records:
            out += [f"{t}{chr(9) if tabs else ' '}{g}" for t, g in zip(tokens, tags, strict=True)]
            out.append("")
        return out
    if fmt == "tsv":
        return [f"{' '.join(tokens)}\t{label}" for tokens, label in records]
    if fmt == "csv":
        rows = []
        for tokens, label in records:
            buffer = io.StringIO()
            csv.writer(buffer, lineterminator="").writerow([" ".join(tokens), label])
            rows.append(buffer.getvalue())
        return rows
    if task == "tag":
        return [json.dumps({"tokens": t, "tags": g}, ensure_ascii=False) for t, g in records]
    return [json.dumps({"text": " ".join(t), "label": y}, ensure_ascii=False) for t, y in records]


def expected(task: str, unit: str, records: list, final_newline: bool) -> list:
    if task == "tag":
        return [TagExample(list(t), list(g)) for t, g in records]
    if task == "classify":
        return [ClassifyExample(list(t), y) for t, y in records]
    if unit == "word":
        return [u for words in records for u in [*words, EOS]]
    text = "\n".join(" ".join(words) for words in records)
    return list(text + "\n" if final_newline else text)


def join(lines: list[str], ends: list[str], final_newline: bool, bom: bool) -> bytes:
    """The file: each line with its own end, the last one's only if ``final_newline``."""
    body = "".join(line + end for line, end in zip(lines, ends, strict=True))
    if not final_newline:
        body = body.removesuffix(ends[-1])
    return (b"\xef\xbb\xbf" if bom else b"") + body.encode("utf-8")


# ----------------------------------------------------------------------------
# 1. Odd but valid characters, line ends and file ends read back exactly.
# ----------------------------------------------------------------------------

ODD = [
    "😀", "👩", "\u200d", "🇫🇷", "\ufe0f", "🏳",  # emoji, joiner, flags, variation selector
    "e\u0301", "\u0308", "\u20dd", "ạ̈",  # combining marks, also at a token's start
    "שלום", "مرحبا", "\u200f", "\u202e", "\u202c",  # right-to-left text and controls
    "\u200b", "\u200c", "\u2060",  # zero-width space, non-joiner, word joiner
    "中", "ß", "\U0001d54f", "-", '"', "'", "\\", ",", "#", "{", "_", "a",
]  # fmt: skip
CHAR = st.one_of(
    st.sampled_from(ODD),
    st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufeff"),
)
TOKEN = (
    st.lists(CHAR, min_size=1, max_size=4)
    .map("".join)
    .filter(lambda t: not any(c.isspace() for c in t) and t != "-DOCSTART-")
)
TAG = TOKEN.filter(lambda t: t != "_")  # '_' is no UPOS (CoNLL-U's "no value")


@st.composite
def dataset(draw, task: str, min_records: int = 1) -> list:
    n = draw(st.integers(min_records, 5))
    if task == "tag":
        records = []
        for _ in range(n):
            tokens = draw(st.lists(TOKEN, min_size=1, max_size=5))
            records.append(
                (tokens, draw(st.lists(TAG, min_size=len(tokens), max_size=len(tokens))))
            )
        return records
    if task == "classify":
        return [(draw(st.lists(TOKEN, min_size=1, max_size=6)), draw(TAG)) for _ in range(n)]
    return [draw(st.lists(TOKEN, min_size=1, max_size=6)) for _ in range(n)]


def looks_like_header(fmt: str, task: str, records: list) -> bool:
    """A first row naming a text and a label column is a header, by design."""
    if fmt not in ("tsv", "csv"):
        return False
    tokens, label = records[0]
    return " ".join(tokens).lower() in TEXT_NAMES or label.lower() in LABEL_NAMES


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("extreme")


@pytest.mark.parametrize("fmt, task, unit, name", CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_odd_but_valid_text_reads_back_exactly(folder, fmt, task, unit, name, data):
    records = data.draw(dataset(task))
    assume(not looks_like_header(fmt, task, records))
    tabs = data.draw(st.booleans())
    lines = to_lines(fmt, task, records, tabs=tabs)
    ends = data.draw(
        st.lists(st.sampled_from(["\n", "\r\n"]), min_size=len(lines), max_size=len(lines))
    )
    final_newline, bom = data.draw(st.booleans()), data.draw(st.booleans())
    path = folder / name
    path.write_bytes(join(lines, ends, final_newline, bom))
    want = expected(task, unit, records, final_newline)
    assert read_dataset(path, task, format=fmt, unit=unit) == want
    assert read_dataset(path, task, unit=unit) == want  # the format told by the extension


# ----------------------------------------------------------------------------
# 2. A tab or NUL where the format forbids it: a DataError naming file and line.
# ----------------------------------------------------------------------------

TAB_FORBIDDEN = [c for c in CASES if c[0] in ("conllu", "conll", "tsv", "jsonl")]
TAB_IDS = [f"{fmt}-{task}" for fmt, task, _, _ in TAB_FORBIDDEN]


def line_of(fmt: str, task: str, records: list, r: int, k: int) -> int:
    """The 1-based line holding token ``k`` of record ``r``."""
    if fmt in ("conllu", "conll"):
        return sum(len(tokens) + 1 for tokens, _ in records[:r]) + k + 1
    return r + 1


@st.composite
def spoiled(draw, task: str, bad: str, inside: bool = False) -> tuple[list, int, int]:
    """A dataset with ``bad`` put into token ``k`` of record ``r``: anywhere, or
    ``inside`` it (between two copies of it: whitespace at a token's edge is only
    more space between the columns of a space-separated file)."""
    records = draw(dataset(task, min_records=2))
    r = draw(st.integers(0, len(records) - 1))
    words = records[r] if task == "lm" else records[r][0]
    k = draw(st.integers(0, len(words) - 1))
    if inside:
        words[k] = words[k] + bad + words[k]
    else:
        at = draw(st.integers(0, len(words[k])))
        words[k] = words[k][:at] + bad + words[k][at:]
    return records, r, k


@pytest.mark.parametrize("fmt, task, unit, name", CASES, ids=IDS)
@SETTINGS
@given(data=st.data())
def test_nul_in_any_format_names_its_line(folder, fmt, task, unit, name, data):
    records, r, k = data.draw(spoiled(task, "\x00"))
    path = folder / f"nul-{name}"
    lines = [line.replace("\\u0000", "\x00") for line in to_lines(fmt, task, records)]
    path.write_bytes(join(lines, ["\n"] * len(lines), True, False))
    with pytest.raises(DataError) as info:
        read_dataset(path, task, format=fmt, unit=unit)
    assert info.value.line == line_of(fmt, task, records, r, k)
    assert str(info.value).startswith(f"{path}:{info.value.line}: NUL byte")


@pytest.mark.parametrize("fmt, task, unit, name", TAB_FORBIDDEN, ids=TAB_IDS)
@SETTINGS
@given(data=st.data())
def test_tab_where_the_format_forbids_it_is_a_data_error_with_a_line(
    folder, fmt, task, unit, name, data
):
    records, _, _ = data.draw(spoiled(task, "\t", inside=True))
    tabs = data.draw(st.booleans())
    lines = to_lines(fmt, task, records, tabs=tabs)
    if fmt == "jsonl":  # JSON forbids a raw tab inside a string; json.dumps escapes it
        lines = [line.replace("\\t", "\t") for line in lines]
    path = folder / f"tab-{name}"
    path.write_bytes(join(lines, ["\n"] * len(lines), True, False))
    with pytest.raises(DataError) as info:
        read_dataset(path, task, format=fmt, unit=unit)
    assert isinstance(info.value.line, int)
    assert str(info.value).startswith(f"{path}:{info.value.line}: ")
    assert "\n" not in str(info.value)


# ----------------------------------------------------------------------------
# 3. Sizes, each read in its own process, with its peak memory.
# ----------------------------------------------------------------------------

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over exec from the forking parent (a
# pytest process of hundreds of MB), while VmHWM starts afresh with the new program.
MEASURE = """
import json, sys, time
from rnnseq.data import read_dataset

def kib(key):
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith(key + ":"))

path, task, fmt, unit = sys.argv[1:]
base = kib("VmRSS")
cpu = time.process_time()
data = read_dataset(path, task, format=fmt, unit=unit)
report = {"cpu_s": time.process_time() - cpu, "n": len(data)}
report["peak_kib"] = kib("VmHWM") - base
if task == "lm":  # a stream of units, no examples
    report.update(n=0, tokens=len(data), labels=len(set(data)))
else:
    tags = {t for e in data for t in e.tags} if task == "tag" else {e.label for e in data}
    report.update(tokens=sum(len(e.tokens) for e in data), labels=len(tags))
    report.update(longest=max(len(e.tokens) for e in data))
print(json.dumps(report))
"""


def measure(path: Path, fmt: str, task: str, unit: str) -> dict:
    """Read ``path`` in a fresh interpreter; its counts, CPU seconds and peak memory."""
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    argv = [sys.executable, "-c", MEASURE, str(path), task, fmt, unit]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


MILLION = int(os.environ.get("RNNSEQ_MILLION", "0")) or None  # every format at 10**6


def sizes(fmt: str, task: str, unit: str) -> dict[str, tuple[list, dict]]:
    """case -> (records, what reading them must give)."""
    long_words = [f"w{i}" for i in range(200_000)]
    # A million sentences for CoNLL (the cheapest tag reader: about 1.5 CPU seconds);
    # 100,000 elsewhere unless RNNSEQ_MILLION=1: the same per-sentence budget holds.
    many = MILLION and 1_000_000 or (1_000_000 if fmt == "conll" else 100_000)
    if task == "lm":
        return {
            "long line": ([long_words], {"tokens": 200_001 if unit == "word" else None}),
            "many lines": ([["a"]] * many, {"tokens": 2 * many}),
        }
    other = "x" if task == "tag" else "positive"
    cases = {
        "long line": ([(long_words, ["O"] * 200_000 if task == "tag" else other)], {}),
        "many sentences": ([(["a"], ["O"] if task == "tag" else other)] * many, {"n": many}),
    }
    if task == "tag":
        tags = [f"T{i}" for i in range(10_000)]
        cases["10,000 tags"] = ([(["w"] * 10, tags[i : i + 10]) for i in range(0, 10_000, 10)], {})
    else:
        cases["10,000 classes"] = ([(["w", "v"], f"c{i}") for i in range(10_000)], {})
    cases["long line"][1].update(longest=200_000, n=1)
    return cases


# Peak memory of one read over the interpreter's own, with a margin of about 1.5 over
# the largest figures measured (docs/RELIABILITY.md): for tag and classify, what the
# examples hold (an object and two lists each, a string per token; a million one-token
# sentences peak at 365-450 MiB) and the file's text and lines; for lm, a list slot per
# unit and a string per distinct unit.
FIXED = 16 * 2**20  # the reader's own small allocations
PER_EXAMPLE = 320
PER_TOKEN = 240
PER_UNIT, PER_DISTINCT_UNIT = 16, 96
PER_BYTE = 4  # the file's text (1 to 4 bytes a character) and, briefly, its lines


def budget(task: str, got: dict, size: int) -> float:
    """The most memory, in KiB, that reading what ``got`` describes may take."""
    if task == "lm":
        held = PER_UNIT * got["tokens"] + PER_DISTINCT_UNIT * got["labels"]
    else:
        held = PER_EXAMPLE * got["n"] + PER_TOKEN * got["tokens"]
    return (FIXED + held + PER_BYTE * size) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
@pytest.mark.parametrize("fmt, task, unit, name", CASES, ids=IDS)
def test_sizes_read_correctly_within_a_memory_budget(tmp_path, fmt, task, unit, name):
    for case, (records, want) in sizes(fmt, task, unit).items():
        path = tmp_path / name
        lines = to_lines(fmt, task, records)
        path.write_bytes(join(lines, ["\n"] * len(lines), True, False))
        got = measure(path, fmt, task, unit)
        for key, value in want.items():
            if value is not None:
                assert got[key] == value, (case, got)
        if case.startswith("10,000"):
            assert got["labels"] == 10_000, (case, got)
        allowed = budget(task, got, path.stat().st_size)
        assert got["peak_kib"] <= allowed, (case, got, f"budget {allowed:.0f} KiB")
        path.unlink()
        assert not any(tmp_path.iterdir())  # reading leaves nothing behind
