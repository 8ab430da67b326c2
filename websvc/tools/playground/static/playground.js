// The CORS playground: the page behind `websvc demo` (websvc/tools/playground).
//
// Send asks this page's own server to explain the preflight (POST /explain),
// then makes the real cross-origin fetch() to the API and shows both. Every
// text from a response or an explanation is set with textContent, never as
// markup. Loaded as an ES module (strict, deferred) under a CSP with
// script-src 'self': no inline code anywhere.

const $ = (id) => document.getElementById(id);
// What the server knows (the API's origin, the demo rule, the demo user and
// token) arrives as data-* attributes of <body>: data, never code.
const settings = document.body.dataset;
const api = settings.api;
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
$("api-url").textContent = api;
$("rule").textContent = settings.rule;
$("path").value = settings.path;
$("user").value = settings.user;
$("token").value = settings.token;

function headerPairs(text) {
  const pairs = [];
  for (const raw of text.split("\n")) {
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
    span.textContent = text + "\n";
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
    const excerpt = result.body.length > 1200 ? result.body.slice(0, 1200) + "\n..." : result.body;
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
