"""What ``--max-vectors N`` buys: scores on words training never saw, folder size, load time.

    python benchmarks/embeddings_caps.py --model runs/quality/cmp_conll_ft/model \\
        --data conll2003/eng.testa conll2003/eng.testb --caps 0 25000 100000 400000

``--model`` is a folder trained with ``--embeddings`` and ``--max-vectors`` at least the
largest cap, with ``--min-freq 1``. With ``--min-freq 1`` every training word is in the
vocabulary, so the words a cap adds never occur in the training data: they receive no
gradient, and the rest of the network starts and trains exactly as with any other cap
(tests/test_word_vectors_training.py trains two caps and finds the same weights, bit for
bit). So the model of cap N is this folder cut to the training vocabulary plus the
added words among the file's first N, which this script writes (``RUN/caps/N``) and
scores, instead of training once per cap.

For each cap and each ``--data`` file (paths relative to the data folder, or absolute):

- the task's overall figures (span F1 and accuracy for tag, accuracy for classify), from
  the same ``tagging_scores`` / ``classification_scores`` as ``rnnseq evaluate``;
- the same on what training never saw: tag accuracy on the tokens that the training
  vocabulary lacks (after the run's ``--lowercase``), span precision / recall / F1
  restricted to the entities (predicted, gold) that hold such a token; classify:
  accuracy on the texts that hold one;
- how many of those unseen tokens have a pretrained row at this cap;
- the folder's bytes (model.safetensors + vocab.json) and the time to load it with
  ``rnnseq.load`` (wall and CPU seconds, median of ``--repeat``).

Prints one JSON object (``--out`` also writes it); one thread.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import statistics
import sys
import time
from pathlib import Path

for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_name] = "1"

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

import torch  # noqa: E402

from rnnseq.data import Vocab  # noqa: E402
from rnnseq.evaluation import classification_scores, tagging_scores  # noqa: E402
from rnnseq.inference import Predictor  # noqa: E402
from rnnseq.model_folder import CONFIG, FILES  # noqa: E402
from rnnseq.serialization import load_tensors, save_tensors  # noqa: E402
from rnnseq.tag_schemes import detect_scheme, spans  # noqa: E402

WORD_WEIGHT = "net.embedder.word.weight"  # the training words' rows
ADDED = "net.embedder.added_vectors"  # the added words' rows (folders written before
# 2026-12-03 hold all rows in WORD_WEIGHT)


def find_data() -> Path | None:
    for folder in (REPO, *REPO.parents):
        if (folder / "shared" / "data").is_dir():
            return folder / "shared" / "data"
    return None


def training_words(predictor: Predictor) -> Vocab:
    """The run's word vocabulary before the file's words were added (rebuilt from its
    training file with its own options)."""
    cfg, task = predictor.meta.config, predictor.meta.task
    train = task.read(cfg.train, cfg)
    learned = predictor.meta.schemes.to_learned(train, path=cfg.train)
    return task.build_vocabularies(learned, cfg).words


def file_positions(path: str, words: set[str], limit: int) -> dict[str, int]:
    """Position in the vectors file (0 = first vector) of each of ``words`` among its
    first ``limit`` vectors (a header line is skipped)."""
    opener = gzip.open if open(path, "rb").read(2) == b"\x1f\x8b" else open
    found: dict[str, int] = {}
    with opener(path, "rt", encoding="utf-8") as f:
        position = 0
        for number, line in enumerate(f):
            fields = line.rstrip("\n").split(" ")
            if number == 0 and len(fields) == 2 and all(x.isdigit() for x in fields):
                continue
            if position >= limit:
                break
            if fields[0] in words and fields[0] not in found:
                found[fields[0]] = position
            position += 1
    return found


def cut_folder(source: Path, target: Path, keep: int, cap: int) -> None:
    """``source`` with its word vocabulary and embedding cut to the first ``keep`` ids."""
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    config = json.loads((source / CONFIG).read_text())
    vocabs = json.loads((source / FILES["vocabularies"]).read_text())
    tensors, metadata = load_tensors(source / FILES["weights"])
    if ADDED in tensors:
        trained = tensors[WORD_WEIGHT].shape[0]
        tensors[ADDED] = tensors[ADDED][: keep - trained].clone()
        if keep == trained:
            del tensors[ADDED]
        for where in (config["sizes"], vocabs):
            where.pop("added_words", None)
            if keep > trained:
                where["added_words"] = keep - trained
    else:
        tensors[WORD_WEIGHT] = tensors[WORD_WEIGHT][:keep].clone()
    config["sizes"]["vocab_size"] = keep
    config["training"]["data"]["max_vectors"] = cap
    (target / CONFIG).write_text(json.dumps(config, indent=1))
    vocabs["words"]["tokens"] = vocabs["words"]["tokens"][:keep]
    (target / FILES["vocabularies"]).write_text(json.dumps(vocabs, ensure_ascii=False))
    save_tensors(target / FILES["weights"], tensors, metadata)
    shutil.copy(source / FILES["metrics"], target / FILES["metrics"])


def load_time(folder: Path, repeat: int) -> dict:
    walls, cpus = [], []
    for _ in range(repeat):
        w, c = time.perf_counter(), time.process_time()
        Predictor.load(folder, device="cpu")
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return {
        "wall_s": round(statistics.median(walls), 3),
        "cpu_s": round(statistics.median(cpus), 3),
    }


def _prf(tp_p: int, n_p: int, tp_r: int, n_r: int) -> dict:
    p = tp_p / n_p if n_p else 0.0
    r = tp_r / n_r if n_r else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0,
            "predicted": n_p, "gold": n_r}  # fmt: skip


def score(predictor: Predictor, data: list, train_words: Vocab) -> dict:
    """Overall figures and those on what training never saw (see the module docstring)."""
    unk = train_words.unk_id
    words = predictor.vocabs.words
    tokens = [list(e.tokens) for e in data]
    unseen = [[i == unk for i in train_words.encode(t)] for t in tokens]
    n_unseen = sum(map(sum, unseen))
    with_row = sum(
        1
        for t, u in zip(tokens, unseen, strict=True)
        for w, flag in zip(words.encode(t), u, strict=True)
        if flag and w != words.unk_id
    )
    out = {"tokens": sum(map(len, tokens)), "unseen_tokens": n_unseen,
           "unseen_with_vector": with_row}  # fmt: skip
    pred = predictor.predict(tokens)
    if predictor.task == "classify":
        gold = [e.label for e in data]
        out["accuracy"] = classification_scores(gold, pred)["accuracy"]
        rows = [i for i, u in enumerate(unseen) if any(u)]
        out["unseen_texts"] = len(rows)
        out["unseen_accuracy"] = sum(pred[i] == gold[i] for i in rows) / max(1, len(rows))
        return out
    gold = [e.tags for e in data]
    scores = tagging_scores(gold, pred)
    out["accuracy"] = scores["accuracy"]
    pairs = [(g, p) for gs, ps, us in zip(gold, pred, unseen, strict=True)
             for g, p, u in zip(gs, ps, us, strict=True) if u]  # fmt: skip
    out["unseen_accuracy"] = sum(g == p for g, p in pairs) / max(1, len(pairs))
    scheme = detect_scheme(gold)
    if "span_f1" in scores and scheme is not None:
        out["span_f1"] = scores["span_f1"]
        tp_p = n_p = tp_r = n_r = 0
        for gs, ps, us in zip(gold, pred, unseen, strict=True):
            g, p = spans(gs, scheme), spans(ps, scheme)
            g_u = {s for s in g if any(us[s[1] : s[2]])}
            p_u = {s for s in p if any(us[s[1] : s[2]])}
            tp_p, n_p = tp_p + len(p_u & g), n_p + len(p_u)
            tp_r, n_r = tp_r + len(g_u & p), n_r + len(g_u)
        out["unseen_spans"] = _prf(tp_p, n_p, tp_r, n_r)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--data", nargs="+", required=True, help="labelled files to score")
    parser.add_argument("--caps", nargs="+", type=int, default=[0, 25_000, 100_000, 400_000])
    parser.add_argument("--repeat", type=int, default=3, help="loads timed per cap")
    parser.add_argument(
        "--work", type=Path, help="where the cut folders go (default MODEL/../caps)"
    )
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args()
    torch.set_num_threads(1)
    root = find_data()
    full = Predictor.load(args.model, device="cpu")
    cfg = full.meta.config
    if cfg.model.embeddings is None or cfg.data.min_freq != 1:
        parser.error("--model must be trained with --embeddings and --min-freq 1")
    if max(args.caps) > cfg.data.max_vectors:
        parser.error(f"the model kept {cfg.data.max_vectors} vectors; a cap cannot exceed it")
    train_words = training_words(full)
    n_train = len(train_words)
    tokens = full.vocabs.words.tokens
    if tokens[:n_train] != train_words.tokens:
        parser.error("the model's vocabulary does not start with its training vocabulary")
    added = tokens[n_train:]
    position = file_positions(cfg.model.embeddings, set(added), max(args.caps))
    order = [position[w] for w in added]
    assert order == sorted(order), "added words are not in file order"
    sets = {}
    for name in args.data:
        path = Path(name) if Path(name).is_absolute() or root is None else root / name
        sets[name] = full.meta.task.read_labelled(str(path), format=cfg.data.format,
                                                  column=cfg.data.column, config=cfg)  # fmt: skip
    work = args.work or args.model.parent / "caps"
    result = {"model": str(args.model), "training_words": n_train, "caps": []}
    load = os.getloadavg()
    for cap in sorted(args.caps):
        keep = n_train + sum(1 for p in order if p < cap)
        folder = work / str(cap)
        cut_folder(args.model, folder, keep, cap)
        row = {
            "cap": cap,
            "vocab_size": keep,
            "added_words": keep - n_train,
            "bytes": sum((folder / FILES[k]).stat().st_size for k in ("weights", "vocabularies")),
            "load": load_time(folder, args.repeat),
        }
        predictor = Predictor.load(folder, device="cpu")
        for name, data in sets.items():
            row[name] = score(predictor, data, train_words)
        result["caps"].append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)
    result["load_average_before"] = [round(x, 2) for x in load]
    result["load_average_after"] = [round(x, 2) for x in os.getloadavg()]
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
