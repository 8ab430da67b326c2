"""WSGI APIs that tell what reached them: the worker's pid (store-mode tests), the environ's keys."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def environ_keys(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Answers with the sorted keys of the environ the server built, one per line."""
    body = "\n".join(sorted(environ)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
