"""The playground without a browser: the Fetch model, the hints, the page's server.

``tests/browser/test_playground.py`` drives the same page in Chromium; here
the prediction of what ``fetch()`` sends is checked against the Fetch
standard's tables, and the page's server through ``werkzeug.test.Client``.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from importlib import resources
from typing import Any

import pytest
from werkzeug.test import Client

from websvc.app import WebsvcApp
from websvc.tools.playground import PLAYGROUND_CONFIG, PlaygroundApp
from websvc.tools.playground.app import STATIC_FILES, render_page, static_text
from websvc.tools.playground.fetchmodel import browser_request, is_safelisted

API = "http://127.0.0.1:8080"
PAGE = "http://localhost:8081"


# -- the Fetch model ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value", "safelisted"),
    [
        pytest.param("Accept", "application/json", True, id="accept"),
        pytest.param("Accept", 'a"b', False, id="accept-unsafe-byte"),
        pytest.param("Accept-Language", "en-GB, fr;q=0.5", True, id="language"),
        pytest.param("Content-Language", "en_GB", False, id="language-underscore"),
        pytest.param("Content-Type", "text/plain; charset=utf-8", True, id="text-plain"),
        pytest.param("content-type", "application/json", False, id="json-needs-preflight"),
        pytest.param("Range", "bytes=0-99", True, id="range"),
        pytest.param("Range", "bytes=5-", True, id="range-open"),
        pytest.param("Range", "bytes=9-1", False, id="range-backwards"),
        pytest.param("Accept", "x" * 129, False, id="over-128-bytes"),
        pytest.param("X-Custom-Header", "1", False, id="custom"),
    ],
)
def test_is_safelisted(name: str, value: str, safelisted: bool) -> None:
    assert is_safelisted(name, value) is safelisted


@pytest.mark.parametrize(
    ("method", "headers", "sent", "preflight_headers", "preflight", "throws"),
    [
        pytest.param("GET", [], "GET", (), False, False, id="simple-get"),
        pytest.param("get", [], "GET", (), False, False, id="get-upper-cased"),
        pytest.param("put", [], "PUT", (), True, False, id="put-upper-cased"),
        pytest.param("patch", [], "patch", (), True, False, id="patch-sent-as-written"),
        pytest.param(
            "POST",
            [("X-B", "1"), ("x-a", "2"), ("Accept", "text/html")],
            "POST",
            ("x-a", "x-b"),
            True,
            False,
            id="unsafe-headers-lower-sorted",
        ),
        pytest.param(
            "GET", [("Cookie", "a=1"), ("Sec-Foo", "1")], "GET", (), False, False, id="dropped"
        ),
        pytest.param("TRACE", [], "TRACE", (), True, True, id="forbidden-method"),
        pytest.param("GE T", [], "GE T", (), True, True, id="not-a-token"),
        pytest.param("GET", [("X-A", "a\nb")], "GET", (), False, True, id="invalid-value"),
    ],
)
def test_browser_request(
    method: str,
    headers: list[tuple[str, str]],
    sent: str,
    preflight_headers: tuple[str, ...],
    preflight: bool,
    throws: bool,
) -> None:
    got = browser_request(method, headers)
    assert (got.method, got.preflight_headers) == (sent, preflight_headers)
    assert (got.preflight, got.throws) == (preflight, throws)


def test_browser_request_notes_say_what_the_browser_did() -> None:
    notes = browser_request("put", [("Cookie", "a=1")]).notes
    assert notes == (
        "fetch() upper-cases the method: put is sent as PUT.",
        "Cookie is a forbidden request header: fetch() silently drops it.",
    )


# -- the page's server ----------------------------------------------------------------


@pytest.fixture(scope="module")
def client() -> Client:
    return Client(PlaygroundApp(WebsvcApp(PLAYGROUND_CONFIG), API + "/"))


def test_page_files_ship_as_package_data() -> None:
    folder = resources.files("websvc.tools.playground") / "static"
    for name in ("index.html", *STATIC_FILES):
        assert folder.joinpath(name).is_file(), name


def test_page_has_a_strict_csp_and_no_inline_code(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.mimetype == "text/html"
    csp = dict(
        part.split(" ", 1) for part in response.headers["Content-Security-Policy"].split("; ")
    )
    assert csp["default-src"] == "'none'"
    assert csp["script-src"] == csp["style-src"] == "'self'"
    assert csp["connect-src"] == f"'self' {API}"
    found = _Inline()
    found.feed(response.get_data(as_text=True))
    assert found.problems == []
    assert found.scripts == ["/static/playground.js"]
    assert found.styles == ["/static/playground.css"]


@pytest.mark.parametrize(
    ("path", "mimetype"),
    [("/static/playground.js", "text/javascript"), ("/static/playground.css", "text/css")],
)
def test_static_files_are_served_with_their_type(client: Client, path: str, mimetype: str) -> None:
    response = client.get(path)
    assert response.status_code == 200 and response.mimetype == mimetype
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.get_data(as_text=True) == static_text(path.rsplit("/", 1)[1])


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        pytest.param("GET", "/static/index.html", 404, id="template-not-served"),
        pytest.param("GET", "/static/../app.py", 404, id="no-traversal"),
        pytest.param("POST", "/static/playground.js", 405, id="post-file"),
        pytest.param("GET", "/explain", 405, id="get-explain"),
        pytest.param("POST", "/explain", 400, id="explain-without-json"),
    ],
)
def test_everything_else_is_refused(client: Client, method: str, path: str, status: int) -> None:
    assert client.open(path, method=method).status_code == status


def test_values_reach_the_page_as_escaped_data_attributes(client: Client) -> None:
    html = client.get("/").get_data(as_text=True)
    assert f'data-api="{API}"' in html
    assert 'data-path="/ws/rest/echo/playground"' in html
    assert 'data-user="demo"' in html and 'data-token="demo-token"' in html
    assert "$" not in html, "no placeholder left"


def test_render_page_escapes_every_value_and_misses_none() -> None:
    page = render_page('<body data-x="$x">', {"x": '"><script>&'})
    assert page == '<body data-x="&quot;&gt;&lt;script&gt;&amp;">'
    with pytest.raises(KeyError):
        render_page('<body data-x="$x" data-y="$y">', {"x": "1"})


def _explain(client: Client, method: str, headers: list[list[str]]) -> dict[str, Any]:
    body = {"origin": PAGE, "method": method, "headers": headers, "path": "/ws/rest/echo/x"}
    response = client.post("/explain", json={**body, "credentials": True})
    assert response.status_code == 200, response.get_data(as_text=True)
    data: dict[str, Any] = response.get_json()
    return data


@pytest.mark.parametrize(
    ("method", "headers", "allowed", "hint"),
    [
        pytest.param("PUT", [["X-Custom-Header", "1"]], True, "", id="allowed"),
        pytest.param("patch", [], False, "Method case trap", id="case-trap"),
        pytest.param("PUT", [["X-Not-Allowed", "1"]], False, "Header not allowed", id="header"),
        pytest.param("PROPFIND", [], False, "Method PROPFIND is not in", id="method"),
    ],
)
def test_explain_endpoint(
    client: Client, method: str, headers: list[list[str]], allowed: bool, hint: str
) -> None:
    data = _explain(client, method, headers)
    assert data["allowed"] is allowed
    assert data["hint"].startswith(hint) and bool(data["hint"]) is bool(hint)


def test_explain_endpoint_refuses_malformed_input(client: Client) -> None:
    response = client.post("/explain", json={"origin": PAGE, "method": "GET", "path": "x"})
    assert response.status_code == 400
    assert response.get_json() == {"error": "path must start with /"}


class _Inline(HTMLParser):
    """Collects script and stylesheet URLs, and any inline code (a CSP would block it)."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self.problems: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for name in values:
            if name == "style" or re.fullmatch(r"on\w+", name):
                self.problems.append(f"<{tag} {name}=...>")
        if tag == "style":
            self.problems.append("<style>")
        if tag == "script":
            self._in_script = True
            self.scripts.append(values.get("src") or "")
        if tag == "link" and values.get("rel") == "stylesheet":
            self.styles.append(values.get("href") or "")

    def handle_endtag(self, tag: str) -> None:
        self._in_script = self._in_script and tag != "script"

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script {data.strip()[:40]!r}")
