"""Tagging data at scale: memory per million sentences and training throughput,
flat id arrays (EncodedDataset today) against the lists of lists they replaced.

    python benchmarks/flat_examples.py                         # 5M flat, 1M lists, 300 steps
    python benchmarks/flat_examples.py --flat 1000000 --lists 200000 --steps 100

Sentences are generated: lines drawn at random (seeded) from the shared PTB
training text, each word tagged with one of 17 tags (a fixed function of the
word), so lengths and word shapes are those of real English (about 21 words of
about 4.6 characters). They are made and encoded 50,000 at a time, so only the
encoded dataset stays; each representation is built in a fresh process, per
million sentences, with and without character ids (the tagger reads characters
by default). Two figures: "MB/million" counts the structure exactly (the
arrays' bytes; for lists, every list object, ``sys.getsizeof``); "RSS MB/million"
is the rise of the resident set after a garbage collection and ``malloc_trim``
(what the OS sees, allocator leftovers included).

Throughput: the default tagger (BiLSTM 128, character CNN) trained for --steps
steps of 32 sentences from length buckets, batches made by each representation's
collate (for lists, the list collate that came before), one thread: CPU seconds
of collate alone and of collate + step, and training tokens per CPU second.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import os
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(
    os.environ.get("RNNSEQ_SHARED_DATA")
    or next((p / "shared" / "data" for p in REPO.parents if (p / "shared" / "data").is_dir()), ".")
)
PTB = SHARED / "ptb_word" / "ptb.train.txt"
TAGS = [f"T{i}" for i in range(17)]
CHUNK = 50_000
MAX_WORD_LEN = 20


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


_LINES: list[list[str]] = []


def ptb_lines() -> list[list[str]]:
    """PTB's training lines as word lists (read once per process)."""
    if not _LINES:
        text = PTB.read_text(encoding="utf-8")
        _LINES.extend(line.split() for line in text.splitlines() if line.split())
    return _LINES


def release() -> None:
    """Collect garbage and hand freed heap back to the OS, so the resident set shows
    what is still held (glibc's malloc_trim; a no-op elsewhere)."""
    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def sentence_chunks(n: int, seed: int = 0):
    """``n`` tagged sentences, CHUNK at a time, as TagExample lists."""
    from rnnseq.data import TagExample

    lines = ptb_lines()
    rng = random.Random(seed)
    for start in range(0, n, CHUNK):
        picked = [lines[rng.randrange(len(lines))] for _ in range(min(CHUNK, n - start))]
        yield [TagExample(words, [TAGS[len(w) * 7 % 17] for w in words]) for words in picked]


def vocabularies(chars: bool):
    from rnnseq.data import Vocab

    sample = [e for chunk in sentence_chunks(200_000, seed=1) for e in chunk]
    words = Vocab.build(e.tokens for e in sample)
    tags = Vocab.build((e.tags for e in sample), specials=())
    char_vocab = Vocab.build(w for e in sample for w in e.tokens) if chars else None
    return words, tags, char_vocab


def encode_lists(chunk, words, tags, char_vocab):
    """The list-of-lists encoding that came before the flat arrays."""
    tokens = [words.encode(e.tokens) for e in chunk]
    targets = [tags.encode(e.tags) for e in chunk]
    chars = None
    if char_vocab is not None:
        chars = [[char_vocab.encode(w[:MAX_WORD_LEN]) for w in e.tokens] for e in chunk]
    return tokens, targets, chars


def collate_lists(tokens, targets, chars, indices):
    """The collate that came before the flat arrays (padded nested lists -> tensors)."""
    import torch

    from rnnseq.data import Batch

    rows = [tokens[i] for i in indices]
    lengths = [len(r) for r in rows]
    T, N = max(lengths), len(rows)
    x = torch.tensor([r + [0] * (T - len(r)) for r in rows], dtype=torch.long).reshape(N, T)
    y = [targets[i] + [-100] * (T - n) for i, n in zip(indices, lengths, strict=True)]
    y = torch.tensor(y, dtype=torch.long).reshape(N, T)
    c = None
    if chars is not None:
        words = [chars[i] for i in indices]
        W = max((len(w) for s in words for w in s), default=1) or 1
        grid = [[w + [0] * (W - len(w)) for w in s] + [[0] * W] * (T - len(s)) for s in words]
        c = torch.tensor(grid, dtype=torch.long).reshape(N, T, W)
    return Batch(x, torch.tensor(lengths, dtype=torch.long), y, c, list(indices))


class Lists:
    """The old representation, kept just long enough to measure it."""

    def __init__(self):
        self.tokens, self.targets, self.chars = [], [], []

    def add(self, tokens, targets, chars):
        self.tokens += tokens
        self.targets += targets
        if chars is None:
            self.chars = None
        else:
            self.chars += chars

    @property
    def lengths(self):
        return [len(t) for t in self.tokens]

    def collate(self, indices):
        return collate_lists(self.tokens, self.targets, self.chars, indices)


def build(rep: str, n: int, vocabs):
    from rnnseq.data import EncodedDataset, collate

    words, tags, char_vocab = vocabs
    if rep == "lists":
        data = Lists()
        for chunk in sentence_chunks(n):
            data.add(*encode_lists(chunk, words, tags, char_vocab))
        return data, data.collate
    parts = []
    for chunk in sentence_chunks(n):
        parts.append(EncodedDataset.from_examples(chunk, words, tags, char_vocab=char_vocab))
    data = EncodedDataset.concat(parts)
    del parts
    return data, (lambda rows: collate(data, rows))


def structure_mb(data) -> float:
    """Bytes the dataset's own structure holds, counted exactly: the arrays (flat), or
    every list object (lists; their ids are the vocabularies' shared int objects)."""
    if not isinstance(data, Lists):
        return data.nbytes / 2**20
    total = sum(map(sys.getsizeof, (data.tokens, data.targets)))
    total += sum(map(sys.getsizeof, data.tokens)) + sum(map(sys.getsizeof, data.targets))
    if data.chars is not None:
        total += sys.getsizeof(data.chars) + sum(map(sys.getsizeof, data.chars))
        total += sum(sys.getsizeof(w) for s in data.chars for w in s)
    return total / 2**20


def child_memory(rep: str, n: int, chars: bool) -> dict:
    ptb_lines()
    vocabs = vocabularies(chars)  # held by both representations: not counted
    release()
    before = current_rss_mb()
    start = time.process_time()
    data, _ = build(rep, n, vocabs)
    seconds = time.process_time() - start
    release()
    after = current_rss_mb()
    return {
        "rss_before_mb": before,
        "rss_after_mb": after,
        "peak_rss_mb": rss_mb(),
        "rss_mb_per_million": (after - before) / n * 1e6,
        "structure_mb_per_million": structure_mb(data) / n * 1e6,
        "encode_cpu_s": seconds,
        "tokens": int(sum(data.lengths)),
    }


def child_throughput(rep: str, n: int, steps: int) -> dict:
    import torch

    from rnnseq.data import bucket_batches
    from rnnseq.models import ModelConfig
    from rnnseq.objective import LossOptions
    from rnnseq.task_model import Objective, TaskModel
    from rnnseq.tasks import get_task
    from rnnseq.training.distributed import Context
    from rnnseq.training.step import train_step

    torch.set_num_threads(1)
    words, tags, char_vocab = vocabs = vocabularies(True)
    data, collate = build(rep, n, vocabs)
    batches = bucket_batches(data.lengths, 32, shuffle=True, seed=1)[:steps]
    config = ModelConfig(  # the tagger's defaults: BiLSTM 128, character CNN
        vocab_size=len(words),
        num_labels=len(tags),
        char_vocab_size=len(char_vocab),
        char_features="cnn",
    )
    torch.manual_seed(0)
    model = TaskModel(get_task("tag"), config)
    opts = Objective(LossOptions(loss="ce", time_reduction="sum", reduction="mean"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    collate_s = step_s = 0.0
    tokens = 0
    for rows in batches:
        t0 = time.process_time()
        batch = collate(rows)
        t1 = time.process_time()
        result = train_step(model, batch, opts, optimizer, Context())
        t2 = time.process_time()
        collate_s, step_s, tokens = collate_s + t1 - t0, step_s + t2 - t1, tokens + result.tokens
    return {
        "steps": len(batches),
        "collate_cpu_s": collate_s,
        "step_cpu_s": step_s,
        "tokens": tokens,
        "tokens_per_cpu_s": tokens / (collate_s + step_s),
        "collate_ms_per_batch": 1000 * collate_s / len(batches),
        "last_loss": result.loss,
    }


def run(*argv: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    done = subprocess.run(
        [sys.executable, __file__, "--child", *argv], env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"{argv} failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--flat", type=int, default=5_000_000, help="sentences, flat (0: skip)")
    parser.add_argument("--lists", type=int, default=1_000_000, help="sentences, lists (0: skip)")
    parser.add_argument("--steps", type=int, default=300, help="training steps each (0: skip)")
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        kind, rep, n, *rest = args.child
        if kind == "memory":
            result = child_memory(rep, int(n), rest[0] == "chars")
        else:
            result = child_throughput(rep, int(n), int(rest[0]))
        print(json.dumps(result))
        return

    out = REPO / "runs" / "bench_flat"
    out.mkdir(parents=True, exist_ok=True)
    results = {"load_before": os.getloadavg(), "memory": [], "throughput": []}
    print(f"load average {os.getloadavg()[0]:.2f}; one thread per process", flush=True)
    print(
        f"{'rep':>6} {'sentences':>10} {'chars':>6} {'MB/million':>11} {'RSS MB/million':>15} "
        f"{'peak RSS MB':>12} {'encode cpu s':>13}"
    )
    for rep, n in (("lists", args.lists), ("flat", args.flat)):
        if n == 0:  # skipped
            continue
        for chars in ("chars", "nochars"):
            r = run("memory", rep, str(n), chars)
            r.update(rep=rep, sentences=n, chars=chars == "chars")
            results["memory"].append(r)
            print(
                f"{rep:>6} {n:>10,} {chars == 'chars'!s:>6} {r['structure_mb_per_million']:>11.0f} "
                f"{r['rss_mb_per_million']:>15.0f} {r['peak_rss_mb']:>12.0f} "
                f"{r['encode_cpu_s']:>13.1f}  {r['tokens'] / n:.1f} tokens/sentence",
                flush=True,
            )
    print(f"\n{'rep':>6} {'collate ms/batch':>17} {'step cpu s':>11} {'tokens/cpu s':>13}  loss")
    n_train = 200_000
    for rep in ("lists", "flat") if args.steps else ():
        r = run("throughput", rep, str(n_train), str(args.steps))
        r.update(rep=rep, sentences=n_train)
        results["throughput"].append(r)
        print(
            f"{rep:>6} {r['collate_ms_per_batch']:>17.2f} {r['step_cpu_s']:>11.1f} "
            f"{r['tokens_per_cpu_s']:>13,.0f}  {r['last_loss']:.6f}",
            flush=True,
        )
    results["load_after"] = os.getloadavg()
    (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
    print(f"load average {os.getloadavg()[0]:.2f}; results in {out / 'results.json'}")


if __name__ == "__main__":
    main()
