"""`rnnseq download NAME` wired to rnnseq.data.download: a loopback HTTP server on
127.0.0.1 serves ../shared/data (read only) through --mirror; nothing touches the
internet. The library itself is tested in tests/data/test_download.py."""

from __future__ import annotations

import hashlib
import socket
from pathlib import Path

import pytest

from loopback_server import LoopbackServer
from rnnseq.cli import main
from rnnseq.data.download import DATASETS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _no_proxy_for_loopback(monkeypatch):
    for var in ("no_proxy", "NO_PROXY"):  # urllib honours *_proxy; reach 127.0.0.1 directly
        monkeypatch.setenv(var, "127.0.0.1,localhost")


@pytest.fixture
def serve():
    servers: list[LoopbackServer] = []

    def start(root: Path) -> LoopbackServer:
        servers.append(LoopbackServer(root))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def _run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_download_fetches_verifies_and_prints_the_folder(shared_data, serve, tmp_path, capsys):
    server = serve(shared_data)
    cache = tmp_path / "cache"
    code, out, err = _run(capsys, "download", "sst2", "--mirror", server.url, "--cache-dir", cache)
    assert code == 0, err
    assert out == f"{cache / 'sst2'}\n" and err == ""
    for remote in DATASETS["sst2"].files:
        got = (cache / "sst2" / remote.name).read_bytes()
        assert got == (shared_data / "sst2" / remote.name).read_bytes()
    assert sorted(server.requests) == sorted(f"/sst2/{f.name}" for f in DATASETS["sst2"].files)

    code, out, _ = _run(capsys, "download", "sst2", "--mirror", server.url, "--cache-dir", cache)
    assert code == 0 and out == f"{cache / 'sst2'}\n" and len(server.requests) == 3  # cached
    argv = ["download", "sst2", "--mirror", server.url, "--cache-dir", cache, "--force"]
    assert _run(capsys, *argv)[0] == 0 and len(server.requests) == 6


def test_download_uses_rnnseq_cache_without_cache_dir(
    shared_data, serve, tmp_path, capsys, monkeypatch
):
    monkeypatch.setenv("RNNSEQ_CACHE", str(tmp_path / "env-cache"))
    url = serve(shared_data).url
    code, out, err = _run(capsys, "download", "tinyshakespeare", "--mirror", url, "--no-progress")
    assert code == 0, err
    assert out.strip() == str(tmp_path / "env-cache" / "tinyshakespeare")
    digest = hashlib.sha256((tmp_path / "env-cache" / "tinyshakespeare" / "input.txt").read_bytes())
    assert digest.hexdigest() == DATASETS["tinyshakespeare"].files[0].sha256


def test_checksum_mismatch_exits_2_with_one_line_and_leaves_nothing(
    shared_data, serve, tmp_path, capsys
):
    mirror = tmp_path / "mirror" / "tinyshakespeare"
    mirror.mkdir(parents=True)
    data = bytearray((shared_data / "tinyshakespeare" / "input.txt").read_bytes())
    data[1000] ^= 0x20  # same size, one byte changed
    (mirror / "input.txt").write_bytes(bytes(data))
    server = serve(tmp_path / "mirror")
    cache = tmp_path / "cache"
    code, out, err = _run(
        capsys, "download", "tinyshakespeare", "--mirror", server.url, "--cache-dir", cache
    )
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("rnnseq download: error: ") and "input.txt" in line
    assert DATASETS["tinyshakespeare"].files[0].sha256 in line and "Traceback" not in err
    assert list((cache / "tinyshakespeare").iterdir()) == []  # no partial or temporary file


def test_unreachable_mirror_exits_2_with_one_line(tmp_path, capsys):
    with socket.socket() as s:  # a port that was free a moment ago, and is closed now
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    code, out, err = _run(
        capsys, "download", "sst2", "--mirror", f"http://127.0.0.1:{port}", "--cache-dir", tmp_path
    )
    assert code == 2 and out == ""
    (line,) = err.splitlines()
    assert line.startswith("rnnseq download: error: cannot reach 127.0.0.1")


@pytest.mark.parametrize(
    "argv",
    [
        ["download", "imdb"],
        ["download"],
        ["download", "sst2", "--mirror", "ftp://example.org/data"],
    ],
)
def test_bad_download_usage_exits_2_with_one_line(tmp_path, capsys, argv):
    try:
        code = main([*argv, "--cache-dir", str(tmp_path)])
    except SystemExit as e:  # argparse's own errors
        code = e.code
    out, err = capsys.readouterr()
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_download_help_lists_every_dataset(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["download", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert all(name in text for name in DATASETS)
