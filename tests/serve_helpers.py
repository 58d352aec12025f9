"""Tiny trained models, servers on 127.0.0.1 and an HTTP client, for the serve tests."""

from __future__ import annotations

import http.client
import json
import warnings
from pathlib import Path
from urllib.parse import urlsplit

from model_folder_factory import NER
from rnnseq.api import train
from rnnseq.inference import Predictor
from rnnseq.serve import ModelServer
from rnnseq.serve_options import Serving
from tiny_data import write_tiny_data

TINY = {"hidden": 16, "embedding_dim": 16, "batch_size": 8, "threads": 1, "progress": False}


def train_tiny_models(folder: Path) -> dict[str, Path]:
    """Model folders trained in seconds: a POS tagger, an entity tagger (IOB2 spans),
    a classifier and a character language model."""
    d = write_tiny_data(folder)
    (d / "ner.jsonl").write_text(
        "".join(json.dumps({"tokens": e.tokens, "tags": e.tags}) + "\n" for e in NER * 20)
    )
    runs = {
        "tag": dict(task="tag", train=d / "tags.jsonl", epochs=1),
        "ner": dict(task="tag", train=d / "ner.jsonl", epochs=3, lr=0.01),
        "classify": dict(task="classify", train=d / "reviews.tsv", epochs=1),
        "lm": dict(task="lm", train=d / "text.txt", epochs=1, bptt=16),
    }
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # no dev data: fine for these models
        for name, options in runs.items():
            train(out=d / name, **TINY, **options)
    return {name: d / name for name in runs}


def start_server(folder: Path, **limits) -> ModelServer:
    """A server of ``folder`` on a free port of 127.0.0.1, running in a thread."""
    predictor = Predictor.load(folder, device="cpu")
    return ModelServer(predictor, folder, Serving(port=0, **limits)).start()


class Response:
    def __init__(self, status: int, headers, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def json(self):
        return json.loads(self.body)


def request(url: str, method: str, path: str, body=None, *, headers=None, raw: bytes | None = None,
            connection: http.client.HTTPConnection | None = None) -> Response:  # fmt: skip
    """One request; ``body`` is sent as JSON (Content-Type application/json) unless
    ``raw`` bytes are given with their own ``headers``."""
    headers = dict(headers or {})
    data = raw
    if body is not None:
        data = json.dumps(body).encode("utf-8")
        headers.setdefault("Content-Type", "application/json")
    own = connection is None
    if own:
        parts = urlsplit(url)
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        return Response(response.status, response.headers, response.read())
    finally:
        if own:
            connection.close()
