"""Stand-ins for "public data nobody tuned for", made from ../shared/data.

    python benchmarks/defaults/make_standins.py [--out runs/standin]

Writes, with a fixed seed:

- ``ner1k/``, ``ner3k/``: 1,000 / 3,000 sentences drawn from CoNLL-2003 eng.train,
  dev: 500 / 1,500 sentences drawn from eng.testa (a small set's dev is small too),
  test: all of eng.testb; 2 columns (token, tag) in four tag forms:
  ``*.iob1`` (as the source), ``*.iob2``, ``*.iobes`` and ``*.lower.iob2`` (every
  token lowercased, as in data sets built from chat or speech transcripts);
- ``pos2k/``: 2,000 sentences drawn from EWT train (CoNLL-U, as written), dev and
  test as they are (links to the source files).

The tag conversions are written here, not with rnnseq's own code, so that a bug there
cannot hide in the data.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
DATA = Path("/work/shared/data")


def conll_sentences(path: Path) -> list[list[tuple[str, str]]]:
    """(token, tag) sentences of a CoNLL-2003 file; -DOCSTART- lines dropped."""
    sents, cur = [], []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if not parts:
            if cur:
                sents.append(cur)
            cur = []
        elif parts[0] != "-DOCSTART-":
            cur.append((parts[0], parts[-1]))
    if cur:
        sents.append(cur)
    return sents


def iob1_to_iob2(tags: list[str]) -> list[str]:
    out, prev = [], "O"
    for t in tags:
        if t.startswith("I-") and (prev == "O" or prev[2:] != t[2:]):
            t = "B-" + t[2:]
        out.append(t)
        prev = t
    return out


def iob2_to_iobes(tags: list[str]) -> list[str]:
    out = []
    for i, t in enumerate(tags):
        nxt = tags[i + 1] if i + 1 < len(tags) else "O"
        inside_next = nxt == "I-" + t[2:]
        if t.startswith("B-"):
            out.append(t if inside_next else "S-" + t[2:])
        elif t.startswith("I-"):
            out.append(t if inside_next else "E-" + t[2:])
        else:
            out.append(t)
    return out


def write(path: Path, sents, form: str) -> None:
    lines = []
    for s in sents:
        tokens, tags = [w for w, _ in s], [t for _, t in s]
        if form != "iob1":
            tags = iob1_to_iob2(tags)
        if form == "iobes":
            tags = iob2_to_iobes(tags)
        if form == "lower":
            tokens = [w.lower() for w in tokens]
        lines += [f"{w} {t}" for w, t in zip(tokens, tags, strict=True)] + [""]
    path.write_text("\n".join(lines), encoding="utf-8")


def conllu_blocks(path: Path) -> list[str]:
    return [b for b in path.read_text(encoding="utf-8").split("\n\n") if b.strip()]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, default=REPO / "runs" / "standin")
    out = ap.parse_args().out
    conll = DATA / "conll2003"
    train = conll_sentences(conll / "eng.train")
    splits = {
        "dev": conll_sentences(conll / "eng.testa"),
        "test": conll_sentences(conll / "eng.testb"),
    }
    for n in (1000, 3000):
        folder = out / f"ner{n // 1000}k"
        folder.mkdir(parents=True, exist_ok=True)
        sample = random.Random(n).sample(train, n)
        parts = {"train": sample, "dev": random.Random(n).sample(splits["dev"], n // 2)}
        parts["test"] = splits["test"]
        for form, suffix in (
            ("iob1", "iob1"),
            ("iob2", "iob2"),
            ("iobes", "iobes"),
            ("lower", "lower.iob2"),
        ):
            for name, sents in parts.items():
                write(folder / f"{name}.{suffix}", sents, form)
    ewt = DATA / "ud_english_ewt"
    folder = out / "pos2k"
    folder.mkdir(parents=True, exist_ok=True)
    blocks = random.Random(2000).sample(conllu_blocks(ewt / "en_ewt-ud-train.conllu"), 2000)
    (folder / "train.conllu").write_text("\n\n".join(blocks) + "\n\n", encoding="utf-8")
    for name in ("dev", "test"):
        link = folder / f"{name}.conllu"
        if not link.exists():
            link.symlink_to(ewt / f"en_ewt-ud-{name}.conllu")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
