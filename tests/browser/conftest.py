"""Headless Chromium driving cross-origin ``fetch()`` calls against websvc.

Pages are served from ``http://127.0.0.1:A`` (an origin the rules allow) and
``http://127.0.0.2:C`` (an origin no rule lists); websvc runs on
``http://localhost:B`` under ``websvc serve`` and under gunicorn. Chromium is
Debian's (``/usr/bin/chromium``); when it cannot start, the tests error --
they never skip.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from werkzeug.serving import make_server
from werkzeug.wrappers import Response

from tests.servers import Server, start_gunicorn, start_serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
USERS = {"alice": "alice-token", "bob": "bob-token"}

FETCH = """
async ([url, init, read]) => {
  try {
    const response = await fetch(url, init);
    const seen = {};
    for (const name of read) seen[name] = response.headers.get(name);
    return {ok: true, status: response.status, body: await response.text(), headers: seen};
  } catch (error) {
    return {ok: false, error: String(error)};
  }
}
"""


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


MAIN_CONFIG = f"""
[server]
authentication = "basic"

[[apis]]
path = "/ws/rest/echo"
app = "websvc.demo:echo"

[tenants.alpha]
[[tenants.alpha.users]]
name = "alice"
token_sha256 = "{_sha(USERS["alice"])}"

[[tenants.alpha.cors]]            # the page origin, every path
domain = "127.0.0.1"
methods = ["GET", "POST", "PUT"]
request_headers = ["X-Custom-Header"]
expose_headers = ["X-Echo-Method"]
allow_credentials = true

[[tenants.alpha.cors]]
domain = "127.0.0.1"
paths = ["/ws/rest/echo/cached/*"]
methods = ["PUT"]
request_headers = ["X-Custom-Header"]
allow_caching = true
max_age = 600

[[tenants.alpha.cors]]
domain = "127.0.0.1"
paths = ["/ws/rest/echo/nocred/*"]
methods = ["GET", "PUT"]
request_headers = ["X-Custom-Header"]
expose_headers = ["X-Echo-Method"]

[[tenants.alpha.cors]]
domain = "127.0.0.1"
paths = ["/ws/rest/echo/patch/*"]
methods = ["PATCH"]

[[tenants.alpha.cors]]
domain = "127.0.0.1"
paths = ["/ws/rest/echo/anyheader/*"]
methods = ["GET", "PUT"]
request_headers = ["*"]

[[tenants.alpha.cors]]
domain = "*"
allow_any_origin = true
paths = ["/ws/rest/echo/public/*"]
methods = ["GET"]

[tenants.beta]
[[tenants.beta.users]]
name = "bob"
token_sha256 = "{_sha(USERS["bob"])}"

[[tenants.beta.cors]]
domain = "127.0.0.1"
paths = ["/ws/rest/echo/beta/*"]
methods = ["PUT"]
request_headers = ["X-Custom-Header"]
"""

CONFIGS = {
    "main": MAIN_CONFIG,
    "status204": MAIN_CONFIG.replace(
        'authentication = "basic"', 'authentication = "basic"\npreflight_status = 204'
    ),
    "reject": MAIN_CONFIG.replace(
        'authentication = "basic"', 'authentication = "basic"\nreject_disallowed = true'
    ),
    "wrap": MAIN_CONFIG.replace('[[apis]]\npath = "/ws/rest/echo"\napp = "websvc.demo:echo"\n', ""),
}
WRAPPED = "websvc.demo:echo"  # a plain WSGI app that every path reaches


@dataclass
class Stack:
    """Per server kind: websvc servers (one per config) and the two pages."""

    kind: str
    servers: dict[str, Server]
    allowed_page: Page
    unlisted_page: Page

    def fetch(
        self,
        path: str,
        *,
        config: str = "main",
        user: str | None = "alice",
        token: str | None = None,
        page: str = "allowed",
        read: tuple[str, ...] = (),
        **init: Any,
    ) -> dict[str, Any]:
        """``fetch()`` from a page; returns ok/status/body/headers or ok=False."""
        url = self.servers[config].url + path
        if user is not None:
            from base64 import b64encode

            secret = token if token is not None else USERS[user]
            url += (
                ("&" if "?" in url else "?")
                + "boomi_auth="
                + b64encode(f"{user}:{secret}".encode()).decode()
            )
        target = self.allowed_page if page == "allowed" else self.unlisted_page
        result: dict[str, Any] = target.evaluate(FETCH, [url, init, list(read)])
        return result

    def preflights(self, path: str, config: str = "main") -> int:
        """How many preflights (OPTIONS) for *path* the server has logged."""
        return self.servers[config].log.count(f'"OPTIONS {path}')


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="session")
def page_origins() -> Iterator[dict[str, str]]:
    """Static pages on two loopback origins (blank documents to run fetch from)."""
    page = Response("<!doctype html><title>websvc browser test</title>", mimetype="text/html")
    servers = [make_server(host, 0, page) for host in ("127.0.0.1", "127.0.0.2")]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    yield {
        "allowed": f"http://127.0.0.1:{servers[0].server_port}",
        "unlisted": f"http://127.0.0.2:{servers[1].server_port}",
    }
    for server in servers:
        server.shutdown()


@pytest.fixture(scope="session", params=["serve", "gunicorn"])
def stack(
    request: pytest.FixtureRequest,
    browser: Browser,
    page_origins: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    kind: str = request.param
    folder = tmp_path_factory.mktemp(f"browser-{kind}")
    starters: dict[str, Callable[[Path, Path], Server]] = {
        "serve": lambda log, cfg: start_serve(log, config=cfg),
        "gunicorn": lambda log, cfg: start_gunicorn(log, config=cfg, workers=2),
    }
    servers: dict[str, Server] = {}
    try:
        for name, text in CONFIGS.items():
            config = folder / f"{name}.toml"
            config.write_text(text)
            log = folder / f"{name}.log"
            if name == "wrap" and kind == "serve":
                servers[name] = start_serve(log, config=config, wrap=WRAPPED)
            elif name == "wrap":
                env = {"WRAPPED_CONFIG": str(config)}
                servers[name] = start_gunicorn(log, "tests.browser.wrapped:app", env=env)
            else:
                servers[name] = starters[kind](log, config)
        context = browser.new_context()
        pages = {}
        for name, origin in page_origins.items():
            pages[name] = context.new_page()
            pages[name].goto(origin + "/")
        yield Stack(kind, servers, pages["allowed"], pages["unlisted"])
        context.close()
    finally:
        for server in servers.values():
            server.stop()
