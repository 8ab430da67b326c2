"""websvc under real gunicorn over real HTTP on 127.0.0.1."""

from __future__ import annotations

import hashlib
from base64 import b64encode
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from examples.apikey_auth import EXAMPLE_KEY

ECHO_ORIGIN = "https://app.alpha.example"


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _basic(user: str, token: str) -> str:
    return "Basic " + b64encode(f"{user}:{token}".encode()).decode()


def _boomi(user: str, token: str) -> str:
    return b64encode(f"{user}:{token}".encode()).decode()


CONFIG = f"""
[server]
authentication = "basic"

[[apis]]
path = "/ws/rest/echo"
app = "websvc.demo:echo"

[tenants.alpha]
hosts = ["alpha.test"]
plugins = ["examples.apikey_auth:plugin"]

[[tenants.alpha.users]]
name = "alice"
token_sha256 = "{_sha("alice-token")}"

[[tenants.alpha.cors]]
domain = "app.alpha.example"
methods = ["GET", "PUT"]
request_headers = ["X-Custom-Header", "X-API-Key"]
expose_headers = ["X-Echo-Method"]
allow_credentials = true
allow_caching = true
max_age = 120

[tenants.beta]
hosts = ["beta.test"]

[[tenants.beta.users]]
name = "bob"
token_sha256 = "{_sha("bob-token")}"

[[tenants.beta.cors]]
domain = "app.beta.example"
"""

PREFLIGHT_PUT = {
    "Origin": ECHO_ORIGIN,
    "Access-Control-Request-Method": "PUT",
    "Access-Control-Request-Headers": "x-custom-header",
}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "websvc.toml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def server(gunicorn: Callable[..., Any], config: Path) -> Any:
    return gunicorn(config=config, workers=2)


def test_preflight_answered_without_credentials(server: Any) -> None:
    reply = server.request(
        "OPTIONS", f"/ws/rest/echo?boomi_auth={_boomi('alice', 'x')}", PREFLIGHT_PUT
    )
    assert reply.status == 200
    assert reply.get("Access-Control-Allow-Origin") == ECHO_ORIGIN
    assert reply.get("Access-Control-Allow-Methods") == "GET, PUT"
    assert reply.get("Access-Control-Allow-Headers") == "x-custom-header"
    assert reply.get("Access-Control-Allow-Credentials") == "true"
    assert reply.get("Access-Control-Max-Age") == "120"
    assert reply.body == b""


def test_normal_request_authenticated_reaches_the_api(server: Any) -> None:
    reply = server.request(
        "GET",
        "/ws/rest/echo/item?x=1",
        {"Origin": ECHO_ORIGIN, "Authorization": _basic("alice", "alice-token")},
    )
    assert reply.status == 200, reply.body
    assert reply.get("Access-Control-Allow-Origin") == ECHO_ORIGIN
    assert reply.get("Access-Control-Expose-Headers") == "X-Echo-Method"
    assert reply.get("Vary") == "Origin"
    body = reply.body.decode()
    assert '"tenant": "alpha"' in body and '"user": "alice"' in body
    assert '"path": "/item"' in body and '"script_name": "/ws/rest/echo"' in body


def test_bad_token_gets_401_with_cors_headers(server: Any) -> None:
    reply = server.request(
        "GET", "/ws/rest/echo", {"Origin": ECHO_ORIGIN, "Authorization": _basic("alice", "wrong")}
    )
    assert reply.status == 401
    assert reply.get("WWW-Authenticate") == 'Basic realm="websvc"'
    assert reply.get("Access-Control-Allow-Origin") == ECHO_ORIGIN
    assert b"alice" not in reply.body and b"wrong" not in reply.body


def test_tenant_isolation_preflight_identifying_other_tenant(server: Any) -> None:
    # The origin is allowed for alpha; a preflight identifying beta gets nothing.
    reply = server.request(
        "OPTIONS", f"/ws/rest/echo?boomi_auth={_boomi('bob', 'x')}", PREFLIGHT_PUT
    )
    assert reply.status == 200
    assert not [h for h in reply.headers if h.lower().startswith("access-control-")]
    by_host = server.request("OPTIONS", "/ws/rest/echo", {**PREFLIGHT_PUT, "Host": "beta.test"})
    assert "Access-Control-Allow-Origin" not in by_host.headers


def test_api_key_plugin_only_for_its_tenant(server: Any) -> None:
    alpha = server.request("GET", "/ws/rest/echo", {"Host": "alpha.test", "X-API-Key": EXAMPLE_KEY})
    assert alpha.status == 200, alpha.body
    assert b'"user": "apikey-user"' in alpha.body
    wrong = server.request("GET", "/ws/rest/echo", {"Host": "alpha.test", "X-API-Key": "nope"})
    assert wrong.status == 401
    beta = server.request("GET", "/ws/rest/echo", {"Host": "beta.test", "X-API-Key": EXAMPLE_KEY})
    assert beta.status == 401, "beta has no API-key plugin: Basic is still required"
    assert beta.get("WWW-Authenticate") == 'Basic realm="websvc"'
    basic = server.request(
        "GET", "/ws/rest/echo", {"Host": "beta.test", "Authorization": _basic("bob", "bob-token")}
    )
    assert basic.status == 200


def test_reload_good_config_then_bad_config_keeps_last_good(server: Any, config: Path) -> None:
    config.write_text(
        CONFIG.replace('methods = ["GET", "PUT"]', 'methods = ["GET", "PUT", "DELETE"]')
    )
    server.hup()
    server.wait_for_log("websvc: config reloaded")
    server.wait_for_log("Booting worker", count=4)
    _wait_until(
        lambda: (
            server.request("OPTIONS", "/ws/rest/echo", {**PREFLIGHT_PUT, "Host": "alpha.test"}).get(
                "Access-Control-Allow-Methods"
            )
            == "GET, PUT, DELETE"
        )
    )

    config.write_text(CONFIG.replace("max_age = 120", "max_age = 999999"))
    server.hup()
    server.wait_for_log("config reload refused")
    assert "tenants.alpha.cors[0].max_age: 999999 is not a number of seconds" in server.log
    server.wait_for_log("Booting worker", count=6)
    for _ in range(10):
        reply = server.request("OPTIONS", "/ws/rest/echo", {**PREFLIGHT_PUT, "Host": "alpha.test"})
        assert reply.status == 200
        assert reply.get("Access-Control-Allow-Methods") == "GET, PUT, DELETE"
        assert reply.get("Access-Control-Max-Age") == "120"
    assert server.proc.poll() is None


def test_factory_form(gunicorn: Callable[..., Any], config: Path) -> None:
    server = gunicorn(app=f'websvc:create_app("{config}")')
    reply = server.request("OPTIONS", "/ws/rest/echo", {**PREFLIGHT_PUT, "Host": "alpha.test"})
    assert reply.get("Access-Control-Allow-Origin") == ECHO_ORIGIN


def test_demo_config_without_websvc_config(gunicorn: Callable[..., Any]) -> None:
    server = gunicorn()
    reply = server.request(
        "OPTIONS",
        "/ws/rest/echo",
        {"Origin": "http://localhost:5173", "Access-Control-Request-Method": "PUT"},
    )
    assert reply.get("Access-Control-Allow-Origin") == "http://localhost:5173"
    assert reply.get("Access-Control-Allow-Methods") == "GET, POST, PUT, DELETE"


def test_wrap_legacy_app(gunicorn: Callable[..., Any], tmp_path: Path) -> None:
    config = tmp_path / "legacy.toml"
    config.write_text(
        '[[tenants.legacy.cors]]\ndomain = "app.legacy.example"\nmethods = ["GET", "POST"]\n'
    )
    server = gunicorn(app="tests.gunicorn.legacy_app:app", env={"LEGACY_CONFIG": str(config)})
    origin = "https://app.legacy.example"
    for path in ("/", "/anything/deep?q=1"):
        reply = server.request("GET", path, {"Origin": origin})
        assert reply.status == 200
        assert reply.body.startswith(b"legacy:")
        assert reply.all("Access-Control-Allow-Origin") == [origin], (
            "the legacy app's own * is replaced"
        )
        assert reply.get("Vary") == "Accept-Encoding, Origin"
    refused = server.request("GET", "/", {"Origin": "https://evil.example"})
    assert refused.status == 200 and "Access-Control-Allow-Origin" not in refused.headers
    preflight = server.request(
        "OPTIONS", "/x", {"Origin": origin, "Access-Control-Request-Method": "POST"}
    )
    assert preflight.get("Access-Control-Allow-Methods") == "GET, POST"
    assert preflight.body == b"", "a preflight never reaches the legacy app"


def _wait_until(check: Callable[[], bool], timeout: float = 15) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.1)
