"""A training file of examples larger than memory: read in passes, encoded to disk, mapped.

Below :func:`~rnnseq.data.encoded.stream_bytes` (64 MiB) a tag or classify run
reads its training file into memory, one Python object per example, and encodes it
(:meth:`ExamplesTask.read`, :meth:`ExamplesTask.prepare`). Above it, the file is
never held: :func:`stream_run_data` reads it in streaming passes and trains from
arrays on disk, with bit-identical vocabularies, ids and batches:

1. (with ``--holdout`` only) **count** the examples, to know where the held-out
   tail starts;
2. **scan** the training part: how many examples and tokens, each word's and each
   label's count in order of first appearance, the span scheme of the tags, what
   ``--max-length`` cut; the held-out tail is kept (it is the dev set);
3. the defaults chosen from the data, the tag scheme and the vocabularies follow
   from the scan alone (``Vocab.from_counts`` ranks as ``Vocab.build`` does; the
   lowercased and character counts are derived from the word counts, keeping the
   order of first appearance);
4. **encode** the training part a chunk of 32,768 examples at a time with the same
   code as the in-memory path, appending each chunk's arrays to files
   (:class:`~rnnseq.data.encoded_file.EncodedWriter`); tags rewritten into another
   span scheme get provisional ids, renumbered when their vocabulary is known.

The arrays are then mapped (:meth:`EncodedDataset.load`); batches read their rows
with ``pread`` (:mod:`rnnseq.data.encoded_rows`), and the pages the epoch plan reads
through the map are let go every few hundred batches (:meth:`EncodedDataset.release`).

Where: the token cache (``--token-cache``, else ``$RNNSEQ_CACHE_DIR``, else
``~/.cache/rnnseq/tokens``), one folder per (real path of the file, task, reading
options): ``scan.json`` (the counts, and the source's stat and SHA-256),
``dev.jsonl`` (a held-out tail) and one ``arrays.<key>`` folder per set of
vocabularies. An entry is used only while the file has the recorded content, by
the token files' rule (:func:`rnnseq.data.token_cache.still_fresh`); otherwise it
is made again. Concurrent processes take the entry's lock: the first one reads, the
others map what it wrote.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from itertools import islice
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rnnseq.data.encoded import _CHUNK, MAX_WORD_LEN, EncodedDataset, stream_bytes
from rnnseq.data.encoded_file import EncodedWriter
from rnnseq.data.examples import ClassifyExample, TagExample
from rnnseq.data.formats import detect_format, stream_dataset
from rnnseq.data.ragged import dtype_for
from rnnseq.data.token_cache import (
    default_cache_dir,
    entry_path,
    locked,
    source_record,
    still_fresh,
)
from rnnseq.data.token_file import hash_file, vocab_digest
from rnnseq.data.vocab import Vocab
from rnnseq.options import OptionError, literal
from rnnseq.preprocess import LongTally, SchemeMap, Vocabularies, cut_long
from rnnseq.tag_schemes import convert

__all__ = ["stream_run_data", "streams"]

FORMAT = "rnnseq-streamed-examples"
VERSION = 1


def streams(path: str) -> bool:
    """Whether a training file of this size is streamed (larger than
    :func:`~rnnseq.data.encoded.stream_bytes`)."""
    try:
        return os.path.getsize(path) > stream_bytes()
    except OSError:  # missing or unreadable: the in-memory path's reader says so
        return False


def stream_run_data(task, cfg, vocabs, schemes, resolve=None):
    """The run's data with ``--train`` streamed (see the module docstring), or None when
    the file is small enough to read (the in-memory path).

    Args:
        task: the :class:`~rnnseq.tasks.examples.ExamplesTask`.
        cfg: the run's config (resolved without the data, or a resumed run's).
        vocabs, schemes: a resumed run's, else None.
        resolve: ``DataSummary -> TrainConfig``: the config with the defaults chosen
            from the data (a new run), or None.

    Returns:
        RunData (its ``config`` set when ``resolve`` gave one), or None.
    """
    from rnnseq.tasks.base import RunData
    from rnnseq.training.setup import check_fits

    if not streams(cfg.train):
        return None
    entry = _Entry(task, cfg)
    with locked(entry.path):
        scan = entry.scan()
        dev = entry.held_out() if scan["dev"] else None
    _warn_cut(scan, cfg)
    has_dev = cfg.dev is not None or scan["dev"] > 0
    summary = task.stream_summary(scan, has_dev=has_dev)
    resolved = None
    if resolve is not None and summary is not None:
        cfg = resolved = resolve(summary)
    if schemes is None:
        schemes = task.schemes_from(scan["scheme"], cfg)
    weight = None
    if vocabs is None:
        vocabs, weight = _vocabularies(task, scan, schemes, cfg)
    with locked(entry.path):
        train = entry.arrays(vocabs, schemes)
    vocabs = replace(vocabs, labels=train.labels) if vocabs.labels is None else vocabs
    dev_name = None
    if cfg.dev is not None:
        check_fits(task, cfg.dev, cfg)
        dev, dev_name = task.read(cfg.dev, cfg), cfg.dev
    elif dev is not None:
        dev_name = f"{cfg.train} (last {cfg.data.holdout:.0%})"
    if dev is not None:  # encoded once now: a dev set the model could not score fails now
        task.encode(schemes.to_learned(dev, path=dev_name), vocabs, path=dev_name)
    data = train.dataset
    return RunData(vocabs, schemes, data, dev, dev_name, len(data), data.targets,
                   word_vectors=weight, config=resolved)  # fmt: skip


# ------------------------------------------------------------------ vocabularies


def _vocabularies(task, scan: dict, schemes: SchemeMap, cfg) -> tuple[Vocabularies, object]:
    """What ``task.build_vocabularies`` builds from the examples, from the scan's counts
    (labels None when they are only known after encoding: rewritten span tags)."""
    from rnnseq.tasks.word_vectors import pretrained_vocabulary

    words = Counter(dict(scan["words"]))  # in order of first appearance
    counted = words
    if cfg.data.lowercase:
        counted = Counter()
        for word, n in words.items():
            counted[word.lower()] += n
    vocab = Vocab.from_counts(counted, min_freq=cfg.data.min_freq, lowercase=cfg.data.lowercase)
    labels = None
    if not _rewrites(schemes):
        labels = Vocab.from_counts(Counter(dict(scan["labels"])), specials=())
    chars = None
    if cfg.model.char_features != "none":
        letters: Counter[str] = Counter()
        for word, n in words.items():
            for c in word:
                letters[c] += n
        chars = Vocab.from_counts(letters)
    vocabs = Vocabularies(words=vocab, labels=labels, chars=chars)
    weight = None
    if cfg.model.embeddings is not None:
        extended, weight = pretrained_vocabulary(vocabs.words, cfg, extend=True)
        vocabs = replace(vocabs, words=extended, added_words=len(extended) - len(vocab))
    return vocabs, weight


def _rewrites(schemes: SchemeMap) -> bool:
    """Whether the training tags are rewritten into another scheme for learning."""
    return schemes.learned is not None and schemes.source not in (None, schemes.learned)


def _warn_cut(scan: dict, cfg) -> None:
    tally = LongTally(**scan["long"])
    if cfg.data.max_length is not None:
        tally.warn(cfg.data.max_length, cfg.train)


# ------------------------------------------------------------------ the entry


class _Arrays:
    """An encoded training set and its label vocabulary."""

    def __init__(self, dataset: EncodedDataset, labels: Vocab) -> None:
        self.dataset, self.labels = dataset, labels


class _Entry:
    """The cache folder of one training file read with one set of reading options."""

    def __init__(self, task, cfg) -> None:
        self.task, self.cfg = task, cfg
        self.source = Path(cfg.train).resolve()
        os.stat(self.source)  # a missing file: the usual OSError, naming it
        self.format = cfg.data.format or detect_format(cfg.train, task.name)
        self.holdout = cfg.data.holdout if cfg.dev is None else 0.0
        self.spec = {
            "format": self.format,
            "column": cfg.data.column,
            "max_length": cfg.data.max_length,
            "on_long": cfg.data.on_long,
            "holdout": float(self.holdout),
        }
        cache = Path(cfg.data.token_cache) if cfg.data.token_cache else default_cache_dir()
        cache.mkdir(parents=True, exist_ok=True)
        self.path = entry_path(self.source, task.name, self.spec, cache).with_suffix(".examples")
        self.show = cfg.training.progress if cfg.training.progress is not None else (
            sys.stderr.isatty())  # fmt: skip

    # ------------------------------------------------------------ the scan

    def scan(self) -> dict:
        """The entry's scan, made now unless a fresh one is there."""
        header = _read_json(self.path / "scan.json")
        if header is not None and header.get("spec") == self.spec and (
                header.get("format") == FORMAT and header.get("version") == VERSION):  # fmt: skip
            fresh = still_fresh(header, self.source, self.show)
            if fresh is not None:
                if fresh is not header:
                    _write_json(self.path / "scan.json", fresh)
                return fresh
        shutil.rmtree(self.path, ignore_errors=True)  # old arrays go with an old scan
        self.path.mkdir(parents=True)
        checked_ns, st = time.time_ns(), os.stat(self.source)
        sha256 = hash_file(self.source, progress=self.show, what="hashing")
        n_all = None
        if self.holdout > 0:
            with self._bar("counting") as bar:
                n_all = sum(1 for _ in bar.counted(self._examples()))
        header = {"format": FORMAT, "version": VERSION, "spec": self.spec, **self._scan(n_all)}
        header |= source_record(self.source, st, sha256, checked_ns)
        if still_fresh(header, self.source, False) is None:
            raise self._changed()
        _write_json(self.path / "scan.json", header)
        return header

    def _scan(self, n_all: int | None) -> dict:
        """One pass: the counts of the training part; the held-out tail to dev.jsonl."""
        cut = None
        if n_all is not None:
            cut = n_all - max(1, int(round(n_all * self.holdout)))
            if cut < 2:
                raise OptionError(
                    f"{{0}} leaves too little of {literal(self.cfg.train)} to train on",
                    ("holdout", self.holdout),
                )
        tally = LongTally()
        bar = self._bar("scanning")
        examples = cut_long(bar.counted(self._examples()), self.cfg.data.max_length,
                            self.cfg.data.on_long, self.cfg.train, tally)  # fmt: skip
        words: Counter[str] = Counter()
        labels: Counter[str] = Counter()
        n = tokens = 0
        labels_of = self.task.labels_of

        def label_rows() -> Iterator[list[str]]:
            nonlocal n, tokens
            for e in islice(examples, cut):
                n += 1
                tokens += len(e.tokens)
                words.update(e.tokens)
                row = labels_of(e)
                labels.update(row)
                yield row

        rows = label_rows()
        scheme = self.task.span_scheme(rows)
        for _ in rows:  # what the scheme detection left unread
            pass
        n_dev = 0
        if cut is not None:
            with open(self.path / "dev.jsonl", "w", encoding="utf-8") as out:
                for e in examples:
                    out.write(json.dumps(_dev_record(e), ensure_ascii=False) + "\n")
                    n_dev += 1
        bar.close()
        long = {"seen": tally.seen, "cut": tally.cut, "longest": tally.longest}
        return {
            "examples": n,
            "tokens": tokens,
            "words": list(words.items()),
            "labels": list(labels.items()),
            "scheme": scheme,
            "dev": n_dev,
            "long": long,
        }

    def held_out(self) -> list:
        """The held-out tail, as read."""
        make = _dev_example(self.task.per_step)
        with open(self.path / "dev.jsonl", encoding="utf-8") as f:
            return [make(json.loads(line)) for line in f]

    # ---------------------------------------------------------- the arrays

    def arrays(self, vocabs: Vocabularies, schemes: SchemeMap) -> _Arrays:
        """The training part encoded with ``vocabs`` (labels None: built while encoding).
        Given labels (a resumed run's) use the arrays whose labels were built, when
        they built these."""
        if vocabs.labels is not None and _rewrites(schemes):
            built = self._done(replace(vocabs, labels=None), schemes)
            if built is not None and built.labels == vocabs.labels:
                return built
        found = self._done(vocabs, schemes)
        if found is not None:
            return found
        key, folder = self._key(vocabs, schemes)
        shutil.rmtree(folder, ignore_errors=True)
        tmp = self.path / f"tmp.{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        try:
            labels = self._encode(tmp, vocabs, schemes)
            _write_json(tmp / "labels.json", {"key": key, "labels": labels.to_dict()})
            if still_fresh(_read_json(self.path / "scan.json"), self.source, self.show) is None:
                raise self._changed()
            os.replace(tmp, folder)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        return _Arrays(EncodedDataset.load(folder), labels)

    def _done(self, vocabs: Vocabularies, schemes: SchemeMap) -> _Arrays | None:
        """The arrays already encoded with ``vocabs``, or None."""
        key, folder = self._key(vocabs, schemes)
        done = _read_json(folder / "labels.json")
        if done is None or done.get("key") != key:
            return None
        return _Arrays(EncodedDataset.load(folder), Vocab.from_dict(done["labels"]))

    def _key(self, vocabs: Vocabularies, schemes: SchemeMap) -> tuple[dict, Path]:
        """What the arrays depend on besides the scan, and their folder."""
        key = {
            "words": vocab_digest(vocabs.words),
            "chars": None if vocabs.chars is None else vocab_digest(vocabs.chars),
            "labels": None if vocabs.labels is None else vocab_digest(vocabs.labels),
            "schemes": schemes.to_dict(),
            "max_word_len": MAX_WORD_LEN,
        }
        digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
        return key, self.path / f"arrays.{digest}"

    def _encode(self, folder: Path, vocabs: Vocabularies, schemes: SchemeMap) -> Vocab:
        """The encoding pass; the label vocabulary (given, or built from the rewritten tags)."""
        task, cfg = self.task, self.cfg
        scan = _read_json(self.path / "scan.json")
        n = scan["examples"]
        provisional: dict[str, int] | None = None
        counts: Counter[str] = Counter()
        labels = vocabs.labels
        n_labels = len(labels) if labels is not None else 1 << 16
        low = -100 if labels is not None and task.per_step else 0  # unseen tags: ignored
        dtypes = {"tokens": dtype_for(0, max(len(vocabs.words) - 1, 0)),
                  "targets": dtype_for(low, max(n_labels - 1, 0))}  # fmt: skip
        if vocabs.chars is not None:
            dtypes["chars"] = dtype_for(0, max(len(vocabs.chars) - 1, 0))
        writer = EncodedWriter(folder, task.per_step, dtypes)
        examples = cut_long(self._examples(), cfg.data.max_length, cfg.data.on_long, cfg.train,
                            LongTally())  # fmt: skip
        examples = islice(examples, n)
        rewrite = _rewrites(schemes)
        if labels is None:
            provisional = {}
        bar = self._bar("encoding", total=n)
        try:
            while chunk := list(islice(examples, _CHUNK)):
                bar.update(len(chunk))
                if rewrite:
                    chunk = [replace(e, tags=convert(e.tags, schemes.source, schemes.learned),
                                     source_tags=e.tags) for e in chunk]  # fmt: skip
                part = task.encode_tokens([e.tokens for e in chunk], vocabs)
                if provisional is None:
                    part.targets = task.encode_targets(chunk, labels, cfg.train)
                else:
                    rows = [task.labels_of(e) for e in chunk]
                    for row in rows:
                        counts.update(row)
                    part.targets = [[provisional.setdefault(t, len(provisional)) for t in row]
                                    for row in rows]  # fmt: skip
                writer.add(part)
            relabel = None
            if provisional is not None:
                labels = Vocab.from_counts(counts, specials=())
                relabel = np.array(labels.encode(list(provisional)), dtype=np.int64)
                relabel = relabel.astype(dtype_for(0, max(len(labels) - 1, 0)))
            writer.finish(relabel)
        except BaseException:
            writer.discard()
            raise
        finally:
            bar.close()
        return labels

    # ------------------------------------------------------------ reading

    def _bar(self, what: str, total: int | None = None) -> _Bar:
        """A bar on stderr of the examples one pass has read (shown as the run's
        progress option says: by default when stderr is a terminal)."""
        return _Bar(total=total, desc=f"{what} {self.source.name}", unit=" examples",
                    unit_scale=True, disable=not self.show, file=sys.stderr,
                    leave=False)  # fmt: skip

    def _examples(self) -> Iterator:
        return stream_dataset(self.cfg.train, self.task.name, format=self.format,
                              column=self.cfg.data.column)  # fmt: skip

    def _changed(self):
        from rnnseq.data.errors import DataError

        return DataError(self.source, None, "the file changed while it was being read; try again")


class _Bar(tqdm):
    """A tqdm bar that counts the items of an iterator passing through it."""

    def counted(self, items: Iterator) -> Iterator:
        for item in items:
            self.update()
            yield item


def _dev_record(e) -> list:
    if isinstance(e, TagExample):
        return [e.tokens, e.tags, e.line]
    return [e.tokens, e.label, e.line]


def _dev_example(per_step: bool):
    if per_step:
        return lambda r: TagExample(r[0], r[1], r[2])
    return lambda r: ClassifyExample(r[0], r[1], r[2])


def _read_json(path: Path) -> dict | None:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


def _write_json(path: Path, value: dict) -> None:
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(value, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
