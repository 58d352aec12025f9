"""Which English tokenizer agrees best with UD English EWT's gold tokens, and how fast is it?

    python benchmarks/tokenizer_agreement.py [--data DIR] [--limit N]

The script installs nothing into the project's environment: on first use it creates
its own virtual environment under runs/tokenizer-bench-venv with every candidate pinned
(``PINS`` below), then re-runs itself there. It reads ``*.conllu`` of UD English EWT
(default: ``ud_english_ewt`` in the first ``shared/data`` above the repository) and
prints Markdown tables.

What is scored, for every sentence of every file:

- **words**: the tokenizer's output on the ``# text`` line against EWT's *syntactic
  words* (PTB convention: ``don't`` -> ``do n't``, ``Today's`` -> ``Today 's``; a
  multiword-token line ``3-4 don't`` is replaced by its words, whose forms always
  concatenate to the surface token in EWT, so each word has a character span);
  precision, recall and F1 of the predicted character spans (start, end) against the
  gold spans, summed over the corpus. This is what a tagger trained on EWT's words needs.
- **surface**: the same against the surface tokens (multiword tokens unsplit), for
  reference.
- **round trip**: the gold words joined by single spaces, tokenized again: the share of
  sentences whose tokens come out exactly as given, and the token F1.
- **speed**: sentences per CPU second (``time.process_time`` of this one process, one
  thread), tokenizing every ``# text`` line once, after one warm-up sentence; and the
  import time (CPU seconds of ``import`` and construction, in a fresh interpreter).
- **sentence splitting**: each document's sentences joined by one space, split again;
  precision, recall and F1 of the sentence start offsets (the first one excluded).
- **CoNLL-2003** (``--conll``, default ``eng.testb`` beside EWT): its tokens joined by
  spaces and tokenized again, as a NER user's pre-tokenized text would be: the share
  of sentences that keep all their tokens, and the share of tokens split.

Tokenizers that return strings but no offsets are aligned back onto the text; a token
that cannot be found where it should be is counted as a miss (column "unaligned").
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENV = REPO / "runs" / "tokenizer-bench-venv"
PINS = [
    "spacy==3.8.18",
    "nltk==3.10.4",
    "sacremoses==0.2.0",
    "segtok==1.5.11",
    "syntok==1.4.4",
    "pysbd==0.3.4",
]
_MARK = "RNNSEQ_TOKBENCH_VENV"


def _ensure_venv() -> None:
    """Re-run this script inside its own venv, creating it (and installing PINS) once."""
    if os.environ.get(_MARK) == "1":
        return
    python = VENV / "bin" / "python"
    stamp = VENV / ".pins"
    if not stamp.exists() or stamp.read_text() != "\n".join(PINS):
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *PINS], check=True)
        stamp.write_text("\n".join(PINS))
    env = dict(os.environ, **{_MARK: "1", "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"})
    os.execve(str(python), [str(python), __file__, *sys.argv[1:]], env)


# --------------------------------------------------------------------------- gold data


@dataclass
class Sentence:
    text: str
    words: list[tuple[int, int]]  # syntactic words: character spans into text
    surface: list[tuple[int, int]]  # surface tokens (multiword tokens unsplit)
    word_forms: list[str]


@dataclass
class Document:
    sentences: list[Sentence] = field(default_factory=list)


def read_ewt(path: str) -> list[Document]:
    """Documents of a CoNLL-U file, each a list of sentences with gold character spans."""
    docs: list[Document] = []
    text, rows = None, []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("# newdoc") or not docs:
                docs.append(Document())
            if line.startswith("# text = "):
                text = line[len("# text = ") :]
            elif line.startswith("#"):
                continue
            elif line:
                rows.append(line.split("\t"))
            elif rows:
                docs[-1].sentences.append(_spans(text, rows))
                text, rows = None, []
    if rows:
        docs[-1].sentences.append(_spans(text, rows))
    return [d for d in docs if d.sentences]


def _spans(text: str, rows: list[list[str]]) -> Sentence:
    surface, words, forms = [], [], []
    pos, i = 0, 0
    while i < len(rows):
        ident, form = rows[i][0], rows[i][1]
        if "." in ident:  # empty node: no text
            i += 1
            continue
        while text[pos].isspace():
            pos += 1
        if not text.startswith(form, pos):
            raise ValueError(f"token {form!r} not at offset {pos} of {text!r}")
        surface.append((pos, pos + len(form)))
        if "-" in ident:
            first, last = map(int, ident.split("-"))
            parts = [r[1] for r in rows[i + 1 : i + 2 + last - first]]
            assert "".join(parts) == form, (form, parts)
            at = pos
            for part in parts:
                words.append((at, at + len(part)))
                forms.append(part)
                at += len(part)
            i += 2 + last - first
        else:
            words.append((pos, pos + len(form)))
            forms.append(form)
            i += 1
        pos += len(form)
    return Sentence(text, words, surface, forms)


# --------------------------------------------------------------------------- candidates


def align(text: str, tokens: list[str]) -> tuple[list[tuple[int, int]], int]:
    """Character spans of ``tokens`` in ``text`` (in order), and how many were not found.

    A token is looked for after the previous one, past whitespace; a token that a
    library rewrote (e.g. quotes) is looked for in the next 10 characters, and else
    counted as unaligned and skipped."""
    spans, missing, pos = [], 0, 0
    for tok in tokens:
        if not tok.strip():
            continue
        while pos < len(text) and text[pos].isspace():
            pos += 1
        if text.startswith(tok, pos):
            spans.append((pos, pos + len(tok)))
            pos += len(tok)
            continue
        found = text.find(tok, pos, pos + 10 + len(tok))
        if found >= 0:
            spans.append((found, found + len(tok)))
            pos = found + len(tok)
        else:
            missing += 1
    return spans, missing


def _ours():
    """rnnseq's own module, loaded from its file (this venv has no rnnseq installed)."""
    import importlib.util

    path = REPO / "src" / "rnnseq" / "data" / "tokenize.py"
    spec = importlib.util.spec_from_file_location("rnnseq_tokenize", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.tokenize("warm up")  # builds the spaCy pipeline: part of the import time
    return module


def candidates() -> dict:
    """name -> (make, tokenize) where tokenize(tok, text) -> (spans, unaligned)."""
    def spacy_make():
        import spacy

        return spacy.blank("en")

    def spacy_tok(nlp, text):
        return [(t.idx, t.idx + len(t)) for t in nlp(text) if not t.is_space], 0

    def tb_make():
        from nltk.tokenize import TreebankWordTokenizer

        return TreebankWordTokenizer()

    def nltk_make():
        from nltk.tokenize import NLTKWordTokenizer

        return NLTKWordTokenizer()

    def nltk_tok(tok, text):
        return list(tok.span_tokenize(text)), 0

    def moses_make():
        from sacremoses import MosesTokenizer

        return MosesTokenizer(lang="en")

    def moses_tok(tok, text):
        return align(text, tok.tokenize(text, escape=False))

    def segtok_make():
        from segtok.tokenizer import split_contractions, web_tokenizer

        return lambda s: split_contractions(web_tokenizer(s))

    def call_tok(tok, text):
        return align(text, tok(text))

    def syntok_make():
        from syntok.tokenizer import Tokenizer

        return Tokenizer(replace_not_contraction=False)

    def syntok_tok(tok, text):
        return [(t.offset, t.offset + len(t.value)) for t in tok.tokenize(text)], 0

    def ours_tok(mod, text):
        return [(t.start, t.end) for t in mod.tokenize(text)], 0

    def with_runs(make, tok):
        """A candidate followed by our rule 2 (punctuation runs), for a fair comparison."""
        def make2():
            return make(), _ours()

        def tok2(objs, text):
            spans, missing = tok(objs[0], text)
            pieces = [objs[1].Token(text[a:b], a, b) for a, b in spans]
            return [(t.start, t.end) for t in objs[1]._merge_runs(text, pieces)], missing

        return make2, tok2

    return {
        "whitespace (baseline)": (lambda: str.split, call_tok),
        "**rnnseq.data.tokenize** (spaCy 3.8.18 + 5 rules)": (_ours, ours_tok),
        "spaCy 3.8.18 `spacy.blank('en')`": (spacy_make, spacy_tok),
        "NLTK 3.10.4 `TreebankWordTokenizer`": (tb_make, nltk_tok),
        "NLTK 3.10.4 `NLTKWordTokenizer`": (nltk_make, nltk_tok),
        "sacremoses 0.2.0 `tokenize`": (moses_make, moses_tok),
        "segtok 1.5.11 `web_tokenizer`+contractions": (segtok_make, call_tok),
        "syntok 1.4.4 `Tokenizer`": (syntok_make, syntok_tok),
        "NLTK `TreebankWordTokenizer` + rule 2": with_runs(tb_make, nltk_tok),
        "segtok `web_tokenizer`+contractions + rule 2": with_runs(segtok_make, call_tok),
    }


def splitters() -> dict:
    """name -> (make, split) where split(obj, text) -> sentence start offsets."""
    def spacy_make():
        import spacy

        nlp = spacy.blank("en")
        nlp.add_pipe("sentencizer")
        return nlp

    def spacy_split(nlp, text):
        return [s.start_char for s in nlp(text).sents]

    def segtok_make():
        from segtok.segmenter import split_single

        return split_single

    def strings_split(fn, text):
        return [a for a, _ in align(text, list(fn(text)))[0]]

    def syntok_make():
        from syntok import segmenter

        return segmenter

    def syntok_split(seg, text):
        return [sent[0].offset for para in seg.analyze(text) for sent in para]

    def punkt_make():
        from nltk.tokenize.punkt import PunktSentenceTokenizer

        return PunktSentenceTokenizer()  # untrained: needs no data download

    def punkt_split(tok, text):
        return [a for a, _ in tok.span_tokenize(text)]

    def pysbd_make():
        import pysbd

        return pysbd.Segmenter(language="en", clean=False, char_span=True)

    def pysbd_split(seg, text):
        return [s.start for s in seg.segment(text)]

    def ours_split(mod, text):
        return [sent.start for sent in mod.split_sentences(text)]

    return {
        "**rnnseq.data.tokenize** `split_sentences`": (_ours, ours_split),
        "spaCy 3.8.18 `sentencizer`": (spacy_make, spacy_split),
        "NLTK 3.10.4 `PunktSentenceTokenizer()` (untrained)": (punkt_make, punkt_split),
        "segtok 1.5.11 `split_single`": (segtok_make, strings_split),
        "syntok 1.4.4 `segmenter.analyze`": (syntok_make, syntok_split),
        "pysbd 0.3.4": (pysbd_make, pysbd_split),
    }


# --------------------------------------------------------------------------- scoring


def prf(tp: int, n_pred: int, n_gold: int) -> tuple[float, float, float]:
    p = tp / n_pred if n_pred else 0.0
    r = tp / n_gold if n_gold else 0.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def import_seconds(name: str) -> float:
    """CPU seconds to import a candidate and build it, in a fresh interpreter (best of 3).

    CPU rather than wall time: on a loaded machine the wall time mostly measures the
    other processes."""
    here = str(Path(__file__).parent)
    code = (
        f"import time, sys; sys.path.insert(0, {here!r}); t = time.process_time();"
        f"import tokenizer_agreement as b; make, _ = b.candidates()[{name!r}]; make();"
        "print(time.process_time() - t)"
    )
    runs = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             check=True).stdout)
        for _ in range(3)
    ]
    return min(runs)


def score_tokenizer(name, make, tok, sentences) -> dict:
    obj = make()
    tok(obj, sentences[0].text)  # warm-up
    counts = dict(tp_w=0, tp_s=0, pred=0, gold_w=0, gold_s=0, unaligned=0)
    t0 = time.process_time()
    outputs = [tok(obj, s.text) for s in sentences]
    cpu = time.process_time() - t0
    for s, (spans, missing) in zip(sentences, outputs, strict=True):
        pred = set(spans)
        counts["tp_w"] += len(pred & set(s.words))
        counts["tp_s"] += len(pred & set(s.surface))
        counts["pred"] += len(spans)
        counts["gold_w"] += len(s.words)
        counts["gold_s"] += len(s.surface)
        counts["unaligned"] += missing
    same = rt_tp = rt_pred = rt_gold = 0
    for s in sentences:
        joined = " ".join(s.word_forms)
        gold, at = [], 0
        for w in s.word_forms:
            gold.append((at, at + len(w)))
            at += len(w) + 1
        spans, _ = tok(obj, joined)
        same += spans == gold
        rt_tp += len(set(spans) & set(gold))
        rt_pred += len(spans)
        rt_gold += len(gold)
    return {
        "name": name,
        "words": prf(counts["tp_w"], counts["pred"], counts["gold_w"]),
        "surface_f1": prf(counts["tp_s"], counts["pred"], counts["gold_s"])[2],
        "unaligned": counts["unaligned"],
        "roundtrip_same": same / len(sentences),
        "roundtrip_f1": prf(rt_tp, rt_pred, rt_gold)[2],
        "cpu_s": cpu,
        "sent_per_s": len(sentences) / cpu if cpu else float("inf"),
        # "+ rule 2" rows load spaCy for the rule: their import time says nothing
        "import_s": None if "rule 2" in name else import_seconds(name),
    }


def score_splitter(name, make, split, docs) -> dict:
    obj = make()
    tp = n_pred = n_gold = 0
    t0 = time.process_time()
    for doc in docs:
        text, gold, at = "", set(), 0
        for k, s in enumerate(doc.sentences):
            if k:
                gold.add(at)
            text += s.text + " "
            at += len(s.text) + 1
        starts = {a for a in split(obj, text.rstrip(" ")) if a > 0}
        tp += len(starts & gold)
        n_pred += len(starts)
        n_gold += len(gold)
    cpu = time.process_time() - t0
    return {"name": name, "prf": prf(tp, n_pred, n_gold), "cpu_s": cpu, "n_gold": n_gold}


def _default_data() -> Path:
    """$RNNSEQ_SHARED_DATA/ud_english_ewt, else the first shared/data above the repository."""
    if os.environ.get("RNNSEQ_SHARED_DATA"):
        return Path(os.environ["RNNSEQ_SHARED_DATA"]) / "ud_english_ewt"
    for parent in REPO.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data" / "ud_english_ewt"
    return REPO.parent / "shared" / "data" / "ud_english_ewt"


def read_conll_tokens(path: str) -> list[list[str]]:
    """The sentences of a CoNLL-2003 file, as token lists (first column)."""
    sentences, words = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            fields = line.split()
            if fields and fields[0] != "-DOCSTART-":
                words.append(fields[0])
            elif words:
                sentences.append(words)
                words = []
    return sentences + ([words] if words else [])


def conll_round_trip(make, tok, sentences) -> tuple[float, float]:
    """Share of sentences whose tokens, joined by spaces, come back unchanged, and the
    share of tokens that the tokenizer does not keep whole."""
    obj = make()
    same = kept = total = 0
    for words in sentences:
        joined = " ".join(words)
        spans, _ = tok(obj, joined)
        gold, at = [], 0
        for w in words:
            gold.append((at, at + len(w)))
            at += len(w) + 1
        same += spans == gold
        kept += len(set(spans) & set(gold))
        total += len(gold)
    return same / len(sentences), 1 - kept / total


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(_default_data()),
                        help="folder holding UD English EWT's *.conllu files")
    parser.add_argument("--conll", default=str(_default_data().parent / "conll2003" / "eng.testb"),
                        help="a CoNLL-2003 file whose tokens are joined and re-tokenized "
                             "(skipped when absent)")
    parser.add_argument("--limit", type=int, default=0,
                        help="score only the first N sentences (0: all)")
    args = parser.parse_args(argv)
    files = sorted(glob.glob(os.path.join(args.data, "*.conllu")))
    if not files:
        sys.exit(f"{args.data}: no *.conllu files")
    docs = [d for f in files for d in read_ewt(f)]
    sentences = [s for d in docs for s in d.sentences]
    if args.limit:
        sentences = sentences[: args.limit]
    n_words = sum(len(s.words) for s in sentences)
    print(f"UD English EWT ({', '.join(Path(f).name for f in files)}): "
          f"{len(sentences)} sentences, {n_words} words, {len(docs)} documents; "
          f"load {open('/proc/loadavg').read().split()[0]}\n")
    print("| tokenizer | word P | word R | word F1 | surface F1 | unaligned "
          "| round trip: same | round trip F1 | sent/CPU s | import CPU s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, (make, tok) in candidates().items():
        r = score_tokenizer(name, make, tok, sentences)
        p, rec, f1 = r["words"]
        print(f"| {name} | {100 * p:.2f} | {100 * rec:.2f} | {100 * f1:.2f} "
              f"| {100 * r['surface_f1']:.2f} | {r['unaligned']} "
              f"| {100 * r['roundtrip_same']:.2f}% | {100 * r['roundtrip_f1']:.2f} "
              f"| {r['sent_per_s']:,.0f} "
              f"| {'—' if r['import_s'] is None else format(r['import_s'], '.2f')} |", flush=True)
    if args.limit:
        return
    print("\n| sentence splitter | P | R | F1 | CPU s |")
    print("|---|---:|---:|---:|---:|")
    for name, (make, split) in splitters().items():
        r = score_splitter(name, make, split, docs)
        p, rec, f1 = r["prf"]
        print(f"| {name} | {100 * p:.2f} | {100 * rec:.2f} | {100 * f1:.2f} "
              f"| {r['cpu_s']:.1f} |", flush=True)
    print(f"\n(sentence starts scored: {r['n_gold']}, over {len(docs)} documents)")
    if not os.path.exists(args.conll):
        return
    conll = read_conll_tokens(args.conll)
    print(f"\n{Path(args.conll).name}: {len(conll)} sentences, tokens joined by spaces\n")
    print("| tokenizer | sentences kept whole | tokens split |")
    print("|---|---:|---:|")
    for name, (make, tok) in candidates().items():
        same, split = conll_round_trip(make, tok, conll)
        print(f"| {name} | {100 * same:.2f}% | {100 * split:.2f}% |", flush=True)


if __name__ == "__main__":
    _ensure_venv()
    main()
