"""The options of ``rnnseq serve``, each declared once (see :mod:`rnnseq.options`).

``rnnseq serve`` takes the model options of ``predict`` (:class:`ModelUse`: ``--model``,
``--device``, ``--batch-size``, ``--threads``) and the :class:`Serving` section below:
where to listen and how much one request may ask for. The limits bound what one request
can make the model do (``--max-texts`` × ``--max-chars`` characters at most), so a
client cannot hold the model for long or make the server run out of memory.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from rnnseq.options import OptionError, add_arguments, integer, option
from rnnseq.predict_options import ModelUse

__all__ = ["Serving", "add_serve_arguments", "MAX_BODY", "MAX_CHARS", "MAX_TEXTS"]


def _host(name: str, value: Any) -> None:
    if not isinstance(value, str) or not value.strip():
        raise OptionError("{0} must name an address (127.0.0.1, 0.0.0.0, ::1, a host name)", name)


@dataclass(kw_only=True)
class Serving:
    """Where the server listens and what one request may ask for."""

    host: str = option(
        "127.0.0.1",
        "address to listen on (127.0.0.1: this machine only; 0.0.0.0: every network "
        "interface, so anyone who can reach the machine can use the model)",
        check=_host,
        metavar="ADDR",
    )
    port: int = option(8000, "TCP port (0: any free port; the address is printed)",
                       check=integer(0, 65535))  # fmt: skip
    max_texts: int = option(256, "texts one POST /predict may send at most", check=integer(1))
    max_chars: int = option(
        10_000,
        "characters one text (or explained text) may hold at most; also the most units "
        "an lm request may ask to generate (max_new)",
        check=integer(1),
    )
    max_body: int = option(
        4 << 20, "bytes a request body may hold at most (larger: 413)", check=integer(1),
        metavar="BYTES",
    )  # fmt: skip
    quiet: bool = option(False, "do not log each request on standard error")


MAX_TEXTS: int = Serving.__dataclass_fields__["max_texts"].default
MAX_CHARS: int = Serving.__dataclass_fields__["max_chars"].default
MAX_BODY: int = Serving.__dataclass_fields__["max_body"].default


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    """``rnnseq serve``'s options, generated from :class:`ModelUse` and :class:`Serving`."""
    add_arguments(parser.add_argument_group("model"), ModelUse)
    add_arguments(parser.add_argument_group("server"), Serving)
