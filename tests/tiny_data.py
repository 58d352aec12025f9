"""Tiny generated data files, written the way users' files look (one writer per format)."""

from __future__ import annotations

import json
from pathlib import Path

from rnnseq.data.demo import demo_sentiment, demo_tagging


def write_tags_jsonl(path: Path, n: int, seed: int) -> Path:
    """``n`` generated part-of-speech sentences as {"tokens", "tags"} JSON Lines."""
    rows = demo_tagging(n, seed=seed)
    path.write_text("".join(json.dumps({"tokens": e.tokens, "tags": e.tags}) + "\n" for e in rows))
    return path


def write_reviews_tsv(path: Path, n: int, seed: int) -> Path:
    """``n`` generated reviews as headerless ``text<TAB>label`` lines."""
    rows = demo_sentiment(n, seed=seed)
    path.write_text("".join(f"{' '.join(e.tokens)}\t{e.label}\n" for e in rows))
    return path


def write_text(path: Path, n: int, seed: int) -> Path:
    """``n`` generated sentences, one per line (language-model text)."""
    path.write_text("".join(f"{' '.join(e.tokens)}\n" for e in demo_tagging(n, seed=seed)))
    return path


def write_tiny_data(folder: Path, n: int = 120, seed: int = 5) -> Path:
    """tags.jsonl and reviews.tsv (``n`` each) and text.txt (``n // 2`` lines) in ``folder``."""
    write_tags_jsonl(folder / "tags.jsonl", n, seed)
    write_reviews_tsv(folder / "reviews.tsv", n, seed)
    write_text(folder / "text.txt", n // 2, seed + 1)
    return folder
