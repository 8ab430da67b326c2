"""Known CORS attack vectors, one named test per class, over the whole pipeline.

See docs/security.md for the threat model these tests pin down.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import tracemalloc
from base64 import b64encode
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.test import Client, EnvironBuilder

import websvc
from websvc import AuthResult, hookimpl

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

TOKEN = "s3cret-token"
VARY_PREFLIGHT = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


def _config(**server: Any) -> dict[str, Any]:
    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    return {
        "server": {"authentication": "basic", **server},
        "apis": [{"path": "/ws/rest", "app": "websvc.demo:echo"}],
        "tenants": {
            "acme": {
                "hosts": ["acme.test"],
                "users": [{"name": "acme-user", "token_sha256": digest}],
                "cors": [
                    {"domain": "mydomain.com", "methods": ["GET", "PUT"], "allow_credentials": True,
                     "request_headers": ["X-Custom-Header"]},
                    {"domain": "*.mydomain.com", "methods": ["GET"]},
                    {"domain": "www.mydomain.com", "methods": ["GET"]},
                    {"domain": "anyhdr.example", "request_headers": ["*"], "methods": ["GET"]},
                    {"domain": "private.example", "paths": ["/ws/rest/private/*"], "allow_credentials": True},
                    {"domain": "private.example", "methods": ["GET"]},
                ],
            },
            "other": {
                "hosts": ["other.test"],
                "users": [{"name": "other-user", "token_sha256": digest}],
                "cors": [{"domain": "other.example", "allow_credentials": True}],
            },
        },
    }  # fmt: skip


CLIENT = Client(websvc.create_app(_config()))


def _preflight(origin: str, method: str = "GET", headers: str | None = None, **extra: str) -> Any:
    h = {"Origin": origin, "Access-Control-Request-Method": method, "Host": "acme.test", **extra}
    if headers is not None:
        h["Access-Control-Request-Headers"] = headers
    return CLIENT.options("/ws/rest/x", headers=h)


def _cors(response: Any) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.lower().startswith("access-control-")}


def _basic(user: str, token: str = TOKEN) -> str:
    return "Basic " + b64encode(f"{user}:{token}".encode()).decode()


# -- matching holes ---------------------------------------------------------


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param("https://www.mydomain.com.evil.net", id="unanchored-match"),
        pytest.param("https://wwwxmydomain.com", id="unescaped-dot"),
        pytest.param("https://evilmydomain.com", id="suffix"),
        pytest.param("https://mydomain.com.evil.net", id="prefix"),
        pytest.param("https://mydomain.comevil.net", id="prefix-glued"),
        pytest.param("https://xn--mydomain-.com", id="punycode-lookalike"),
    ],
)
def test_lookalike_origins_are_refused(origin: str) -> None:
    response = _preflight(origin)
    assert _cors(response) == {}
    assert response.headers["Vary"] == VARY_PREFLIGHT


def test_null_origin_never_matches_a_domain_rule() -> None:
    assert _cors(_preflight("null")) == {}
    assert _cors(CLIENT.get("/ws/rest/x", headers={"Origin": "null", "Host": "acme.test"})) == {}


def test_scheme_downgrade_is_refused() -> None:
    assert (
        _cors(_preflight("https://mydomain.com"))["Access-Control-Allow-Origin"]
        == "https://mydomain.com"
    )
    assert _cors(_preflight("http://mydomain.com")) == {}


def test_other_port_is_refused() -> None:
    assert _cors(_preflight("https://mydomain.com:8443")) == {}


@pytest.mark.parametrize(
    "origin",
    [
        "https://MyDomain.com", "HTTPS://mydomain.com", "https://mydomain.com:443",
        "https://mydomain.com/", "https://mydomain.com/path", "https://user@mydomain.com",
        "https://mydomain.com.", " https://mydomain.com", "https://mydomain.com ",
        "https://mydomain.com\t", "https://mydomain.com, https://evil.net", "", "https://",
        "https://mydomain.com:", "https://mydomain.com:0443", "//mydomain.com", "mydomain.com",
    ],
)  # fmt: skip
def test_non_canonical_origins_match_nothing(origin: str) -> None:
    assert _cors(_preflight(origin)) == {}


# -- response shape ---------------------------------------------------------


def _sets_its_own_cors(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    start_response(
        "200 OK",
        [
            ("Access-Control-Allow-Origin", "*"),
            ("access-control-allow-credentials", "true"),
            ("Access-Control-Expose-Headers", "Set-Cookie"),
            ("Vary", "Accept"),
        ],
    )
    return [b"ok"]


def test_exactly_one_acao_even_when_the_api_sets_its_own() -> None:
    client = Client(
        websvc.wrap(_sets_its_own_cors, {"tenants": {"t": {"cors": [{"domain": "a.example"}]}}})
    )
    allowed = client.get("/", headers={"Origin": "https://a.example"})
    assert allowed.headers.getlist("Access-Control-Allow-Origin") == ["https://a.example"]
    assert "Access-Control-Allow-Credentials" not in allowed.headers
    assert "Access-Control-Expose-Headers" not in allowed.headers
    for headers in ({"Origin": "https://evil.example"}, {}):
        assert _cors(client.get("/", headers=headers)) == {}
    assert allowed.headers["Vary"] == "Accept, Origin"


def _raises(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    raise RuntimeError("boom")


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "vary"),
    [
        ("OPTIONS", "/ws/rest/x", {"Origin": "https://mydomain.com", "Access-Control-Request-Method": "GET"}, 200, VARY_PREFLIGHT),
        ("OPTIONS", "/ws/rest/x", {"Origin": "https://evil.net", "Access-Control-Request-Method": "GET"}, 200, VARY_PREFLIGHT),
        ("GET", "/ws/rest/x", {"Origin": "https://mydomain.com"}, 401, "Origin"),
        ("GET", "/ws/rest/x", {"Origin": "https://mydomain.com", "Authorization": _basic("acme-user")}, 200, "Origin"),
        ("GET", "/ws/rest/x", {"Origin": "https://evil.net", "Authorization": _basic("acme-user")}, 200, "Origin"),
        ("GET", "/nowhere", {"Origin": "https://mydomain.com", "Authorization": _basic("acme-user")}, 404, "Origin"),
        ("GET", "/ws/rest/x", {"Authorization": _basic("acme-user")}, 200, "Origin"),
        ("GET", "/ws/rest/x", {}, 401, "Origin"),
    ],
)  # fmt: skip
def test_vary_on_every_response(
    method: str, path: str, headers: dict[str, str], status: int, vary: str
) -> None:
    response = CLIENT.open(path, method=method, headers={"Host": "acme.test", **headers})
    assert response.status_code == status
    assert response.headers.getlist("Vary") == [vary]


def test_vary_on_403_and_500() -> None:
    rejecting = Client(websvc.create_app(_config(reject_disallowed=True)))
    refused = rejecting.get(
        "/ws/rest/x", headers={"Origin": "https://evil.net", "Host": "acme.test"}
    )
    assert (refused.status_code, refused.headers["Vary"]) == (403, "Origin")
    broken = Client(websvc.wrap(_raises, {"tenants": {"t": {"cors": [{"domain": "a.example"}]}}}))
    error = broken.get("/", headers={"Origin": "https://a.example"})
    assert (error.status_code, error.headers["Vary"]) == (500, "Origin")
    assert error.headers["Access-Control-Allow-Origin"] == "https://a.example"


# -- Access-Control-Request-Headers/-Method abuse ------------------------------


def test_acrh_one_mebibyte_of_commas_is_bounded() -> None:
    value = "," * (1024 * 1024)
    tracemalloc.start()
    started = time.perf_counter()
    response = _preflight("https://mydomain.com", headers=value)
    elapsed = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert response.status_code == 200 and _cors(response) == {}, "over the length cap: refused"
    # The refusal reads the length only. (Most of the peak is the test client's
    # own copy of the 1 MiB header into the environ.)
    assert elapsed < 0.5, elapsed
    assert peak < 8 * 1024 * 1024, peak


def test_acrh_length_cap_and_linear_work_below_it() -> None:
    from websvc.syntax import MAX_REQUEST_HEADER_ITEMS, MAX_REQUEST_HEADERS_LENGTH

    just_fits = ",".join(["x-custom-header"] * MAX_REQUEST_HEADER_ITEMS)
    assert len(just_fits) <= MAX_REQUEST_HEADERS_LENGTH
    assert _cors(_preflight("https://mydomain.com", headers=just_fits))
    assert _cors(_preflight("https://mydomain.com", headers=just_fits + ",x-custom-header")) == {}
    assert _cors(_preflight("https://mydomain.com", headers="," * MAX_REQUEST_HEADER_ITEMS)) == {}
    started = time.perf_counter()
    for _ in range(20):
        _preflight("https://mydomain.com", headers=just_fits)
    assert (time.perf_counter() - started) / 20 < 0.01
    assert _cors(_preflight("https://mydomain.com", headers="x-custom-header" + "," * 9000)) == {}
    many = ",".join(["x-custom-header"] * 200)
    assert len(many) < MAX_REQUEST_HEADERS_LENGTH
    response = _preflight("https://mydomain.com", headers=many)
    assert response.headers["Access-Control-Allow-Headers"] == "x-custom-header", "deduplicated"


@pytest.mark.parametrize(
    "method", ["GET, DELETE", "GET,DELETE", "PUT DELETE", "GET\x00", " GET", ""]
)
def test_acrm_smuggling_matches_nothing(method: str) -> None:
    assert _cors(_preflight("https://mydomain.com", method=method)) == {}


def test_method_case() -> None:
    assert _cors(_preflight("https://mydomain.com", method="put"))["Access-Control-Allow-Origin"]
    assert _cors(_preflight("https://mydomain.com", method="DELETE")) == {}


def test_private_network_access_is_off_by_default() -> None:
    response = _preflight(
        "https://mydomain.com", **{"Access-Control-Request-Private-Network": "true"}
    )
    assert response.status_code == 200
    assert "Access-Control-Allow-Private-Network" not in response.headers
    assert response.headers["Access-Control-Allow-Origin"] == "https://mydomain.com"


def test_star_request_headers_never_cover_authorization() -> None:
    assert _cors(_preflight("https://anyhdr.example", headers="x-anything,x-other"))
    assert _cors(_preflight("https://anyhdr.example", headers="x-anything,authorization")) == {}
    response = _preflight("https://anyhdr.example", headers="x-anything")
    assert response.headers["Access-Control-Allow-Headers"] == "x-anything", "never a literal *"


# -- paths ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "credentials"),
    [
        pytest.param("/ws/rest/private/data", True, id="inside"),
        pytest.param("/ws/rest/public/../private/data", False, id="dot-dot-not-normalised"),
        pytest.param("/ws/rest/%2e%2e/ws/rest/private/x", False, id="percent-dot"),
        pytest.param("/ws/rest/PRIVATE/data", False, id="case-sensitive"),
        pytest.param("/ws/rest/private+x", False, id="plus-is-not-slash"),
        pytest.param("/ws/rest/private", False, id="prefix-needs-the-slash"),
    ],
)
def test_path_rules_follow_the_router_string(path: str, credentials: bool) -> None:
    response = CLIENT.get(
        path,
        headers={
            "Origin": "https://private.example",
            "Host": "acme.test",
            "Authorization": _basic("acme-user"),
        },
    )
    assert response.status_code == 200
    assert ("Access-Control-Allow-Credentials" in response.headers) is credentials
    # The rule saw the same string the API was routed with.
    routed = response.get_json()["script_name"] + response.get_json()["path"]
    assert routed == path.replace("%2e", ".")


# -- authentication ---------------------------------------------------------


class CountingAuth:
    calls = 0

    @hookimpl
    def websvc_authenticate(self) -> AuthResult | None:
        CountingAuth.calls += 1
        return None


def test_preflight_is_never_authenticated() -> None:
    app = websvc.WebsvcApp(_config(), plugins=[CountingAuth()], autoload=False)
    before = CountingAuth.calls
    response = Client(app).options(
        "/ws/rest/x", headers={"Origin": "https://mydomain.com", "Access-Control-Request-Method": "PUT",
                               "Host": "acme.test", "Authorization": "Basic !!!"}
    )  # fmt: skip
    assert response.status_code == 200 and response.headers["Access-Control-Allow-Origin"]
    assert CountingAuth.calls == before
    Client(app).get("/ws/rest/x", headers={"Host": "acme.test"})
    assert CountingAuth.calls == before + 1


def _deletes_origin(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    del environ["HTTP_ORIGIN"]
    environ["HTTP_ORIGIN"] = "https://evil.net"
    start_response("200 OK", [])
    return [b""]


def test_api_changing_the_origin_mid_request_changes_nothing() -> None:
    client = Client(
        websvc.wrap(_deletes_origin, {"tenants": {"t": {"cors": [{"domain": "a.example"}]}}})
    )
    response = client.get("/", headers={"Origin": "https://a.example"})
    assert response.headers.getlist("Access-Control-Allow-Origin") == ["https://a.example"]


def test_header_values_are_never_shared_between_responses() -> None:
    app = websvc.create_app(_config())
    environ = {
        "REQUEST_METHOD": "OPTIONS", "PATH_INFO": "/ws/rest/x", "HTTP_HOST": "acme.test",
        "HTTP_ORIGIN": "https://mydomain.com", "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "PUT",
        "wsgi.url_scheme": "https",
    }  # fmt: skip
    seen: list[list[tuple[str, str]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: object = None) -> Any:
        seen.append(headers)
        return lambda data: None

    app(dict(environ), start_response)
    first = list(seen[0])
    seen[0].append(
        ("Access-Control-Allow-Origin", "https://evil.net")
    )  # a server mutating its list
    seen[0][0] = ("X-Mutated", "1")
    app(dict(environ), start_response)
    assert seen[1] == first
    assert seen[0] is not seen[1]


@pytest.mark.parametrize(
    ("headers", "query", "tenant_cors"),
    [
        pytest.param({"Authorization": _basic("other-user")}, "", "https://other.example", id="basic-user"),
        pytest.param({}, "boomi_auth=" + b64encode(b"other-user:x").decode(), "https://other.example", id="boomi-auth"),
        pytest.param({"Host": "other.test"}, "", "https://other.example", id="host"),
    ],
)  # fmt: skip
def test_tenant_isolation(headers: dict[str, str], query: str, tenant_cors: str) -> None:
    base = {"Host": "acme.test", **headers, "Access-Control-Request-Method": "GET"}
    # acme's origin, request identified as `other`: nothing.
    response = CLIENT.options(
        f"/ws/rest/x?{query}", headers={**base, "Origin": "https://mydomain.com"}
    )
    assert _cors(response) == {}
    response = CLIENT.options(f"/ws/rest/x?{query}", headers={**base, "Origin": tenant_cors})
    assert response.headers["Access-Control-Allow-Origin"] == tenant_cors


@pytest.mark.parametrize(
    "credential",
    [
        "!!!", "YWJj", "////", "=", b64encode(b"\xff\xfe:token").decode(), b64encode(b"no-colon").decode(),
        b64encode(b":token-only").decode(), "A" * 100_000, "acme-user:" + TOKEN, "\u00e9t\u00e9",
    ],
)  # fmt: skip
def test_malformed_credentials_never_error(credential: str) -> None:
    for headers, query in (
        ({"Authorization": "Basic " + credential}, ""),
        ({"Authorization": credential}, ""),
        ({}, "boomi_auth=" + credential),
    ):
        response = CLIENT.get(
            f"/ws/rest/x?{query}", headers={"Origin": "https://mydomain.com", **headers}
        )
        assert response.status_code == 401, (credential, headers, query)
        assert _cors(response) == {}, "identified no tenant (no Host): no tenant's headers"


def test_token_compare_is_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []
    real = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        calls.append((len(a), len(b)))
        return real(a, b)

    monkeypatch.setattr("websvc.credentials.hmac.compare_digest", recording)
    for token in ("x", TOKEN, TOKEN[:-1], "y" * 1000):
        CLIENT.get("/ws/rest/x", headers={"Authorization": _basic("acme-user", token)})
    assert calls == [(32, 32)] * 4, "fixed-length digests, compared with hmac.compare_digest"


def test_secrets_and_control_characters_never_reach_a_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    app = websvc.wrap(_raises, {"tenants": {"t": {"users": [{"name": "u", "token": TOKEN}]}}})
    environ = EnvironBuilder("/", headers={"Authorization": _basic("u")}).get_environ()
    # What a lenient server could pass on: raw CR/LF in the path and the Origin.
    environ["PATH_INFO"] = "/evil\r\nINFO forged line"
    environ["HTTP_ORIGIN"] = "https://a.example\r\nx"
    body = b"".join(app(environ, lambda status, headers, exc_info=None: lambda data: None))
    assert body.startswith(b"500")
    text = "\n".join(record.getMessage() for record in caplog.records)
    assert caplog.records, "the API error is logged"
    for record in caplog.records:
        message = record.getMessage()
        assert "\r" not in message and "\n" not in message, message
    assert TOKEN not in text
    assert "INFO forged line" in text, "escaped, still readable"


@pytest.mark.parametrize(
    "domain", ["*.github.io", "*.co.uk", "*.com", "*.xn--fiqs8s", "https://*.herokuapp.com"]
)
def test_public_suffix_wildcard_with_credentials_is_refused(domain: str) -> None:
    config = {"tenants": {"t": {"cors": [{"domain": domain, "allow_credentials": True}]}}}
    with pytest.raises(websvc.ConfigError) as info:
        websvc.create_app(config)
    assert info.value.problems == [
        f"<dict>: tenants.t.cors[0].domain: {json.dumps(domain)} covers every site under a public "
        "suffix: refused with allow_credentials (anyone can register a name there)"
    ]


@pytest.mark.parametrize("domain", ["*.mydomain.co.uk", "*.me.github.io", "*.localhost"])
def test_wildcard_below_a_public_suffix_is_fine(domain: str) -> None:
    config = {"tenants": {"t": {"cors": [{"domain": domain, "allow_credentials": True}]}}}
    assert websvc.load_config(config).warnings == ()


def test_public_suffix_wildcard_without_credentials_warns() -> None:
    config = {"tenants": {"t": {"cors": [{"domain": "*.github.io"}]}}}
    assert websvc.load_config(config).warnings == (
        '<dict>: tenants.t.cors[0].domain: "*.github.io" covers every site under a public suffix',
    )


@pytest.mark.parametrize(
    ("query", "status"),
    [
        pytest.param("&".join(f"f{i}=1" for i in range(500)) + "&boomi_auth={cred}", 200, id="500-fields-before"),
        pytest.param("boomi_auth={cred}&" + "&".join(f"f{i}=1" for i in range(500)), 200, id="500-fields-after"),
        pytest.param("boomi_auth=%ZZ!!&boomi_auth={cred}", 401, id="first-boomi-auth-counts"),
        pytest.param("x=" + "&" * 5000 + "boomi_auth={cred}", 200, id="empty-fields"),
    ],
)  # fmt: skip
def test_many_query_fields_never_error(query: str, status: int) -> None:
    cred = b64encode(f"acme-user:{TOKEN}".encode()).decode()
    response = CLIENT.get(
        f"/ws/rest/x?{query.format(cred=cred)}", headers={"Origin": "https://mydomain.com"}
    )
    assert response.status_code == status


NASTY_HOSTS = [
    "a.com:\xb2", "a.com:\xb9\xb2", "[::1", "[::1]:\xb3", ":", ":80", "a.com:", "a.com::443", "\xff\xfe",
    "a.com:99999999999999999999", "A.COM:443", " a.com", "a.com\t", "[", "]", "[]:1", "x" * 5000,
]  # fmt: skip


@pytest.mark.parametrize("host", NASTY_HOSTS)
@pytest.mark.parametrize("reject", [False, True])
def test_nasty_host_headers_never_error(host: str, reject: bool) -> None:
    app = websvc.create_app(_config(reject_disallowed=reject))
    for origin in ("https://evil.example", "https://mydomain.com", "http://a.com", "null"):
        for method, extra in (
            ("GET", {}),
            ("OPTIONS", {"HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET"}),
        ):
            environ = EnvironBuilder("/ws/rest/x", method=method).get_environ()
            environ.update(extra, HTTP_HOST=host, HTTP_ORIGIN=origin)
            statuses: list[str] = []
            body = app(environ, lambda s, h, e=None, seen=statuses: seen.append(s))
            b"".join(body)
            assert statuses and statuses[0][:3] in ("200", "401", "403"), (host, origin, statuses)
