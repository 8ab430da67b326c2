"""The CORS configuration panel (ADMIN-API §5) in headless Chromium, against real servers.

The world (one per module, on one SQLite file):

- the admin app (API and panel) on ``http://127.0.0.1:ADMIN`` (werkzeug's
  threaded server, :func:`websvc.devserver.listen`, in a thread);
- the data plane under a 2-worker gunicorn in store mode on
  ``http://localhost:DATA``, following the store (``poll_interval`` 0.1 s),
  ``authentication = "none"``; tenant ``acme`` (A) owns the host
  ``localhost``, ``bravo`` (B) owns ``bravo.test``;
- a page on another origin, ``http://127.0.0.1:PAGE`` (O), whose script
  makes a credentialed ``PUT`` with ``X-Custom-Header`` to the data plane.

No mocks: the panel's clicks are real requests to the admin API, and the
page's ``fetch()`` is a real cross-origin request the browser allows or
blocks. Every panel page counts console errors and page errors; the only
ones allowed are the browser's own "Failed to load resource" lines for the
``400``/``412`` answers a test provokes on purpose. Screenshots go to
``test-artifacts/panel/``.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Locator, Page, expect
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from tests.servers import Server, launch_gunicorn
from websvc.admin import create_app as create_admin_app
from websvc.admin.panel import CONTENT_SECURITY_POLICY
from websvc.devserver import listen
from websvc.store import open_store

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "panel"
OPERATOR = "panel-operator-token"
A, B = "acme", "bravo"
A_RULES = [{"domain": "app.acme.example", "methods": ["GET", "PUT"], "max_age": 60}]
B_RULES = [{"domain": "app.bravo.example", "allow_credentials": True}]
HEADER = "X-Custom-Header"
WIDE = {"width": 1280, "height": 800}
NARROW = {"width": 390, "height": 844}

#: ADMIN-API §5: the visible labels of a rule's inputs, and the buttons.
LABELS = [
    "Domain", "Allow HTTP", "Allow HTTPS", "Ports", "Allowed methods", "Allowed request headers",
    "Exposed response headers", "Allow credentials", "Allow caching", "Max age", "Paths",
]  # fmt: skip
BUTTONS = [
    "Add rule",
    "Remove rule",
    "Move up",
    "Move down",
    "Save",
    "Try it",
    "History",
    "Roll back",
]

PAGE_O = """<!doctype html>
<meta charset="utf-8">
<title>A page on origin O</title>
<h1>A page on origin O</h1>
<p>Its script calls the data plane: <code>PUT</code>, <code>credentials: "include"</code>,
   <code>X-Custom-Header</code>.</p>
<pre id="out">not called yet</pre>
<script>
window.callDataPlane = async (url) => {
  const out = document.getElementById("out");
  try {
    const response = await fetch(url, {
      method: "PUT", credentials: "include", body: "hello from O",
      headers: {"X-Custom-Header": "from-the-page"},
    });
    const body = await response.text();
    out.textContent = "HTTP " + response.status + "\\n" + body;
    return {ok: true, status: response.status, body};
  } catch (error) {
    out.textContent = "fetch() failed: " + error;
    return {ok: false, error: String(error)};
  }
};
</script>
"""


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class World:
    admin_url: str  # the panel is admin_url + "/admin/"
    page_origin: str
    data_url: str = ""  # the data plane, once it runs
    tokens: dict[str, str] = field(default_factory=dict)  # "A", "B"

    def api(
        self,
        method: str,
        path: str,
        token: str = OPERATOR,
        body: object = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        """One admin API call: (status, headers, JSON body or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.admin_url}/admin/v1{path}", data=data, method=method,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                     **(headers or {})},
        )  # fmt: skip
        try:
            with urllib.request.urlopen(request, timeout=10) as reply:
                raw, status, got = reply.read(), reply.status, dict(reply.headers)
        except urllib.error.HTTPError as error:
            raw, status, got = error.read(), error.code, dict(error.headers)
        return status, got, json.loads(raw) if raw else None

    def rules(self, tenant: str = A) -> tuple[int, list[dict[str, Any]]]:
        status, _, body = self.api("GET", f"/tenants/{tenant}/cors")
        assert status == 200, body
        return body["version"], body["rules"]

    def reset(self) -> int:
        """Acme's rules back to A_RULES (a new version); returns it."""
        version, _ = self.rules()
        status, _, body = self.api(
            "PUT", f"/tenants/{A}/cors", body={"rules": A_RULES},
            headers={"If-Match": f'"{version}"'},
        )  # fmt: skip
        assert status == 200, body
        return int(body["version"])


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("panel")
    db = folder / "websvc.db"
    config = folder / "websvc.toml"
    config.write_text(f"""
[server]
authentication = "none"

[[apis]]
path = "/api"
app = "websvc.demo:echo"

[store]
url = "sqlite:///{db}"
poll_interval = 0.1

[admin]
operator_tokens_sha256 = ["{_sha(OPERATOR)}"]
""")
    store = open_store(f"sqlite:///{db}")
    store.init()
    store.close()
    admin = listen("127.0.0.1", 0, create_admin_app(str(config), autoload=False))
    threading.Thread(target=admin.serve_forever, daemon=True).start()
    page = make_server("127.0.0.1", 0, _page_o)
    threading.Thread(target=page.serve_forever, daemon=True).start()
    cmd = [sys.executable, "-m", "gunicorn", "--no-control-socket", "-c", "python:websvc.gunicorn_conf",
           "-b", "127.0.0.1:0", "-w", "2", "--log-level", "info", f'websvc:create_app("{config}")']  # fmt: skip
    data_plane: Server | None = None
    try:
        world = World(
            f"http://127.0.0.1:{admin.server_port}", f"http://127.0.0.1:{page.server_port}"
        )
        for name, hosts, rules in ((A, ["localhost"], A_RULES), (B, ["bravo.test"], B_RULES)):
            status, _, body = world.api("PUT", f"/tenants/{name}", body={"hosts": hosts})
            assert status == 201, body
            status, _, body = world.api(
                "PUT", f"/tenants/{name}/cors", body={"rules": rules}, headers={"If-Match": '"1"'}
            )
            assert status == 200, body
            status, _, body = world.api("POST", f"/tenants/{name}/tokens")
            assert status == 201, body
            world.tokens["A" if name == A else "B"] = body["token"]
        data_plane = launch_gunicorn(cmd, folder / "gunicorn.log", workers=2)
        world.data_url = f"http://localhost:{data_plane.port}"
        yield world
    finally:
        if data_plane is not None:
            data_plane.stop()
        admin.shutdown()
        page.shutdown()


@Request.application
def _page_o(request: Request) -> Response:
    if request.path == "/":
        return Response(PAGE_O, mimetype="text/html")
    return Response(status=204 if request.path == "/favicon.ico" else 404)


# -- the panel in a browser tab -------------------------------------------------------


@dataclass
class Panel:
    """One browser tab on the panel, with its console errors counted."""

    page: Page
    world: World
    expected_statuses: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type != "error":
            return
        failed = re.match(r"Failed to load resource: the server responded with a status of (\d+)",
                          message.text)  # fmt: skip
        url = message.location.get("url", "")
        if failed and int(failed[1]) in self.expected_statuses and "/admin/v1/" in url:
            return  # the browser's own line for an error answer this test provokes
        self.errors.append(f"console: {message.text} ({url})")

    def expect_status(self, *statuses: int) -> None:
        self.expected_statuses.update(statuses)

    def open(self) -> Panel:
        self.page.goto(self.world.admin_url + "/admin/")
        expect(self.page.get_by_label("Admin token")).to_be_visible()
        return self

    def sign_in(self, token: str) -> Panel:
        self.page.get_by_label("Admin token").fill(token)
        self.page.get_by_role("button", name="Sign in").click()
        expect(self.page.locator("#version")).to_have_text(re.compile(r"version \d+"))
        return self

    def card(self, index: int) -> Locator:
        return self.page.locator("li.rule").nth(index)

    def methods(self, index: int) -> Locator:
        return self.card(index).get_by_role("group", name="Allowed methods")

    def button(self, name: str) -> Locator:
        return self.page.get_by_role("button", name=name, exact=True)

    def version(self) -> int:
        return int((self.page.text_content("#version") or "").split()[-1])

    def save(self) -> None:
        self.button("Save").click()

    def save_and_wait(self) -> tuple[int, float]:
        """Save; the new version and when the browser got the 200."""
        with self.page.expect_response(
            lambda r: r.request.method == "PUT" and r.url.endswith(f"/tenants/{A}/cors")
        ) as answer:
            self.save()
        got = time.monotonic()
        assert answer.value.status == 200, answer.value.text()
        version = int(answer.value.json()["version"])
        expect(self.page.locator("#status")).to_contain_text(f"Saved: version {version}.")
        return version, got

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / name), full_page=True)

    def no_horizontal_scroll(self) -> None:
        widths = self.page.evaluate(
            "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
        )
        assert widths[0] <= widths[1], f"the page scrolls sideways: {widths}"


@pytest.fixture
def open_panel(browser: Browser, world: World) -> Iterator[Callable[..., Panel]]:
    """``open_panel(viewport=WIDE, context=None)``: a new tab on the panel; its errors fail the test."""
    contexts: list[BrowserContext] = []
    panels: list[Panel] = []

    def make(viewport: dict[str, int] = WIDE, context: BrowserContext | None = None) -> Panel:
        if context is None:
            context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
            contexts.append(context)
        page = context.new_page()
        panel = Panel(page, world)
        page.on("console", panel.on_console)
        page.on("pageerror", lambda error: panel.errors.append(f"pageerror: {error}"))
        panels.append(panel)
        return panel.open()

    world.reset()
    yield make
    for context in contexts:
        context.close()
    errors = [error for panel in panels for error in panel.errors]
    assert errors == [], "the panel logged errors"


@pytest.fixture
def page_o(browser: Browser, world: World) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 900, "height": 500})
    page = context.new_page()
    page.goto(world.page_origin + "/")
    yield page
    context.close()


def call_from_o(page: Page, world: World) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate(
        "url => window.callDataPlane(url)", world.data_url + "/api/items"
    )
    return result


def wait_for_fetch(page: Page, world: World, ok: bool, since: float) -> float:
    """Call the data plane from O until the fetch succeeds (or fails), within 1 s of *since*.

    Returns the seconds that took. Then, once 1 s has passed, every worker must
    answer so: six more calls (each a new connection: gunicorn's sync workers
    do not keep connections alive) all end the same way.
    """
    while True:
        result = call_from_o(page, world)
        took = time.monotonic() - since
        if result["ok"] is ok:
            break
        assert took < 1.0, (
            f"after 1 s the page's fetch still {'fails' if ok else 'works'}: {result}"
        )
    time.sleep(max(0.0, since + 1.0 - time.monotonic()))
    for _ in range(6):
        result = call_from_o(page, world)
        assert result["ok"] is ok, f"a worker still serves the old rules after 1 s: {result}"
    return took


# -- the tests --------------------------------------------------------------------------


def test_the_panel_is_plain_files_under_a_strict_csp(world: World) -> None:
    for path, media_type in (
        ("/admin/", "text/html"),
        ("/admin/static/panel.js", "text/javascript"),
        ("/admin/static/panel.css", "text/css"),
    ):
        with urllib.request.urlopen(world.admin_url + path, timeout=5) as reply:
            body = reply.read().decode()
            assert reply.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
            assert reply.headers["X-Content-Type-Options"] == "nosniff"
            assert reply.headers.get_content_type() == media_type
            assert "Set-Cookie" not in reply.headers
        if path == "/admin/":
            assert not re.search(r"<script(?![^>]*\bsrc=)", body), "no inline script"
            assert "<style" not in body and " style=" not in body, "no inline style"
            assert "http://" not in body and "https://" not in body.replace(
                "https://app.example.com", ""
            ), "no CDN: every file is the panel's own"
    for directive in ("default-src 'none'", "script-src 'self'", "style-src 'self'",
                      "connect-src 'self'", "frame-ancestors 'none'", "form-action 'none'"):  # fmt: skip
        assert directive in CONTENT_SECURITY_POLICY
    for path, status in (("/admin/static/nope.js", 404), ("/admin/static/../__init__.py", 404)):
        try:
            urllib.request.urlopen(world.admin_url + path, timeout=5)
        except urllib.error.HTTPError as error:
            assert error.code == status
        else:
            raise AssertionError(f"{path} was served")
    with urllib.request.urlopen(world.admin_url + "/admin", timeout=5) as reply:
        assert reply.url == world.admin_url + "/admin/", "/admin redirects to /admin/"
    try:
        urllib.request.urlopen(urllib.request.Request(world.admin_url + "/admin/", b"x"), timeout=5)
    except urllib.error.HTTPError as error:
        assert (error.code, error.headers["Allow"]) == (405, "GET, HEAD")
    else:
        raise AssertionError("POST /admin/ was answered")
    status, _, body = world.api("GET", "/whoami", token=world.tokens["A"])
    assert (status, body) == (200, {"role": "tenant", "tenant": A}), "the API is unchanged"


def test_every_label_and_button_of_the_contract(open_panel: Callable[..., Panel]) -> None:
    panel = open_panel()
    panel.shot("01-sign-in.png")
    panel.sign_in(panel.world.tokens["A"])
    panel.button("Add rule").click()
    card = panel.card(1)
    for label in LABELS:
        if label == "Allowed methods":
            expect(card.get_by_role("group", name=label)).to_be_visible()
        else:
            expect(card.get_by_label(label, exact=True)).to_be_visible()
    expect(card.get_by_text("Allowed methods", exact=True)).to_be_visible()
    expect(panel.page.get_by_role("heading", name="How websvc picks a rule")).to_be_visible()
    expect(panel.page.get_by_text("most specific one")).to_be_visible()
    panel.button("History").click()
    panel.page.locator(".version-button").last.click()
    for name in BUTTONS:
        expect(panel.button(name).first).to_be_visible()
    # every input, select and checkbox has a visible label (or a legend'd group)
    unlabelled = panel.page.evaluate("""() => [...document.querySelectorAll('input, select')]
        .filter(el => el.offsetParent !== null)
        .filter(el => !(el.labels && [...el.labels].some(l => l.offsetParent !== null && l.textContent.trim())))
        .map(el => el.id || el.outerHTML)""")
    assert unlabelled == []
    div_buttons = panel.page.locator("[onclick], div[role=button], span[role=button]").count()
    assert div_buttons == 0, "every control is a <button>"

    # the keyboard: a tag is added with Enter; Move down keeps the focus on the moved card
    first = panel.card(0)
    headers = first.get_by_label("Allowed request headers", exact=True)
    headers.focus()
    panel.page.keyboard.type("X-Typed")
    panel.page.keyboard.press("Enter")
    expect(first.locator(".tag", has_text="X-Typed")).to_be_visible()
    first.get_by_role("button", name="Move down").focus()
    panel.page.keyboard.press("Enter")
    expect(panel.card(1).locator(".tag", has_text="X-Typed")).to_be_visible()
    focused = panel.page.evaluate("document.activeElement.closest('li.rule').id")
    assert focused == panel.page.evaluate("document.querySelectorAll('li.rule')[1].id")
    expect(panel.page.locator("#dirty")).to_have_text("Unsaved changes")


def test_save_makes_a_real_credentialed_fetch_work_and_roll_back_undoes_it(
    open_panel: Callable[..., Panel], page_o: Page, world: World
) -> None:
    panel = open_panel()
    panel.sign_in(world.tokens["A"])
    before = panel.version()
    expect(panel.card(0).get_by_label("Domain", exact=True)).to_have_value("app.acme.example")
    panel.shot("02-signed-in-tenant-a.png")
    refused = call_from_o(page_o, world)
    assert refused["ok"] is False, f"no rule for O yet: {refused}"

    panel.button("Add rule").click()
    card = panel.card(1)
    page_port = world.page_origin.rsplit(":", 1)[1]
    card.get_by_label("Domain", exact=True).fill("127.0.0.1")
    card.get_by_label("Allow HTTP", exact=True).check()
    card.get_by_label("Allow HTTPS", exact=True).uncheck()
    card.get_by_label("Ports", exact=True).fill(page_port)
    methods = panel.methods(1)
    for method in ("GET", "HEAD", "POST"):
        methods.get_by_label(method, exact=True).uncheck()
    methods.get_by_label("PUT", exact=True).check()
    card.get_by_label("Allowed request headers", exact=True).fill(HEADER)
    card.get_by_label("Allowed request headers", exact=True).press("Enter")
    card.get_by_label("Allow credentials", exact=True).check()
    expect(card.locator(".rule-summary")).to_have_text(f"http://127.0.0.1, port {page_port}: PUT")

    # Try it, against the unsaved draft
    panel.page.get_by_label("Origin", exact=True).fill(world.page_origin)
    panel.page.get_by_label("Method", exact=True).fill("PUT")
    panel.page.get_by_label("Request headers", exact=True).fill(HEADER)
    panel.page.get_by_label("Path", exact=True).fill("/api/items")
    panel.button("Try it").click()
    result = panel.page.locator("#try-result")
    expect(result.locator(".verdict")).to_contain_text("Allowed")
    expect(result).to_contain_text("rule 2 (127.0.0.1) decided")
    expect(result.locator("pre.headers")).to_contain_text(
        f"Access-Control-Allow-Origin: {world.page_origin}"
    )
    expect(result.locator("pre.headers")).to_contain_text("Access-Control-Allow-Credentials: true")
    expect(panel.page.locator("#dirty")).to_have_text("Unsaved changes")
    panel.shot("03-draft-and-try-it.png")
    panel.page.evaluate("window.scrollTo(0, 0)")
    panel.page.screenshot(path=str(ARTIFACTS / "panel-readme.png"))  # docs/panel.png is a copy
    assert world.rules()[0] == before, "Try it saves nothing"

    # Save: within a second, the page's real fetch works
    saved, at = panel.save_and_wait()
    assert saved == before + 1
    latency = wait_for_fetch(page_o, world, True, at)
    result_o = call_from_o(page_o, world)
    assert result_o["status"] == 200 and '"tenant": "acme"' in result_o["body"], result_o
    assert '"X-Custom-Header": "from-the-page"' in result_o["body"]
    print(f"save -> the page's fetch works: {latency:.3f} s")
    expect(panel.page.locator("#version")).to_have_text(f"version {saved}")
    expect(panel.page.locator("#dirty")).to_have_text("")
    expect(panel.card(1).get_by_label("Domain", exact=True)).to_have_value("127.0.0.1")
    panel.shot("04-saved.png")
    page_o.screenshot(path=str(ARTIFACTS / "05-page-o-fetch-succeeds.png"))

    # History: what the save changed; Roll back to the version before it
    panel.button("History").click()
    rows = panel.page.locator(".revision-row")
    expect(rows.first).to_contain_text(f"Version {saved}")
    expect(rows.first).to_contain_text("tenant:acme")
    panel.page.get_by_role("button", name=f"Version {saved}", exact=True).click()
    diff = panel.page.locator("#revision .diff")
    expect(diff).to_contain_text("Rule 2 (127.0.0.1) added")
    panel.shot("06-history-diff.png")
    panel.page.get_by_role("button", name=f"Version {before}", exact=True).click()
    # The revision loads asynchronously: choose the comparison once it is shown.
    expect(panel.page.locator("#revision-heading")).to_have_text(f"Version {before}")
    panel.page.get_by_label("Compare with").select_option("draft")
    expect(panel.page.locator("#revision .diff")).to_contain_text("Rule 2 (127.0.0.1) removed")
    with panel.page.expect_response(lambda r: r.url.endswith("/cors/rollback")) as answer:
        panel.button("Roll back").click()
    rolled_at = time.monotonic()
    assert answer.value.status == 200
    rolled = int(answer.value.json()["version"])
    assert rolled == saved + 1, "a rollback is a new version"
    expect(panel.page.locator("#version")).to_have_text(f"version {rolled}")
    expect(panel.page.locator("li.rule")).to_have_count(1)
    wait_for_fetch(page_o, world, False, rolled_at)
    expect(panel.page.locator(".revision-row").first).to_contain_text("rollback")
    panel.shot("07-rolled-back.png")
    page_o.screenshot(path=str(ARTIFACTS / "08-page-o-fetch-fails-again.png"))
    assert [rule["domain"] for rule in world.rules()[1]] == ["app.acme.example"]


def test_max_age_over_a_day_is_refused_next_to_its_field(
    open_panel: Callable[..., Panel], world: World
) -> None:
    panel = open_panel()
    panel.expect_status(400)
    panel.sign_in(world.tokens["A"])
    version, rules = world.rules()
    max_age = panel.card(0).get_by_label("Max age", exact=True)
    max_age.fill("90000")
    panel.save()
    field_notes = panel.page.locator(f"#{max_age.get_attribute('id')}-notes")
    expect(field_notes).to_have_text("Error: 90000 is not a number of seconds from 0 to 86400")
    expect(max_age).to_have_attribute("aria-invalid", "true")
    described = max_age.get_attribute("aria-describedby") or ""
    assert f"{max_age.get_attribute('id')}-notes" in described.split()
    summary = panel.page.locator("#summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("Nothing was saved: 1 problem to fix.")
    expect(summary).to_contain_text("Rule 1, Max age: 90000 is not a number of seconds")
    assert summary.get_attribute("role") == "alert", "announced"
    expect(max_age).to_have_value("90000")
    panel.shot("09-max-age-error.png")
    assert world.rules() == (version, rules), "nothing was saved"
    expect(panel.page.locator("#version")).to_have_text(f"version {version}")
    summary.get_by_role("link").click()
    assert panel.page.evaluate("document.activeElement.id") == max_age.get_attribute("id")


def test_warnings_of_a_save_are_shown(open_panel: Callable[..., Panel], world: World) -> None:
    panel = open_panel().sign_in(world.tokens["A"])
    panel.button("Add rule").click()
    panel.card(1).get_by_label("Domain", exact=True).fill("*.github.io")
    version, _ = panel.save_and_wait()
    assert world.rules()[0] == version, "saved: a warning does not stop a save"
    warning = 'Rule 2, Domain: "*.github.io" covers every site under a public suffix'
    expect(panel.page.locator("#summary")).to_contain_text(
        f"Saved: version {version}. 1 warning (saved anyway):"
    )
    expect(panel.page.locator("#summary")).to_contain_text(warning)
    expect(panel.card(1).locator(".field-warning")).to_have_text(
        'Warning: "*.github.io" covers every site under a public suffix'
    )
    panel.shot("10-saved-with-a-warning.png")


def test_a_second_tab_saving_stale_rules_gets_the_conflict_and_keeps_its_edits(
    browser: Browser, open_panel: Callable[..., Panel], world: World
) -> None:
    first = open_panel().sign_in(world.tokens["A"])
    second = open_panel().sign_in(world.tokens["A"])
    second.expect_status(412)
    loaded = first.version()
    assert second.version() == loaded

    headers = first.card(0).get_by_label("Allowed request headers", exact=True)
    headers.fill("X-From-Tab-One")
    headers.press("Enter")
    saved, _ = first.save_and_wait()

    second.card(0).get_by_label("Allow caching", exact=True).check()
    second.card(0).get_by_label("Max age", exact=True).fill("120")
    second.card(0).get_by_label("Paths", exact=True).fill("/api/*")  # still typed, not a tag yet
    second.save()
    summary = second.page.locator("#summary")
    expect(summary).to_contain_text("Someone else saved these rules while you were editing.")
    expect(summary).to_contain_text(
        f"They saved version {saved}; you were editing version {loaded}"
    )
    expect(second.button("Reload")).to_be_visible()
    expect(summary.locator(".diff")).to_contain_text(
        "Allowed request headers: X-From-Tab-One → (none)"
    )
    expect(second.card(0).get_by_label("Max age", exact=True)).to_have_value("120")
    expect(second.card(0).get_by_label("Allow caching", exact=True)).to_be_checked()
    expect(second.card(0).locator(".tag", has_text="/api/*")).to_be_visible()
    expect(second.page.locator("#version")).to_have_text(f"version {loaded}")
    second.shot("11-conflict.png")
    assert world.rules()[0] == saved, "the stale save wrote nothing"

    second.button("Reload").click()
    expect(second.page.locator("#version")).to_have_text(f"version {saved}")
    expect(second.card(0).get_by_label("Max age", exact=True)).to_have_value("60")
    expect(second.card(0).locator(".tag", has_text="X-From-Tab-One")).to_be_visible()
    expect(summary).to_be_hidden()


def test_tenant_a_never_sees_tenant_b(open_panel: Callable[..., Panel], world: World) -> None:
    panel = open_panel().sign_in(world.tokens["A"])
    expect(panel.page.locator("#who-text")).to_have_text(f"Signed in as tenant {A}")
    expect(panel.page.get_by_label("Tenant", exact=True)).to_be_hidden()
    panel.button("History").click()
    expect(panel.page.locator(".revision-row").first).to_be_visible()
    panel.page.locator(".version-button").first.click()
    expect(panel.page.locator("#revision .diff, #revision .diff-none")).to_be_visible()
    panel.shot("12-tenant-a-only.png")
    html = panel.page.content().lower()
    assert B not in html and "bravo" not in html, "B's name is nowhere in A's page"
    storage = panel.page.evaluate("JSON.stringify(sessionStorage)")
    assert B not in storage
    cookies = panel.page.context.cookies()
    assert cookies == [], "no cookies"
    for method, path in (
        ("GET", f"/tenants/{B}/cors"),
        ("GET", f"/tenants/{B}/cors/revisions"),
        ("POST", f"/tenants/{B}/cors/evaluate"),
    ):
        body = {"origin": "https://x.example", "method": "GET"} if method == "POST" else None
        status, _, answer = world.api(method, path, token=world.tokens["A"], body=body)
        assert (status, answer) == (404, {"error": "no such tenant"}), path
    status, _, _ = world.api("GET", "/tenants", token=world.tokens["A"])
    assert status == 403


def test_an_operator_picks_the_tenant(open_panel: Callable[..., Panel], world: World) -> None:
    panel = open_panel().sign_in(OPERATOR)
    picker = panel.page.get_by_label("Tenant", exact=True)
    expect(picker).to_be_visible()
    assert picker.locator("option").all_text_contents() == [A, B]
    expect(panel.page.locator("#tenant-name")).to_have_text(A)
    picker.select_option(B)
    expect(panel.page.locator("#tenant-name")).to_have_text(B)
    expect(panel.card(0).get_by_label("Domain", exact=True)).to_have_value("app.bravo.example")
    expect(panel.card(0).get_by_label("Allow credentials", exact=True)).to_be_checked()
    panel.shot("13-operator-picker.png")


def test_narrow_viewport_stacks_the_cards(open_panel: Callable[..., Panel], world: World) -> None:
    panel = open_panel(NARROW)
    panel.expect_status(400)
    panel.shot("14-narrow-sign-in.png")
    panel.sign_in(world.tokens["A"])
    panel.no_horizontal_scroll()
    domain = panel.card(0).get_by_label("Domain", exact=True).bounding_box()
    ports = panel.card(0).get_by_label("Ports", exact=True).bounding_box()
    assert domain is not None and ports is not None
    assert ports["y"] > domain["y"] + domain["height"], "fields stack in one column"
    panel.shot("15-narrow-rules.png")
    panel.card(0).get_by_label("Max age", exact=True).fill("90000")
    panel.save()
    expect(panel.page.locator("#summary")).to_contain_text("Nothing was saved")
    panel.no_horizontal_scroll()
    panel.shot("16-narrow-error.png")
    panel.page.get_by_label("Origin", exact=True).fill("https://app.acme.example")
    panel.page.get_by_label("Method", exact=True).fill("patch")
    panel.card(0).get_by_label("Max age", exact=True).fill("60")
    panel.button("Try it").click()
    expect(panel.page.locator("#try-result .verdict")).to_contain_text("Refused")
    panel.no_horizontal_scroll()
    panel.page.locator("#try").screenshot(path=str(ARTIFACTS / "17-narrow-try-it-patch.png"))


def test_wide_viewport_has_no_sideways_scroll(
    open_panel: Callable[..., Panel], world: World
) -> None:
    panel = open_panel(WIDE).sign_in(world.tokens["A"])
    panel.button("Add rule").click()
    panel.button("History").click()
    expect(panel.page.locator(".revision-row").first).to_be_visible()
    panel.no_horizontal_scroll()
