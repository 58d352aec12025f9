"""The real conlleval (the CoNLL-2000 shared task's Perl scorer), for tests that compare
rnnseq's span scores with it.

The script is not kept in this repository. seqeval, already a pinned dependency,
tests itself against conlleval and ships the Perl script in its source distribution
(``seqeval-1.2.2/tests/conlleval.pl``, "version: 2004-01-26"); ``make test`` fetches
that sdist from PyPI with pip, checks its SHA-256 and extracts the script to
``.venv/share/conlleval/conlleval.pl``:

    python tests/conlleval_perl.py --fetch .venv/share/conlleval/conlleval.pl

Tests find it there (under the running interpreter's ``sys.prefix``) or at
``$RNNSEQ_CONLLEVAL``, and skip, saying so, where it or ``perl`` is absent.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

SDIST = "seqeval==1.2.2"
SDIST_FILE = "seqeval-1.2.2.tar.gz"
SDIST_SHA256 = "f28e97c3ab96d6fcd32b648f6438ff2e09cfba87f05939da9b3970713ec56e6f"
MEMBER = "seqeval-1.2.2/tests/conlleval.pl"
INSTALLED = Path(sys.prefix) / "share" / "conlleval" / "conlleval.pl"


def find_conlleval() -> Path | None:
    """``$RNNSEQ_CONLLEVAL``, else the script fetched into this environment, else None."""
    given = os.environ.get("RNNSEQ_CONLLEVAL")
    for path in ([Path(given)] if given else []) + [INSTALLED]:
        if path.is_file():
            return path
    return None


def require_conlleval() -> Path:
    """The script's path; skips the calling test, with a message, when it or perl is absent."""
    script = find_conlleval()
    if script is None:
        pytest.skip(f"conlleval.pl not found at {INSTALLED} or $RNNSEQ_CONLLEVAL: "
                    f"`make test` fetches it (python tests/conlleval_perl.py --fetch PATH)")
    if shutil.which("perl") is None:
        pytest.skip("perl is not installed: conlleval.pl cannot run")
    return script


@dataclass
class Counts:
    """conlleval's chunk counts: gold chunks, found (predicted) chunks, correct chunks."""

    gold: int
    found: int
    correct: int


@dataclass
class ConllevalResult:
    text: str  # conlleval's output as printed
    tokens: int
    accuracy: str  # as printed, percent with 2 decimals
    overall: Counts
    printed: dict[str, tuple[str, str, str]]  # type -> (precision, recall, FB1) as printed


def run_conlleval(script: Path, tokens, gold, pred) -> ConllevalResult:
    """Score sentences of (token, gold tag, predicted tag) with conlleval.pl."""
    lines = []
    for words, g, p in zip(tokens, gold, pred, strict=True):
        lines.extend(f"{w} {a} {b}" for w, a, b in zip(words, g, p, strict=True))
        lines.append("")
    out = subprocess.run(["perl", str(script)], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=True).stdout
    return parse_conlleval(out)


def conlleval_type_counts(script: Path, tokens, gold, pred) -> dict[str, Counts]:
    """Exact per-type chunk counts from conlleval.

    conlleval prints per type only percentages with 2 decimals (and the found count),
    too coarse to recover the counts of a large corpus. So conlleval runs once per type
    X on the tags with every tag of another type replaced by O: a chunk of type X
    starts and ends where it did (conlleval ends a chunk at O as at a change of type,
    and starts one after O as after another type), so the overall counts of that run
    are X's counts. The caller can check that they add up to the unmasked run's.
    """
    kinds = sorted({_kind(t) for sents in (gold, pred) for s in sents for t in s} - {None})
    counts = {}
    for kind in kinds:
        def mask(sents, kind=kind):
            return [[t if _kind(t) == kind else "O" for t in s] for s in sents]

        counts[kind] = run_conlleval(script, tokens, mask(gold), mask(pred)).overall
    return counts


def _kind(tag: str) -> str | None:
    return tag.split("-", 1)[1] if "-" in tag else None


_HEAD = re.compile(r"processed (\d+) tokens with (\d+) phrases; found: (\d+) phrases; "
                   r"correct: (\d+)\.")
_ACC = re.compile(r"accuracy:\s+([\d.]+)%")
_TYPE = re.compile(r"^\s*(\S+): precision:\s+([\d.]+)%; recall:\s+([\d.]+)%; "
                   r"FB1:\s+([\d.]+)\s+(\d+)$")


def parse_conlleval(text: str) -> ConllevalResult:
    """The overall counts, the accuracy and the per-type lines of conlleval's printout."""
    head = _HEAD.search(text)
    if head is None:
        raise ValueError(f"not conlleval output: {text[:200]!r}")
    n_tok, n_gold, n_found, n_correct = map(int, head.groups())
    printed = {}
    for line in text.splitlines()[2:]:
        m = _TYPE.match(line)
        if m is None:
            raise ValueError(f"unexpected conlleval line {line!r}")
        printed[m.group(1)] = m.group(2, 3, 4)
    return ConllevalResult(text, n_tok, _ACC.search(text).group(1),
                           Counts(n_gold, n_found, n_correct), printed)


def fetch(dest: Path) -> None:
    """Download seqeval's sdist with pip, check its SHA-256, extract conlleval.pl to dest."""
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--no-binary", ":all:", "-d", tmp, SDIST], check=True)
        sdist = Path(tmp) / SDIST_FILE
        digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
        if digest != SDIST_SHA256:
            sys.exit(f"{sdist.name}: sha256 {digest}, expected {SDIST_SHA256}")
        with tarfile.open(sdist) as tar:
            script = tar.extractfile(MEMBER).read()
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(script)
    print(f"conlleval.pl ({len(script)} bytes, from {SDIST_FILE}) -> {dest}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Fetch conlleval.pl from seqeval's sdist.")
    parser.add_argument("--fetch", type=Path, required=True, metavar="PATH",
                        help="where to write conlleval.pl")
    fetch(parser.parse_args().fetch)
