"""``rnnseq demo``: the whole system on generated data, in well under a minute on 2 CPU
cores (about 20 s of CPU time).

1. Writes two small datasets made by :mod:`rnnseq.data.demo` as JSON Lines files:
   sentences with part-of-speech tags from a probabilistic grammar (ambiguous
   words such as "fly" or "that" take their tag from the context), and reviews
   whose sentiment turns on negation ("not good", "not bad at all").
2. Trains a BiLSTM tagger and a BiLSTM classifier on them with ``rnnseq train``'s
   own code, evaluating on held-out generated data.
3. Prints ``rnnseq explain`` tables: each step's true label, the predicted
   probability p_j and L_j = -ln p_j, their sum and mean.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from rnnseq.data.demo import demo_sentiment, demo_tagging
from rnnseq.inference import Predictor
from rnnseq.report import explanation_table, use_colour
from rnnseq.training.config import TrainConfig
from rnnseq.training.loop import train

__all__ = ["run_demo"]

TAG_SENTENCE = "she thinks that the flies can fly and that the old watch lights the run ."
REVIEWS = [("the acting was not good", "negative"), ("not bad at all", "positive")]


def _write_jsonl(path: Path, rows: list[dict]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def run_demo(out: str | Path, seed: int = 1) -> dict:
    """Generate, train, evaluate and explain; return the two dev score dicts."""
    out = Path(out)
    data = out / "data"
    data.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    tagged = demo_tagging(2400, seed=seed)
    _write_jsonl(
        data / "tags-train.jsonl", [{"tokens": e.tokens, "tags": e.tags} for e in tagged[:2000]]
    )
    _write_jsonl(
        data / "tags-dev.jsonl", [{"tokens": e.tokens, "tags": e.tags} for e in tagged[2000:]]
    )
    reviews = demo_sentiment(3600, seed=seed)
    _write_jsonl(
        data / "reviews-train.jsonl",
        [{"text": " ".join(e.tokens), "label": e.label} for e in reviews[:3000]],
    )
    _write_jsonl(
        data / "reviews-dev.jsonl",
        [{"text": " ".join(e.tokens), "label": e.label} for e in reviews[3000:]],
    )

    common = {
        "seed": seed,
        "overwrite": True,
        "device": "cpu",
        # Models this small train fastest on one thread: with torch's default of a
        # thread per core, most CPU time goes to waking and synchronising threads
        # (the whole demo on a busy 2-core machine: 18 s of CPU time on one thread,
        # 118 s with torch's default of two).
        "threads": 1,
        "hidden": 64,
        "embedding_dim": 64,
        "patience": 0,
    }
    print("== training a part-of-speech tagger on generated sentences", file=sys.stderr)
    tagger = train(
        TrainConfig(
            task="tag",
            train=str(data / "tags-train.jsonl"),
            dev=str(data / "tags-dev.jsonl"),
            out=str(out / "tagger"),
            epochs=4,
            **common,
        )
    )
    print("== training a sentiment classifier on generated reviews", file=sys.stderr)
    classifier = train(
        TrainConfig(
            task="classify",
            train=str(data / "reviews-train.jsonl"),
            dev=str(data / "reviews-dev.jsonl"),
            out=str(out / "classifier"),
            epochs=6,
            **common,
        )
    )
    seconds = time.perf_counter() - started

    colour = use_colour()
    tag_model = Predictor.load(tagger.out, device="cpu")
    ambiguous = {"that", "fly", "flies", "watch", "light", "lights", "run", "runs"}
    gold = next((e for e in tagged[2000:] if len(ambiguous & set(e.tokens)) >= 2), tagged[2000])
    print(
        f'\nrnnseq explain --model {tagger.out} --text "{" ".join(gold.tokens)}" '
        f'--labels "{" ".join(gold.tags)}"'
    )
    print(
        explanation_table(
            tag_model.explain(" ".join(gold.tokens), gold.tags), colour=colour
        )
    )
    print(f'\nrnnseq explain --model {tagger.out} --text "{TAG_SENTENCE}"')
    print(explanation_table(tag_model.explain(TAG_SENTENCE), colour=colour))

    cls_model = Predictor.load(classifier.out, device="cpu")
    for text, label in REVIEWS:
        print(f'\nrnnseq explain --model {classifier.out} --text "{text}" --labels {label}')
        print(explanation_table(cls_model.explain(text, [label]), colour=colour))

    tag_best = tagger.metrics["best"] or {}
    cls_best = classifier.metrics["best"] or {}
    print(
        f"\ntagger dev accuracy {tag_best.get('dev_accuracy', 0):.4f}, "
        f"classifier dev accuracy {cls_best.get('dev_accuracy', 0):.4f}; "
        f"{seconds:.0f}s of training. Model folders: {tagger.out}, {classifier.out}"
    )
    return {"tagger": tag_best, "classifier": cls_best}
