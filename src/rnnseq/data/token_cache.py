"""Where token files live, and when one may be reused.

:func:`token_file` is what a training run calls: the token file of its text,
mapped from the cache when a fresh one is there, else encoded first
(:func:`rnnseq.data.token_file.encode_token_file`).

Where: a cache folder, ``$RNNSEQ_CACHE_DIR`` or else ``~/.cache/rnnseq/tokens``
(:func:`default_cache_dir`), one entry per (real path of the source, unit,
vocabulary options): ``<file name>.<unit>.<16 hex digits of their SHA-256>.tokens``
and its ``.json`` header. A lock file beside each entry (``fcntl.flock``) makes
concurrent processes (torchrun ranks) wait while the first one encodes; they
then map what it wrote.

Staleness: an entry is used only if its header names the same source path, unit
and vocabulary options, its array has the recorded length, and the source still
has the recorded content, which is established in one of two ways:

- fast: the source's (device, inode, size, mtime_ns, ctime_ns) equal the
  recorded ones *and* the recorded mtime and ctime are at least 2 s older than
  the moment that stat was taken. ``ctime`` cannot be set by user tools
  (``touch``, ``cp -p`` and ``rsync -a`` set mtime only) and changes with every
  write; the 2 s margin is git's "racily clean" rule: a file written in the same
  clock tick as the stat (file times are coarse: a jiffy, 2 s on FAT) could be
  written again without its times changing, so such a stat proves nothing;
- otherwise: the SHA-256 of the whole current content equals the recorded one
  (about 1.7 GB/s on one core here). The stat in the header is then refreshed,
  so the next use is fast again.

Anything else (another size, another hash, a missing or short array, another
format version) encodes the source again, replacing the entry: a changed file
is never read through an old encoding. Clocks are assumed to agree within the
2 s margin (a network file system whose server clock runs ahead only makes the
fast check fail, and the hash decide).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from rnnseq.data.text_reader import UNITS
from rnnseq.data.textfile import CHUNK_BYTES
from rnnseq.data.token_file import (
    TokenFile,
    encode_token_file,
    hash_file,
    open_token_file,
    read_header,
    stat_fields,
    vocab_digest,
    write_header,
)
from rnnseq.data.vocab import Vocab

try:
    import fcntl
except ImportError:  # not POSIX: no locks
    fcntl = None

__all__ = [
    "token_file",
    "default_cache_dir",
    "entry_path",
    "locked",
    "source_record",
    "still_fresh",
]

RACY_NS = 2_000_000_000  # a stat proves nothing about a file changed this soon before it
_STAT_KEYS = ("size", "mtime_ns", "ctime_ns", "device", "inode")


def default_cache_dir() -> Path:
    """``$RNNSEQ_CACHE_DIR``, else ``$XDG_CACHE_HOME/rnnseq/tokens``, else
    ``~/.cache/rnnseq/tokens``."""
    if os.environ.get("RNNSEQ_CACHE_DIR"):
        return Path(os.environ["RNNSEQ_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "rnnseq" / "tokens"


def entry_path(source: str | os.PathLike[str], unit: str, spec: dict, cache_dir: Path) -> Path:
    """The array path of the cache entry of (real path of ``source``, ``unit``, ``spec``)."""
    source = Path(source).resolve()
    key = json.dumps({"path": str(source), "unit": unit, "vocabulary_from": spec})
    name = re.sub(r"[^A-Za-z0-9._-]", "_", source.name)[:80]
    return cache_dir / f"{name}.{unit}.{hashlib.sha256(key.encode()).hexdigest()[:16]}.tokens"


def token_file(
    source: str | os.PathLike[str],
    *,
    unit: str = "char",
    min_freq: int = 1,
    holdout: float = 0.0,
    vocab: Vocab | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    progress: bool | None = None,
    chunk_bytes: int = CHUNK_BYTES,
) -> TokenFile:
    """The token file of the text ``source``: mapped from the cache, or encoded first.

    Args:
        source, unit, min_freq, holdout, progress, chunk_bytes: as in
            :func:`rnnseq.data.token_file.encode_token_file`.
        vocab: encode with this vocabulary (a resumed run's saved one, dev data
            with the training one). The entry built from ``source`` with
            ``min_freq``/``holdout`` is used when its vocabulary is exactly this.
        cache_dir: where entries live (None: :func:`default_cache_dir`).

    Raises:
        ValueError, DataError, OSError: as :func:`encode_token_file`.
    """
    if unit not in UNITS:
        raise ValueError(f"unit must be one of {', '.join(UNITS)}, got {unit!r}")
    source = Path(source).resolve()
    os.stat(source)  # a missing file: the usual OSError, naming it
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    show = sys.stderr.isatty() if progress is None else progress
    options = dict(unit=unit, progress=show, chunk_bytes=chunk_bytes)
    built = {"min_freq": int(min_freq), "holdout": float(holdout)}  # 0 and 0.0: one key
    if vocab is not None:
        with locked(entry_path(source, unit, built, cache)) as entry:
            found = _fresh(entry, source, unit, built, show)
        if found is not None and found.vocab == vocab:
            return found
        given = {"given": vocab_digest(vocab)}
        with locked(entry_path(source, unit, given, cache)) as entry:
            found = _fresh(entry, source, unit, given, show)
            return found or encode_token_file(source, entry, vocab=vocab, **options)
    with locked(entry_path(source, unit, built, cache)) as entry:
        found = _fresh(entry, source, unit, built, show)
        return found or encode_token_file(
            source, entry, min_freq=min_freq, holdout=holdout, **options
        )


@contextlib.contextmanager
def locked(entry: Path) -> Iterator[Path]:
    """``entry``, with its lock file held (where the OS has flock)."""
    if fcntl is None:  # concurrent encoders then each write, and the last rename wins
        yield entry
        return
    with open(f"{entry}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield entry
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _fresh(entry: Path, source: Path, unit: str, spec: dict, show: bool) -> TokenFile | None:
    """The entry, mapped, if it exists and still holds the source's content."""
    if read_header(entry) is None:
        return None
    try:
        tokens = open_token_file(entry)
    except (OSError, ValueError):  # a broken entry (DataError) is just not a usable one
        return None
    header = tokens.header
    if header.get("unit") != unit or header.get("vocabulary_from") != spec:
        return None
    fresh = still_fresh(header, source, show)
    if fresh is None:
        return None
    if fresh is header:
        return tokens
    write_header(entry, fresh)
    return open_token_file(entry)


def source_record(source: Path, st: os.stat_result, sha256: str, checked_ns: int) -> dict:
    """What a cache entry's header records of its source (``"source"``, ``"checked_ns"``):
    its real path, the stat ``st`` taken at ``checked_ns`` before it was read, and the
    SHA-256 of what was read."""
    return {
        "source": {"path": str(source), **stat_fields(st), "sha256": sha256},
        "checked_ns": checked_ns,
    }


def still_fresh(header: dict, source: Path, show: bool) -> dict | None:
    """Does ``source`` still have the content the header's :func:`source_record` names?

    Returns ``header`` itself when the stat proves it (the fast check), a copy with the
    record refreshed when the SHA-256 had to decide and agreed (write it back, so that
    the next use is fast), None when the source is another file or has changed.
    """
    recorded = header.get("source")
    if not isinstance(recorded, dict) or recorded.get("path") != str(source):
        return None
    now_ns = time.time_ns()
    st = os.stat(source)
    if st.st_size != recorded.get("size"):
        return None
    same = stat_fields(st) == {k: recorded.get(k) for k in _STAT_KEYS}
    if same and _trusted(recorded, header.get("checked_ns")):
        return header
    if hash_file(source, progress=show) != recorded.get("sha256"):
        return None
    if stat_fields(os.stat(source)) != stat_fields(st):  # changed while hashed
        return None
    return {**header, "source": {**recorded, **stat_fields(st)}, "checked_ns": now_ns}


def _trusted(recorded: dict, checked_ns: object) -> bool:
    """Was the stat taken long enough after the file's last change to prove anything?"""
    if not isinstance(checked_ns, int):
        return False
    changed = max(recorded.get("mtime_ns") or 0, recorded.get("ctime_ns") or 0)
    return changed + RACY_NS <= checked_ns
