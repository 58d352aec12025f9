"""Tests for rnnseq.data.download. Every byte comes from a loopback server or a local
folder; nothing here touches the internet. ../shared/data is only ever read."""

from __future__ import annotations

import hashlib
import io
import re
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from loopback_server import LoopbackServer
from real_data import find_shared_data
from rnnseq.data import download as dl
from rnnseq.data.download import DATASETS, DownloadError, default_cache_dir, download

SHARED_DATA = find_shared_data()


@pytest.fixture
def shared_data() -> Path:
    if SHARED_DATA is None:
        pytest.skip("<repo>/../shared/data not found (looked in every parent folder)")
    return SHARED_DATA


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files_in(folder: Path) -> list[str]:
    """Every entry in ``folder`` (hidden temporary files included), or [] if it is absent."""
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    # urllib honours *_proxy variables; the loopback servers must be reached directly.
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")


@pytest.fixture
def serve() -> Iterator[Callable[[Path], LoopbackServer]]:
    servers: list[LoopbackServer] = []

    def start(root: Path) -> LoopbackServer:
        servers.append(LoopbackServer(root))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _mirror_copy(shared_data: Path, root: Path, name: str) -> Path:
    """Copy one dataset's files from shared/data to ``root/<folder>``; return that folder."""
    folder = root / DATASETS[name].folder
    folder.mkdir(parents=True)
    for remote in DATASETS[name].files:
        (folder / remote.name).write_bytes((shared_data / folder.name / remote.name).read_bytes())
    return folder


# --- the registry ----------------------------------------------------------------------


def test_registry_names_and_folders_are_the_five_datasets() -> None:
    assert {name: d.folder for name, d in DATASETS.items()} == {
        "ud-ewt": "ud_english_ewt",
        "conll2003": "conll2003",
        "sst2": "sst2",
        "tinyshakespeare": "tinyshakespeare",
        "ptb": "ptb_word",
    }
    assert [n for n, d in DATASETS.items() if d.restricted] == ["conll2003", "ptb"]


@pytest.mark.parametrize("name", list(DATASETS))
def test_registry_checksums_and_sizes_match_the_shared_data(shared_data: Path, name: str) -> None:
    dataset = DATASETS[name]
    folder = shared_data / dataset.folder
    on_disk = sorted(p.name for p in folder.iterdir() if p.name != "SOURCE.md")
    assert sorted(f.name for f in dataset.files) == on_disk
    for remote in dataset.files:
        assert remote.size == (folder / remote.name).stat().st_size, remote.name
        assert remote.sha256 == _sha256(folder / remote.name), remote.name


@pytest.mark.parametrize("name", list(DATASETS))
def test_registry_urls_pin_the_repository_and_commit_named_in_source_md(
    shared_data: Path, name: str
) -> None:
    dataset = DATASETS[name]
    source_md = (shared_data / dataset.folder / "SOURCE.md").read_text(encoding="utf-8")
    pattern = r"https://raw\.githubusercontent\.com/([\w.-]+/[\w.-]+)/([0-9a-f]{40})/(\S+)"
    for remote in dataset.files:
        match = re.fullmatch(pattern, remote.url)
        assert match, remote.url
        repo, commit, path = match.groups()
        assert f"`{repo}`" in source_md and f"`{commit}`" in source_md, remote.url
        assert path.rsplit("/", 1)[-1] == remote.name
        assert f"`{path}`" in source_md, remote.url


# --- end to end through a mirror --------------------------------------------------------


@pytest.mark.parametrize("name", list(DATASETS))
def test_download_through_mirror_gives_byte_identical_files(
    shared_data: Path, serve, tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str
) -> None:
    server = serve(shared_data)
    folder = download(name, cache_dir=tmp_path, mirror=server.url + "/")
    dataset = DATASETS[name]
    assert folder == tmp_path / dataset.folder
    assert _files_in(folder) == sorted(f.name for f in dataset.files)
    for remote in dataset.files:
        got = (folder / remote.name).read_bytes()
        assert got == (shared_data / dataset.folder / remote.name).read_bytes(), remote.name
    assert sorted(server.requests) == sorted(f"/{dataset.folder}/{f.name}" for f in dataset.files)
    err = capsys.readouterr().err
    assert ("research use only" in err) == dataset.restricted
    assert "%|" not in err  # no progress bar: stderr is not a terminal under pytest


def test_second_call_fetches_nothing_and_force_fetches_again(
    shared_data: Path, serve, tmp_path: Path
) -> None:
    server = serve(shared_data)
    download("sst2", cache_dir=tmp_path, mirror=server.url)
    assert len(server.requests) == 3
    download("sst2", cache_dir=tmp_path, mirror=server.url)
    assert len(server.requests) == 3
    download("sst2", cache_dir=tmp_path, mirror=server.url, force=True)
    assert len(server.requests) == 6


def test_damaged_cached_file_is_fetched_again_and_intact_ones_are_kept(
    shared_data: Path, serve, tmp_path: Path
) -> None:
    server = serve(shared_data)
    folder = download("sst2", cache_dir=tmp_path, mirror=server.url)
    (folder / "sentiment-dev").write_bytes(b"not the file\n")
    download("sst2", cache_dir=tmp_path, mirror=server.url)
    assert server.requests[3:] == ["/sst2/sentiment-dev"]
    assert _sha256(folder / "sentiment-dev") == DATASETS["sst2"].files[1].sha256


def test_cache_dir_defaults_to_rnnseq_cache(
    shared_data: Path, serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RNNSEQ_CACHE", str(tmp_path / "cache"))
    assert default_cache_dir() == tmp_path / "cache"
    folder = download("tinyshakespeare", mirror=serve(shared_data).url)
    assert folder == tmp_path / "cache" / "tinyshakespeare"
    monkeypatch.delenv("RNNSEQ_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "rnnseq"


def test_local_folder_works_as_mirror(shared_data: Path, tmp_path: Path) -> None:
    folder = download("tinyshakespeare", cache_dir=tmp_path, mirror=shared_data)
    assert _sha256(folder / "input.txt") == DATASETS["tinyshakespeare"].files[0].sha256


def test_progress_bar_goes_to_stderr_when_it_is_a_terminal(
    shared_data: Path, serve, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    server = serve(shared_data)
    for progress, cache in ((True, tmp_path / "a"), (False, tmp_path / "b")):
        stderr = Terminal()
        monkeypatch.setattr("sys.stderr", stderr)
        download("tinyshakespeare", cache_dir=cache, mirror=server.url, progress=progress)
        assert ("input.txt" in stderr.getvalue() and "100%" in stderr.getvalue()) == progress


# --- failures ---------------------------------------------------------------------------


@pytest.mark.parametrize("damage", ["flipped byte", "truncated", "extended"])
def test_checksum_mismatch_names_the_file_and_leaves_nothing_behind(
    shared_data: Path, serve, tmp_path: Path, damage: str
) -> None:
    served = _mirror_copy(shared_data, tmp_path / "mirror", "tinyshakespeare") / "input.txt"
    data = bytearray(served.read_bytes())
    if damage == "flipped byte":
        data[len(data) // 2] ^= 0x01
    elif damage == "truncated":
        del data[-10:]
    else:
        data += b"x" * 10
    served.write_bytes(bytes(data))
    server = serve(tmp_path / "mirror")
    expected = DATASETS["tinyshakespeare"].files[0].sha256

    with pytest.raises(DownloadError) as info:
        download("tinyshakespeare", cache_dir=tmp_path / "cache", mirror=server.url)
    message = str(info.value)
    assert "\n" not in message
    assert "input.txt" in message and expected in message
    if damage != "extended":  # an oversized file is cut off before it is fully hashed
        assert _sha256(served) in message
    assert _files_in(tmp_path / "cache" / "tinyshakespeare") == []


def test_unreachable_server_raises_one_line_download_error(tmp_path: Path) -> None:
    with socket.socket() as s:  # a port that was free a moment ago, and is closed now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(DownloadError) as info:
        download("sst2", cache_dir=tmp_path, mirror=f"http://127.0.0.1:{port}", progress=False)
    message = str(info.value)
    assert isinstance(info.value, OSError)
    assert "\n" not in message
    assert message.startswith("cannot reach 127.0.0.1 (offline?): ")
    assert "--mirror URL" in message and str(tmp_path / "sst2") in message
    assert _files_in(tmp_path / "sst2") == []


def test_http_404_raises_one_line_download_error(serve, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    server = serve(tmp_path / "empty")
    with pytest.raises(DownloadError) as info:
        download("tinyshakespeare", cache_dir=tmp_path / "cache", mirror=server.url)
    message = str(info.value)
    assert "\n" not in message
    assert f"{server.url}/tinyshakespeare/input.txt answered HTTP 404" in message
    assert _files_in(tmp_path / "cache" / "tinyshakespeare") == []


def test_missing_file_in_local_mirror_raises_download_error(tmp_path: Path) -> None:
    with pytest.raises(DownloadError, match=r"^cannot read file://.*input\.txt: "):
        download("tinyshakespeare", cache_dir=tmp_path / "cache", mirror=tmp_path)


def test_stalled_server_times_out_with_download_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(dl, "TIMEOUT_S", 0.3)
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        with pytest.raises(DownloadError, match=r"^cannot reach 127\.0\.0\.1 .*timed out"):
            download("tinyshakespeare", cache_dir=tmp_path, mirror=url)
    assert _files_in(tmp_path / "tinyshakespeare") == []


def test_unknown_name_raises_value_error_listing_the_names(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ud-ewt, conll2003, sst2, tinyshakespeare, ptb"):
        download("imdb", cache_dir=tmp_path)


def test_mirror_that_is_neither_url_nor_folder_raises_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="^mirror "):
        download("sst2", cache_dir=tmp_path, mirror="ftp://example.org/data")
    with pytest.raises(ValueError, match="^mirror "):
        download("sst2", cache_dir=tmp_path, mirror=tmp_path / "no-such-folder")
