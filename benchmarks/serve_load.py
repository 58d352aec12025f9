"""Load test of ``rnnseq serve``: concurrent clients on loopback against a real model.

    python benchmarks/serve_load.py --model runs/ewt3            # a trained tagger
    python benchmarks/serve_load.py                              # trains a quick EWT tagger
    python benchmarks/serve_load.py --clients 2 --requests 5 --quick    # a smoke run

The server is ``python -m rnnseq serve`` as a child process (``--threads`` torch
threads, ``--quiet``). ``--clients`` threads each send ``--requests`` POST /predict
requests of ``--texts`` sentence(s) over one kept-alive connection, one after the
other; every answer is checked against the answer the same server gave to that
sentence alone before the load (same tags; probabilities equal to 1e-4, as bfloat16
products may round differently in another batch), so a lost, mixed-up or wrong answer
counts as an error. Printed: p50 / p99 / max latency, requests and sentences per
second, the server's CPU seconds (user + system, from /proc) during the load, and the
load average.

``--mode lock`` runs the same server with batching off (each request alone through
the model: a lock around it, in effect); ``--mode both`` runs batch then lock. The
last line is one JSON object with every figure.

Without ``--model`` a tagger is trained (default architecture, ``--steps`` optimizer
steps, one thread) on UD English EWT train from ``../shared/data`` (generated demo
sentences when it is absent); the inputs are EWT dev sentences, words joined by spaces.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
# The server of --mode lock: the same command line, with batching off.
_LOCK = (
    "import rnnseq.serve as s, sys; s.ModelServer.__init__.__kwdefaults__"
    "['max_batch_texts'] = 0; from rnnseq.cli import main; sys.exit(main(sys.argv[1:]))"
)


def find_shared_data() -> Path | None:
    for parent in REPO.parents:
        if (parent / "shared" / "data").is_dir():
            return parent / "shared" / "data"
    return None


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _load_average() -> str:
    path = Path("/proc/loadavg")
    return " ".join(path.read_text().split()[:3]) if path.exists() else "unknown"


def _sentences(path: Path, limit: int | None = None) -> list[list[str]]:
    """The FORM column of a CoNLL-U file, one word list per sentence."""
    out, words = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                if words:
                    out.append(words)
                    words = []
                    if limit is not None and len(out) >= limit:
                        break
                continue
            cols = line.split("\t")
            if not line.startswith("#") and len(cols) == 10 and cols[0].isdigit():
                words.append(cols[1])
    if words:
        out.append(words)
    return out


def inputs() -> tuple[list[str], Path | None, str]:
    """(input sentences, EWT train file or None, what they are)."""
    data = find_shared_data()
    ewt = data / "ud_english_ewt" if data else None
    if ewt is not None and ewt.is_dir():
        sentences = [" ".join(w) for w in _sentences(ewt / "en_ewt-ud-dev.conllu")]
        return sentences, ewt / "en_ewt-ud-train.conllu", "UD English EWT dev sentences"
    sys.path.insert(0, str(SRC))
    from rnnseq.data.demo import demo_tagging

    sentences = [" ".join(e.tokens) for e in demo_tagging(300, seed=2)]
    return sentences, None, "generated demo sentences (../shared/data not found)"


def train_tagger(work: Path, train: Path | None, steps: int, quick: bool) -> Path:
    """A tagger of the default architecture (smaller with ``quick``), ``steps`` optimizer
    steps on ``train`` (generated demo data when None), one thread."""
    model = work / "model"
    if train is None:
        from rnnseq.data.demo import demo_tagging

        train = work / "tags.jsonl"
        rows = demo_tagging(400, seed=1)
        train.write_text("".join(json.dumps({"tokens": e.tokens, "tags": e.tags}) + "\n"
                                 for e in rows))  # fmt: skip
    command = [sys.executable, "-m", "rnnseq", "train", "--task", "tag", "--train", str(train),
               "--out", str(model), "--threads", "1", "--no-progress", "--epochs", "1",
               "--max-steps", str(steps)]  # fmt: skip
    if quick:
        command += ["--hidden", "16", "--embedding-dim", "16"]
    subprocess.run(command, check=True, env=_env(), stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)  # fmt: skip
    return model


class Server:
    """``rnnseq serve`` in a child process, on a free port of 127.0.0.1."""

    def __init__(self, model: Path, threads: int, mode: str):
        argv = ["serve", "--model", str(model), "--port", "0", "--threads", str(threads),
                "--quiet"]  # fmt: skip
        head = ["-c", _LOCK] if mode == "lock" else ["-m", "rnnseq"]
        self.proc = subprocess.Popen([sys.executable, *head, *argv], stdout=subprocess.PIPE,
                                     text=True, env=_env())  # fmt: skip
        first = self.proc.stdout.readline()
        if not first.startswith("rnnseq serve: http://"):
            self.proc.kill()
            raise RuntimeError(f"the server did not start: {first!r}")
        host, port = first.split()[2].removeprefix("http://").split(":")
        self.host, self.port = host, int(port)

    def cpu_seconds(self) -> float | None:
        """User + system CPU seconds of the server so far (Linux /proc), else None."""
        stat = Path(f"/proc/{self.proc.pid}/stat")
        if not stat.exists():
            return None
        fields = stat.read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


def _post(conn: http.client.HTTPConnection, texts: list[str]) -> tuple[int, dict]:
    body = json.dumps({"texts": texts}).encode("utf-8")
    conn.request("POST", "/predict", body, {"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read())


def _same(got: dict, want: dict) -> bool:
    if got.get("text") != want["text"] or len(got.get("tokens", ())) != len(want["tokens"]):
        return False
    return all(
        a["text"] == b["text"] and a["tag"] == b["tag"]
        and abs(a["probability"] - b["probability"]) <= 1e-4
        for a, b in zip(got["tokens"], want["tokens"], strict=True)
    )  # fmt: skip


def run_load(server: Server, inputs: list[str], clients: int, requests: int, texts: int
             ) -> dict:  # fmt: skip
    """The load test against a running server; every answer checked."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
    expected = {}
    for t in inputs:  # each sentence alone, before the load (also warms the server up)
        status, answer = _post(conn, [t])
        assert status == 200, answer
        expected[t] = answer["results"][0]
    conn.close()
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start_gate = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
        mine, bad = [], []
        start_gate.wait()
        for j in range(requests):
            sent = [inputs[(k * requests * texts + j * texts + i) % len(inputs)]
                    for i in range(texts)]  # fmt: skip
            t0 = time.perf_counter()
            try:
                status, answer = _post(conn, sent)
            except (OSError, http.client.HTTPException, ValueError) as e:
                bad.append(f"client {k} request {j}: {type(e).__name__}: {e}")
                conn.close()
                conn = http.client.HTTPConnection(server.host, server.port, timeout=120)
                continue
            mine.append(time.perf_counter() - t0)
            results = answer.get("results", [])
            if status != 200 or len(results) != len(sent):
                bad.append(f"client {k} request {j}: HTTP {status} {answer}")
            elif not all(_same(r, expected[t]) for r, t in zip(results, sent, strict=True)):
                bad.append(f"client {k} request {j}: an answer differs from the lone one")
        conn.close()
        with lock:
            latencies.extend(mine)
            errors.extend(bad)

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    cpu0, client0 = server.cpu_seconds(), time.process_time()
    start_gate.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    cpu1, client1 = server.cpu_seconds(), time.process_time()
    total = clients * requests
    lat = sorted(latencies)

    def pct(q: float) -> float:
        return lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")

    return {
        "requests": total,
        "answered_ok": total - len(errors),
        "errors": len(errors),
        "first_errors": errors[:3],
        "wall_s": round(wall, 3),
        "requests_per_s": round(total / wall, 1),
        "sentences_per_s": round(total * texts / wall, 1),
        "p50_ms": round(pct(0.50), 2),
        "p99_ms": round(pct(0.99), 2),
        "max_ms": round(lat[-1] * 1000, 2) if lat else None,
        "mean_ms": round(statistics.fmean(lat) * 1000, 2) if lat else None,
        "server_cpu_s": None if cpu0 is None else round(cpu1 - cpu0, 2),
        "client_cpu_s": round(client1 - client0, 2),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", type=Path, help="a tag model folder (default: train one)")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients (default 8)")
    ap.add_argument("--requests", type=int, default=200, help="requests per client (default 200)")
    ap.add_argument("--texts", type=int, default=1, help="sentences per request (default 1)")
    ap.add_argument("--threads", type=int, default=1, help="server torch threads (default 1)")
    ap.add_argument(
        "--mode",
        choices=("batch", "lock", "both"),
        default="batch",
        help="batch: as rnnseq serve runs; lock: batching off (default batch)",
    )
    ap.add_argument("--steps", type=int, default=300,
                    help="optimizer steps of the trained tagger (default 300)")  # fmt: skip
    ap.add_argument("--inputs", type=int, default=400, help="distinct sentences (default 400)")
    ap.add_argument("--quick", action="store_true", help="a small model (a smoke run)")
    ap.add_argument("--work", type=Path, help="work folder (default: a temporary one)")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="serve_load_") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        sentences, train, what = inputs()
        model = args.model
        if model is None:
            model = train_tagger(work, train, args.steps, args.quick)
            what += f"; tagger trained {args.steps} steps on {train.name if train else 'demo data'}"
        sentences = sentences[: args.inputs]
        command = ["python", "benchmarks/serve_load.py", *(sys.argv[1:] if argv is None else argv)]
        summary = {"command": " ".join(command), "inputs": what, "clients": args.clients,
                   "requests_per_client": args.requests, "texts_per_request": args.texts,
                   "server_threads": args.threads, "load_before": _load_average()}  # fmt: skip
        for mode in ("batch", "lock") if args.mode == "both" else (args.mode,):
            server = Server(model, args.threads, mode)
            try:
                result = run_load(server, sentences, args.clients, args.requests, args.texts)
            finally:
                server.close()
            summary[mode] = result
            print(
                f"{mode}: {result['answered_ok']}/{result['requests']} answered right, "
                f"p50 {result['p50_ms']} ms, p99 {result['p99_ms']} ms, max "
                f"{result['max_ms']} ms, {result['requests_per_s']} requests/s, server "
                f"{result['server_cpu_s']} CPU s in {result['wall_s']} s",
                flush=True,
            )
        summary["load_after"] = _load_average()
        print(json.dumps(summary))
        failed = any(summary[m]["errors"] for m in ("batch", "lock") if m in summary)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
