"""rnnseq serve: every route and every refusal over real HTTP (http.client) against tiny
models trained here, answers equal to rnnseq predict --output jsonl and rnnseq explain
--json, batching of concurrent requests, and the command line."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rnnseq.cli import main
from rnnseq.inference import Predictor
from rnnseq.serve_model import ModelWorker
from rnnseq.serve_requests import RequestError, parse_explain, parse_json_body, parse_predict
from serve_helpers import request, start_server, train_tiny_models

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    return train_tiny_models(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def servers(folders):
    """One server per model, small limits (3 texts, 60 characters, 2,000 bytes)."""
    running = {n: start_server(f, max_texts=3, max_chars=60, max_body=2000)
               for n, f in folders.items()}  # fmt: skip
    yield {n: s.url for n, s in running.items()}
    for s in running.values():
        s.close()


def _cli(capsys, *argv) -> str:
    assert main([str(a) for a in argv]) == 0
    return capsys.readouterr().out


# ------------------------------------------------------------------ GET routes


def test_health_answers_ok(servers):
    r = request(servers["tag"], "GET", "/health")
    assert r.status == 200 and r.json == {"status": "ok"}
    assert r.headers["Content-Type"] == "application/json"


def test_info_gives_the_model_cards_facts_and_the_limits(servers, folders):
    info = request(servers["ner"], "GET", "/info").json
    p = Predictor.load(folders["ner"], device="cpu")
    assert info["task"] == "tag" and info["labels"] == p.labels
    assert info["tag_scheme"] == {"source": "IOB2", "learned": p.meta.schemes.learned}
    assert info["entity_types"] == ["MISC", "ORG", "PER"]
    assert info["train_command"].startswith("rnnseq train --task tag --train ")
    assert info["network"]["cell"] == "lstm" and info["parameters"] > 0
    assert info["limits"] == {"max_texts": 3, "max_chars": 60, "max_body": 2000}
    assert info["dev_scores"] is None and info["card"] is None  # no dev data, not exported
    assert request(servers["lm"], "GET", "/info").json["unit"] == "char"


def test_info_of_an_exported_folder_includes_its_card(folders, tmp_path):
    from rnnseq.export import export_folder

    out = export_folder(folders["classify"], tmp_path / "shipped").out
    server = start_server(out)
    try:
        info = request(server.url, "GET", "/info").json
    finally:
        server.close()
    assert info["name"] == "shipped" and info["task"] == "classify"
    assert info["card"] == (out / "README.md").read_text(encoding="utf-8")
    assert info["card"].startswith("# shipped: an rnnseq classify model")


def test_the_page_is_one_offline_html_file(servers):
    r = request(servers["tag"], "GET", "/?x=1")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/html")
    page = r.body.decode("utf-8")
    for element in ('id="text"', 'id="predict"', 'id="explain"', 'id="steps"', 'id="sum"'):
        assert element in page
    assert "http://" not in page and "https://" not in page  # no external asset


def test_head_gives_the_headers_without_the_body(servers):
    r = request(servers["tag"], "HEAD", "/health")
    assert r.status == 200 and r.body == b"" and int(r.headers["Content-Length"]) > 0


# ------------------------------------------------------------------ predict


@pytest.mark.parametrize("name", ["tag", "ner", "classify", "lm"])
def test_predict_gives_what_predict_jsonl_writes(servers, folders, tmp_path, capsys, name):
    texts = ["John Smith said", "", "the dog runs .", "not bad at all"][:3]
    path = tmp_path / "in.txt"
    path.write_text("".join(t + "\n" for t in texts))
    extra = ["--max-new", "12"] if name == "lm" else []
    out = _cli(capsys, "predict", "--model", folders[name], path, "--output", "jsonl", *extra)
    expected = [json.loads(line) for line in out.splitlines()]
    body = {"texts": texts, **({"max_new": 12} if name == "lm" else {})}
    r = request(servers[name], "POST", "/predict", body)
    assert r.status == 200, r.body
    assert r.json == {"results": expected}


def test_predict_takes_the_options_of_rnnseq_predict(servers, folders, tmp_path, capsys):
    path = tmp_path / "in.txt"
    path.write_text("the dog runs.\n")
    out = _cli(capsys, "predict", "--model", folders["tag"], path, "--output", "jsonl",
               "--top-k", "2", "--pretokenized")  # fmt: skip
    body = {"texts": ["the dog runs."], "top_k": 2, "pretokenized": True}
    (result,) = request(servers["tag"], "POST", "/predict", body).json["results"]
    assert result == json.loads(out)
    assert [t["text"] for t in result["tokens"]] == ["the", "dog", "runs."]
    assert len(result["tokens"][0]["top_k"]) == 2


def test_predict_of_no_text_is_an_empty_list(servers):
    assert request(servers["tag"], "POST", "/predict", {"texts": []}).json == {"results": []}


def test_several_requests_share_one_kept_alive_connection(servers):
    parts = servers["tag"].removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(parts[0], int(parts[1]), timeout=30)
    try:
        ok = request("", "POST", "/predict", {"texts": ["a cat"]}, connection=conn)
        bad = request("", "POST", "/predict", {"texts": 1}, connection=conn)
        again = request("", "POST", "/predict", {"texts": ["a cat"]}, connection=conn)
    finally:
        conn.close()
    assert (ok.status, bad.status, again.status) == (200, 400, 200)
    assert ok.json == again.json


# ------------------------------------------------------------------ explain


@pytest.mark.parametrize(
    "name, text, labels",
    [
        ("ner", "Peter Blackburn said", ["B-PER", "I-PER", "O"]),
        ("tag", "the dog runs .", None),
        ("classify", "not bad at all", ["positive"]),
        ("lm", "the dog", None),
    ],
)
def test_explain_gives_what_explain_json_prints(servers, folders, capsys, name, text, labels):
    flags = ["--labels", " ".join(labels)] if labels else []
    expected = json.loads(_cli(capsys, "explain", "--model", folders[name], "--text", text,
                               "--json", *flags))  # fmt: skip
    body = {"text": text, **({"labels": labels} if labels else {})}
    r = request(servers[name], "POST", "/explain", body)
    assert r.status == 200, r.body
    got = r.json
    assert got.pop("label_head") in ("label", "predicted", "next unit")
    assert got == expected
    assert got["sum"] == pytest.approx(sum(s["loss"] for s in got["steps"]))


def test_explain_takes_labels_as_one_string_as_the_cli_does(servers):
    as_list = request(servers["ner"], "POST", "/explain",
                      {"text": "EU rejects", "labels": ["B-ORG", "O"]})  # fmt: skip
    as_text = request(servers["ner"], "POST", "/explain",
                      {"text": "EU rejects", "labels": "B-ORG O"})  # fmt: skip
    assert as_list.status == as_text.status == 200 and as_list.json == as_text.json


# ------------------------------------------------------------------ refusals

JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize(
    "path, raw, headers, status, words",
    [
        ("/predict", b'{"texts": [', JSON, 400, "not JSON"),
        ("/predict", b"\xff\xfe{}", JSON, 400, "not UTF-8"),
        ("/predict", b'{"texts": [NaN]}', JSON, 400, "NaN"),
        ("/predict", b"[1, 2]", JSON, 400, "must be a JSON object, got a list"),
        ("/predict", b"[" * 1900, JSON, 400, "too deeply"),
        ("/predict", b"{}", JSON, 400, 'missing field "texts"'),
        ("/predict", b'{"texts": "a b"}', JSON, 400, '"texts" must be a list'),
        ("/predict", b'{"texts": ["a", 3]}', JSON, 400, '"texts[1]" must be a string, got a'),
        ("/predict", b'{"texts": ["a", "b", "c", "d"]}', JSON, 400, "holds 4 texts; the most is 3"),
        ("/predict", json.dumps({"texts": ["x" * 61]}).encode(), JSON, 400, "61 characters"),
        ("/predict", b'{"texts": ["a\\nb"]}', JSON, 400, "line break"),
        ("/predict", b'{"texts": ["a"], "top_k": "2"}', JSON, 400, "top_k must be an integer"),
        ("/predict", b'{"texts": ["a"], "top_k": 0}', JSON, 400, "top_k must be an integer >= 1"),
        ("/predict", b'{"texts": ["a"], "pretokenized": 1}', JSON, 400, "true or false"),
        ("/predict", b'{"texts": ["a"], "colour": 1}', JSON, 400, "colour is not an option"),
        ("/predict", b'{"texts": ["a"], "temperature": 1}', JSON, 400, "does not apply"),
        ("/predict", b'{"texts": ["a"], "output": "tsv"}', JSON, 400, '"output" cannot be set'),
        ("/predict", b'{"texts": ["a"]}', {"Content-Type": "text/plain"}, 415, "text/plain"),
        ("/predict", b'{"texts": ["a"]}', {}, 415, "unstated"),
        ("/predict", b'{"texts": ["' + b"a" * 2100 + b'"]}', JSON, 413, "the most is 2000"),
        ("/explain", b"{}", JSON, 400, 'missing field "text"'),
        ("/explain", b'{"text": 5}', JSON, 400, '"text" must be a string'),
        ("/explain", b'{"text": "  "}', JSON, 400, '"text" is empty'),
        ("/explain", b'{"text": "a b", "labels": 5}', JSON, 400, '"labels" must be a list'),
        ("/explain", b'{"text": "a b", "labels": [5]}', JSON, 400, "must hold strings"),
        ("/explain", b'{"text": "a", "pretokenized": "yes"}', JSON, 400, "true or false"),
        ("/explain", b'{"text": "a", "label": "NOUN"}', JSON, 400, 'unknown field "label"'),
        ("/explain", b'{"text": "a b", "labels": ["NOUN"]}', JSON, 400, "one tag per token"),
        ("/explain", b'{"text": "a", "labels": ["NOPE"]}', JSON, 400, "NOPE"),
    ],
)
def test_a_bad_request_is_a_4xx_with_a_one_line_json_error(servers, path, raw, headers, status,
                                                           words):  # fmt: skip
    r = request(servers["tag"], "POST", path, raw=raw, headers=headers)
    assert r.status == status, r.body
    assert r.headers["Content-Type"] == "application/json"
    assert b"\n" not in r.body and set(r.json) == {"error"}
    assert words in r.json["error"]
    assert request(servers["tag"], "GET", "/health").status == 200  # still serving


def test_lm_explain_refuses_labels(servers):
    r = request(servers["lm"], "POST", "/explain", {"text": "the", "labels": ["x"]})
    assert r.status == 400 and "labels" in r.json["error"]


def test_lm_max_new_is_capped_by_max_chars(servers):
    r = request(servers["lm"], "POST", "/predict", {"texts": ["a"], "max_new": 61})
    assert r.status == 400 and "max_new" in r.json["error"] and "--max-chars" in r.json["error"]


@pytest.mark.parametrize(
    "method, path, status, allow",
    [
        ("GET", "/nowhere", 404, None),
        ("POST", "/nowhere", 404, None),
        ("GET", "/predict", 405, "POST"),
        ("GET", "/explain", 405, "POST"),
        ("POST", "/health", 405, "GET, HEAD"),
        ("DELETE", "/info", 405, "GET, HEAD"),
        ("PUT", "/predict", 405, "POST"),
    ],
)
def test_unknown_routes_are_404_and_wrong_methods_405(servers, method, path, status, allow):
    r = request(servers["tag"], method, path)
    assert r.status == status and set(r.json) == {"error"}
    assert r.headers.get("Allow") == allow


def _raw_exchange(url: str, data: bytes) -> tuple[int, dict]:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.mark.parametrize(
    "data, status",
    [
        (b"NONSENSE\r\n\r\n", 400),
        (b"GET /nowhere\r\n", 404),  # HTTP/0.9
        (b"BREW /health HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        (b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n", 411),
        (
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            411,
        ),
        (
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: -5\r\n\r\n",
            400,
        ),
        (
            b"POST /predict HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 50\r\n\r\n{}",
            400,
        ),
    ],
)
def test_malformed_http_is_answered_with_one_line_json_too(servers, data, status):
    got, body = _raw_exchange(servers["tag"], data)
    assert got == status and set(body) == {"error"}


def test_an_unexpected_exception_is_a_500_and_the_server_goes_on(folders, capsys):
    server = start_server(folders["tag"])
    predictor = server.worker.predictor
    real = predictor.predict_lines

    def broken(*args, **kwargs):
        predictor.predict_lines = real
        raise RuntimeError("disk on fire\nsecond line")

    predictor.predict_lines = broken
    try:
        r = request(server.url, "POST", "/predict", {"texts": ["a cat"]})
        assert r.status == 500
        assert r.json == {"error": "internal error: RuntimeError: disk on fire second line"}
        assert "Traceback" in capsys.readouterr().err  # in the server's log only
        assert request(server.url, "POST", "/predict", {"texts": ["a cat"]}).status == 200
    finally:
        server.close()


# ------------------------------------------------------------------ the model thread


def _held_predictor(folder: Path):
    """A predictor whose first predict call waits until ``release`` is set, so that
    requests pile up behind it."""
    predictor = Predictor.load(folder, device="cpu")
    real, entered, release = predictor.predict_lines, threading.Event(), threading.Event()
    calls: list[int] = []

    def held(lines, **kwargs):
        lines = list(lines)
        calls.append(len(lines))
        entered.set()
        release.wait(30)
        return real(lines, **kwargs)

    predictor.predict_lines = held
    return predictor, entered, release, calls


@pytest.mark.parametrize("batching", [True, False])
def test_waiting_requests_are_batched_and_each_gets_its_own_answers(folders, batching):
    predictor, entered, release, calls = _held_predictor(folders["tag"])
    worker = ModelWorker(predictor, max_batch_texts=100 if batching else 0)
    texts = [[f"the dog {'runs ' * k}."] for k in range(6)]
    answers: dict[int, list] = {}

    def ask(k: int) -> None:
        answers[k] = worker.predict(texts[k], {})[0]

    first = threading.Thread(target=ask, args=(0,))
    first.start()
    assert entered.wait(30)
    others = [threading.Thread(target=ask, args=(k,)) for k in range(1, 6)]
    for t in others:
        t.start()
    while worker._queue.qsize() < 5:  # every request waits behind the first
        threading.Event().wait(0.01)
    release.set()
    for t in [first, *others]:
        t.join(30)
    worker.close()
    assert calls == ([1, 5] if batching else [1] * 6)
    alone = Predictor.load(folders["tag"], device="cpu")
    for k in range(6):
        assert answers[k] == [json.loads(x) for x in
                              alone.predict_lines(texts[k], output="jsonl")]  # fmt: skip


def test_requests_with_other_options_are_not_batched_together(folders):
    predictor, entered, release, calls = _held_predictor(folders["tag"])
    worker = ModelWorker(predictor)
    out: list = []
    threads = [threading.Thread(target=lambda o=o: out.append(worker.predict(["a cat"], o)))
               for o in ({}, {"top_k": 2}, {}, {"top_k": 2})]  # fmt: skip
    threads[0].start()
    assert entered.wait(30)
    for t in threads[1:]:
        t.start()
    while worker._queue.qsize() < 3:
        threading.Event().wait(0.01)
    release.set()
    for t in threads:
        t.join(30)
    worker.close()
    assert calls == [1, 2, 1]  # the first alone; then {top_k: 2} twice; then {}
    assert len(out) == 4


def test_a_failing_batch_is_rerun_request_by_request_so_only_the_culprit_fails(folders):
    predictor, entered, release, calls = _held_predictor(folders["tag"])
    held = predictor.predict_lines

    def picky(lines, **kwargs):
        lines = list(lines)
        if "boom" in lines:
            calls.append(-len(lines))
            raise RuntimeError("boom")
        return held(lines, **kwargs)

    predictor.predict_lines = picky
    worker = ModelWorker(predictor)
    out: dict = {}

    def ask(text: str) -> None:
        try:
            out[text] = worker.predict([text], {})[0][0]["text"]
        except RuntimeError as e:
            out[text] = f"error: {e}"

    threads = [threading.Thread(target=ask, args=(t,)) for t in ("a cat", "boom", "the dog")]
    threads[0].start()
    assert entered.wait(30)
    for t in threads[1:]:
        t.start()
    while worker._queue.qsize() < 2:
        threading.Event().wait(0.01)
    release.set()
    for t in threads:
        t.join(30)
    worker.close()
    assert out == {"a cat": "a cat", "boom": "error: boom", "the dog": "the dog"}
    assert calls == [1, -2, -1, 1]  # the batch of two failed; then each alone


def test_concurrent_clients_all_get_right_answers(servers, folders):
    alone = Predictor.load(folders["ner"], device="cpu")
    texts = ["Peter Blackburn said", "EU rejects German call", "said EU", "call Peter"]
    expected = {t: json.loads(next(iter(alone.predict_lines([t], output="jsonl"))))
                for t in texts}  # fmt: skip
    wrong: list = []

    def client(k: int) -> None:
        for j in range(10):
            text = texts[(k + j) % len(texts)]
            r = request(servers["ner"], "POST", "/predict", {"texts": [text]})
            if r.status != 200 or r.json["results"] != [expected[text]]:
                wrong.append((text, r.status, r.body))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert wrong == []


# ------------------------------------------------------------------ request bodies


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_any_body_is_a_json_object_or_a_request_error(data):
    try:
        assert isinstance(parse_json_body(data), dict)
    except RequestError as e:
        assert e.status == 400 and "\n" not in e.message


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),  # fmt: skip
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(["texts", "text", "labels", "pretokenized", "stop",
                                        "max_new", "top_k"]), _json, max_size=4))  # fmt: skip
def test_any_json_object_is_parsed_or_refused_with_a_request_error(body):
    for parse in (lambda b: parse_predict(b, max_texts=3, max_chars=10),
                  lambda b: parse_explain(b, max_chars=10)):  # fmt: skip
        try:
            parse(body)
        except RequestError as e:
            assert 400 <= e.status < 500


# ------------------------------------------------------------------ the command line


def test_serve_help_states_every_option_with_its_default(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["serve", "--help"])
    assert exit_.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for words in ("--model DIR", "--host ADDR", "(default 127.0.0.1)", "--port N",
                  "(default 8000)", "--threads N", "--max-texts N", "(default 256)",
                  "--max-chars N", "(default 10000)", "--max-body BYTES", "(default 4194304)",
                  "--quiet"):  # fmt: skip
        assert words in text


def test_the_cli_serves_until_interrupted(folders):
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen(
        [sys.executable, "-m", "rnnseq", "serve", "--model", str(folders["classify"]),
         "--port", "0", "--threads", "1"],  # fmt: skip
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        first = proc.stdout.readline()
        assert first.startswith("rnnseq serve: http://127.0.0.1:"), proc.stderr.read()
        url = first.split()[2]
        r = request(url, "POST", "/predict", {"texts": ["not bad at all"]})
        assert r.status == 200 and r.json["results"][0]["label"] in ("positive", "negative")
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0
    assert '"POST /predict HTTP/1.1" 200' in err  # the request log
    assert "Traceback" not in err


def test_a_port_in_use_is_a_one_line_error(folders, capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(["serve", "--model", str(folders["tag"]), "--port", str(port)])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("rnnseq serve: error:") and err.count("\n") == 1


def test_bad_serve_options_are_refused_before_the_model_loads(tmp_path, capsys):
    code = main(["serve", "--model", str(tmp_path / "none"), "--port", "70000"])
    err = capsys.readouterr().err
    assert code == 2 and "--port must be an integer in [0, 65535]" in err


def test_an_ipv6_address_is_served_too(folders):
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError as e:
        pytest.skip(f"no IPv6 loopback here: {e}")
    server = start_server(folders["tag"], host="::1")
    try:
        assert server.url.startswith("http://[::1]:")
        assert request(server.url, "GET", "/health").json == {"status": "ok"}
    finally:
        server.close()
