"""``rnnseq serve``: a model behind HTTP, with a page to try it in a browser.

Routes (JSON in and out, UTF-8)::

    GET  /          the page (serve_page.html: predict and explain in a browser)
    GET  /health    {"status": "ok"}
    GET  /info      the model card's facts and the server's limits (rnnseq.serve_info)
    POST /predict   {"texts": [...], <predict option>: ...} -> {"results": [...]}: per text
                    the object ``rnnseq predict --output jsonl`` writes
    POST /explain   {"text": ..., "labels": [...]} -> ``rnnseq explain --json``'s object

A bad request is a 4xx answer whose body is one line, ``{"error": "..."}``: malformed
JSON, a missing or mistyped field, too many texts, a text over the length cap, a body
that is not ``application/json`` (415) or too large (413), an unknown route (404), a
method the route does not take (405). An unexpected exception is a 500 with the same
one-line body (the traceback goes to the server's log) and the server goes on.

The standard library's :class:`~http.server.ThreadingHTTPServer` answers each
connection in a thread (HTTP/1.1, connections kept alive); the model is used by one
thread, :class:`~rnnseq.serve_model.ModelWorker`, which batches predict requests that
wait together. Loopback (127.0.0.1) by default.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from rnnseq import __version__
from rnnseq.inference import Predictor
from rnnseq.serve_model import ModelWorker
from rnnseq.serve_options import Serving
from rnnseq.serve_requests import RequestError, parse_explain, parse_json_body, parse_predict

__all__ = ["ModelServer", "page_html"]

_GET = ("/", "/health", "/info")
_POST = ("/predict", "/explain")
_IDLE_SECONDS = 60  # a kept-alive connection that sends nothing this long is closed


def page_html() -> bytes:
    """The page served at ``/`` (a file of the package; no external assets)."""
    return resources.files("rnnseq").joinpath("serve_page.html").read_bytes()


class ModelServer:
    """A loaded model served over HTTP until :meth:`close`.

    Args:
        predictor: the model.
        folder: its folder (for ``/info``).
        serving: address and limits (:class:`~rnnseq.serve_options.Serving`).
        max_batch_texts: see :class:`~rnnseq.serve_model.ModelWorker` (0: no batching).
        log: where each request is logged (None: nowhere).

        >>> server = ModelServer(predictor, "runs/tagger", Serving(port=0))  # doctest: +SKIP
        >>> server.url                                                       # doctest: +SKIP
        'http://127.0.0.1:40123'
    """

    def __init__(self, predictor: Predictor, folder: str | Path, serving: Serving, *,
                 max_batch_texts: int = 1024, log=None):  # fmt: skip
        from rnnseq.serve_info import model_info

        self.serving = serving
        info = json.dumps(model_info(predictor, folder, serving), ensure_ascii=False)
        self.worker = ModelWorker(predictor, max_batch_texts=max_batch_texts)
        handler = _handler(self.worker, serving, info.encode("utf-8"), page_html(), log)
        try:
            server = _Server6 if ":" in serving.host else _Server
            self.httpd = server((serving.host, serving.port), handler)
        except BaseException:
            self.worker.close()
            raise
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever(poll_interval=0.2)

    def start(self) -> ModelServer:
        """Serve in a background thread (tests, benchmarks); returns self."""
        self._thread = threading.Thread(target=self.serve_forever, name="rnnseq-http",
                                        daemon=True)  # fmt: skip
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join()
        self.httpd.server_close()
        self.worker.close()

    def __enter__(self) -> ModelServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Connections waiting to be accepted; socketserver's 5 drops the SYNs of a burst of
    # clients, which then wait a second to try again (seen as 1.06 s answers under load).
    request_queue_size = 128


class _Server6(_Server):
    address_family = socket.AF_INET6


def _handler(worker: ModelWorker, serving: Serving, info: bytes, page: bytes, log):
    """The request handler class, bound to one server's worker, limits and pages."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = f"rnnseq/{__version__}"
        timeout = _IDLE_SECONDS

        def setup(self) -> None:
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        # ---------------------------------------------------------- methods

        def do_GET(self) -> None:
            self._answer("GET")

        def do_HEAD(self) -> None:
            self._answer("HEAD")

        def do_POST(self) -> None:
            self._answer("POST")

        def do_PUT(self) -> None:
            self._answer("PUT")

        def do_DELETE(self) -> None:
            self._answer("DELETE")

        def do_PATCH(self) -> None:
            self._answer("PATCH")

        def do_OPTIONS(self) -> None:
            self._answer("OPTIONS")

        # ---------------------------------------------------------- dispatch

        def _answer(self, method: str) -> None:
            path = urlsplit(self.path).path
            try:
                if method in ("GET", "HEAD") and path in _GET:
                    self._get(path, head=method == "HEAD")
                elif method == "POST" and path in _POST:
                    self._post(path)
                elif path in _GET or path in _POST:
                    allowed = "GET, HEAD" if path in _GET else "POST"
                    raise RequestError(405, f"{method} is not allowed on {path} (use {allowed})")
                else:
                    raise RequestError(404, f"no route {path} (routes: GET {', '.join(_GET)}; "
                                            f"POST {', '.join(_POST)})")  # fmt: skip
            except RequestError as e:
                self._error(e.status, e.message, allow=_allowed(path))
            except (BrokenPipeError, ConnectionResetError):  # the client left
                self.close_connection = True
            except Exception as e:  # noqa: BLE001 - a 500, and the server goes on
                traceback.print_exc(file=sys.stderr)
                message = " ".join(f"{type(e).__name__}: {e}".split())
                self._error(500, f"internal error: {message}")

        def _get(self, path: str, head: bool) -> None:
            if path == "/":
                self._send(200, page, "text/html; charset=utf-8", head=head)
            elif path == "/health":
                self._json(200, {"status": "ok"}, head=head)
            else:
                self._send(200, info, "application/json", head=head)

        def _post(self, path: str) -> None:
            body = parse_json_body(self._body())
            if path == "/predict":
                req = parse_predict(body, max_texts=serving.max_texts,
                                    max_chars=serving.max_chars)  # fmt: skip
                self._check_options(req.options)
                results, said = self._model(worker.predict, req.texts, req.options)
                answer = {"results": results}
            else:
                req = parse_explain(body, max_chars=serving.max_chars)
                answer, said = self._model(worker.explain, req.text, req.labels,
                                           req.pretokenized)  # fmt: skip
            if said:
                answer["warnings"] = said
            self._json(200, answer)

        def _check_options(self, options: dict) -> None:
            """The predict options, checked as ``rnnseq predict`` checks them."""
            try:
                worker.predictor.settings(lines=True, output="jsonl", **options)
            except (ValueError, TypeError) as e:
                raise RequestError(400, str(e)) from None

        def _model(self, call, *args):
            """A model call; a ValueError from it (bad labels, an unknown tag) is the
            request's fault: 400."""
            try:
                return call(*args)
            except ValueError as e:
                raise RequestError(400, str(e)) from None

        # ---------------------------------------------------------- reading

        def _body(self) -> bytes:
            if self.headers.get("Transfer-Encoding", "").lower() not in ("", "identity"):
                self.close_connection = True
                raise RequestError(411, "send the body with a Content-Length, not chunked")
            kind = self.headers.get_content_type()
            if self.headers.get("Content-Type") is None or kind != "application/json":
                self._skip_body()
                raise RequestError(
                    415,
                    "the body must be JSON (Content-Type: application/json), "
                    f"not {self.headers.get('Content-Type') or 'unstated'}",
                )
            length = self._length()
            if length > serving.max_body:
                self.close_connection = True  # the body is left unread
                raise RequestError(413, f"the body has {length} bytes; the most is "
                                        f"{serving.max_body} (--max-body)")  # fmt: skip
            body = self.rfile.read(length)
            if len(body) < length:
                self.close_connection = True
                raise RequestError(400, f"the body ended after {len(body)} of {length} bytes")
            return body

        def _length(self) -> int:
            text = self.headers.get("Content-Length")
            if text is None:
                self.close_connection = True
                raise RequestError(411, "the request needs a Content-Length")
            try:
                length = int(text)
            except ValueError:
                length = -1
            if length < 0:
                self.close_connection = True
                raise RequestError(400, f"bad Content-Length {text!r}")
            return length

        def _skip_body(self) -> None:
            """Read and drop a refused body that is small enough, so the connection can
            serve the next request; a larger one closes the connection."""
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if 0 <= length <= serving.max_body:
                self.rfile.read(length)
            else:
                self.close_connection = True

        # ---------------------------------------------------------- writing

        def _json(self, status: int, value: dict, *, head: bool = False, headers=()) -> None:
            body = json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
            self._send(status, body, "application/json", head=head, headers=headers)

        def _error(self, status: int, message: str, allow: str | None = None) -> None:
            headers = [("Allow", allow)] if status == 405 and allow else []
            self._json(status, {"error": message}, head=self.command == "HEAD",
                       headers=headers)  # fmt: skip

        def _send(self, status: int, body: bytes, kind: str, *, head: bool = False,
                  headers=()) -> None:  # fmt: skip
            if self.request_version == "HTTP/0.9":  # answer with headers all the same
                self.request_version = "HTTP/1.0"
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for name, value in headers:
                self.send_header(name, value)
            if self.close_connection:
                self.send_header("Connection", "close")
            # Headers and body in one write: two small writes would meet Nagle's
            # algorithm and the client's delayed ACK (a 40 ms stall per answer).
            self._headers_buffer.append(b"\r\n")
            if not head:
                self._headers_buffer.append(body)
            self.flush_headers()

        def send_error(self, code: int, message: str | None = None, explain=None) -> None:
            """Errors the standard library finds (a malformed request line, headers too
            long, an unsupported method) as one-line JSON too."""
            self.close_connection = True
            try:
                text = message or HTTPStatus(code).phrase
            except ValueError:
                text = str(message or code)
            self._json(code, {"error": " ".join(text.split())})

        def log_message(self, format: str, *args) -> None:
            if log is not None:
                print(f"{self.address_string()} {format % args}", file=log, flush=True)

    return Handler


def _allowed(path: str) -> str | None:
    if path in _GET:
        return "GET, HEAD"
    if path in _POST:
        return "POST"
    return None
