"""Decision reasons in logs and the debug header; Prometheus metrics in one process."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from typing import Any

import pytest
from werkzeug.test import Client, EnvironBuilder

import websvc

METRICS_TOKEN = "scrape-me"


def _config(**server: Any) -> dict[str, Any]:
    return {
        "server": server,
        "apis": [{"path": "/ws", "app": "websvc.demo:echo"}],
        "tenants": {
            "acme": {
                "hosts": ["acme.test"],
                "users": [{"name": "u", "token": "t"}],
                "cors": [
                    {"domain": "app.example", "methods": ["GET", "PUT"], "request_headers": ["X-Ok"],
                     "paths": ["/ws/*"]},
                ],
            }
        },
    }  # fmt: skip


@pytest.mark.parametrize(
    ("origin", "method", "acrh", "path", "host", "reason"),
    [
        pytest.param("https://other.example", "GET", None, "/ws/x", "acme.test", "origin_not_listed", id="origin"),
        pytest.param("https://App.example", "GET", None, "/ws/x", "acme.test", "origin_invalid", id="invalid"),
        pytest.param("http://app.example", "GET", None, "/ws/x", "acme.test", "protocol", id="protocol"),
        pytest.param("https://app.example:8443", "GET", None, "/ws/x", "acme.test", "port", id="port"),
        pytest.param("https://app.example", "GET", None, "/elsewhere", "acme.test", "path", id="path"),
        pytest.param("https://app.example", "DELETE", None, "/ws/x", "acme.test", "method", id="method"),
        pytest.param("https://app.example", "PUT", "x-ok,x-bad", "/ws/x", "acme.test", "header:x-bad", id="header"),
        pytest.param("https://app.example", "PUT", "x ok", "/ws/x", "acme.test", "header", id="header-malformed"),
        pytest.param("https://app.example", "GET", None, "/ws/x", "nobody.test", "no_tenant", id="no-tenant"),
    ],
)  # fmt: skip
def test_reason_codes_in_debug_header_and_log(
    caplog: pytest.LogCaptureFixture,
    origin: str,
    method: str,
    acrh: str | None,
    path: str,
    host: str,
    reason: str,
) -> None:
    config = _config(debug_header=True)
    config["tenants"]["other"] = {"hosts": ["other.test"]}  # no "only tenant" fallback
    client = Client(websvc.create_app(config))
    headers = {"Origin": origin, "Access-Control-Request-Method": method, "Host": host}
    if acrh:
        headers["Access-Control-Request-Headers"] = acrh
    caplog.set_level(logging.INFO, logger="websvc")
    response = client.options(path, headers=headers)
    assert response.headers["X-Websvc-Cors-Reason"] == reason
    assert "Access-Control-Allow-Origin" not in response.headers
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("cors refused")]
    assert len(lines) == 1
    tenant = "acme" if host == "acme.test" else "-"
    assert lines[0].startswith(
        f"cors refused: tenant={tenant} origin={origin} preflight {method} {path} reason={reason} ("
    )


def test_debug_header_is_off_by_default_and_never_on_allowed() -> None:
    client = Client(websvc.create_app(_config()))
    refused = client.options(
        "/ws/x", headers={"Origin": "https://x.example", "Access-Control-Request-Method": "GET"}
    )
    assert "X-Websvc-Cors-Reason" not in refused.headers
    on = Client(websvc.create_app(_config(debug_header=True)))
    allowed = on.options(
        "/ws/x", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    )
    assert allowed.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "X-Websvc-Cors-Reason" not in allowed.headers


def test_refusal_log_line_escapes_and_truncates(caplog: pytest.LogCaptureFixture) -> None:
    app = websvc.create_app(_config())
    environ = EnvironBuilder("/ws/x", method="GET").get_environ()
    environ["HTTP_ORIGIN"] = "https://evil.example\r\nINFO forged" + "A" * 500
    environ["PATH_INFO"] = "/ws/\x1b[31mred"
    caplog.set_level(logging.INFO, logger="websvc")
    b"".join(app(environ, lambda s, h, e=None: lambda d: None))
    (line,) = [r.getMessage() for r in caplog.records if "cors refused" in r.getMessage()]
    assert "\r" not in line and "\n" not in line and "\x1b" not in line
    assert "https://evil.example\\x0d\\x0aINFO forged" in line and "...(+" in line
    assert "/ws/\\x1b[31mred" in line


def test_json_log_format(caplog: pytest.LogCaptureFixture) -> None:
    client = Client(websvc.create_app(_config(log_format="json")))
    caplog.set_level(logging.INFO, logger="websvc")
    client.get("/ws/x", headers={"Origin": "https://other.example", "Authorization": "Basic dTp0"})
    (line,) = [r.getMessage() for r in caplog.records if "cors_refused" in r.getMessage()]
    assert json.loads(line) == {
        "event": "cors_refused", "tenant": "acme", "origin": "https://other.example", "kind": "normal",
        "method": "GET", "path": "/ws/x", "reason": "origin_not_listed",
        "detail": "no rule matches the domain other.example",
    }  # fmt: skip


def test_allowed_requests_are_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    client = Client(websvc.create_app(_config()))
    caplog.set_level(logging.INFO, logger="websvc")
    client.options(
        "/ws/x", headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    )
    assert not [r for r in caplog.records if "cors" in r.getMessage()]


def _metrics_config() -> dict[str, Any]:
    digest = hashlib.sha256(METRICS_TOKEN.encode()).hexdigest()
    return _config(metrics_path="/-/metrics", metrics_token_sha256=digest, authentication="basic")


def _scrape(client: Client, token: str | None = METRICS_TOKEN) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get("/-/metrics", headers=headers)


def _value(text: str, name: str, **labels: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + "{"):
            found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0]))
            if found == labels:
                return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_by_tenant_and_outcome() -> None:
    client = Client(websvc.create_app(_metrics_config()))
    pre = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "GET",
        "Host": "acme.test",
    }
    for _ in range(3):
        client.options("/ws/x", headers=pre)
    client.options("/ws/x", headers={**pre, "Access-Control-Request-Method": "PATCH"})
    client.options("/ws/x", headers={**pre, "Access-Control-Request-Headers": "x-nope"})
    client.get("/ws/x", headers={"Origin": "https://app.example", "Host": "acme.test"})  # 401
    client.get("/ws/x", headers={"Authorization": "Basic dTp0"})
    text = _scrape(client).get_data(as_text=True)
    assert (
        _value(
            text,
            "websvc_requests_total",
            tenant="acme",
            kind="preflight",
            outcome="allowed",
            reason="",
        )
        == 3
    )
    assert (
        _value(
            text,
            "websvc_requests_total",
            tenant="acme",
            kind="preflight",
            outcome="refused",
            reason="method",
        )
        == 1
    )
    assert (
        _value(
            text,
            "websvc_requests_total",
            tenant="acme",
            kind="preflight",
            outcome="refused",
            reason="header",
        )
        == 1
    )
    assert (
        _value(
            text,
            "websvc_requests_total",
            tenant="acme",
            kind="normal",
            outcome="allowed",
            reason="",
        )
        == 1
    )
    assert (
        _value(
            text, "websvc_requests_total", tenant="acme", kind="plain", outcome="none", reason=""
        )
        == 1
    )
    assert _value(text, "websvc_auth_failures_total", tenant="acme", reason="no credentials") == 1
    assert _value(text, "websvc_request_duration_seconds_count", kind="preflight") == 5
    assert "x-nope" not in text, "header names never become label values"


def test_metrics_need_their_own_token() -> None:
    client = Client(websvc.create_app(_metrics_config()))
    for token in (None, "wrong", "t"):
        response = _scrape(client, token)
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == 'Bearer realm="websvc metrics"'
        assert b"websvc_requests" not in response.get_data()
    assert _scrape(client).status_code == 200


def test_metrics_survive_a_reload() -> None:
    app = websvc.create_app(_metrics_config())
    client = Client(app)
    client.get("/ws/x", headers={"Authorization": "Basic dTp0"})
    assert app.reload(_metrics_config())
    text = _scrape(client).get_data(as_text=True)
    assert (
        _value(
            text, "websvc_requests_total", tenant="acme", kind="plain", outcome="none", reason=""
        )
        == 1
    )


def test_metrics_path_is_not_served_when_metrics_are_off() -> None:
    client = Client(websvc.create_app(_config()))
    assert client.get("/-/metrics").status_code == 404


class _CrlfReason:
    @websvc.hookimpl
    def websvc_lookup_rule(self) -> websvc.Decision:
        return websvc.Decision.refuse("evil\r\nSet-Cookie: a=b", "detail\r\nforged")


def test_a_plugin_reason_never_breaks_a_header_or_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = websvc.WebsvcApp(_config(debug_header=True), plugins=[_CrlfReason()], autoload=False)
    caplog.set_level(logging.INFO, logger="websvc")
    headers: list[tuple[str, str]] = []
    environ = EnvironBuilder(
        "/ws/x",
        method="OPTIONS",
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET"},
    ).get_environ()
    b"".join(app(environ, lambda s, h, e=None: headers.extend(h)))
    reason = dict(headers)["X-Websvc-Cors-Reason"]
    assert reason == "evil\\x0d\\x0aSet-Cookie: a=b"
    assert "Set-Cookie" not in dict(headers)
    (line,) = [r.getMessage() for r in caplog.records if "cors refused" in r.getMessage()]
    assert "\r" not in line and "\n" not in line


def _auth_refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "auth" in r.getMessage()]


@pytest.mark.parametrize(
    ("headers", "line"),
    [
        pytest.param(
            {"Authorization": "Basic " + base64.b64encode(b"u:wrong").decode()},
            "auth refused: tenant=acme user=u plugin=websvc.plugins.auth_basic GET /ws/x"
            " reason=wrong token",
            id="wrong-token",
        ),
        pytest.param(
            {"Authorization": "Basic " + base64.b64encode(b"nobody:x").decode()},
            "auth refused: tenant=acme user=nobody plugin=websvc.plugins.auth_basic GET /ws/x"
            " reason=unknown user",
            id="unknown-user",
        ),
        pytest.param(
            {},
            "auth refused: tenant=acme user=- plugin=websvc.plugins.auth_basic GET /ws/x"
            " reason=no credentials",
            id="no-credentials",
        ),
        pytest.param(
            {"X-API-Key": "nope"},
            "auth refused: tenant=acme user=- plugin=examples.apikey_auth:plugin GET /ws/x"
            " reason=unknown API key",
            id="tenant-plugin",
        ),
    ],
)
def test_refused_authentication_is_logged_with_plugin_and_reason(
    caplog: pytest.LogCaptureFixture, headers: dict[str, str], line: str
) -> None:
    config = _config(authentication="basic")
    config["tenants"]["acme"]["plugins"] = ["examples.apikey_auth:plugin"]
    client = Client(websvc.create_app(config))
    caplog.set_level(logging.INFO, logger="websvc")
    reply = client.get("/ws/x", headers={"Host": "acme.test", **headers})
    assert reply.status_code == 401
    assert _auth_refusals(caplog) == [line]


def test_auth_refusal_line_escapes_the_user_name_and_never_logs_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = Client(websvc.create_app(_config(authentication="basic", log_format="json")))
    caplog.set_level(logging.INFO, logger="websvc")
    credential = base64.b64encode("u\r\nINFO forged\u00e9:s3cret-token".encode()).decode()
    client.get("/ws/x", headers={"Host": "acme.test", "Authorization": f"Basic {credential}"})
    (line,) = _auth_refusals(caplog)
    assert json.loads(line) == {
        "event": "auth_refused", "tenant": "acme", "user": "u\\x0d\\x0aINFO forged\\xe9",
        "plugin": "websvc.plugins.auth_basic", "method": "GET", "path": "/ws/x",
        "reason": "unknown user",
    }  # fmt: skip
    assert "s3cret" not in line and "\r" not in line


def test_allowed_authentication_is_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    client = Client(websvc.create_app(_config(authentication="basic")))
    caplog.set_level(logging.INFO, logger="websvc")
    credential = base64.b64encode(b"u:t").decode()
    reply = client.get(
        "/ws/x", headers={"Host": "acme.test", "Authorization": f"Basic {credential}"}
    )
    assert reply.status_code == 200
    assert _auth_refusals(caplog) == []


def _clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """A clock the test moves: the events module's and the app's (which checks repeats inline)."""
    import websvc.app
    import websvc.events

    now = [1000.0]
    monkeypatch.setattr(websvc.events, "monotonic", lambda: now[0])
    monkeypatch.setattr(websvc.app, "monotonic", lambda: now[0])
    return now


def test_a_repeated_refusal_is_logged_once_a_minute_with_its_count(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = _clock(monkeypatch)
    client = Client(websvc.create_app(_config()))
    caplog.set_level(logging.INFO, logger="websvc")
    refused = {"Origin": "https://other.example", "Access-Control-Request-Method": "GET"}
    for _ in range(5):
        client.options("/ws/x", headers=refused)
    client.options("/ws/y", headers=refused)  # another path: another refusal
    now[0] += 61
    client.options("/ws/x", headers=refused)
    client.options("/ws/x", headers=refused)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("cors refused")]
    assert [line.split(" reason=")[0].rsplit(" ", 1)[1] for line in lines] == [
        "/ws/x",
        "/ws/y",
        "/ws/x",
    ]
    assert not lines[0].endswith("]") and not lines[1].endswith("]")
    assert lines[2].endswith(" [repeated 4 times in the last 60 s]")


def test_a_repeated_auth_refusal_is_counted_in_json(
    caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = _clock(monkeypatch)
    client = Client(websvc.create_app(_config(authentication="basic", log_format="json")))
    caplog.set_level(logging.INFO, logger="websvc")
    bad = {"Host": "acme.test", "Authorization": "Basic " + base64.b64encode(b"u:wrong").decode()}
    for _ in range(3):
        assert client.get("/ws/x", headers=bad).status_code == 401
    now[0] += 60
    client.get("/ws/x", headers=bad)
    lines = [json.loads(line) for line in _auth_refusals(caplog)]
    assert [line.get("repeated") for line in lines] == [None, 2]
