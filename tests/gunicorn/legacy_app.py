"""A plain legacy WSGI app, wrapped by websvc (served by gunicorn in tests)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

import websvc

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def legacy(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    body = f"legacy: {environ['REQUEST_METHOD']} {environ.get('PATH_INFO', '')}".encode()
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain"),
            ("Content-Length", str(len(body))),
            ("Access-Control-Allow-Origin", "*"),  # websvc owns these: it must drop it
            ("Vary", "Accept-Encoding"),
        ],
    )
    return [body]


app = websvc.wrap(legacy, os.environ.get("LEGACY_CONFIG") or None)
