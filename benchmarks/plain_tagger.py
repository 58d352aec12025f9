"""The baseline a user would write by hand: a plain-PyTorch packed BiLSTM tagger loop.

Embedding 100 -> BiLSTM 128 per direction (packed sequences) -> linear, trained
with torch.optim.Adam defaults and flattened F.cross_entropy(ignore_index=-100),
batches of 32 shuffled sentences. Prints one JSON line: training tokens, wall and
CPU seconds of the training steps, and dev accuracy after each epoch. With `--curve FILE`
it also appends one JSON line per epoch to FILE as soon as the epoch is scored: the dev
score (accuracy; span F1 by seqeval for `--format conll`), the CPU seconds of the
training steps so far and all CPU seconds of this process so far (`time_to_accuracy.py`
reads it).

    python benchmarks/plain_tagger.py TRAIN.conllu DEV.conllu --epochs 3 --threads 1
    python benchmarks/plain_tagger.py eng.train eng.testa --format conll --curve c.jsonl
"""

import argparse
import json
import random
import time

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def read_conllu(path):
    sentences, words, tags = [], [], []
    for line in open(path, encoding="utf-8"):
        if not line.strip():
            if words:
                sentences.append((words, tags))
            words, tags = [], []
        elif not line.startswith("#"):
            cols = line.rstrip("\n").split("\t")
            if cols[0].isdigit():
                words.append(cols[1])
                tags.append(cols[3])
    if words:
        sentences.append((words, tags))
    return sentences


def read_conll(path):
    """Blank-line-separated sentences of `word ... tag` lines; -DOCSTART- lines skipped."""
    sentences, words, tags = [], [], []
    for line in open(path, encoding="utf-8"):
        cols = line.split()
        if not cols or cols[0] == "-DOCSTART-":
            if words:
                sentences.append((words, tags))
            words, tags = [], []
        else:
            words.append(cols[0])
            tags.append(cols[-1])
    if words:
        sentences.append((words, tags))
    return sentences


class Tagger(nn.Module):
    def __init__(self, n_words, n_tags):
        super().__init__()
        self.emb = nn.Embedding(n_words, 100, padding_idx=0)
        self.lstm = nn.LSTM(100, 128, batch_first=True, bidirectional=True)
        self.out = nn.Linear(256, n_tags)

    def forward(self, x, lengths):
        packed = pack_padded_sequence(self.emb(x), lengths, batch_first=True, enforce_sorted=False)
        y, _ = pad_packed_sequence(self.lstm(packed)[0], batch_first=True)
        return self.out(y)


def batches(data, w2i, t2i, size, shuffle):
    order = list(range(len(data)))
    if shuffle:
        random.shuffle(order)
    for k in range(0, len(order), size):
        rows = [data[i] for i in order[k : k + size]]
        lengths = torch.tensor([len(w) for w, _ in rows])
        x = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)
        y = torch.full_like(x, -100)
        for i, (w, t) in enumerate(rows):
            x[i, : len(w)] = torch.tensor([w2i.get(v, 1) for v in w])
            y[i, : len(t)] = torch.tensor([t2i.get(v, -100) for v in t])
        yield x, y, lengths


def span_f1(dev, predicted, tags):
    """conlleval's span F1 (seqeval's default mode: IOB1 and IOB2 alike)."""
    from seqeval.metrics import f1_score

    return f1_score([t for _, t in dev], [[tags[k] for k in row] for row in predicted])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("train")
    ap.add_argument("dev")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--format", choices=["conllu", "conll"], default="conllu")
    ap.add_argument("--curve", help="append one JSON line per epoch to this file")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    random.seed(args.seed)
    torch.manual_seed(args.seed)
    read = read_conllu if args.format == "conllu" else read_conll
    train, dev = read(args.train), read(args.dev)
    w2i = {"<pad>": 0, "<unk>": 1}
    t2i = {}
    for words, tags in train:
        for w in words:
            w2i.setdefault(w, len(w2i))
        for t in tags:
            t2i.setdefault(t, len(t2i))
    model = Tagger(len(w2i), len(t2i))
    opt = torch.optim.Adam(model.parameters())
    tokens, wall, cpu, accuracy = 0, 0.0, 0.0, []
    for _ in range(args.epochs):
        model.train()
        w0, c0 = time.perf_counter(), time.process_time()
        for x, y, lengths in batches(train, w2i, t2i, 32, shuffle=True):
            logits = model(x, lengths)  # (N, T, C)
            targets = y[:, : logits.shape[1]].reshape(-1)
            loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets)
            opt.zero_grad()
            loss.backward()
            opt.step()
            tokens += int(lengths.sum())
        wall += time.perf_counter() - w0
        cpu += time.process_time() - c0
        model.eval()
        correct = total = 0
        predicted = []
        with torch.no_grad():
            for x, y, lengths in batches(dev, w2i, t2i, 64, shuffle=False):
                pred = model(x, lengths).argmax(-1)
                real = torch.arange(pred.shape[1])[None] < lengths[:, None]
                correct += int(((pred == y[:, : pred.shape[1]]) & real).sum())
                total += int(lengths.sum())
                rows = zip(pred.tolist(), lengths.tolist(), strict=True)
                predicted += [row[:n] for row, n in rows]
        accuracy.append(correct / total)
        if args.curve:
            score = accuracy[-1]
            if args.format == "conll":
                score = span_f1(dev, predicted, list(t2i))
            row = {"epoch": len(accuracy), "score": score, "train_cpu_s": round(cpu, 3)}
            row |= {"cpu_s": round(time.process_time(), 3), "train_wall_s": round(wall, 3)}
            with open(args.curve, "a", encoding="utf-8") as f:
                f.write(json.dumps(row | {"time": time.time()}) + "\n")
    print(json.dumps({"tokens": tokens, "wall_s": wall, "cpu_s": cpu, "dev_accuracy": accuracy}))


if __name__ == "__main__":
    main()
