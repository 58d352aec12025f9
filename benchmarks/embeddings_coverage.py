"""Pretrained word vectors: how fast the file reads, what the first N words cover, what they cost.

    python benchmarks/embeddings_coverage.py                  # every part
    python benchmarks/embeddings_coverage.py --parts coverage --min-freq 1

Uses ``glove_6b_50d/glove.6B.50d.txt.gz``, ``conll2003`` and ``ud_english_ewt`` from
``../shared/data`` (or ``$RNNSEQ_SHARED_DATA``). Runs on one thread. Prints Markdown
tables for docs/EMBEDDINGS.md:

0. ``file``: what the GloVe file holds (duplicates, case, the scale of its values).
1. ``speed``: ``read_word_vectors`` on the whole file and with the filters a training
   run would use (the CoNLL training vocabulary plus the first N words): wall and
   process CPU seconds, best of ``--repeat``, with the load average before and after;
   ``converters``: gunzip alone, and the ways to turn text into float32 that were tried.
2. ``coverage``: for the dev and test tokens of CoNLL-2003 (all tokens, and the tokens
   of entities) and of UD English EWT, the share that the training vocabulary covers
   (``Vocab.build(min_freq=2)``, the default of ``rnnseq train``; as written, then
   through the lowercase fallback), and the share of the rest that the first N GloVe
   words add, through ``extend_vocab`` and ``Vocab.encode``, exactly as a model would
   look them up at prediction time.
3. ``size``: the bytes of the word-embedding weight (safetensors, d = 50) and of
   vocab.json for N rows, and how long loading each takes (wall and CPU, median of 5).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_name] = "1"  # before NumPy is imported

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import numpy as np  # noqa: E402

from rnnseq.data import (  # noqa: E402
    Vocab,
    extend_vocab,
    read_dataset,
    read_word_vectors,
)

CAPS = [10_000, 25_000, 50_000, 100_000, 200_000, 400_000]


def find_shared_data() -> Path:
    if os.environ.get("RNNSEQ_SHARED_DATA"):
        return Path(os.environ["RNNSEQ_SHARED_DATA"])
    for parent in REPO.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    sys.exit("../shared/data not found (set RNNSEQ_SHARED_DATA)")


def loadavg() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def timed(fn, repeat: int) -> tuple[float, float, object]:
    """Best wall and best process-CPU seconds of ``repeat`` calls, and the last result."""
    walls, cpus = [], []
    result = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        result = fn()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus), result


def datasets(shared: Path) -> dict[str, dict]:
    conll, ewt = shared / "conll2003", shared / "ud_english_ewt"
    return {
        "CoNLL-2003": {
            "train": read_dataset(conll / "eng.train", "tag", format="conll"),
            "eval": {
                "dev (testa)": read_dataset(conll / "eng.testa", "tag", format="conll"),
                "test (testb)": read_dataset(conll / "eng.testb", "tag", format="conll"),
            },
            "entities": True,
        },
        "UD EWT": {
            "train": read_dataset(ewt / "en_ewt-ud-train.conllu", "tag"),
            "eval": {
                "dev": read_dataset(ewt / "en_ewt-ud-dev.conllu", "tag"),
                "test": read_dataset(ewt / "en_ewt-ud-test.conllu", "tag"),
            },
            "entities": False,
        },
    }


def part_file(glove: Path) -> None:
    """What the file holds: counts, duplicates, and the scale of its values."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        v = read_word_vectors(glove)
    x = v.vectors.astype(np.float64)  # (n, d)
    mu, sd = x.mean(axis=0), x.std(axis=0)  # (d,), (d,)
    uniform_sd = np.sqrt(3 / v.dim) / np.sqrt(3)
    print(f"\n### {glove.name}\n")
    print(f"- {v.total:,} lines, {len(v):,} distinct words, dim {v.dim}, header {v.header}")
    print(f"- duplicate-word warnings: {len(caught)}")
    lower = sum(1 for w in v.words if w != w.lower())
    print(f"- words with an uppercase letter: {lower:,}")
    print(f"- all values: mean {x.mean():.3f}, standard deviation {x.std():.3f}")
    print(f"- per-dimension means from {mu.min():.2f} to {mu.max():.2f}")
    print(f"- per-dimension standard deviations from {sd.min():.2f} to {sd.max():.2f}")
    print(f"- uniform(-sqrt(3/d), sqrt(3/d)) has standard deviation {uniform_sd:.2f}")


def part_speed(glove: Path, data: dict, repeat: int) -> None:
    vocab = Vocab.build((e.tokens for e in data["CoNLL-2003"]["train"]), min_freq=2)
    size = glove.stat().st_size
    print(f"\n### Reading {glove.name} ({size / 2**20:.1f} MiB gzipped), 1 thread\n")
    print(f"load average before: {loadavg()}\n")
    print("| read | vectors kept | wall s | CPU s |")
    print("|---|---:|---:|---:|")
    runs = [
        ("whole file", {}),
        ("CoNLL vocabulary only", {"keep": vocab.tokens}),
        ("CoNLL vocabulary + first 50k", {"keep": vocab.tokens, "max_vectors": 50_000}),
        ("CoNLL vocabulary + first 100k", {"keep": vocab.tokens, "max_vectors": 100_000}),
    ]
    for name, kw in runs:
        wall, cpu, got = timed(lambda kw=kw: read_word_vectors(glove, **kw), repeat)
        print(f"| {name} | {len(got):,} | {wall:.2f} | {cpu:.2f} |")
    print(f"\nload average after: {loadavg()}; best of {repeat} runs each")


def part_converters(glove: Path, repeat: int, lines: int = 80_000) -> None:
    """Where a whole-file read spends its time: gunzip, and number conversion."""
    import gzip
    import io

    wall, cpu, _ = timed(lambda: gzip.decompress(glove.read_bytes()), repeat)
    print(f"\n### Converting numbers ({lines:,} lines of {glove.name}), 1 thread\n")
    print(f"- gunzip of the whole file: {cpu:.2f} CPU s ({wall:.2f} s wall)")
    with gzip.open(glove, "rb") as f:
        rests = [f.readline().rstrip(b"\n").split(b" ", 1)[1] for _ in range(lines)]
    blob = b" ".join(rests)
    options = {"comments": None, "quotechar": None, "dtype": np.float32}
    ways = {
        "numpy.loadtxt (used)": lambda: np.loadtxt(rests, delimiter=" ", **options),
        "numpy.loadtxt on one StringIO": lambda: np.loadtxt(
            io.StringIO(b"\n".join(rests).decode()), delimiter=" ", **options
        ),
        "float() into numpy.fromiter": lambda: np.fromiter(
            map(float, blob.split(b" ")), dtype=np.float32
        ),
        "numpy.fromstring(sep=' ')": lambda: np.fromstring(blob.decode(), np.float32, sep=" "),
    }
    for name, fn in ways.items():
        wall, cpu, _ = timed(fn, repeat)
        print(f"- {name}: {cpu:.2f} CPU s ({wall:.2f} s wall)")
    print(f"\nload average: {loadavg()}; best of {repeat} runs each")


def _shares(tokens: list[str], vocab: Vocab, extended: dict[int, Vocab]) -> list[float]:
    """[exact, lowercase fallback, +first N for each N] as fractions of the tokens."""
    n = len(tokens)
    as_written = set(vocab.tokens)
    exact = [t in as_written for t in tokens]
    fallback = Vocab(
        vocab.tokens[len(vocab.specials) :], specials=vocab.specials, lowercase_fallback=True
    )
    known = [t in fallback for t in tokens]
    row = [sum(exact) / n, (sum(known) - sum(exact)) / n]
    unk = fallback.unk_id
    for cap in CAPS:
        ids = extended[cap].encode(tokens)
        row.append(sum(1 for i, k in zip(ids, known, strict=True) if i != unk and not k) / n)
    return row


def part_coverage(glove: Path, data: dict, min_freq: int) -> None:
    print(f"\n### Coverage of dev/test tokens (training vocabulary: min_freq={min_freq})\n")
    print(
        "Columns: share of tokens in the training vocabulary as written; added by the "
        "lowercase fallback; then, of ALL tokens, the share that is not in the training "
        "vocabulary but found among the first N GloVe words (as written or lowercased); "
        "last, the share still unknown with N = 400k. In brackets: the same as a share "
        "of the tokens training never saw.\n"
    )
    head = " | ".join(f"+{cap // 1000}k" for cap in CAPS)
    print(f"| data | tokens | train | +lower | {head} | unknown |")
    print("|---|---:|---:|---:|" + "---:|" * len(CAPS) + "---:|")
    glove_all = read_word_vectors(glove)
    for name, d in data.items():
        vocab = Vocab.build((e.tokens for e in d["train"]), min_freq=min_freq)
        extended = {cap: extend_vocab(vocab, glove_all, max_vectors=cap) for cap in CAPS}
        for split, examples in d["eval"].items():
            subsets = {"tokens": [t for e in examples for t in e.tokens]}
            if d["entities"]:
                subsets["entity tokens"] = [
                    t for e in examples for t, y in zip(e.tokens, e.tags, strict=True) if y != "O"
                ]
            for what, tokens in subsets.items():
                row = _shares(tokens, vocab, extended)
                unseen = 1 - row[0] - row[1]
                cells = [f"{row[0]:.1%}", f"{row[1]:.1%}"]
                cells += [f"{x:.1%} ({x / unseen:.0%})" for x in row[2:]]
                cells.append(f"{unseen - row[-1]:.1%}")
                print(f"| {name} {split}, {what} | {len(tokens):,} | " + " | ".join(cells) + " |")
        added = " | ".join(f"{len(extended[c]) - len(vocab):,}" for c in CAPS)
        print(f"| {name}: rows added | {len(vocab):,} in training vocab | | | {added} | |")


def _median_seconds(fn, runs: int = 5) -> str:
    """``"wall / CPU"``: the median of ``runs`` calls of each."""
    times = [timed(fn, 1)[:2] for _ in range(runs)]
    wall = statistics.median(t[0] for t in times)
    cpu = statistics.median(t[1] for t in times)
    return f"{wall:.3f} / {cpu:.3f}"


def part_size(glove: Path) -> None:
    from safetensors.numpy import load_file, save_file

    print("\n### Size and load time of the word-embedding rows (d = 50, float32)\n")
    print("| rows | weight.safetensors | load s (wall / CPU) | vocab.json | Vocab.load s |")
    print("|---:|---:|---:|---:|---:|")
    glove_all = read_word_vectors(glove)
    with tempfile.TemporaryDirectory() as tmp:
        for rows in [10_000, 50_000, 100_000, 200_000, 400_000]:
            weights, vocab_path = Path(tmp) / f"w{rows}.safetensors", Path(tmp) / f"v{rows}.json"
            save_file({"embedder.word.weight": glove_all.vectors[:rows].copy()}, str(weights))
            Vocab(glove_all.words[:rows], lowercase_fallback=True).save(vocab_path)
            load_s = _median_seconds(lambda w=weights: load_file(str(w)))
            vocab_s = _median_seconds(lambda v=vocab_path: Vocab.load(v))
            print(
                f"| {rows:,} | {weights.stat().st_size / 2**20:.1f} MiB | {load_s} "
                f"| {vocab_path.stat().st_size / 2**20:.2f} MiB | {vocab_s} |"
            )
    print(f"\nload average: {loadavg()}; median of 5 loads")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parts = ["file", "speed", "converters", "coverage", "size"]
    parser.add_argument("--parts", nargs="+", choices=parts, default=parts)
    parser.add_argument("--min-freq", type=int, default=2, help="training vocabulary cut-off")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing")
    args = parser.parse_args()
    shared = find_shared_data()
    glove = shared / "glove_6b_50d" / "glove.6B.50d.txt.gz"
    data = datasets(shared) if {"speed", "coverage"} & set(args.parts) else {}
    if "file" in args.parts:
        part_file(glove)
    if "speed" in args.parts:
        part_speed(glove, data, args.repeat)
    if "converters" in args.parts:
        part_converters(glove, args.repeat)
    if "coverage" in args.parts:
        part_coverage(glove, data, args.min_freq)
    if "size" in args.parts:
        part_size(glove)


if __name__ == "__main__":
    main()
