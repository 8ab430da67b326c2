"""The playground's own server: the page, its two static files and ``POST /explain``.

The page is package data (``static/index.html``, ``playground.js``,
``playground.css``), read once with :mod:`importlib.resources`. What the page
needs from Python -- the API's origin, the demo rule, the demo user and
token, the default path -- is put HTML-escaped into ``data-*`` attributes of
its ``<body>``; the script reads them from there. No inline script or style,
so the Content-Security-Policy allows scripts and styles from ``'self'`` only.
"""

from __future__ import annotations

import copy
import html
import json
from collections.abc import Iterable, Mapping
from importlib import resources
from string import Template
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from websvc.app import WebsvcApp
from websvc.demo import DEMO_CONFIG, DEMO_TOKEN, DEMO_USER
from websvc.tools.explain import explain
from websvc.tools.playground.fetchmodel import browser_request, hint

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

DEFAULT_PATH = "/ws/rest/echo/playground"
MAX_EXPLAIN_BODY = 64 * 1024
MAX_HEADERS = 50

#: The files under ``/static/`` and their media types; nothing else is served.
STATIC_FILES = {
    "playground.js": "text/javascript",
    "playground.css": "text/css",
}


def _playground_config() -> dict[str, Any]:
    """The demo config, with PATCH added to the localhost rule's methods."""
    config = copy.deepcopy(DEMO_CONFIG)
    for rule in config["tenants"]["demo"]["cors"]:
        if rule["domain"] == "localhost" and "PATCH" not in rule["methods"]:
            rule["methods"].append("PATCH")
    return config


#: What the playground's API serves: :data:`websvc.demo.DEMO_CONFIG` plus PATCH.
PLAYGROUND_CONFIG: dict[str, Any] = _playground_config()


def static_text(name: str) -> str:
    """The text of the shipped file ``static/<name>``."""
    folder = resources.files("websvc.tools.playground") / "static"
    return (folder / name).read_text(encoding="utf-8")


def render_page(template: str, values: Mapping[str, str]) -> str:
    """*template* (``index.html``) with each ``$name`` replaced by its value, HTML-escaped.

    Raises KeyError for a ``$name`` without a value, so the page never ships
    a placeholder.
    """
    return Template(template).substitute({k: html.escape(v) for k, v in values.items()})


def content_security_policy(api_url: str) -> str:
    """The page's CSP: its own script and style, connections to itself and to *api_url*."""
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            f"connect-src 'self' {api_url}",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


class PlaygroundApp:
    """The playground page (``GET /``), its two files (``/static/``) and ``POST /explain``.

    Every response carries :func:`content_security_policy`.

    :param api: the websvc app the page's requests go to; ``/explain`` uses
        its current site, so the explanation is of the config it serves.
    :param api_url: that app's origin as the page reaches it, e.g.
        ``http://127.0.0.1:8080`` (a different origin from the page's).
    """

    def __init__(self, api: WebsvcApp, api_url: str) -> None:
        self.api = api
        self.api_url = api_url.rstrip("/")
        settings = {
            "api": self.api_url,
            "rule": _rule_summary(PLAYGROUND_CONFIG),
            "path": DEFAULT_PATH,
            "user": DEMO_USER,
            "token": DEMO_TOKEN,
        }
        page = render_page(static_text("index.html"), settings)
        #: What GET serves, by path: (body, media type).
        self.files = {"/": (page.encode(), "text/html")} | {
            f"/static/{name}": (static_text(name).encode(), media_type)
            for name, media_type in STATIC_FILES.items()
        }
        self.csp = content_security_policy(self.api_url)

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = _Request(environ)
        try:
            response = self._route(request)
        except HTTPException as exc:
            response = _json({"error": exc.description or exc.name}, exc.code or 400)
        response.headers["Content-Security-Policy"] = self.csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        if request.path in self.files:
            if request.method not in ("GET", "HEAD"):
                return _json({"error": "use GET"}, 405)
            body, media_type = self.files[request.path]
            return Response(body, mimetype=media_type)
        if request.path == "/favicon.ico":
            return Response(status=204)
        if request.path == "/explain":
            if request.method != "POST":
                return _json({"error": "use POST"}, 405)
            data = request.get_json(silent=True)
            try:
                return _json(self.explain(data))
            except ValueError as exc:
                return _json({"error": str(exc)}, 400)
        return _json({"error": "not found"}, 404)

    def explain(self, data: object) -> dict[str, Any]:
        """The server's explanation of the request the page is about to send.

        *data* is ``{"origin", "method", "headers": [[name, value], ...],
        "path", "credentials"}``; raises ValueError when it is malformed.
        """
        if not isinstance(data, dict):
            raise ValueError("expected a JSON object")
        origin, method, path = (_text(data, key) for key in ("origin", "method", "path"))
        credentials = data.get("credentials", False)
        if not path.startswith("/"):
            raise ValueError("path must start with /")
        if not isinstance(credentials, bool):
            raise ValueError("credentials must be true or false")
        browser = browser_request(method, _headers(data.get("headers", [])))
        result = explain(
            self.api.site,
            origin=origin,
            method=browser.method,
            headers=browser.preflight_headers,
            path=path,
        )
        decision = result.decision
        if decision is None:  # only without an Origin, and _text refuses an empty one
            raise ValueError("origin must be an Origin")
        if decision.allowed:
            rule = decision.rule
            summary = f"by {rule.label}" if rule is not None else ""
        else:
            summary = decision.detail or decision.reason
        return {
            "allowed": result.allowed,
            "reason": decision.reason,
            "summary": summary,
            "lines": result.lines(),
            "preflight": browser.preflight,
            "throws": browser.throws,
            "notes": list(browser.notes),
            "hint": hint(result, credentials=credentials),
        }


class _Request(Request):
    max_content_length = MAX_EXPLAIN_BODY


def _rule_summary(config: dict[str, Any]) -> str:
    rule = config["tenants"]["demo"]["cors"][0]
    return (
        "Demo rule: pages on http(s)://localhost, any port; methods "
        f"{', '.join(rule['methods'])}; request header {', '.join(rule['request_headers'])} "
        "(plus the defaults Accept, Accept-Language, Content-Language, Content-Type, Range); "
        f"credentials {'allowed' if rule.get('allow_credentials') else 'not allowed'}; "
        f"exposes {', '.join(rule['expose_headers'])}. "
        f"User {DEMO_USER}, token {DEMO_TOKEN} (demo only)."
    )


def _headers(raw: object) -> list[tuple[str, str]]:
    """The ``headers`` of an explain request as (name, value) pairs; ValueError if malformed."""
    if not isinstance(raw, list) or len(raw) > MAX_HEADERS:
        raise ValueError(f"headers must be a list of at most {MAX_HEADERS} [name, value]")
    headers: list[tuple[str, str]] = []
    for pair in raw:
        if not (
            isinstance(pair, list)
            and len(pair) == 2
            and all(isinstance(part, str) and len(part) <= 4096 for part in pair)
        ):
            raise ValueError("each header must be [name, value]")
        headers.append((pair[0], pair[1]))
    return headers


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > 4096:
        raise ValueError(f"{key} must be a non-empty string")
    if any(c < " " or c == "\x7f" for c in value):
        raise ValueError(f"{key} has control characters")
    return value


def _json(data: object, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")
