"""The CORS playground behind ``websvc demo``.

Two servers on two origins: the websvc demo API (``http://127.0.0.1:8080``)
and this playground page (``http://localhost:8081``, an origin the demo's
``localhost`` rule allows). On the page a person picks a method, request
headers, credentials and a path and presses Send: the page asks its own
server for :func:`websvc.tools.explain.explain` of the preflight that request
causes (``POST /explain``, same origin), then makes the real cross-origin
``fetch()`` to the API and shows both side by side: what the browser let the
page see, and why the server decided as it did.

The API serves the built-in demo config with one addition: ``PATCH`` is in
the localhost rule's methods, so that ``PATCH`` succeeds and lower-case
``patch`` (which ``fetch()`` sends unchanged) fails -- the method-case trap.

Modules: :mod:`.fetchmodel` (what the browser sends), :mod:`.app` (the page's
server; the page itself is ``static/``), :mod:`.run` (both servers).
"""

from __future__ import annotations

from websvc.tools.playground.app import DEFAULT_PATH, PLAYGROUND_CONFIG, PlaygroundApp
from websvc.tools.playground.fetchmodel import BrowserRequest, browser_request, hint, is_safelisted
from websvc.tools.playground.run import (
    DEFAULT_API_PORT,
    DEFAULT_PAGE_PORT,
    Demo,
    run_demo,
    start_demo,
)

__all__ = [
    "DEFAULT_API_PORT",
    "DEFAULT_PAGE_PORT",
    "DEFAULT_PATH",
    "PLAYGROUND_CONFIG",
    "BrowserRequest",
    "Demo",
    "PlaygroundApp",
    "browser_request",
    "hint",
    "is_safelisted",
    "run_demo",
    "start_demo",
]
