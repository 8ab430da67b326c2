"""Plain WSGI apps the benchmark puts websvc in front of (no Flask here).

``raw`` is the floor: the cheapest WSGI app that answers every request
(any method, any path) with a small fixed body. The bench config mounts it
as ``bench.apps:raw``; gunicorn serves it as the raw floor.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

BODY = b"hello"
_HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY)))]


def raw(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The floor: a fixed 200 response, whatever the request."""
    start_response("200 OK", list(_HEADERS))
    return [BODY]


@Request.application
def werkzeug_hello(request: Request) -> Response:
    """A bare werkzeug Request/Response app: what a framework-free API costs."""
    return Response(BODY, mimetype="text/plain")


#: What websvc adds to the bench's allowed GET (``wrap(raw)``, the bench rule).
CORS_GET_HEADERS = [
    ("Access-Control-Allow-Origin", "https://app.example.com"),
    ("Access-Control-Allow-Credentials", "true"),
    ("Access-Control-Expose-Headers", "X-Request-Id"),
    ("Vary", "Origin"),
]
#: websvc's whole answer to the bench's allowed preflight (status 200, no body).
CORS_PREFLIGHT_HEADERS = [
    ("Access-Control-Allow-Origin", "https://app.example.com"),
    ("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE"),
    ("Access-Control-Allow-Credentials", "true"),
    ("Access-Control-Max-Age", "3600"),
    ("Access-Control-Allow-Headers", "x-custom-header"),
    ("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"),
    ("Content-Length", "0"),
]


def raw_same_headers(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The floor answering with websvc's headers, fixed: what the server costs for them.

    A preflight gets websvc's preflight answer, anything else ``raw``'s
    answer plus the CORS headers websvc adds to it; no middleware decides
    anything. Against this, a websvc row shows websvc's own cost; against
    ``raw``, the cost of the headers too (the server formats and checks
    every header it sends).
    """
    if environ.get("REQUEST_METHOD") == "OPTIONS":
        start_response("200 OK", list(CORS_PREFLIGHT_HEADERS))
        return [b""]
    start_response("200 OK", [*_HEADERS, *CORS_GET_HEADERS])
    return [BODY]
