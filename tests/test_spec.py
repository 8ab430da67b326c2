"""The spec table: one named case per statement of SPEC §4 (wire behaviour) and §6.

Every case builds a real app with :func:`websvc.create_app` (or
:func:`websvc.wrap`) from a config dict and drives it through
:class:`werkzeug.test.Client`. The APIs mounted here record every call, so a
case can say that a request never reached the API. Config refusals are not
here (see ``test_config.py``). Every request is also run through
``websvc explain`` (:func:`websvc.tools.explain.explain_environ`), whose
status and headers must be the wire's, byte for byte; and sent twice, so
that the second meets the pipeline's memos warm (explain uses none) and
must get the first one's answer, byte for byte.

Reading a row: a rule is written as the keys it changes from
``{"domain": "a.com"}``; a request as the keyword arguments of :func:`send`;
an expected header value of None means the header must be absent, any other
value means it must be present exactly once with that value.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.test import Client, EnvironBuilder, TestResponse

from websvc import create_app, wrap
from websvc.tools.explain import Explanation, explain_environ

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

ORIGIN = "https://a.com"
API = "/ws/rest/api"
BASE_URL = "https://api.websvc.test"  # where websvc runs: never the same origin as a.com
VARY_PREFLIGHT = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"

ACAO = "Access-Control-Allow-Origin"
ACAM = "Access-Control-Allow-Methods"
ACAH = "Access-Control-Allow-Headers"
ACAC = "Access-Control-Allow-Credentials"
ACEH = "Access-Control-Expose-Headers"
ACMA = "Access-Control-Max-Age"
ACAPN = "Access-Control-Allow-Private-Network"
#: Compared item by item (comma-separated lists), not as raw strings.
LIST_HEADERS = frozenset({ACAM, ACAH, ACEH, "Vary"})

#: Every call that reached a test API: PATH_INFO, tenant and user as websvc set them.
api_calls: list[dict[str, Any]] = []


@pytest.fixture(autouse=True)
def _forget_calls() -> Iterable[None]:
    api_calls.clear()
    yield
    api_calls.clear()


# =============================================================================
# config builders
# =============================================================================

APIS = [
    {"path": API, "app": f"{__name__}:api"},
    {"path": "/ws/rest/teapot", "app": f"{__name__}:teapot"},
    {"path": "/ws/rest/vary", "app": f"{__name__}:vary"},
    {"path": "/ws/rest/cors", "app": f"{__name__}:cors"},
    {"path": "/ws/rest/boom", "app": f"{__name__}:boom"},
]
BASIC = {"authentication": "basic"}
ACME_HOST = "acme.example.net"
BETA_HOST = "beta.example.net"
TENANT_EXPOSE = {"acme": "X-Acme", "beta": "X-Beta"}
TENANT_MAX_AGE = {"acme": "111", "beta": "222"}


def rule(**overrides: Any) -> dict[str, Any]:
    """A CORS rule for https://a.com with *overrides*."""
    return {"domain": "a.com", **overrides}


#: The allow_any_origin rule (as overrides of :func:`rule`).
ANY: dict[str, Any] = {"domain": "*", "allow_any_origin": True}


def tag(max_age: int, **overrides: Any) -> dict[str, Any]:
    """A rule whose preflight answers ``Access-Control-Max-Age: max_age`` (its name tag)."""
    return rule(allow_caching=True, max_age=max_age, **overrides)


#: Four rules for a.com, from least to most specific path, written out of order.
PATH_RULES = [
    tag(3, paths=["/ws/rest/*"]),
    tag(1),
    tag(4, paths=[API]),
    tag(2, paths=["/ws/*"]),
]


def user(name: str) -> dict[str, str]:
    """A user whose token is ``<name-without--user>-token`` (acme-user: acme-token)."""
    token = name.replace("-user", "-token")
    return {"name": name, "token_sha256": hashlib.sha256(token.encode()).hexdigest()}


def tenant(name: str, *rules: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    return {"users": [user(f"{name}-user")], "cors": list(rules), **overrides}


def site(
    *rules: dict[str, Any],
    server: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One tenant, acme (user acme-user), with *rules*, and the test APIs mounted."""
    config: dict[str, Any] = {"apis": APIS, "tenants": {"acme": tenant("acme", *rules)}}
    if server is not None:
        config["server"] = server
    if defaults is not None:
        config["cors"] = {"defaults": defaults}
    return config


def two_tenants(server: dict[str, Any] | None = None) -> dict[str, Any]:
    """acme and beta, each with a host, a user and a tagged rule for a.com."""
    config: dict[str, Any] = {
        "apis": APIS,
        "tenants": {
            name: tenant(
                name,
                tag(int(TENANT_MAX_AGE[name]), expose_headers=[TENANT_EXPOSE[name]]),
                hosts=[host],
            )
            for name, host in (("acme", ACME_HOST), ("beta", BETA_HOST))
        },
    }
    if server is not None:
        config["server"] = server
    return config


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


# =============================================================================
# §4 — what a preflight is; a request without Origin
# =============================================================================


def test_preflight_is_answered_by_websvc_and_never_reaches_the_api() -> None:
    response = preflight(create_app(site(rule())))
    assert response.status_code == 200
    assert response.headers[ACAO] == ORIGIN
    assert api_calls == []


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param({"method": "OPTIONS", "origin": ORIGIN}, id="options-without-acrm-is-normal"),
        pytest.param(
            {"method": "GET", "origin": ORIGIN, "acrm": "GET"}, id="acrm-on-get-is-normal"
        ),
        pytest.param({"method": "OPTIONS", "acrm": "GET"}, id="options-acrm-without-origin"),
    ],
)
def test_not_a_preflight_reaches_the_api(request_: dict[str, Any]) -> None:
    response = send(create_app(site(rule(methods=["GET", "OPTIONS"]))), **request_)
    assert response.status_code == 200
    assert response.text == "api"
    assert len(api_calls) == 1
    assert_headers(response, {ACAM: None, ACMA: None, ACAH: None})


def test_request_without_origin_passes_through_untouched_with_vary_origin() -> None:
    response = send(create_app(site(rule())), path="/ws/rest/teapot", basic="x:y")
    assert response.status_code == 418
    assert response.text == "short and stout"
    assert response.headers["X-Api"] == "teapot"
    assert response.headers["Content-Type"] == "text/plain"
    assert_headers(response, {"Vary": "Origin", ACAO: None})
    assert no_cors_headers(response)


# =============================================================================
# §4 — preflight allowed: the exact answer
# =============================================================================


@pytest.mark.parametrize(
    ("rule_", "request_", "expected"),
    [
        pytest.param(
            {},
            {},
            {ACAO: ORIGIN, ACAM: "GET, HEAD, POST", ACAH: None, ACAC: None, ACMA: "0"},
            id="allowed-minimal-answer",
        ),
        pytest.param(
            {"ports": [8443]},
            {"origin": "https://a.com:8443"},
            {ACAO: "https://a.com:8443"},
            id="acao-echoes-origin-byte-for-byte",
        ),
        pytest.param(
            {"methods": ["PUT", "GET", "PATCH"]},
            {"acrm": "PATCH"},
            {ACAM: "PUT, GET, PATCH"},
            id="acam-is-the-rules-methods",
        ),
        pytest.param(
            {"request_headers": ["X-B", "X-A"]},
            {"acrh": "X-A, content-type, x-b, X-A"},
            {ACAH: "x-a, content-type, x-b"},
            id="acah-echo-lowercased-deduped-request-order",
        ),
        pytest.param(
            {"request_headers": ["X-A", "X-B"]},
            {"acrh": "x-a,,x-b"},
            {ACAH: "x-a, x-b"},
            id="acah-empty-items-ignored",
        ),
        pytest.param(
            {"request_headers": ["X-A", "X-B"]},
            {"acrh": "x-a ,\tx-b"},
            {ACAH: "x-a, x-b"},
            id="acah-optional-whitespace",
        ),
        pytest.param({}, {"acrh": ""}, {ACAO: ORIGIN, ACAH: None}, id="acah-empty-acrh-no-headers"),
        pytest.param(
            {}, {"acrh": " , ,"}, {ACAO: ORIGIN, ACAH: None}, id="acah-blank-items-only-no-headers"
        ),
        pytest.param({}, {}, {ACAO: ORIGIN, ACAH: None}, id="acah-omitted-without-acrh"),
        pytest.param(
            {"request_headers": ["X-Custom-Header"]},
            {"acrh": "X-CUSTOM-HEADER"},
            {ACAH: "x-custom-header"},
            id="acah-names-case-insensitive",
        ),
        pytest.param(
            {},
            {"acrh": "accept,accept-language,content-language,content-type,range"},
            {ACAH: "accept, accept-language, content-language, content-type, range"},
            id="acah-defaults-allowed-without-listing",
        ),
        pytest.param(
            {"request_headers": ["*"]},
            {"acrh": "x-anything,x-other"},
            {ACAH: "x-anything, x-other"},
            id="acah-star-echoes-names-never-literal-star",
        ),
        pytest.param(
            {"request_headers": ["*", "Authorization"]},
            {"acrh": "authorization"},
            {ACAH: "authorization"},
            id="acah-authorization-when-listed",
        ),
        pytest.param(
            {"allow_credentials": True}, {}, {ACAC: "true"}, id="acac-with-allow-credentials"
        ),
        pytest.param({}, {}, {ACAC: None}, id="acac-absent-without-allow-credentials"),
        pytest.param(
            {"allow_caching": True, "max_age": 3600}, {}, {ACMA: "3600"}, id="max-age-with-caching"
        ),
        pytest.param(
            {"allow_caching": True}, {}, {ACMA: "600"}, id="max-age-default-600-with-caching"
        ),
        pytest.param({"max_age": 3600}, {}, {ACMA: "0"}, id="max-age-0-without-caching"),
        pytest.param(
            {"allow_private_network": True},
            {"pna": True},
            {ACAPN: "true"},
            id="pna-when-requested-and-allowed",
        ),
        pytest.param(
            {"allow_private_network": True}, {}, {ACAPN: None}, id="pna-absent-when-not-requested"
        ),
        pytest.param(
            {},
            {"pna": True},
            {ACAO: ORIGIN, ACAM: "GET, HEAD, POST", ACAPN: None},
            id="pna-requested-not-allowed-still-answered",
        ),
        pytest.param({}, {"acrm": "get"}, {ACAO: ORIGIN}, id="acrm-get-normalised-to-GET"),
        pytest.param(
            {"methods": ["DELETE"]}, {"acrm": "delete"}, {ACAO: ORIGIN}, id="acrm-delete-normalised"
        ),
        pytest.param(
            {"methods": ["patch"]}, {"acrm": "patch"}, {ACAO: ORIGIN}, id="acrm-patch-matches-patch"
        ),
        pytest.param(
            {}, {"path": "/not/mounted"}, {ACAO: ORIGIN}, id="preflight-to-unmounted-path-answered"
        ),
        pytest.param(
            {"allow_credentials": True},
            {},
            {ACAO: ORIGIN, ACAC: "true"},
            id="acao-never-star-with-credentials",
        ),
    ],
)
def test_allowed_preflight(
    rule_: dict[str, Any], request_: dict[str, Any], expected: dict[str, str | None]
) -> None:
    response = preflight(create_app(site(rule(**rule_))), **request_)
    assert response.status_code == 200
    assert response.data == b""
    assert_headers(response, {"Vary": VARY_PREFLIGHT, **expected})
    assert api_calls == []


def test_preflight_status_204() -> None:
    response = preflight(create_app(site(rule(), server={"preflight_status": 204})))
    assert response.status_code == 204
    assert_headers(response, {ACAO: ORIGIN, "Vary": VARY_PREFLIGHT})


# =============================================================================
# §4 — preflight refused: same status, no Access-Control-*, same Vary
# =============================================================================


@pytest.mark.parametrize(
    ("config", "request_"),
    [
        pytest.param(site(rule()), {"origin": "https://b.com"}, id="unknown-origin"),
        pytest.param(site(rule()), {"origin": "http://a.com"}, id="wrong-protocol"),
        pytest.param(site(rule()), {"origin": "https://a.com:8443"}, id="wrong-port"),
        pytest.param(site(rule()), {"acrm": "PUT"}, id="method-not-allowed"),
        pytest.param(site(rule()), {"acrh": "x-other"}, id="header-not-allowed"),
        pytest.param(
            site(rule(request_headers=["X-A"])),
            {"acrh": "x-a, content-type, x-b"},
            id="one-of-several-headers-not-allowed",
        ),
        pytest.param(
            site(rule(request_headers=["*"])),
            {"acrh": "x-a, authorization"},
            id="star-does-not-cover-authorization",
        ),
        pytest.param(site(rule(request_headers=["*"])), {"acrh": "x a"}, id="acrh-not-a-token"),
        pytest.param(
            site(rule(methods=["GET", "DELETE"])),
            {"acrm": "GET, DELETE"},
            id="acrm-list-matches-nothing",
        ),
        pytest.param(
            site(rule(methods=["PATCH"])), {"acrm": "patch"}, id="acrm-patch-does-not-match-PATCH"
        ),
        pytest.param(site(rule()), {"acrm": ""}, id="acrm-empty"),
        pytest.param(site(rule()), {"origin": ""}, id="empty-origin"),
        pytest.param(site(rule()), {"origin": "null"}, id="null-origin-domain-rule"),
        pytest.param(two_tenants(), {}, id="no-tenant"),
        pytest.param(site(), {}, id="tenant-without-rules"),
        pytest.param(
            site(rule(), server={"preflight_status": 204}), {"acrm": "PUT"}, id="refused-204-same"
        ),
    ],
)
def test_refused_preflight(config: dict[str, Any], request_: dict[str, Any]) -> None:
    response = preflight(create_app(config), **request_)
    assert response.status_code == config.get("server", {}).get("preflight_status", 200)
    assert no_cors_headers(response)
    assert_headers(response, {"Vary": VARY_PREFLIGHT})
    assert api_calls == []


# =============================================================================
# §4 — origins: canonical serialized origins only; domain matching;
#      protocol and port defaults; allow_any_origin
# =============================================================================


@pytest.mark.parametrize(
    ("rule_", "origin", "acao"),
    [
        # not canonical: matches nothing
        pytest.param({}, "https://A.com", None, id="origin-upper-case-host"),
        pytest.param({}, "HTTPS://a.com", None, id="origin-upper-case-scheme"),
        pytest.param({}, "https://a.com:443", None, id="origin-default-port-https"),
        pytest.param({"domain": "http://a.com"}, "http://a.com:80", None, id="origin-default-80"),
        pytest.param({}, "https://a.com/", None, id="origin-trailing-slash"),
        pytest.param({}, "https://a.com/app", None, id="origin-with-path"),
        pytest.param({}, "https://user@a.com", None, id="origin-userinfo"),
        pytest.param({}, "https://a.com?x=1", None, id="origin-query"),
        pytest.param({}, "https://a.com:", None, id="origin-empty-port"),
        pytest.param({"ports": [8443]}, "https://a.com:08443", None, id="origin-port-zero-pad"),
        pytest.param({}, "https://a.com https://a.com", None, id="origin-two-origins"),
        pytest.param({}, "a.com", None, id="origin-without-scheme"),
        pytest.param({}, "", None, id="origin-empty"),
        pytest.param({}, "null", None, id="origin-null-never-matches-domain-rule"),
        pytest.param({}, "https://a.com.", None, id="origin-trailing-dot-is-another-host"),
        pytest.param(
            {"domain": "bücher.example"}, "https://bücher.example", None, id="origin-not-punycode"
        ),
        # domain matching
        pytest.param({"domain": "A.COM"}, ORIGIN, ORIGIN, id="domain-case-insensitive"),
        pytest.param(
            {"domain": "bücher.example"},
            "https://xn--bcher-kva.example",
            "https://xn--bcher-kva.example",
            id="idna-unicode-domain-matches-punycode-origin",
        ),
        # Browsers encode hosts with UTS #46 (non-transitional): faß.de is
        # xn--fa-hia.de, never IDNA 2003's fass.de.
        pytest.param(
            {"domain": "faß.de"},
            "https://xn--fa-hia.de",
            "https://xn--fa-hia.de",
            id="idna-uts46-sharp-s",
        ),
        pytest.param({"domain": "faß.de"}, "https://fass.de", None, id="idna-no-2003-mapping"),
        pytest.param({"domain": "*.a.com"}, "https://x.a.com", "https://x.a.com", id="wild-sub"),
        pytest.param(
            {"domain": "*.a.com"}, "https://x.y.a.com", "https://x.y.a.com", id="wild-any-depth"
        ),
        pytest.param({"domain": "*.a.com"}, "https://a.com", None, id="wild-not-the-domain"),
        pytest.param({"domain": "*.a.com"}, "https://evila.com", None, id="wild-not-evila"),
        pytest.param({"domain": "*.a.com"}, "https://x.evila.com", None, id="wild-not-x-evila"),
        pytest.param({"domain": "*.a.com"}, "https://a.com.evil.net", None, id="wild-not-prefix"),
        pytest.param({"domain": "*.a.com"}, "http://x.a.com", None, id="wild-https-by-default"),
        # protocol and port defaults
        pytest.param({}, ORIGIN, ORIGIN, id="default-https-443"),
        pytest.param({}, "http://a.com", None, id="default-not-http"),
        pytest.param({}, "https://a.com:8443", None, id="default-not-other-port"),
        pytest.param({"domain": "localhost"}, "http://localhost", "http://localhost", id="lo-http"),
        pytest.param(
            {"domain": "localhost"},
            "http://localhost:3000",
            "http://localhost:3000",
            id="loopback-localhost-http-any-port",
        ),
        pytest.param(
            {"domain": "localhost"},
            "https://localhost:8443",
            "https://localhost:8443",
            id="loopback-localhost-https-any-port",
        ),
        pytest.param(
            {"domain": "127.0.0.1"},
            "http://127.0.0.1:5000",
            "http://127.0.0.1:5000",
            id="loopback-ipv4-any-port",
        ),
        pytest.param(
            {"domain": "[::1]"}, "http://[::1]:5000", "http://[::1]:5000", id="loopback-ipv6"
        ),
        pytest.param({"domain": "http://a.com"}, "http://a.com", "http://a.com", id="scheme-http"),
        pytest.param({"domain": "http://a.com"}, ORIGIN, None, id="scheme-fixes-protocol"),
        pytest.param(
            {"domain": "https://localhost"},
            "http://localhost:3000",
            None,
            id="scheme-fixes-loopback-protocol",
        ),
        pytest.param(
            {"domain": "https://localhost"},
            "https://localhost:3000",
            "https://localhost:3000",
            id="scheme-keeps-loopback-any-port",
        ),
        pytest.param(
            {"domain": "https://a.com:8443"},
            "https://a.com:8443",
            "https://a.com:8443",
            id="port-in-domain",
        ),
        pytest.param({"domain": "https://a.com:8443"}, ORIGIN, None, id="port-fixes-port"),
        pytest.param(
            {"domain": "https://a.com:8443"}, "http://a.com:8443", None, id="port-scheme-fixed"
        ),
        pytest.param(
            {"domain": "localhost:3000"},
            "http://localhost:3001",
            None,
            id="port-fixes-loopback-port",
        ),
        pytest.param(
            {"domain": "localhost:3000"},
            "https://localhost:3000",
            "https://localhost:3000",
            id="port-keeps-loopback-protocols",
        ),
        pytest.param(
            {"ports": ["*"]}, "https://a.com:1234", "https://a.com:1234", id="ports-star-any-port"
        ),
        pytest.param({"ports": [8443]}, ORIGIN, None, id="ports-list-replaces-default"),
        pytest.param(
            {"protocols": ["http", "https"]}, "http://a.com", "http://a.com", id="protocols-http"
        ),
        pytest.param(
            {"protocols": ["http", "https"]}, "http://a.com:443", None, id="protocols-default-ports"
        ),
        # allow_any_origin
        pytest.param(ANY, "https://x.example", "*", id="any-origin-answers-star"),
        pytest.param(ANY, "http://x.example:8080", "*", id="any-origin-http-any-port"),
        pytest.param(ANY, "null", "*", id="any-origin-matches-null"),
        pytest.param(ANY, "https://X.example", None, id="any-origin-not-invalid-origins"),
        pytest.param(ANY, "", None, id="any-origin-not-empty-origin"),
        pytest.param({"allow_credentials": True}, ORIGIN, ORIGIN, id="credentials-echo-not-star"),
    ],
)
def test_origin_matching(rule_: dict[str, Any], origin: str, acao: str | None) -> None:
    response = preflight(create_app(site(rule(**rule_))), origin=origin)
    assert response.status_code == 200
    assert_headers(response, {ACAO: acao, "Vary": VARY_PREFLIGHT})
    if acao is None:
        assert no_cors_headers(response)
    if response.headers.get(ACAC) == "true":
        assert acao != "*"


# =============================================================================
# §4 — paths match PATH_INFO exactly as the router sees it
# =============================================================================


@pytest.mark.parametrize(
    ("paths", "path_info", "allowed"),
    [
        pytest.param(["/ws/rest/api"], "/ws/rest/api", True, id="path-exact"),
        pytest.param(["/ws/rest/api"], "/ws/rest/api/x", False, id="path-exact-not-below"),
        pytest.param(["/ws/rest/api"], "/ws/rest/api/", False, id="path-exact-not-slash"),
        pytest.param(["/ws/rest/api"], "/ws/rest/API", False, id="path-case-sensitive"),
        pytest.param(["/ws/rest/*"], "/ws/rest/", True, id="prefix-matches-its-slash"),
        pytest.param(["/ws/rest/*"], "/ws/rest/a/b/c", True, id="prefix-matches-any-depth"),
        pytest.param(["/ws/rest/*"], "/ws/rest", False, id="prefix-not-without-slash"),
        pytest.param(["/ws/rest/*"], "/ws/restx", False, id="prefix-not-sibling"),
        pytest.param(["/ws/rest/*"], "/WS/rest/x", False, id="prefix-case-sensitive"),
        pytest.param(["/*"], "/anything", True, id="prefix-root"),
        pytest.param(["/a", "/ws/rest/*"], "/ws/rest/x", True, id="paths-any-pattern"),
        pytest.param(["/ws/rest/a%41"], "/ws/rest/a%41", True, id="percent-compared-verbatim"),
        pytest.param(["/ws/rest/aA"], "/ws/rest/a%41", False, id="no-percent-decoding"),
        pytest.param(["/ws/rest/a b"], "/ws/rest/a+b", False, id="no-plus-decoding"),
        pytest.param(["/ws/rest/api"], "/ws/rest/./api", False, id="no-dot-normalisation"),
        pytest.param(["/ws/rest/api"], "/ws//rest/api", False, id="no-slash-normalisation"),
        pytest.param(None, "/whatever/at/all", True, id="no-paths-every-path"),
    ],
)
def test_paths(paths: list[str] | None, path_info: str, allowed: bool) -> None:
    rule_ = rule() if paths is None else rule(paths=paths)
    response = preflight(create_app(site(rule_)), path_info=path_info)
    assert_headers(response, {ACAO: ORIGIN if allowed else None})


def test_paths_see_the_full_path_not_the_api_relative_one() -> None:
    response = send(create_app(site(rule(paths=[API]))), origin=ORIGIN)
    assert api_calls == [{"path": "", "tenant": "acme", "user": None}]  # the API sees its own path
    assert_headers(response, {ACAO: ORIGIN})


# =============================================================================
# §6 — rule choice: most specific candidate wins; its refusal never falls back
# =============================================================================


@pytest.mark.parametrize(
    ("rules", "request_", "chosen"),
    [
        pytest.param(
            [tag(1, domain="*.a.com"), tag(2, domain="x.a.com")],
            {"origin": "https://x.a.com"},
            2,
            id="exact-domain-beats-wildcard-listed-after",
        ),
        pytest.param(
            [tag(2, domain="x.a.com"), tag(1, domain="*.a.com")],
            {"origin": "https://x.a.com"},
            2,
            id="exact-domain-beats-wildcard-listed-before",
        ),
        pytest.param(
            [tag(1, domain="*.a.com"), tag(2, domain="*.b.a.com")],
            {"origin": "https://x.b.a.com"},
            2,
            id="deepest-wildcard-wins-listed-after",
        ),
        pytest.param(
            [tag(2, domain="*.b.a.com"), tag(1, domain="*.a.com")],
            {"origin": "https://x.b.a.com"},
            2,
            id="deepest-wildcard-wins-listed-before",
        ),
        pytest.param(
            [tag(1, domain="*.a.com"), tag(2, domain="*.b.a.com")],
            {"origin": "https://x.c.a.com"},
            1,
            id="shallower-wildcard-when-deeper-does-not-match",
        ),
        pytest.param(
            [tag(1, **ANY), tag(2, domain="*.a.com")],
            {"origin": "https://x.a.com"},
            2,
            id="wildcard-beats-any-origin",
        ),
        pytest.param(
            [tag(1, **ANY), tag(2, domain="a.com")], {}, 2, id="exact-domain-beats-any-origin"
        ),
        pytest.param(
            [tag(1, **ANY), tag(2, domain="a.com")],
            {"origin": "https://b.com"},
            1,
            id="any-origin-when-nothing-more-specific",
        ),
        pytest.param(
            PATH_RULES, {"path_info": "/ws/rest/api"}, 4, id="exact-path-beats-longest-prefix"
        ),
        pytest.param(
            PATH_RULES, {"path_info": "/ws/rest/other"}, 3, id="longest-prefix-beats-shorter"
        ),
        pytest.param(PATH_RULES, {"path_info": "/ws/other"}, 2, id="prefix-beats-no-paths"),
        pytest.param(PATH_RULES, {"path_info": "/other"}, 1, id="no-paths-rule-as-last-resort"),
        pytest.param(
            [tag(1, domain="*.a.com", paths=[API]), tag(2, domain="x.a.com")],
            {"origin": "https://x.a.com"},
            2,
            id="domain-specificity-before-path-specificity",
        ),
        pytest.param(
            [tag(1, domain="x.a.com", paths=["/other"]), tag(2, domain="*.a.com")],
            {"origin": "https://x.a.com"},
            2,
            id="exact-domain-not-candidate-on-path-wildcard-decides",
        ),
        pytest.param(
            [tag(1, domain="x.a.com", ports=[8443]), tag(2, domain="*.a.com")],
            {"origin": "https://x.a.com"},
            2,
            id="exact-domain-not-candidate-on-port-wildcard-decides",
        ),
        pytest.param(
            [tag(1), tag(2, ports=[8443])],
            {"origin": "https://a.com:8443"},
            2,
            id="same-domain-rules-split-by-port",
        ),
        pytest.param(
            [tag(1), tag(2, domain="http://a.com")],
            {"origin": "http://a.com"},
            2,
            id="same-domain-rules-split-by-protocol",
        ),
        pytest.param(
            [tag(1, domain="*.a.com", methods=["PUT"]), tag(2, domain="x.a.com")],
            {"origin": "https://x.a.com", "acrm": "PUT"},
            None,
            id="refusal-on-method-never-falls-back-to-wildcard",
        ),
        pytest.param(
            [tag(1, paths=["/ws/*"], request_headers=["X-A"]), tag(2, paths=[API])],
            {"acrh": "x-a"},
            None,
            id="refusal-on-header-never-falls-back-to-prefix",
        ),
        pytest.param(
            [tag(1, **ANY, methods=["PUT"]), tag(2)],
            {"acrm": "PUT"},
            None,
            id="refusal-never-falls-back-to-any-origin",
        ),
    ],
)
def test_rule_choice(
    rules: list[dict[str, Any]], request_: dict[str, Any], chosen: int | None
) -> None:
    response = preflight(create_app(site(*rules)), **request_)
    if chosen is None:
        assert no_cors_headers(response)
    else:
        assert_headers(response, {ACMA: str(chosen)})


# =============================================================================
# §4 — normal requests: the API's response plus the CORS headers
# =============================================================================


@pytest.mark.parametrize(
    ("config", "request_", "status", "expected"),
    [
        pytest.param(
            site(rule()),
            {},
            200,
            {ACAO: ORIGIN, ACAC: None, ACEH: None, "Vary": "Origin"},
            id="allowed-acao-echo-and-vary",
        ),
        pytest.param(
            site(rule(allow_credentials=True)),
            {},
            200,
            {ACAO: ORIGIN, ACAC: "true"},
            id="allowed-acac-with-credentials",
        ),
        pytest.param(
            site(rule(expose_headers=["Foo", "Bar"])),
            {},
            200,
            {ACEH: "Foo, Bar"},
            id="allowed-aceh-rule",
        ),
        pytest.param(
            site(rule(expose_headers=["Foo"]), defaults={"expose_headers": ["X-Total"]}),
            {},
            200,
            {ACEH: "X-Total, Foo"},
            id="allowed-aceh-defaults-plus-rule",
        ),
        pytest.param(
            site(rule(), defaults={"expose_headers": ["X-Total"]}),
            {},
            200,
            {ACEH: "X-Total"},
            id="allowed-aceh-defaults-only",
        ),
        pytest.param(
            site(rule(allow_caching=True, allow_private_network=True, methods=["GET", "PUT"])),
            {},
            200,
            {ACAO: ORIGIN, ACAM: None, ACAH: None, ACMA: None, ACAPN: None},
            id="allowed-no-preflight-headers",
        ),
        pytest.param(
            site(rule(methods=["GET", "DELETE"])),
            {"method": "DELETE"},
            200,
            {ACAO: ORIGIN},
            id="allowed-method-of-rule",
        ),
        pytest.param(
            site(rule(**ANY)), {"origin": "null"}, 200, {ACAO: "*"}, id="any-origin-star-on-normal"
        ),
        pytest.param(
            site(rule()),
            {"origin": "https://b.com"},
            200,
            {ACAO: None, "Vary": "Origin"},
            id="refused-origin-api-response-without-cors",
        ),
        pytest.param(
            site(rule()),
            {"method": "DELETE"},
            200,
            {ACAO: None, "Vary": "Origin"},
            id="refused-method-api-response-without-cors",
        ),
        pytest.param(
            two_tenants(), {}, 200, {ACAO: None, "Vary": "Origin"}, id="no-tenant-no-cors"
        ),
        pytest.param(
            site(rule()),
            {"path": "/ws/rest/vary"},
            200,
            {ACAO: ORIGIN, "Vary": "Accept-Encoding, Origin"},
            id="vary-merged-into-api-vary",
        ),
        pytest.param(
            site(rule()),
            {"path": "/ws/rest/vary", "query": "vary=origin"},
            200,
            {"Vary": "origin"},
            id="vary-not-duplicated",
        ),
        pytest.param(
            site(rule()),
            {"path": "/ws/rest/vary", "query": "vary=Accept&vary=Cookie"},
            200,
            {"Vary": "Accept, Cookie, Origin"},
            id="vary-api-headers-merged-into-one",
        ),
        pytest.param(
            site(rule()),
            {"path": "/ws/rest/vary", "query": "vary=*"},
            200,
            {"Vary": "*"},
            id="vary-star-kept",
        ),
        pytest.param(
            site(rule()),
            {"path": "/ws/rest/vary", "origin": None},
            200,
            {"Vary": "Accept-Encoding, Origin"},
            id="vary-merged-without-origin",
        ),
        pytest.param(
            site(rule(allow_credentials=True, expose_headers=["Foo"])),
            {"path": "/nothing/mounted"},
            404,
            {ACAO: ORIGIN, ACAC: "true", ACEH: "Foo", "Vary": "Origin"},
            id="own-404-has-cors",
        ),
        pytest.param(
            site(rule(allow_credentials=True, expose_headers=["Foo"])),
            {"path": "/ws/rest/boom"},
            500,
            {ACAO: ORIGIN, ACAC: "true", ACEH: "Foo", "Vary": "Origin"},
            id="own-500-api-raises-has-cors",
        ),
        pytest.param(
            site(rule(allow_credentials=True, expose_headers=["Foo"]), server=BASIC),
            {},
            401,
            {
                ACAO: ORIGIN,
                ACAC: "true",
                ACEH: "Foo",
                "Vary": "Origin",
                "WWW-Authenticate": 'Basic realm="websvc"',
            },
            id="own-401-has-cors",
        ),
        pytest.param(
            site(rule(), server=BASIC),
            {"origin": "https://b.com"},
            401,
            {ACAO: None, "Vary": "Origin"},
            id="own-401-refused-origin-no-cors",
        ),
        pytest.param(
            site(rule()),
            {"path": "/ws/rest/boom", "origin": "https://b.com"},
            500,
            {ACAO: None, "Vary": "Origin"},
            id="own-500-refused-origin-no-cors",
        ),
        pytest.param(
            site(rule(**ANY)),
            {"origin": ""},
            200,
            {ACAO: None, "Vary": "Origin"},
            id="empty-origin-is-present-but-matches-nothing",
        ),
    ],
)
def test_normal_request(
    config: dict[str, Any],
    request_: dict[str, Any],
    status: int,
    expected: dict[str, str | None],
) -> None:
    response = send(create_app(config), **{"origin": ORIGIN, **request_})
    assert response.status_code == status
    assert_headers(response, expected)
    if ACAO in expected and expected[ACAO] is None:
        assert no_cors_headers(response)


# =============================================================================
# §4/§6 — websvc owns Access-Control-*: the API's own are removed everywhere
# =============================================================================


@pytest.mark.parametrize(
    ("request_", "acao"),
    [
        pytest.param({}, None, id="api-cors-removed-without-origin"),
        pytest.param({"origin": "https://b.com"}, None, id="api-cors-removed-refused-origin"),
        pytest.param({"origin": ORIGIN}, ORIGIN, id="api-cors-replaced-allowed-origin"),
        pytest.param({"origin": "null"}, None, id="api-cors-removed-invalid-origin"),
    ],
)
def test_api_access_control_headers_are_removed(request_: dict[str, Any], acao: str | None) -> None:
    response = send(create_app(site(rule())), path="/ws/rest/cors", **request_)
    assert response.status_code == 200
    assert response.headers["X-Api"] == "cors"
    assert_headers(response, {ACAO: acao, ACAC: None, ACEH: None, ACMA: None, ACAM: None})
    if acao is None:
        assert no_cors_headers(response)


# =============================================================================
# §6 — reject_disallowed: 403 for refusals, never for same-origin
# =============================================================================

REJECT = {"reject_disallowed": True}


@pytest.mark.parametrize(
    ("request_", "status", "reaches_api", "acao"),
    [
        pytest.param(
            {"method": "OPTIONS", "acrm": "PUT"}, 403, False, None, id="refused-preflight-403"
        ),
        pytest.param(
            {"method": "OPTIONS", "origin": "https://b.com", "acrm": "GET"},
            403,
            False,
            None,
            id="unknown-origin-preflight-403",
        ),
        pytest.param({"origin": "https://b.com"}, 403, False, None, id="refused-normal-403"),
        pytest.param({"method": "DELETE"}, 403, False, None, id="refused-method-normal-403"),
        pytest.param({"origin": "null"}, 403, False, None, id="null-origin-normal-403"),
        pytest.param(
            {"method": "OPTIONS", "acrm": "GET"}, 200, False, ORIGIN, id="allowed-preflight-ok"
        ),
        pytest.param({}, 200, True, ORIGIN, id="allowed-normal-ok"),
        pytest.param({"origin": None}, 200, True, None, id="no-origin-not-rejected"),
        pytest.param({"origin": BASE_URL}, 200, True, None, id="same-origin-never-rejected"),
        pytest.param(
            {"origin": "https://api.websvc.test:8443", "base_url": BASE_URL + ":8443"},
            200,
            True,
            None,
            id="same-origin-with-port-never-rejected",
        ),
        pytest.param(
            {"origin": BASE_URL, "host": "API.websvc.test:443"},
            200,
            True,
            None,
            id="same-origin-host-default-port-never-rejected",
        ),
        pytest.param(
            {"origin": "http://api.websvc.test"},
            403,
            False,
            None,
            id="other-scheme-is-cross-origin",
        ),
    ],
)
def test_reject_disallowed(
    request_: dict[str, Any], status: int, reaches_api: bool, acao: str | None
) -> None:
    response = send(create_app(site(rule(), server=REJECT)), **{"origin": ORIGIN, **request_})
    assert response.status_code == status
    assert bool(api_calls) is reaches_api
    assert_headers(response, {ACAO: acao})
    if acao is None:
        assert no_cors_headers(response)
    preflight_ = request_.get("method") == "OPTIONS"
    vary = VARY_PREFLIGHT if preflight_ else "Origin"
    assert_headers(response, {"Vary": vary})


def test_reject_disallowed_with_204_refuses_with_403() -> None:
    config = site(rule(), server={**REJECT, "preflight_status": 204})
    response = preflight(create_app(config), acrm="PUT")
    assert response.status_code == 403
    assert no_cors_headers(response)
    assert_headers(response, {"Vary": VARY_PREFLIGHT})


# =============================================================================
# §3/§6 — tenant identification (two tenants with a rule each for a.com;
#         the rule's expose header and max_age say which tenant decided)
# =============================================================================


@pytest.mark.parametrize(
    ("request_", "tenant"),
    [
        pytest.param({"boomi": "beta-user:beta-token", "host": ACME_HOST}, "beta", id="boomi-auth"),
        pytest.param(
            {"boomi": "beta-user:wrong", "host": ACME_HOST}, "beta", id="boomi-auth-user-name-only"
        ),
        pytest.param({"basic": "beta-user:beta-token", "host": ACME_HOST}, "beta", id="basic"),
        pytest.param({"basic": "beta-user:wrong", "host": ACME_HOST}, "beta", id="basic-name-only"),
        pytest.param(
            {"boomi": "beta-user:beta-token", "basic": "acme-user:acme-token"},
            "beta",
            id="boomi-auth-before-basic",
        ),
        pytest.param({"host": BETA_HOST}, "beta", id="host"),
        pytest.param({"host": BETA_HOST + ":8443"}, "beta", id="host-port-stripped"),
        pytest.param({"host": "BETA.Example.NET"}, "beta", id="host-case-insensitive"),
        pytest.param({"host": BETA_HOST + "."}, None, id="host-no-trailing-dot-folding"),
        pytest.param({"host": "other.example.net"}, None, id="host-unknown"),
        pytest.param({}, None, id="nothing-identifies-no-tenant"),
        pytest.param(
            {"boomi": "nobody:x", "host": BETA_HOST}, "beta", id="unknown-boomi-user-next-step"
        ),
        pytest.param(
            {"query": "boomi_auth=%25%25%25", "host": BETA_HOST},
            "beta",
            id="undecodable-boomi-auth-next-step",
        ),
        pytest.param(
            {"query": "boomi_auth=" + b64("beta-user"), "host": ACME_HOST},
            "acme",
            id="boomi-auth-without-colon-next-step",
        ),
        pytest.param(
            {"basic": "nobody:x", "host": BETA_HOST}, "beta", id="unknown-basic-user-next-step"
        ),
        pytest.param(
            {"headers": {"Authorization": "Basic !!!"}, "host": BETA_HOST},
            "beta",
            id="undecodable-basic-next-step",
        ),
        pytest.param(
            {"boomi": "nobody:x", "basic": "beta-user:beta-token", "host": ACME_HOST},
            "beta",
            id="unknown-boomi-user-then-basic",
        ),
    ],
)
def test_identification(request_: dict[str, Any], tenant: str | None) -> None:
    response = send(create_app(two_tenants()), origin=ORIGIN, **request_)
    assert response.status_code == 200
    assert api_calls[0]["tenant"] == tenant
    assert_headers(response, {ACEH: TENANT_EXPOSE.get(tenant), ACAO: tenant and ORIGIN})


def test_identification_the_only_tenant() -> None:
    response = send(create_app(site(rule())), origin=ORIGIN, host="anything.example")
    assert api_calls[0]["tenant"] == "acme"
    assert_headers(response, {ACAO: ORIGIN})


@pytest.mark.parametrize(
    ("host", "tenant"),
    [
        pytest.param("beta.example.net.", "beta", id="hosts-entry-with-dot-matches-dotted-host"),
        pytest.param("beta.example.net", None, id="hosts-entry-with-dot-not-folded"),
    ],
)
def test_hosts_entry_trailing_dot_is_another_host(host: str, tenant: str | None) -> None:
    config = two_tenants()
    config["tenants"]["beta"]["hosts"] = ["beta.example.net."]
    send(create_app(config), host=host)
    assert api_calls[0]["tenant"] == tenant


@pytest.mark.parametrize(
    ("request_", "tenant"),
    [
        pytest.param(
            {"boomi": "beta-user:wrong", "host": ACME_HOST},
            "beta",
            id="preflight-boomi-auth-token-not-checked",
        ),
        pytest.param({"host": BETA_HOST}, "beta", id="preflight-by-host"),
        pytest.param({"host": ACME_HOST}, "acme", id="preflight-unauthenticated-by-host"),
        pytest.param({}, None, id="preflight-no-tenant-refused"),
    ],
)
def test_preflight_identification_is_never_authenticated(
    request_: dict[str, Any], tenant: str | None
) -> None:
    response = preflight(create_app(two_tenants(server=BASIC)), **request_)
    assert response.status_code == 200
    assert_headers(response, {ACMA: TENANT_MAX_AGE.get(tenant), ACAO: tenant and ORIGIN})
    assert api_calls == []


# =============================================================================
# §3/§6 — authentication checks the credential that identified the tenant
# =============================================================================


@pytest.mark.parametrize(
    ("request_", "status", "tenant"),
    [
        pytest.param({"basic": "beta-user:beta-token"}, 200, "beta", id="basic-right-token"),
        pytest.param({"boomi": "beta-user:beta-token"}, 200, "beta", id="boomi-auth-right-token"),
        pytest.param(
            {"basic": "beta-user:wrong", "host": ACME_HOST},
            401,
            "beta",
            id="wrong-token-401-with-that-tenants-cors",
        ),
        pytest.param(
            {"boomi": "beta-user:wrong", "host": ACME_HOST},
            401,
            "beta",
            id="wrong-boomi-token-401-with-that-tenants-cors",
        ),
        pytest.param({"host": BETA_HOST}, 401, "beta", id="no-credentials-401-with-host-tenant"),
        pytest.param({}, 401, None, id="no-credentials-no-tenant-401-no-cors"),
        pytest.param(
            {"boomi": "nobody:x", "basic": "beta-user:beta-token"},
            200,
            "beta",
            id="unknown-boomi-user-basic-identifies-and-is-checked",
        ),
        pytest.param(
            {"boomi": "nobody:x", "basic": "beta-user:wrong"},
            401,
            "beta",
            id="unknown-boomi-user-wrong-basic-401",
        ),
        pytest.param(
            {"boomi": "beta-user:wrong", "basic": "beta-user:beta-token"},
            401,
            "beta",
            id="identifying-credential-is-the-one-checked",
        ),
        pytest.param(
            {"host": BETA_HOST, "basic": "acme-user:acme-token"},
            200,
            "acme",
            id="basic-user-identifies-before-host",
        ),
    ],
)
def test_authentication(request_: dict[str, Any], status: int, tenant: str | None) -> None:
    response = send(create_app(two_tenants(server=BASIC)), origin=ORIGIN, **request_)
    assert response.status_code == status
    assert_headers(response, {ACEH: TENANT_EXPOSE.get(tenant), ACAO: tenant and ORIGIN})
    if status == 401:
        assert api_calls == []
        assert response.headers["WWW-Authenticate"] == 'Basic realm="websvc"'
    else:
        assert api_calls == [{"path": "", "tenant": tenant, "user": f"{tenant}-user"}]


# =============================================================================
# §6 — server defaults and [cors.defaults]
# =============================================================================


def test_default_authentication_none_and_reject_false() -> None:
    app = create_app(two_tenants())  # no [server] table at all
    assert send(app).status_code == 200
    assert send(app, origin="https://b.com").status_code == 200
    assert len(api_calls) == 2


@pytest.mark.parametrize(
    ("defaults", "acrh", "acah"),
    [
        pytest.param(
            {"expose_headers": ["X-Total"]},
            "content-type",
            "content-type",
            id="defaults-expose-only-keeps-default-request-headers",
        ),
        pytest.param(
            {"request_headers": ["X-Only"]},
            "x-only",
            "x-only",
            id="defaults-request-headers-replaced",
        ),
        pytest.param(
            {"request_headers": ["X-Only"]},
            "content-type",
            None,
            id="defaults-request-headers-replaced-drop-content-type",
        ),
    ],
)
def test_cors_defaults(defaults: dict[str, Any], acrh: str, acah: str | None) -> None:
    app = create_app(site(rule(), defaults=defaults))
    assert_headers(preflight(app, acrh=acrh), {ACAH: acah})
    expose = defaults.get("expose_headers")
    assert_headers(send(app, origin=ORIGIN), {ACEH: expose and ", ".join(expose)})


# =============================================================================
# §2 — wrap(): the pipeline in front of a legacy app that gets every path
# =============================================================================


@pytest.mark.parametrize("path", ["/", API, "/any/deep/path", "/ws/rest/boom"])
def test_wrap_sends_every_path_to_the_legacy_app(path: str) -> None:
    app = wrap(legacy, {"tenants": {"acme": {"cors": [rule(expose_headers=["Foo"])]}}})
    response = send(app, path=path, origin=ORIGIN)
    assert response.status_code == 200
    assert response.text == "legacy"
    assert api_calls == [{"path": path, "tenant": "acme", "user": None}]
    assert_headers(response, {ACAO: ORIGIN, ACEH: "Foo", ACAM: None, "Vary": "Origin"})


def test_wrap_preflight_and_authentication_stay_in_front_of_the_legacy_app() -> None:
    app = wrap(legacy, {"server": BASIC, "tenants": {"acme": tenant("acme", rule())}})
    assert_headers(preflight(app, path="/legacy"), {ACAO: ORIGIN})
    refused = send(app, path="/legacy", origin=ORIGIN)
    assert refused.status_code == 401
    assert_headers(refused, {ACAO: ORIGIN})
    assert api_calls == []
    passed = send(app, path="/legacy", origin=ORIGIN, basic="acme-user:acme-token")
    assert passed.status_code == 200
    assert api_calls == [{"path": "/legacy", "tenant": "acme", "user": "acme-user"}]


# =============================================================================
# the test APIs (mounted from the configs below by "module:attribute")
# =============================================================================


def api(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The plain API: 200 "api", recording the call."""
    record(environ)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"api"]


def teapot(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """An API with its own status, body and headers (which must pass untouched)."""
    record(environ)
    start_response("418 I'm a teapot", [("Content-Type", "text/plain"), ("X-Api", "teapot")])
    return [b"short and stout"]


def vary(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """An API that sets ``Vary``: each ``vary=`` query value, or Accept-Encoding."""
    record(environ)
    query = environ.get("QUERY_STRING", "")
    values = [item[5:] for item in query.split("&") if item.startswith("vary=")]
    headers = [("Vary", value) for value in values or ["Accept-Encoding"]]
    start_response("200 OK", [("Content-Type", "text/plain"), *headers])
    return [b"vary"]


def cors(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """An API that sets its own ``Access-Control-*`` headers (websvc must drop them)."""
    record(environ)
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain"),
            ("X-Api", "cors"),
            ("Access-Control-Allow-Origin", "*"),
            ("access-control-allow-credentials", "true"),
            ("ACCESS-CONTROL-EXPOSE-HEADERS", "X-Leak"),
            ("Access-Control-Max-Age", "99"),
            ("Access-Control-Allow-Methods", "GET"),
        ],
    )
    return [b"cors"]


def boom(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """An API that raises before answering."""
    raise RuntimeError("the API failed")


def legacy(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """The legacy app behind :func:`websvc.wrap`."""
    api_calls.append(
        {
            "path": environ.get("PATH_INFO"),
            "tenant": environ.get("websvc.tenant"),
            "user": environ.get("websvc.user"),
        }
    )
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"legacy"]


def record(environ: WSGIEnvironment) -> None:
    api_calls.append(
        {
            "path": environ.get("PATH_INFO"),
            "tenant": environ.get("websvc.tenant"),
            "user": environ.get("websvc.user"),
        }
    )


# =============================================================================
# requests and assertions
# =============================================================================


def send(
    app: Any,
    method: str = "GET",
    path: str = API,
    *,
    origin: str | None = None,
    acrm: str | None = None,
    acrh: str | None = None,
    pna: bool = False,
    basic: str | None = None,
    boomi: str | None = None,
    query: str = "",
    host: str | None = None,
    headers: dict[str, str] | None = None,
    path_info: str | None = None,
    base_url: str = BASE_URL,
) -> TestResponse:
    """One request; *basic* and *boomi* are ``user:token`` (encoded here)."""
    sent = dict(headers or {})
    if origin is not None:
        sent["Origin"] = origin
    if acrm is not None:
        sent["Access-Control-Request-Method"] = acrm
    if acrh is not None:
        sent["Access-Control-Request-Headers"] = acrh
    if pna:
        sent["Access-Control-Request-Private-Network"] = "true"
    if basic is not None:
        sent["Authorization"] = "Basic " + b64(basic)
    if host is not None:
        sent["Host"] = host
    if boomi is not None:
        query = "&".join(filter(None, [query, "boomi_auth=" + b64(boomi)]))
    overrides = {"PATH_INFO": path_info} if path_info is not None else {}
    builder = EnvironBuilder(
        path,
        method=method,
        headers=list(sent.items()),
        query_string=query,
        base_url=base_url,
        environ_overrides=overrides,
    )
    explained = explain_environ(app.site, builder.get_environ())
    before = len(api_calls)
    response = Client(app).open(builder)
    calls = api_calls[before:]
    assert_explain_is_the_wire(explained, response)
    # The same request again meets the pipeline's memos warm (explain uses none):
    # the same answer, the same API calls.
    again = Client(app).open(builder)
    assert (again.status, list(again.headers.items()), again.get_data()) == (
        response.status,
        list(response.headers.items()),
        response.get_data(),
    )
    assert api_calls[before + len(calls) :] == calls
    del api_calls[before + len(calls) :]
    return response


def assert_explain_is_the_wire(explained: Explanation, response: TestResponse) -> None:
    """``websvc explain``'s answer equals the wire's, byte for byte.

    :func:`send` checks this for every request of every case in this file.

    When websvc answers itself (a preflight, a 403, a 401): the same status,
    the same header list in the same order, the same body. When the API
    answers: the same ``Access-Control-*`` (and debug) headers, in order.
    """
    if explained.status:
        assert response.status_code == explained.status
        assert list(response.headers.items()) == list(explained.headers)
        assert response.get_data() == explained.outcome.body
    else:
        ours = [h for h in explained.headers if _websvc_header(h[0])]
        assert [h for h in response.headers.items() if _websvc_header(h[0])] == ours


def _websvc_header(name: str) -> bool:
    return name.lower().startswith("access-control-") or name == "X-Websvc-Cors-Reason"


def preflight(app: Any, *, origin: str = ORIGIN, acrm: str = "GET", **kwargs: Any) -> TestResponse:
    return send(app, "OPTIONS", origin=origin, acrm=acrm, **kwargs)


def items(value: str) -> list[str]:
    return [item.strip() for item in value.split(",")]


def assert_headers(response: TestResponse, expected: dict[str, str | None]) -> None:
    """Each header absent (None) or present exactly once with the value."""
    for name, value in expected.items():
        got = response.headers.getlist(name)
        if value is None:
            assert got == [], f"{name} should be absent"
        elif name in LIST_HEADERS:
            assert len(got) == 1, f"{name} sent {len(got)} times: {got}"
            assert items(got[0]) == items(value), name
        else:
            assert got == [value], name


def no_cors_headers(response: TestResponse) -> bool:
    return not [name for name, _ in response.headers if name.lower().startswith("access-control-")]
