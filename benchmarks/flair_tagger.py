"""Flair's own trainer on a tagger comparable to rnnseq's default one (run by Flair's venv).

Executed by the Python of the virtual environment that `time_to_accuracy.py` makes
(`runs/flair-venv`, flair 0.15.1); never imported by rnnseq. The model, as a Flair user
writes it:

    OneHotEmbeddings.from_corpus(corpus, embedding_length=100)   # words, Flair's min_freq 3
  + CharacterEmbeddings(<dictionary of the training characters>)  # Flair's char BiLSTM
  -> SequenceTagger(hidden_size=128, use_crf=False)              # BiLSTM 128, Flair defaults
     (reprojection, word dropout 0.05, locked dropout 0.5)
  trained by ModelTrainer.train() with its defaults: SGD lr 0.1, batch 32, anneal on plateau.

EWT (CoNLL-U) is read into Sentences with one UPOS label per token (multiword-token lines
and empty nodes skipped); CoNLL-2003 is read by Flair's ColumnCorpus (IOB1 spans, as
Flair's own CONLL_03 loader does). After every epoch one JSON line goes to --out:

    {"epoch", "score", "train_cpu_s", "eval_cpu_s", "cpu_s", "train_wall_s", "time"}

`score` is dev accuracy (EWT: Flair's `accuracy`, the share of tokens whose tag is right)
or dev span F1 (CoNLL: Flair's micro-averaged span F1); `train_cpu_s` the CPU seconds of
this process in the training epochs so far (the batches: embedding, forward, backward,
SGD step), `eval_cpu_s` those of the dev evaluations so far, `cpu_s` all CPU seconds of
this process so far (imports, corpus, model, saving included), `time` the Unix time.
Training stops when the process has used --max-cpu CPU seconds, when dev has not
improved for --flat epochs, or when Flair's own annealing stops it.

    runs/flair-venv/bin/python benchmarks/flair_tagger.py ewt TRAIN DEV --out curve.jsonl
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import flair
import torch
from flair.data import Corpus, Dictionary, Sentence
from flair.datasets import ColumnCorpus, FlairDatapointDataset
from flair.embeddings import CharacterEmbeddings, OneHotEmbeddings, StackedEmbeddings
from flair.models import SequenceTagger
from flair.trainers import ModelTrainer
from flair.trainers.plugins.base import TrainerPlugin, TrainingInterrupt


def read_conllu(path: Path, limit: int | None) -> list[Sentence]:
    """Sentences of a CoNLL-U file, each token labelled 'upos' (column 4)."""
    sentences, words, tags = [], [], []
    for line in open(path, encoding="utf-8"):
        if not line.strip():
            if words:
                sentence = Sentence(words)
                for token, tag in zip(sentence, tags, strict=True):
                    token.add_label("upos", tag)
                sentences.append(sentence)
                if limit is not None and len(sentences) >= limit:
                    break
            words, tags = [], []
        elif not line.startswith("#"):
            cols = line.rstrip("\n").split("\t")
            if cols[0].isdigit():
                words.append(cols[1])
                tags.append(cols[3])
    return sentences


def ewt_corpus(train: Path, dev: Path, limit: int | None) -> Corpus:
    return Corpus(
        train=FlairDatapointDataset(read_conllu(train, limit)),
        dev=FlairDatapointDataset(read_conllu(dev, limit)),
        test=None,
        sample_missing_splits=False,
    )


def conll_corpus(train: Path, dev: Path, limit: int | None) -> Corpus:
    corpus = ColumnCorpus(
        train.parent,
        {0: "text", 3: "ner"},
        train_file=train.name,
        dev_file=dev.name,
        test_file=None,
        document_separator_token="-DOCSTART-",
        sample_missing_splits=False,
    )
    if limit is not None:
        corpus._train = FlairDatapointDataset([corpus.train[i] for i in range(limit)])
        corpus._dev = FlairDatapointDataset([corpus.dev[i] for i in range(limit)])
    return corpus


def char_dictionary(corpus: Corpus) -> Dictionary:
    """Every character of the training words, most frequent first (with <unk>)."""
    counts: dict[str, int] = {}
    for sentence in corpus.train:
        for token in sentence:
            for char in token.text:
                counts[char] = counts.get(char, 0) + 1
    chars = Dictionary()
    for char in sorted(counts, key=counts.get, reverse=True):
        chars.add_item(char)
    return chars


class CurvePlugin(TrainerPlugin):
    """Times each epoch's training and dev evaluation in CPU seconds of this process,
    writes one JSON line per epoch and stops training at the CPU budget or a flat dev."""

    def __init__(self, out: Path, metric: str, max_cpu: float, flat: int) -> None:
        super().__init__()
        self.out, self.metric, self.max_cpu, self.flat = out, metric, max_cpu, flat
        self.train_cpu = self.eval_cpu = self.train_wall = 0.0
        self.best, self.bad = float("-inf"), 0
        self.score: float | None = None

    @TrainerPlugin.hook
    def before_training_epoch(self, epoch, **kw):
        self.cpu0, self.wall0 = time.process_time(), time.perf_counter()

    @TrainerPlugin.hook
    def after_training_epoch(self, epoch, **kw):
        now = time.process_time()
        self.train_cpu += now - self.cpu0
        self.train_wall += time.perf_counter() - self.wall0
        self.cpu0 = now

    @TrainerPlugin.hook
    def metric_recorded(self, record):
        if tuple(record.name) == ("dev", *self.metric):
            self.score = float(record.value)

    @TrainerPlugin.hook
    def after_evaluation(self, epoch, **kw):
        now = time.process_time()
        self.eval_cpu += now - self.cpu0
        row = {
            "epoch": epoch,
            "score": self.score,
            "train_cpu_s": round(self.train_cpu, 3),
            "eval_cpu_s": round(self.eval_cpu, 3),
            "cpu_s": round(now, 3),
            "train_wall_s": round(self.train_wall, 3),
            "time": time.time(),
        }
        with open(self.out, "a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
        if self.score > self.best:
            self.best, self.bad = self.score, 0
        else:
            self.bad += 1
        if now >= self.max_cpu:
            raise TrainingInterrupt(f"CPU budget of {self.max_cpu:.0f} s spent")
        if self.bad >= self.flat:
            raise TrainingInterrupt(f"dev has not improved for {self.flat} epochs")

    @property
    def attach_to_all_processes(self) -> bool:
        return False


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", choices=["ewt", "conll2003"])
    ap.add_argument("train", type=Path)
    ap.add_argument("dev", type=Path)
    ap.add_argument("--out", type=Path, required=True, help="JSON lines, one per epoch")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--max-cpu", type=float, default=900.0, help="CPU seconds of this process")
    ap.add_argument("--flat", type=int, default=5, help="stop after this many epochs w/o a best")
    ap.add_argument("--max-epochs", type=int, default=100, help="Flair's default: 100")
    ap.add_argument("--limit", type=int, help="first N sentences of each split (smoke runs)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    flair.set_seed(args.seed)
    if args.dataset == "ewt":
        corpus, tag_type, metric = ewt_corpus(args.train, args.dev, args.limit), "upos", "accuracy"
    else:
        corpus, tag_type = conll_corpus(args.train, args.dev, args.limit), "ner"
        metric = "micro avg.f1-score"
    embeddings = StackedEmbeddings(
        [
            OneHotEmbeddings.from_corpus(corpus, embedding_length=100),
            CharacterEmbeddings(path_to_char_dict=char_dictionary(corpus)),
        ]
    )
    tagger = SequenceTagger(
        hidden_size=128,
        embeddings=embeddings,
        # Flair's tutorials: no <unk> tag; a slice (--limit) may miss a dev tag in train.
        tag_dictionary=corpus.make_label_dictionary(tag_type, add_unk=args.limit is not None),
        tag_type=tag_type,
        use_crf=False,
    )
    args.out.write_text("", encoding="utf-8")
    plugin = CurvePlugin(args.out, tuple(metric.split(".")), args.max_cpu, args.flat)
    with tempfile.TemporaryDirectory() as base:
        ModelTrainer(tagger, corpus).train(
            base, max_epochs=args.max_epochs, plugins=[plugin], save_final_model=False
        )
    print(f"flair {flair.__version__}, torch {torch.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
