"""Reading the bodies of ``rnnseq serve``'s requests: JSON objects checked field by field.

Everything a client sends is checked here, before the model sees it; a bad request is a
:class:`RequestError` with an HTTP status and a one-line message naming the field
(``texts[3] has 12001 characters; the most is 10000 (--max-chars)``). The predict
options (``top_k``, ``pretokenized``, ``temperature``, ...) are checked by the same
code as ``rnnseq predict``'s (:meth:`rnnseq.inference.Predictor.settings`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

__all__ = [
    "RequestError",
    "PredictRequest",
    "ExplainRequest",
    "parse_json_body",
    "parse_predict",
    "parse_explain",
]

# Options of rnnseq predict that the server sets itself.
_SERVER_SET = {"output": "the answer is always JSON", "bf16": "the server's setting"}


class RequestError(Exception):
    """A request the server refuses: ``status`` (4xx) and a one-line ``message``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = " ".join(str(message).split())


@dataclass
class PredictRequest:
    texts: list[str]
    options: dict[str, Any]  # predict options (PredictSettings fields), as sent


@dataclass
class ExplainRequest:
    text: str
    labels: list[str] | str | None
    pretokenized: bool | None


def parse_json_body(body: bytes) -> dict:
    """The JSON object of a request body (UTF-8)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise RequestError(400, f"the body is not UTF-8 (byte {e.start})") from None
    try:
        value = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        raise RequestError(400, f"the body is not JSON: {e.msg} at line {e.lineno} "
                                f"column {e.colno}") from None  # fmt: skip
    except ValueError as e:  # NaN / Infinity
        raise RequestError(400, f"the body is not JSON: {e}") from None
    except RecursionError:
        raise RequestError(400, "the body nests lists or objects too deeply") from None
    if not isinstance(value, dict):
        raise RequestError(400, f"the body must be a JSON object, got {_kind(value)}")
    return value


def parse_predict(body: dict, *, max_texts: int, max_chars: int) -> PredictRequest:
    """``{"texts": [str, ...], <predict option>: value, ...}``."""
    if "texts" not in body:
        raise RequestError(400, 'missing field "texts" (a list of strings)')
    texts = body["texts"]
    if not isinstance(texts, list):
        raise RequestError(400, f'"texts" must be a list of strings, got {_kind(texts)}')
    if len(texts) > max_texts:
        raise RequestError(400, f'"texts" holds {len(texts)} texts; the most is {max_texts} '
                                "(--max-texts)")  # fmt: skip
    for k, t in enumerate(texts):
        _check_text(f"texts[{k}]", t, max_chars)
    options = {k: v for k, v in body.items() if k != "texts"}
    for name, why in _SERVER_SET.items():
        if name in options:
            raise RequestError(400, f'"{name}" cannot be set by a request ({why})')
    stop = options.get("stop")
    if stop is not None and not isinstance(stop, str):
        raise RequestError(400, f'"stop" must be a string, got {_kind(stop)}')
    max_new = options.get("max_new")
    if isinstance(max_new, int) and not isinstance(max_new, bool) and max_new > max_chars:
        raise RequestError(400, f'"max_new" is {max_new}; the most is {max_chars} (--max-chars)')
    return PredictRequest(texts, options)


def parse_explain(body: dict, *, max_chars: int) -> ExplainRequest:
    """``{"text": str, "labels": [str, ...] | str (optional), "pretokenized": bool
    (optional)}``."""
    unknown = sorted(set(body) - {"text", "labels", "pretokenized"})
    if unknown:
        raise RequestError(400, f'unknown field "{unknown[0]}" (explain takes "text", '
                                '"labels", "pretokenized")')  # fmt: skip
    if "text" not in body:
        raise RequestError(400, 'missing field "text" (a string)')
    text = body["text"]
    _check_text("text", text, max_chars)
    if not text.strip():
        raise RequestError(400, '"text" is empty')
    labels = body.get("labels")
    if labels is not None:
        if isinstance(labels, list):
            bad = next((x for x in labels if not isinstance(x, str)), None)
            if bad is not None:
                raise RequestError(400, f'"labels" must hold strings, got {_kind(bad)}')
            if len(labels) > max_chars:
                raise RequestError(400, f'"labels" holds {len(labels)} labels; the most is '
                                        f"{max_chars} (--max-chars)")  # fmt: skip
        elif isinstance(labels, str):
            _check_text("labels", labels, max_chars)
        else:
            raise RequestError(400, f'"labels" must be a list of strings, got {_kind(labels)}')
    pretokenized = body.get("pretokenized")
    if pretokenized is not None and not isinstance(pretokenized, bool):
        raise RequestError(400, f'"pretokenized" must be true or false, got {_kind(pretokenized)}')
    return ExplainRequest(text, labels, pretokenized)


def _check_text(name: str, text: Any, max_chars: int) -> None:
    if not isinstance(text, str):
        raise RequestError(400, f'"{name}" must be a string, got {_kind(text)}')
    if len(text) > max_chars:
        raise RequestError(400, f'"{name}" has {len(text)} characters; the most is '
                                f"{max_chars} (--max-chars)")  # fmt: skip
    if "\n" in text or "\r" in text:
        raise RequestError(400, f'"{name}" holds a line break: send one input per text, '
                                "as rnnseq predict reads one per line")  # fmt: skip


def _kind(value: Any) -> str:
    """The JSON type of a value, in the client's words."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")
