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
