"""Starting rnnseq processes from tests: the environment torchrun would give them, a
free loopback port, and waiting with a time limit."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env(**extra) -> dict[str, str]:
    """This interpreter's environment with our sources first on the path, one thread."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(SRC), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    e["OMP_NUM_THREADS"] = "1"
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        e.pop(name, None)
    e.update({k: str(v) for k, v in extra.items()})
    return e


def rank_env(rank: int, world_size: int, port: int) -> dict[str, str]:
    """What torchrun sets for one process of a single-machine run, on the loopback."""
    extra = dict(
        RANK=rank,
        WORLD_SIZE=world_size,
        LOCAL_RANK=rank,
        LOCAL_WORLD_SIZE=world_size,
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=port,
    )
    if sys.platform.startswith("linux") and Path("/sys/class/net/lo").exists():
        extra["GLOO_SOCKET_IFNAME"] = "lo"
    return env(**extra)


def start_ranks(argv: list[str], world_size: int, *, cwd=None) -> list[subprocess.Popen]:
    """Start ``argv`` as ranks 0..world_size-1 of one run (output captured)."""
    port = free_port()
    return [
        subprocess.Popen(
            argv,
            env=rank_env(r, world_size, port),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=cwd,
        )
        for r in range(world_size)
    ]


def run_ranks(argv: list[str], world_size: int, *, timeout: float = 240, cwd=None) -> list:
    """Start ``argv`` as ranks 0..world_size-1 and wait for all; returns
    [(returncode, output)] in rank order (output: stdout and stderr together)."""
    return wait_ranks(start_ranks(argv, world_size, cwd=cwd), timeout=timeout)


def run_nodes(target: list[str], rdzv_id: str, *, nnodes: int = 2, timeout: float = 300) -> list:
    """Run ``target`` (what follows torchrun's options: a script and its arguments, or
    ``-m module ...``) as ``nnodes`` torchrun "machines" of one process each, meeting by
    c10d rendezvous on the loopback; returns [(returncode, output)] per node."""
    port = free_port()
    argv = [
        sys.executable, "-m", "torch.distributed.run",
        "--nnodes", str(nnodes), "--nproc-per-node", "1",
        "--rdzv-backend", "c10d", "--rdzv-endpoint", f"127.0.0.1:{port}",
        "--rdzv-id", rdzv_id, "--local-addr", "127.0.0.1",
        "--max-restarts", "0", "--monitor-interval", "0.5",
        *target,
    ]  # fmt: skip
    node_env = env(GLOO_SOCKET_IFNAME="lo", TORCHELASTIC_ERROR_FILE="")
    nodes = [
        subprocess.Popen(
            argv, env=node_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        for _ in range(nnodes)
    ]
    return wait_ranks(nodes, timeout=timeout)


def wait_ranks(procs: list[subprocess.Popen], *, timeout: float = 240) -> list:
    """Wait for every process (killing all of them past ``timeout`` seconds)."""
    results = []
    try:
        for p in procs:
            out, _ = p.communicate(timeout=timeout)
            results.append((p.returncode, out))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    return results
