"""The CORS playground (``websvc demo``) driven in headless Chromium.

The demo API and the playground page run in this process (two werkzeug
servers on free 127.0.0.1 ports); the page is opened as
``http://localhost:PORT/`` (the origin the demo rule allows) and sends real
cross-origin ``fetch()`` calls to ``http://127.0.0.1:PORT``. Screenshots go
to ``test-artifacts/`` at the repository root.
"""

from __future__ import annotations

import logging
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from websvc.tools.playground import Demo, start_demo

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def demo() -> Iterator[Demo]:
    running = start_demo("127.0.0.1", 0, 0)
    yield running
    running.shutdown()


@dataclass
class Playground:
    page: Page
    demo: Demo
    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def send(
        self,
        method: str,
        headers: str = "",
        *,
        credentials: bool = True,
        auth: bool = True,
        path: str = "/ws/rest/echo/playground",
    ) -> None:
        """Fill the form, press Send and wait until the page shows both results."""
        page = self.page
        page.select_option("#method", value=method)
        page.fill("#headers", headers)
        page.fill("#path", path)
        page.set_checked("#credentials", credentials)
        page.set_checked("#auth", auth)
        done = int(page.get_attribute("body", "data-done") or "0")
        page.click("#send")
        page.wait_for_function("n => document.body.dataset.done === n", arg=str(done + 1))

    def text(self, selector: str) -> str:
        return self.page.inner_text(selector)

    def screenshot(self, name: str) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)


@pytest.fixture
def playground(browser: Browser, demo: Demo) -> Iterator[Playground]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    result = Playground(page, demo)
    page.on("request", lambda request: result.requests.append(request.url))
    page.on(
        "console",
        lambda message: (
            result.console_errors.append(message.text) if message.type == "error" else None
        ),
    )
    page.goto(demo.page_url)
    yield result
    context.close()


@pytest.fixture
def access_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger="websvc.access")
    return caplog


def _api_saw(log: pytest.LogCaptureFixture, method: str, path: str) -> int:
    line = re.compile(rf'"{re.escape(method)} {re.escape(path)}[? ]')
    return sum(bool(line.search(record.getMessage())) for record in log.records)


def test_allowed_put_with_custom_header(
    playground: Playground, access_log: pytest.LogCaptureFixture
) -> None:
    path = "/ws/rest/echo/allowed"
    playground.send("PUT", "X-Custom-Header: hello", path=path)
    page_origin = playground.demo.page_url.rstrip("/")

    outcome = playground.text("#outcome")
    assert "SUCCEEDED" in outcome and "HTTP 200" in outcome, outcome
    headers = playground.text("#response-headers")
    assert "x-echo-method: PUT" in headers, "exposed by the rule: readable"
    assert "x-echo-tenant" not in headers, "not exposed: the page cannot read it"
    body = playground.text("#body")
    assert '"method": "PUT"' in body and "hello from the playground" in body
    assert '"X-Custom-Header": "hello"' in body

    assert playground.text("#decision").startswith("ALLOWED")
    explanation = playground.text("#explanation")
    assert f"Origin: {page_origin}" in explanation, "explained for the page's own origin"
    assert "Access-Control-Request-Method: PUT" in explanation
    assert "Access-Control-Request-Headers: x-custom-header" in explanation
    assert "tenant: demo (identified by the boomi_auth user)" in explanation
    assert "decision: ALLOWED" in explanation
    assert playground.page.is_hidden("#hint")

    assert _api_saw(access_log, "OPTIONS", path) == 1 and _api_saw(access_log, "PUT", path) == 1
    origins = {playground.demo.page_url.rstrip("/"), playground.demo.api_url}
    assert {re.sub(r"^(https?://[^/]+).*", r"\1", url) for url in playground.requests} == origins
    assert playground.console_errors == [], "no CSP violation, no failed load"
    playground.screenshot("playground-allowed.png")


def test_lower_case_patch_is_refused_and_PATCH_allowed(
    playground: Playground, access_log: pytest.LogCaptureFixture
) -> None:
    path = "/ws/rest/echo/case-trap"
    playground.send("patch", path=path)

    outcome = playground.text("#outcome")
    assert "FAILED" in outcome and "TypeError: Failed to fetch" in outcome, outcome
    assert "(none" in playground.text("#response-headers")
    decision = playground.text("#decision")
    assert decision.startswith("REFUSED") and "method patch is not in" in decision, decision
    explanation = playground.text("#explanation")
    assert "Access-Control-Request-Method: patch" in explanation
    assert "decision: REFUSED by websvc.plugins.cors_rules: method:" in explanation
    hint = playground.text("#hint")
    assert "Method case trap" in hint and "Send PATCH" in hint, hint
    assert _api_saw(access_log, "OPTIONS", path) == 1, "the preflight was sent"
    assert _api_saw(access_log, "patch", path) == 0, "the refused request never was"
    playground.screenshot("playground.png")

    playground.send("PATCH", path=path)
    assert "SUCCEEDED" in playground.text("#outcome")
    assert '"method": "PATCH"' in playground.text("#body")
    assert playground.text("#decision").startswith("ALLOWED")
    assert playground.page.is_hidden("#hint")


def test_header_not_allowed_is_refused(playground: Playground) -> None:
    playground.send("PUT", "X-Not-Allowed: 1")
    assert "FAILED" in playground.text("#outcome")
    decision = playground.text("#decision")
    assert decision.startswith("REFUSED") and "header x-not-allowed is not in" in decision
    assert "Header not allowed: x-not-allowed" in playground.text("#hint")


def test_missing_boomi_auth_gives_a_readable_401(playground: Playground) -> None:
    playground.send("PUT", "X-Custom-Header: 1", auth=False)
    assert "HTTP 401" in playground.text("#outcome")
    assert playground.text("#decision").startswith("ALLOWED"), "preflights are not authenticated"
    assert "preflights are never authenticated" in playground.text("#hint")


def test_response_data_is_shown_as_text_never_as_markup(playground: Playground) -> None:
    markup = '<img src=x id=injected><b id="bold">bold</b>'
    playground.send("PUT", f"X-Custom-Header: {markup}")
    assert "SUCCEEDED" in playground.text("#outcome")
    assert markup.replace('"', '\\"') in playground.text("#body"), "shown literally"
    assert playground.page.locator("#injected, #bold").count() == 0


# -- the command ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_websvc_demo_command_serves_page_and_api(tmp_path: Path) -> None:
    api_port, page_port = _free_port(), _free_port()
    log_path = tmp_path / "demo.log"
    cmd = [sys.executable, "-m", "websvc", "demo", "--api-port", str(api_port)]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [*cmd, "--page-port", str(page_port)], cwd=ROOT, stdout=log, stderr=log
        )
    try:
        deadline = time.monotonic() + 20
        while f"playground at http://localhost:{page_port}/" not in log_path.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.05)
        assert f"API at http://127.0.0.1:{api_port}/ws/rest/echo" in log_path.read_text()

        with urllib.request.urlopen(f"http://127.0.0.1:{page_port}/", timeout=10) as page:
            html = page.read().decode()
            assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        assert f'data-api="http://127.0.0.1:{api_port}"' in html

        preflight = urllib.request.Request(
            f"http://127.0.0.1:{api_port}/ws/rest/echo/x",
            method="OPTIONS",
            headers={
                "Origin": f"http://localhost:{page_port}",
                "Access-Control-Request-Method": "PATCH",
            },
        )
        with urllib.request.urlopen(preflight, timeout=10) as reply:
            allowed = reply.headers["Access-Control-Allow-Origin"]
        assert allowed == f"http://localhost:{page_port}"
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_websvc_demo_command_exits_2_when_a_port_is_taken() -> None:
    port = _free_port()
    cmd = [sys.executable, "-m", "websvc", "demo", "--api-port", str(port)]
    done = subprocess.run(
        [*cmd, "--page-port", str(port)], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2, done.stdout + done.stderr
    assert "websvc demo: cannot listen" in done.stdout
