"""The CORS playground behind ``websvc demo``.

Two servers on two origins: the websvc demo API (``http://127.0.0.1:8080``)
and this playground page (``http://localhost:8081``, an origin the demo's
``localhost`` rule allows). On the page a person picks a method, request
headers, credentials and a path and presses Send: the page asks its own
server for :func:`websvc.explain.explain` of the preflight that request
causes (``POST /explain``, same origin), then makes the real cross-origin
``fetch()`` to the API and shows both side by side: what the browser let the
page see, and why the server decided as it did.

The API serves the built-in demo config with one addition: ``PATCH`` is in
the localhost rule's methods, so that ``PATCH`` succeeds and lower-case
``patch`` (which ``fetch()`` sends unchanged) fails -- the method-case trap.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import html
import json
import logging
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.serving import BaseWSGIServer
from werkzeug.wrappers import Request, Response

from websvc.app import WebsvcApp
from websvc.cli import listen, stop_on_sigterm
from websvc.demo import DEMO_CONFIG, DEMO_TOKEN, DEMO_USER
from websvc.explain import Explanation, explain
from websvc.syntax import FORBIDDEN_METHODS, NORMALISED_METHODS, is_token

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

DEFAULT_API_PORT = 8080
DEFAULT_PAGE_PORT = 8081
DEFAULT_PATH = "/ws/rest/echo/playground"
MAX_EXPLAIN_BODY = 64 * 1024
MAX_HEADERS = 50


def _playground_config() -> dict[str, Any]:
    """The demo config, with PATCH added to the localhost rule's methods."""
    config = copy.deepcopy(DEMO_CONFIG)
    for rule in config["tenants"]["demo"]["cors"]:
        if rule["domain"] == "localhost" and "PATCH" not in rule["methods"]:
            rule["methods"].append("PATCH")
    return config


#: What the playground's API serves: :data:`websvc.demo.DEMO_CONFIG` plus PATCH.
PLAYGROUND_CONFIG: dict[str, Any] = _playground_config()


# -- what the browser sends -----------------------------------------------------

#: Fetch "forbidden request-header" names: ``fetch()`` silently drops them.
FORBIDDEN_HEADERS = frozenset(
    {
        "accept-charset",
        "accept-encoding",
        "access-control-request-headers",
        "access-control-request-method",
        "connection",
        "content-length",
        "cookie",
        "cookie2",
        "date",
        "dnt",
        "expect",
        "host",
        "keep-alive",
        "origin",
        "referer",
        "set-cookie",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "via",
    }
)
_UNSAFE_BYTES = frozenset('"():<>?@[\\]{}\x7f')
_LANGUAGE = re.compile(r"[0-9A-Za-z *,\-.;=]*")
_RANGE = re.compile(r"bytes=([0-9]+)-([0-9]*)")
_SIMPLE_TYPES = frozenset(
    {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"}
)


def _has_unsafe_byte(value: str) -> bool:
    return any((c < " " and c != "\t") or c in _UNSAFE_BYTES for c in value)


def is_safelisted(name: str, value: str) -> bool:
    """Fetch's "CORS-safelisted request-header": sent without a preflight."""
    name = name.lower()
    if len(value) > 128:
        return False
    if name == "accept":
        return not _has_unsafe_byte(value)
    if name in ("accept-language", "content-language"):
        return _LANGUAGE.fullmatch(value) is not None
    if name == "content-type":
        essence = value.split(";", 1)[0].strip().lower()
        return not _has_unsafe_byte(value) and essence in _SIMPLE_TYPES
    if name == "range":
        match = _RANGE.fullmatch(value)
        return match is not None and (not match[2] or int(match[1]) <= int(match[2]))
    return False


@dataclass
class BrowserRequest:
    """What Chromium does with a ``fetch()`` of this method and these headers."""

    method: str  # as sent: the six Fetch methods upper-cased, any other unchanged
    preflight_headers: list[str]  # Access-Control-Request-Headers: lower-case, sorted
    preflight: bool  # whether a preflight (OPTIONS) goes first
    throws: bool = False  # fetch() rejects before sending anything
    notes: list[str] = field(default_factory=list)


def browser_request(method: str, headers: Sequence[tuple[str, str]]) -> BrowserRequest:
    """Predict the preflight a browser sends for ``fetch(url, {method, headers})``."""
    notes: list[str] = []
    throws = False
    sent = method.upper() if method.upper() in NORMALISED_METHODS else method
    if sent != method:
        notes.append(f"fetch() upper-cases the method: {method} is sent as {sent}.")
    if not is_token(method):
        notes.append(f"{method!r} is not a method name: fetch() throws and sends nothing.")
        throws = True
    elif method.upper() in FORBIDDEN_METHODS:
        notes.append(f"{method} is a forbidden method: fetch() throws and sends nothing.")
        throws = True
    unsafe: set[str] = set()
    for name, value in headers:
        lower = name.lower()
        if not is_token(name) or any(c in value for c in "\0\r\n"):
            notes.append(f"header {name!r} is not a valid header: fetch() throws.")
            throws = True
        elif lower in FORBIDDEN_HEADERS or lower.startswith(("proxy-", "sec-")):
            notes.append(f"{name} is a forbidden request header: fetch() silently drops it.")
        elif not is_safelisted(name, value):
            unsafe.add(lower)
    preflight = sent not in ("GET", "HEAD", "POST") or bool(unsafe)
    if not preflight and not throws:
        notes.append(
            "No preflight: this is a simple request, sent directly; the server applies "
            "the same rule to it (the explanation below is for its origin and method)."
        )
    return BrowserRequest(sent, sorted(unsafe), preflight, throws, notes)


# -- hints ------------------------------------------------------------------------


def hint(result: Explanation, *, credentials: bool) -> str:
    """One line on the usual cause of a refusal (or of a browser-side failure)."""
    decision = result.decision
    rule = decision.rule
    if decision.allowed:
        if credentials and rule is not None and not rule.allow_credentials:
            return (
                'credentials: "include" needs Access-Control-Allow-Credentials: true, and '
                f"{rule.label} has no allow_credentials: the browser will refuse the response."
            )
        return ""
    reason = decision.reason
    if reason == "method":
        methods = ", ".join(sorted(rule.methods)) if rule is not None else ""
        if rule is not None and result.method.upper() in rule.methods:
            return (
                f"Method case trap: fetch() upper-cases only DELETE, GET, HEAD, OPTIONS, "
                f"POST and PUT, so {result.method} is sent as written, and methods are "
                f"case-sensitive: it does not match {result.method.upper()} in the rule. "
                f"Send {result.method.upper()}."
            )
        return f"Method {result.method} is not in the rule's methods ({methods})."
    if reason.startswith("header"):
        name = reason.partition(":")[2] or "a requested header"
        return (
            f"Header not allowed: {name} is not in the rule's request_headers (nor in "
            "[cors.defaults]); add it there, or do not send it."
        )
    if reason in ("origin_not_listed", "protocol", "port", "origin_invalid"):
        return (
            f"No rule allows the origin {result.origin}: the demo rule allows "
            "http(s)://localhost on any port, so open this page as http://localhost:PORT/."
        )
    if reason == "path":
        return f"The rule's paths do not cover {result.path}."
    if reason == "no_tenant":
        return "No tenant was identified for this request, so no rule applies."
    return ""


# -- the page -------------------------------------------------------------------------

_STYLE = """
:root {
  --fg: #1d2430; --muted: #5b6576; --line: #d9dee7; --bg: #f4f6f9; --card: #fff;
  --code: #f0f3f7; --ok: #146c34; --ok-bg: #e3f4e8; --bad: #a8231a; --bad-bg: #fbe9e7;
  --accent: #2456c9; --hint-bg: #fff6db; --hint-line: #e8cf7a;
}
* { box-sizing: border-box; }
body {
  margin: 0; color: var(--fg); background: var(--bg);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
}
header, main { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
header { padding-top: 20px; }
h1 { font-size: 1.5rem; margin: 0 0 4px; }
h2 { font-size: 1.1rem; margin: 0 0 10px; }
h3 { font-size: .85rem; margin: 14px 0 6px; color: var(--muted);
     text-transform: uppercase; letter-spacing: .04em; }
header p { margin: 4px 0; color: var(--muted); }
code, pre, input, select, textarea {
  font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 13px;
}
code { background: var(--code); padding: 1px 5px; border-radius: 4px; color: var(--fg); }
.card {
  background: var(--card); border: 1px solid var(--line); border-radius: 8px;
  padding: 16px 18px; margin: 16px 0;
}
.presets { display: flex; flex-wrap: wrap; gap: 8px; align-items: center; margin-bottom: 14px; }
.presets span { color: var(--muted); margin-right: 4px; }
button {
  font: inherit; border-radius: 6px; border: 1px solid var(--line); background: #fff;
  padding: 4px 12px; cursor: pointer;
}
button:hover { border-color: var(--accent); }
.fields { display: grid; grid-template-columns: 250px 1fr 1fr; gap: 12px 18px; }
.field { display: flex; flex-direction: column; gap: 4px; }
.field > span, legend { font-size: .85rem; font-weight: 600; }
.wide { grid-column: 2 / 4; }
.full { grid-column: 1 / 4; }
input[type=text], select, textarea {
  width: 100%; padding: 6px 8px; border: 1px solid var(--line); border-radius: 6px;
  background: #fff; color: var(--fg);
}
textarea { resize: vertical; }
fieldset { border: 1px solid var(--line); border-radius: 6px; margin: 0; padding: 6px 12px 10px; }
fieldset label { margin-right: 14px; }
fieldset code { white-space: nowrap; }
.auth { display: flex; gap: 12px; align-items: center; flex-wrap: wrap; }
.auth input[type=text] { width: 150px; }
small { color: var(--muted); }
.actions { margin-top: 14px; display: flex; gap: 14px; align-items: center; }
#send {
  background: var(--accent); border-color: var(--accent); color: #fff;
  padding: 7px 26px; font-weight: 600;
}
#send:disabled { opacity: .6; cursor: wait; }
.hint {
  background: var(--hint-bg); border: 1px solid var(--hint-line); border-radius: 8px;
  padding: 10px 14px; margin: 0 0 16px;
}
.results { display: grid; grid-template-columns: 1fr 1fr; gap: 18px; align-items: start; }
.results .card { margin: 0; }
.outcome { margin: 0 0 6px; font-weight: 600; overflow-wrap: anywhere; }
.badge {
  display: inline-block; padding: 1px 10px; border-radius: 999px; margin-right: 6px;
  font-size: .8rem; font-weight: 700; letter-spacing: .03em;
}
.badge.ok { color: var(--ok); background: var(--ok-bg); }
.badge.bad { color: var(--bad); background: var(--bad-bg); }
.badge.wait { color: var(--muted); background: var(--code); }
.muted { color: var(--muted); font-weight: 400; }
pre {
  background: var(--code); border: 1px solid var(--line); border-radius: 6px;
  padding: 10px 12px; margin: 0; white-space: pre-wrap; overflow-wrap: anywhere;
  min-height: 2.6em; max-height: 420px; overflow: auto;
}
pre .ok { color: var(--ok); font-weight: 700; }
pre .bad { color: var(--bad); font-weight: 700; }
ul.notes { margin: 0 0 8px; padding-left: 20px; color: var(--muted); }
@media (max-width: 860px) {
  .results, .fields { grid-template-columns: 1fr; }
  .wide, .full { grid-column: auto; }
}
"""

_SCRIPT = """
"use strict";
(() => {
  const $ = (id) => document.getElementById(id);
  const api = document.body.dataset.api;
  const BODY = "hello from the playground";
  const PRESETS = {
    allowed: {method: "PUT", headers: "X-Custom-Header: hello", credentials: true, auth: true},
    upper: {method: "PATCH", headers: "", credentials: true, auth: true},
    trap: {method: "patch", headers: "", credentials: true, auth: true},
    header: {method: "PUT", headers: "X-Not-Allowed: 1", credentials: true, auth: true},
    simple: {method: "GET", headers: "", credentials: false, auth: true},
    noauth: {method: "PUT", headers: "X-Custom-Header: hello", credentials: true, auth: false},
  };
  let done = 0;

  $("page-origin").textContent = location.origin;

  function headerPairs(text) {
    const pairs = [];
    for (const raw of text.split("\\n")) {
      const line = raw.trim();
      if (!line) continue;
      const colon = line.indexOf(":");
      pairs.push(colon < 0 ? [line, ""] : [line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
    }
    return pairs;
  }

  function base64(text) {
    let binary = "";
    for (const byte of new TextEncoder().encode(text)) binary += String.fromCharCode(byte);
    return btoa(binary);
  }

  function requestUrl() {
    let path = $("path").value.trim() || "/";
    if (!path.startsWith("/")) path = "/" + path;
    const url = new URL(api + path);
    if ($("auth").checked) {
      url.searchParams.set("boomi_auth", base64($("user").value + ":" + $("token").value));
    }
    return url;
  }

  function badge(ok, label) {
    const span = document.createElement("span");
    span.className = "badge " + (ok === null ? "wait" : ok ? "ok" : "bad");
    span.textContent = label;
    return span;
  }

  function say(node, ok, label, text) {
    const rest = document.createElement("span");
    rest.textContent = text;
    node.replaceChildren(badge(ok, label), rest);
  }

  function lines(node, texts, mark) {
    node.replaceChildren();
    for (const text of texts) {
      const span = document.createElement("span");
      span.textContent = text + "\\n";
      if (mark) {
        const cls = mark(text);
        if (cls) span.className = cls;
      }
      node.append(span);
    }
  }

  async function explainRequest(body) {
    const response = await fetch("/explain", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error || "HTTP " + response.status);
    return data;
  }

  async function browserFetch(url, method, headers, credentials) {
    const init = {method, headers, credentials: credentials ? "include" : "omit", cache: "no-store"};
    if (!["GET", "HEAD"].includes(method.toUpperCase())) init.body = BODY;
    try {
      const response = await fetch(url, init);
      const body = await response.text();
      return {ok: true, status: response.status, statusText: response.statusText,
              headers: [...response.headers], body};
    } catch (error) {
      return {ok: false, error: String(error)};
    }
  }

  function showExplanation(data) {
    const decision = data.lines.find((line) => line.startsWith("decision:")) || "";
    say($("decision"), data.allowed, data.allowed ? "ALLOWED" : "REFUSED", data.summary);
    const notes = $("notes");
    notes.replaceChildren();
    for (const note of data.notes) {
      const item = document.createElement("li");
      item.textContent = note;
      notes.append(item);
    }
    lines($("explanation"), data.lines,
          (line) => line === decision ? (data.allowed ? "ok" : "bad") : "");
  }

  function showOutcome(result) {
    if (result.ok) {
      say($("outcome"), true, "SUCCEEDED",
          `HTTP ${result.status} ${result.statusText}`.trim() + ": the page can read the response");
      lines($("response-headers"), result.headers.map(([name, value]) => `${name}: ${value}`));
      const excerpt = result.body.length > 1200 ? result.body.slice(0, 1200) + "\\n..." : result.body;
      $("body").textContent = excerpt || "(empty)";
    } else {
      say($("outcome"), false, "FAILED", result.error);
      $("response-headers").textContent = "(none: the page may read nothing of a refused response)";
      $("body").textContent = "(none; the browser's console names the CORS error)";
    }
  }

  function showHint(data, result) {
    let text = data ? data.hint : "";
    if (!text && data && !result.ok && data.allowed && !data.throws) {
      text = "The server allows this request, yet the browser failed: is the API at " + api +
             " running?";
    } else if (!text && data && !result.ok && data.throws) {
      text = "fetch() refused to send this request (see the notes beside the explanation): " +
             "nothing reached the server.";
    } else if (!text && result.ok && result.status === 401) {
      text = "401 but readable: the preflight passed (preflights are never authenticated); " +
             "the request itself needs boomi_auth with the demo user and token.";
    }
    $("hint").textContent = text ? "Hint: " + text : "";
    $("hint").hidden = !text;
  }

  async function send(event) {
    event.preventDefault();
    $("send").disabled = true;
    document.body.dataset.state = "sending";
    const method = $("method").value;
    const headers = headerPairs($("headers").value);
    const credentials = $("credentials").checked;
    let url;
    try {
      url = requestUrl();
    } catch (error) {
      url = null;
    }
    $("request").textContent = url
      ? `Sent: ${method} ${url}  ·  credentials: ${credentials ? "include" : "omit"}  ·  ` +
        `headers: ${headers.length ? headers.map(([name]) => name).join(", ") : "(none)"}`
      : "The path does not make a valid URL.";
    say($("outcome"), null, "...", "sending");
    say($("decision"), null, "...", "asking the server");
    let data = null;
    if (url) {
      try {
        data = await explainRequest({origin: location.origin, method, headers, credentials,
                                     path: url.pathname + url.search});
        showExplanation(data);
      } catch (error) {
        say($("decision"), false, "ERROR", "no explanation: " + String(error));
        $("explanation").textContent = "";
      }
      const result = await browserFetch(url, method, headers, credentials);
      showOutcome(result);
      showHint(data, result);
    }
    $("send").disabled = false;
    done += 1;
    document.body.dataset.done = String(done);
    document.body.dataset.state = "done";
  }

  $("form").addEventListener("submit", send);
  for (const button of document.querySelectorAll("[data-preset]")) {
    button.addEventListener("click", () => {
      const preset = PRESETS[button.dataset.preset];
      $("method").value = preset.method;
      $("headers").value = preset.headers;
      $("credentials").checked = preset.credentials;
      $("auth").checked = preset.auth;
    });
  }
})();
"""

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>websvc CORS playground</title>
<style>@STYLE@</style>
</head>
<body data-api="@API@" data-state="idle" data-done="0">
<header>
  <h1>websvc CORS playground</h1>
  <p>This page is <code id="page-origin">(this page's origin)</code>. Send makes a real
     cross-origin <code>fetch()</code> to the websvc demo API at <code>@API@</code>,
     and asks the server to explain its decision for that request.</p>
  <p>@RULE@</p>
</header>
<main>
  <form id="form" class="card" autocomplete="off">
    <div class="presets">
      <span>Try:</span>
      <button type="button" data-preset="allowed">PUT + X-Custom-Header</button>
      <button type="button" data-preset="upper">PATCH</button>
      <button type="button" data-preset="trap">patch (case trap)</button>
      <button type="button" data-preset="header">X-Not-Allowed header</button>
      <button type="button" data-preset="simple">simple GET</button>
      <button type="button" data-preset="noauth">no boomi_auth (401)</button>
    </div>
    <div class="fields">
      <label class="field"><span>Method</span>
        <select id="method" name="method">
          <option>GET</option>
          <option>HEAD</option>
          <option>POST</option>
          <option selected>PUT</option>
          <option>DELETE</option>
          <option>PATCH</option>
          <option value="patch">patch (lower case)</option>
          <option value="put">put (lower case)</option>
        </select>
      </label>
      <label class="field wide"><span>Path on the API</span>
        <input type="text" id="path" name="path" value="@PATH@" spellcheck="false">
      </label>
      <label class="field full"><span>Request headers <small>one
        <code>Name: value</code> a line</small></span>
        <textarea id="headers" name="headers" rows="3"
                  spellcheck="false">X-Custom-Header: hello</textarea>
      </label>
      <fieldset>
        <legend>Credentials</legend>
        <label><input type="checkbox" id="credentials" checked>
          <code>credentials: "include"</code></label>
        <div><small>unchecked: <code>"omit"</code></small></div>
      </fieldset>
      <fieldset class="wide">
        <legend>boomi_auth</legend>
        <div class="auth">
          <label><input type="checkbox" id="auth" checked> add
            <code>?boomi_auth=base64(user:token)</code></label>
          <label>user <input type="text" id="user" value="@USER@" spellcheck="false"></label>
          <label>token <input type="text" id="token" value="@TOKEN@" spellcheck="false"></label>
        </div>
      </fieldset>
    </div>
    <div class="actions">
      <button type="submit" id="send">Send</button>
      <small id="request"></small>
    </div>
  </form>
  <p id="hint" class="hint" hidden></p>
  <section class="results">
    <article class="card" id="browser-panel">
      <h2>Browser</h2>
      <p id="outcome" class="outcome"><span class="muted">Nothing sent yet.</span></p>
      <h3>Readable response headers</h3>
      <pre id="response-headers"></pre>
      <h3>Body (excerpt)</h3>
      <pre id="body"></pre>
    </article>
    <article class="card" id="server-panel">
      <h2>Server's explanation</h2>
      <p id="decision" class="outcome"><span class="muted">Nothing asked yet.</span></p>
      <ul id="notes" class="notes"></ul>
      <pre id="explanation"></pre>
    </article>
  </section>
</main>
<script>@SCRIPT@</script>
</body>
</html>
"""


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


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


class _Request(Request):
    max_content_length = MAX_EXPLAIN_BODY


class PlaygroundApp:
    """The playground page (``GET /``) and its explain endpoint (``POST /explain``).

    :param api: the websvc app the page's requests go to; ``/explain`` uses
        its current site, so the explanation is of the config it serves.
    :param api_url: that app's origin as the page reaches it, e.g.
        ``http://127.0.0.1:8080`` (a different origin from the page's).
    """

    def __init__(self, api: WebsvcApp, api_url: str) -> None:
        self.api = api
        self.api_url = api_url.rstrip("/")
        values = {
            "@STYLE@": _STYLE,
            "@SCRIPT@": _SCRIPT,
            "@API@": html.escape(self.api_url),
            "@RULE@": html.escape(_rule_summary(PLAYGROUND_CONFIG)),
            "@PATH@": html.escape(DEFAULT_PATH),
            "@USER@": html.escape(DEMO_USER),
            "@TOKEN@": html.escape(DEMO_TOKEN),
        }
        page = _PAGE
        for key, value in values.items():
            page = page.replace(key, value)
        self.page = page.encode()
        self.csp = "; ".join(
            [
                "default-src 'none'",
                f"script-src {_csp_hash(_SCRIPT)}",
                f"style-src {_csp_hash(_STYLE)}",
                f"connect-src 'self' {self.api_url}",
                "base-uri 'none'",
                "form-action 'none'",
                "frame-ancestors 'none'",
            ]
        )

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = _Request(environ)
        try:
            response = self._route(request)
        except HTTPException as exc:
            response = _json({"error": exc.description or exc.name}, exc.code or 400)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)

    def _route(self, request: Request) -> Response:
        if request.path == "/":
            if request.method not in ("GET", "HEAD"):
                return _json({"error": "use GET"}, 405)
            response = Response(self.page, mimetype="text/html")
            response.headers["Content-Security-Policy"] = self.csp
            return response
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
        raw_headers = data.get("headers", [])
        credentials = data.get("credentials", False)
        if not path.startswith("/"):
            raise ValueError("path must start with /")
        if not isinstance(credentials, bool):
            raise ValueError("credentials must be true or false")
        if not isinstance(raw_headers, list) or len(raw_headers) > MAX_HEADERS:
            raise ValueError(f"headers must be a list of at most {MAX_HEADERS} [name, value]")
        headers: list[tuple[str, str]] = []
        for pair in raw_headers:
            if not (
                isinstance(pair, list)
                and len(pair) == 2
                and all(isinstance(part, str) and len(part) <= 4096 for part in pair)
            ):
                raise ValueError("each header must be [name, value]")
            headers.append((pair[0], pair[1]))
        browser = browser_request(method, headers)
        result = explain(
            self.api.site,
            origin=origin,
            method=browser.method,
            headers=browser.preflight_headers,
            path=path,
        )
        decision = result.decision
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
            "notes": browser.notes,
            "hint": hint(result, credentials=credentials),
        }


def _text(data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value or len(value) > 4096:
        raise ValueError(f"{key} must be a non-empty string")
    if any(c < " " or c == "\x7f" for c in value):
        raise ValueError(f"{key} has control characters")
    return value


def _json(data: object, status: int = 200) -> Response:
    return Response(json.dumps(data), status=status, mimetype="application/json")


# -- running it --------------------------------------------------------------------


def _url_host(host: str) -> str:
    """How a browser on this machine reaches a server bound to *host*."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


def _page_host(host: str) -> str:
    """The page's host name: ``localhost`` (the demo rule's domain) when it reaches *host*."""
    loopback = host in ("", "0.0.0.0", "::", "::1", "localhost") or host.startswith("127.")
    return "localhost" if loopback else _url_host(host)


@dataclass
class Demo:
    """The two running servers of :func:`start_demo`."""

    api: BaseWSGIServer
    page: BaseWSGIServer
    api_url: str
    page_url: str
    threads: list[threading.Thread]

    def shutdown(self) -> None:
        for server in (self.page, self.api):
            server.shutdown()
            server.server_close()
        for thread in self.threads:
            thread.join(timeout=5)


def start_demo(
    host: str = "127.0.0.1", api_port: int = DEFAULT_API_PORT, page_port: int = DEFAULT_PAGE_PORT
) -> Demo:
    """Start the demo API and the playground page in threads (port 0: any free port).

    The API is reached as ``http://<host>:<api_port>`` and the page as
    ``http://localhost:<page_port>/``: two origins, and the page's is the one
    the demo's ``localhost`` rule allows. Raises :class:`websvc.cli.CannotListen`
    (an OSError) when a port is taken, before anything serves.
    """
    api_app = WebsvcApp(PLAYGROUND_CONFIG)
    api = listen(host, api_port, api_app)
    try:
        api_url = f"http://{_url_host(host)}:{api.server_port}"
        page = listen(host, page_port, PlaygroundApp(api_app, api_url))
    except BaseException:
        api.server_close()
        raise
    page_url = f"http://{_page_host(host)}:{page.server_port}/"
    threads = [
        threading.Thread(target=server.serve_forever, name=f"websvc-demo-{name}", daemon=True)
        for name, server in (("api", api), ("page", page))
    ]
    for thread in threads:
        thread.start()
    return Demo(api, page, api_url, page_url, threads)


def run_demo(
    host: str = "127.0.0.1", api_port: int = DEFAULT_API_PORT, page_port: int = DEFAULT_PAGE_PORT
) -> int:
    """``websvc demo``: serve the demo API and the playground until Ctrl-C or SIGTERM."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        demo = start_demo(host, api_port, page_port)
    except OSError as exc:  # CannotListen: "cannot listen on HOST:PORT: why", one line
        print(f"websvc demo: {exc}", flush=True)
        return 2
    stop_on_sigterm()
    try:
        print(
            f"websvc demo: API at {demo.api_url}/ws/rest/echo "
            f"(the demo config plus PATCH; user {DEMO_USER}, token {DEMO_TOKEN})",
            flush=True,
        )
        print(f"websvc demo: playground at {demo.page_url}  <- open this page", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        print("websvc demo: stopping", flush=True)
    finally:
        demo.shutdown()
    return 0
