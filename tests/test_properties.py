"""Properties of the request-time parsers and of the whole pipeline (SPEC §4, §5, §6).

(a) :func:`parse_origin` accepts exactly canonical serialized origins;
(b) :func:`parse_request_headers` is total, bounded and order-preserving;
(c) :func:`normalize_method` follows the Fetch normalisation;
(d) the WSGI app, under arbitrary request headers, never fails and never
    emits an ``Access-Control-*`` header it should not.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import re
import sys
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from werkzeug.test import EnvironBuilder, run_wsgi_app

import websvc
from websvc.cors import VARY_PREFLIGHT
from websvc.syntax import (
    MAX_REQUEST_HEADER_ITEMS,
    MAX_REQUEST_HEADERS_LENGTH,
    normalize_method,
    parse_origin,
    parse_request_headers,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
TCHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
FETCH_METHODS = {"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"}
DEFAULT_PORTS = {"http": 80, "https": 443}

FAST = settings(max_examples=300, deadline=None)

# -- strategies ---------------------------------------------------------------

#: Any text a WSGI server can hand over: PEP 3333 strings are latin-1 decoded bytes.
latin1 = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=255), max_size=80)

label = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,20}[a-z0-9])?", fullmatch=True)
#: The last label of a host name starts with a letter (a top-level domain), so a
#: browser never reads the host as an IPv4 address.
last_label = st.from_regex(r"[a-z]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
hostname = st.builds(
    lambda labels, last: ".".join([*labels, last]),
    st.lists(label, max_size=3),
    last_label,
)
ipv4 = st.ip_addresses(v=4).map(str)


def whatwg_ipv6(address: ipaddress.IPv6Address) -> str:
    """Serialize as the URL standard does: hex pieces, longest run (>1) of zeros as ::.

    Written out rather than ``address.compressed`` so that the expected form does
    not depend on the Python version (3.13 writes IPv4-mapped ones as ::ffff:1.2.3.4).
    """
    pieces = [int.from_bytes(address.packed[i : i + 2], "big") for i in range(0, 16, 2)]
    best, best_len, i = -1, 1, 0
    while i < 8:
        j = i
        while j < 8 and pieces[j] == 0:
            j += 1
        if j - i > best_len:
            best, best_len = i, j - i
        i = j + 1 if j == i else j
    text = [f"{p:x}" for p in pieces]
    if best < 0:
        return ":".join(text)
    return ":".join(text[:best]) + "::" + ":".join(text[best + best_len :])


ipv6 = st.ip_addresses(v=6).map(lambda a: f"[{whatwg_ipv6(a)}]")


@st.composite
def canonical_origins(draw: st.DrawFn) -> tuple[str, str, str, int, bool]:
    """(origin, scheme, host, effective port, port written) as a browser sends it."""
    scheme = draw(st.sampled_from(["http", "https"]))
    host = draw(st.one_of(hostname, ipv4, ipv6))
    default = DEFAULT_PORTS[scheme]
    port = draw(st.one_of(st.none(), st.integers(1, 65535).filter(lambda p: p != default)))
    origin = f"{scheme}://{host}" + (f":{port}" if port is not None else "")
    return origin, scheme, host, default if port is None else port, port is not None


# -- (a) parse_origin ------------------------------------------------------------


@FAST
@given(st.text(max_size=200))
@example("")
@example("null")
@example("https://")
@example("https://:443")
@example("https://[")
@example("https://[::1")
@example("https://a.com:99999")
@example("https://a.com:" + "9" * 5000)
@example("https://" + "a" * 5000 + ".com")
@example("https://\u212a.com")
@example("https://a.com\n")
def test_parse_origin_never_raises(value: str) -> None:
    parsed = parse_origin(value)
    if parsed is not None:
        # a canonical origin serializes back to itself, byte for byte
        default = DEFAULT_PORTS[parsed.scheme]
        port = "" if parsed.port == default else f":{parsed.port}"
        assert value == f"{parsed.scheme}://{parsed.host}{port}"
        assert 1 <= parsed.port <= 65535


@FAST
@given(canonical_origins())
@example(("https://a.com:8443", "https", "a.com", 8443, True))
@example(("http://localhost:3000", "http", "localhost", 3000, True))
@example(("http://127.0.0.1", "http", "127.0.0.1", 80, False))
@example(("https://[::1]:8443", "https", "[::1]", 8443, True))
@example(("https://[::ffff:102:304]", "https", "[::ffff:102:304]", 443, False))
@example(("http://[1:0:0:1::]", "http", "[1:0:0:1::]", 80, False))
@example(("https://xn--bcher-kva.example", "https", "xn--bcher-kva.example", 443, False))
def test_parse_origin_accepts_canonical_origins(
    case: tuple[str, str, str, int, bool],
) -> None:
    origin, scheme, host, port, _ = case
    parsed = parse_origin(origin)
    assert parsed is not None, origin
    assert (parsed.scheme, parsed.host, parsed.port) == (scheme, host, port)


@st.composite
def mutated_origins(draw: st.DrawFn) -> tuple[str, str]:
    """A canonical origin changed in one way a browser never sends; (origin, how)."""
    origin, scheme, _host, port, written = draw(canonical_origins())
    hostport = origin.split("://", 1)[1]
    how = draw(
        st.sampled_from(
            [
                "upper",
                "default-port",
                "slash",
                "path",
                "userinfo",
                "query",
                "space",
                "leading-zero-port",
            ]
        )
    )
    if how == "upper":
        letters = [i for i, c in enumerate(origin) if c.isalpha() and c.islower()]
        i = draw(st.sampled_from(letters))  # the scheme always has letters
        return origin[:i] + origin[i].upper() + origin[i + 1 :], how
    if how == "default-port":
        if written:
            hostport = hostport.rsplit(":", 1)[0]
        return f"{scheme}://{hostport}:{DEFAULT_PORTS[scheme]}", how
    if how == "slash":
        return origin + "/", how
    if how == "path":
        return origin + "/" + draw(st.text(max_size=10)), how
    if how == "userinfo":
        user = draw(st.text(alphabet="abc:@%", min_size=0, max_size=6))
        return f"{scheme}://{user}@{hostport}", how
    if how == "query":
        return origin + draw(st.sampled_from(["?", "#", "?a=1", "#x"])), how
    if how == "space":
        return draw(st.sampled_from([" ", "\t", "\n", "\r\n"])).join(["", origin, ""]), how
    assert how == "leading-zero-port"
    return f"{scheme}://{hostport.rsplit(':', 1)[0] if written else hostport}:0{port}", how


@FAST
@given(mutated_origins())
@example(("HTTPS://a.com", "upper"))
@example(("https://A.com", "upper"))
@example(("https://a.com:443", "default-port"))
@example(("http://a.com:80", "default-port"))
@example(("https://a.com/", "slash"))
@example(("https://user:pw@a.com", "userinfo"))
@example(("https://@a.com", "userinfo"))
def test_parse_origin_rejects_what_a_browser_never_sends(case: tuple[str, str]) -> None:
    origin, _ = case
    assert parse_origin(origin) is None


@pytest.mark.parametrize(
    "host", ["1.2.3", "01.2.3.4", "1.2.3.256", "0x7f.0.0.1", "a.1", "[::0:1]", "[::FFFF:1]"]
)
def test_parse_origin_rejects_non_canonical_addresses(host: str) -> None:
    assert parse_origin(f"https://{host}") is None


# -- (b) parse_request_headers -----------------------------------------------------


def expected_header_names(value: str) -> tuple[str, ...] | None:
    """The Fetch reading: split on commas, trim SP/HTAB, skip empties, tokens only."""
    names: dict[str, None] = {}
    for item in value.split(","):
        name = item.strip(" \t")
        if not name:
            continue
        if not TOKEN.fullmatch(name):
            return None
        names[name.lower()] = None  # ASCII lower-case: a token is ASCII
    return tuple(names)


separators = st.sampled_from([",", ", ", " ,", ",\t", " , ", ",,", ", ,"])
token = st.text(alphabet=TCHARS, min_size=1, max_size=12)


@FAST
@given(st.text(max_size=300))
@example("")
@example(",,,")
@example("a,,b")
@example(" X-Custom ,\tx-custom,Content-Type")
@example("a b")
@example("\u212a")  # KELVIN SIGN lower-cases to an ASCII "k" but is no token
@example("x-\u0130")  # LATIN CAPITAL I WITH DOT lower-cases to two characters
def test_parse_request_headers_reads_as_fetch(value: str) -> None:
    got = parse_request_headers(value)
    assert got == expected_header_names(value)
    if got is not None:
        assert all(TOKEN.fullmatch(n) and n == n.lower() for n in got)
        assert len(set(got)) == len(got)


@FAST
@given(st.lists(token, max_size=30), st.data())
def test_parse_request_headers_keeps_first_appearance_order(
    names: list[str], data: st.DataObject
) -> None:
    value = "".join(name + data.draw(separators) for name in names)
    value = data.draw(st.sampled_from(["", " ", ","])) + value
    assert parse_request_headers(value) == tuple(dict.fromkeys(n.lower() for n in names))


@FAST
@given(latin1)
def test_parse_request_headers_output_is_safe_to_echo(value: str) -> None:
    got = parse_request_headers(value)
    if got is not None:
        echoed = ", ".join(got)
        assert echoed.isascii()
        assert not re.search(r"[\x00-\x1f\x7f]", echoed)


def test_parse_request_headers_refuses_over_long_values() -> None:
    at_limit = "a," + " " * (MAX_REQUEST_HEADERS_LENGTH - 3) + "b"
    assert parse_request_headers(at_limit) == ("a", "b")
    assert parse_request_headers(at_limit + "c") is None
    assert parse_request_headers("x" * 1_000_000) is None
    most_items = ",".join(["a"] * MAX_REQUEST_HEADER_ITEMS)
    assert parse_request_headers(most_items) == ("a",)
    assert parse_request_headers(most_items + ",") is None, "empty items count too"


def test_parse_request_headers_is_fast_on_comma_stuffed_values() -> None:
    size = MAX_REQUEST_HEADERS_LENGTH
    values = [
        "," * size,
        ", " * (size // 2),
        " \t," * (size // 3),
        "a," * (size // 2),
        ",".join(f"h{i}" for i in range(2000))[:size],
        "a" * size,
        " " * (size - 1) + "a",
        "," * (size + 1),  # over the limit: refused unread
    ]
    for value in values:
        start = time.perf_counter()
        for _ in range(20):
            parse_request_headers(value)
        assert time.perf_counter() - start < 0.5, value[:20]


# -- (c) normalize_method ----------------------------------------------------------


@FAST
@given(st.one_of(st.text(max_size=20), token, st.sampled_from(sorted(FETCH_METHODS))))
@example("get")
@example("Get")
@example("patch")
@example("PATCH")
@example("GET, DELETE")
@example("GET ")
@example("")
@example("GET\n")
@example("\u0131nfo")  # DOTLESS I upper-cases to an ASCII "I" but is no token
def test_normalize_method(value: str) -> None:
    got = normalize_method(value)
    if not TOKEN.fullmatch(value):
        assert got is None
    elif value.upper() in FETCH_METHODS:
        assert got == value.upper()
    else:
        assert got == value  # byte-identical: patch stays patch


# -- (d) the whole pipeline --------------------------------------------------------


def naughty_api(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """An API that sets its own CORS headers and Vary, which websvc must not let through."""
    start_response(
        "200 OK",
        [
            ("Content-Type", "text/plain"),
            ("Access-Control-Allow-Origin", "https://evil.example"),
            ("Access-Control-Allow-Credentials", "true"),
            ("access-control-expose-headers", "X-Leak"),
            ("Vary", "Accept-Encoding"),
        ],
    )
    return [b"naughty\n"]


def failing_api(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    raise RuntimeError("the API broke")


MODULE = __name__ if __name__ in sys.modules else "test_properties"


def sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def marked(tenant: str, index: int, **keys: Any) -> dict[str, Any]:
    """A rule whose headers say which rule it is: a unique max_age and expose header."""
    return {
        "allow_caching": True,
        "max_age": 1000 + RULE_IDS.index((tenant, index)),
        "expose_headers": [f"X-Rule-{tenant}-{index}"],
        **keys,
    }


RULE_IDS = [("acme", i) for i in range(4)] + [("beta", i) for i in range(4)]
RULES: dict[tuple[str, int], dict[str, Any]] = {
    ("acme", 0): {
        "domain": "https://app.acme.com",
        "methods": ["GET", "POST", "PUT", "DELETE"],
        "request_headers": ["X-Custom"],
        "allow_credentials": True,
    },
    ("acme", 1): {"domain": "*.acme.com", "methods": ["GET", "PATCH"]},
    ("acme", 2): {"domain": "*", "allow_any_origin": True},
    ("acme", 3): {
        "domain": "localhost",
        "request_headers": ["*"],
        "allow_credentials": True,
        "allow_private_network": True,
    },
    ("beta", 0): {"domain": "https://beta.com", "paths": ["/ws/rest/*"], "allow_credentials": True},
    ("beta", 1): {"domain": "http://beta.com:8080"},
    ("beta", 2): {"domain": "https://beta.com", "paths": ["/open"]},
    ("beta", 3): {"domain": "*.beta.com", "allow_credentials": True, "ports": ["*"]},
}
ANY_ORIGIN_RULE = ("acme", 2)


def pipeline_config(reject: bool, status: int) -> dict[str, Any]:
    return {
        "server": {
            "authentication": "basic",
            "preflight_status": status,
            "reject_disallowed": reject,
        },
        "apis": [
            {"path": "/ws/rest/echo", "app": "websvc.demo:echo"},
            {"path": "/ws/rest/naughty", "app": f"{MODULE}:naughty_api"},
            {"path": "/ws/rest/fail", "app": f"{MODULE}:failing_api"},
        ],
        "tenants": {
            name: {
                "hosts": [f"{name}.example.net"],
                "users": [{"name": f"{name}-1", "token_sha256": sha(f"{name}-token")}],
                "cors": [marked(name, i, **RULES[(name, i)]) for i in range(4)],
            }
            for name in ("acme", "beta")
        },
    }


APPS = {
    (reject, status): websvc.create_app(pipeline_config(reject, status))
    for reject in (False, True)
    for status in (200, 204)
}


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def tagged(value: str, tenant: str | None) -> tuple[str, str | None]:
    return value, tenant


#: Values tagged with the tenant they identify (None: they identify nobody).
credentials = st.one_of(
    st.sampled_from(
        [
            tagged(b64("acme-1:acme-token"), "acme"),
            tagged(b64("acme-1:wrong"), "acme"),  # identifies; authentication fails
            tagged(b64("beta-1:beta-token"), "beta"),
            tagged(b64("beta-1:"), "beta"),
            tagged(b64("nobody:x"), None),
            tagged(b64("no-colon"), None),
            tagged("!!!", None),
            tagged("", None),
        ]
    ),
    latin1.map(lambda v: tagged(v, None)),
)
known_hosts = st.sampled_from(
    [
        tagged("acme.example.net", "acme"),
        tagged("ACME.Example.NET:8443", "acme"),
        tagged("beta.example.net", "beta"),
        tagged("beta.example.net:80", "beta"),
    ]
)
hosts = st.one_of(
    known_hosts,
    known_hosts,
    st.sampled_from(
        [
            tagged("beta.example.net.", None),
            tagged("other.example", None),
            tagged("[::1]:8080", None),
            tagged("", None),
            # Ports of non-ASCII digits (latin-1 has \xb2, \xb3, \xb9): not a port.
            tagged("acme.example.net:\xb2", "acme"),
            tagged("acme.example.net:1\xb9", "acme"),
        ]
    ),
    latin1.map(lambda v: tagged(v, None)),
)
listed_origins = st.sampled_from(
    [
        "https://app.acme.com",
        "https://x.acme.com",
        "https://a.b.acme.com",
        "http://localhost:3000",
        "https://localhost",
        "https://beta.com",
        "http://beta.com:8080",
        "https://x.beta.com:9999",
        "null",
    ]
)
#: Origins that one tenant's rules allow (for some method, header and path).
TENANT_ORIGINS = {
    "acme": [
        "https://app.acme.com",
        "https://x.acme.com",
        "https://a.b.acme.com",
        "http://localhost:3000",
        "https://localhost",
        "https://anyone.example",
        "null",
    ],
    "beta": ["https://beta.com", "http://beta.com:8080", "https://x.beta.com:9999"],
}
#: Origins whose rule has the default methods and no paths (acme: the "*" rule).
SIMPLE_ORIGINS = {"acme": {"https://anyone.example", "null"}, "beta": {"http://beta.com:8080"}}
origins = st.one_of(
    listed_origins,
    listed_origins,
    st.sampled_from(
        [
            "https://anyone.example",
            "http://app.acme.com",
            "https://acme.com",
            "https://evilacme.com",
            "http://127.0.0.1:5500",
            "https://app.acme.com:443",
            "HTTPS://APP.ACME.COM",
            "https://app.acme.com/",
            "https://user@app.acme.com",
            "",
            "*",
        ]
    ),
    canonical_origins().map(lambda c: c[0]),
    latin1,
)
good_methods = st.sampled_from(
    ["GET", "get", "PUT", "DELETE", "PATCH", "patch", "POST", "HEAD", "OPTIONS"]
)
methods = st.one_of(
    good_methods,
    good_methods,
    st.sampled_from(["GET, DELETE", "", " GET", "TRACE", "CONNECT"]),
    latin1,
)
request_headers = st.one_of(
    st.sampled_from(["x-custom", "content-type,x-custom", "x-anything", "Accept"]),
    st.sampled_from(
        [
            "x-custom",
            "X-Custom, Content-Type",
            "authorization",
            "a,,b",
            "",
            ",,,,",
            "x-custom,x-other",
            "," * 9000,
        ]
    ),
    st.lists(token, max_size=6).map(",".join),
    latin1,
)
paths = st.one_of(
    st.sampled_from(["/ws/rest/echo", "/ws/rest/naughty", "/open", "/ws/rest/x"]),
    st.sampled_from(
        [
            "/ws/rest/echo",
            "/ws/rest/echo/sub",
            "/ws/rest/naughty",
            "/ws/rest/fail",
            "/ws/rest/",
            "/open",
            "/",
            "/nothing",
            "/WS/REST/echo",
            "",
        ]
    ),
    latin1,
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), strategy)


@st.composite
def plausible_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A request a browser page of one tenant could send (often allowed).

    The tenant is identified in one of the SPEC §3 ways, with the lower
    priority ways naming the *other* tenant, so that a wrong precedence shows.
    """
    tenant, other = draw(st.sampled_from([("acme", "beta"), ("beta", "acme")]))
    via = draw(st.sampled_from(["host", "basic", "boomi_auth"]))
    token = draw(st.sampled_from([f"{tenant}-token", "wrong"]))
    own = b64(f"{tenant}-1:{token}")
    others = b64(f"{other}-1:{other}-token")
    preflight = draw(st.booleans())
    origin = draw(st.sampled_from(TENANT_ORIGINS[tenant]))
    acrm = draw(st.sampled_from(["GET", "POST", "get", "PUT"])) if preflight else None
    acrh = draw(maybe(st.sampled_from(["x-custom", "content-type,x-custom", "x-other"])))
    return {
        "app": draw(st.sampled_from(sorted(APPS))),
        "method": "OPTIONS" if preflight else draw(st.sampled_from(["GET", "POST", "HEAD"])),
        "path": draw(st.sampled_from(["/ws/rest/echo", "/ws/rest/naughty", "/open", "/x"])),
        "origin": origin,
        "acrm": acrm,
        "acrh": acrh,
        # a default-methods rule without paths allows this, whatever the path
        "must_allow": origin in SIMPLE_ORIGINS[tenant] and acrm != "PUT" and acrh is None,
        "pna": draw(maybe(st.just("true"))),
        "host": (
            tagged(f"{tenant}.example.net", tenant)
            if via == "host"
            else draw(maybe(st.just(tagged(f"{other}.example.net", other))))
        ),
        "authorization": (
            tagged(f"Basic {own}", tenant)
            if via == "basic"
            else draw(maybe(st.just(tagged(f"Basic {others}", other))))
            if via == "boomi_auth"
            else None
        ),
        "boomi_auth": tagged(f"boomi_auth={quote(own)}", tenant) if via == "boomi_auth" else None,
    }


@st.composite
def arbitrary_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A request mixing valid values with arbitrary latin-1 text in every field."""
    return {
        "app": draw(st.sampled_from(sorted(APPS))),
        "must_allow": False,
        "method": draw(st.one_of(st.just("OPTIONS"), methods)),
        "path": draw(paths),
        "origin": draw(maybe(origins)),
        "acrm": draw(maybe(methods)),
        "acrh": draw(maybe(request_headers)),
        "pna": draw(maybe(st.sampled_from(["true", "false", ""]))),
        "host": draw(maybe(hosts)),
        "authorization": draw(
            maybe(
                st.one_of(
                    credentials.map(lambda c: (f"Basic {c[0]}", c[1])),
                    st.sampled_from([("Bearer abc", None), ("Basic", None), ("basic ", None)]),
                    latin1.map(lambda v: (v, None)),
                )
            )
        ),
        "boomi_auth": draw(
            maybe(
                st.one_of(
                    credentials.map(lambda c: (f"boomi_auth={quote(c[0])}", c[1])),
                    credentials.map(lambda c: (f"boomi_auth={c[0]}", c[1])),
                    # Many fields around it (a parser with a field limit must not fail).
                    st.tuples(credentials, st.integers(0, 300)).map(
                        lambda cn: (
                            "&".join([*(f"f{i}=" for i in range(cn[1])), f"boomi_auth={cn[0][0]}"]),
                            cn[0][1],
                        )
                    ),
                    latin1.map(lambda v: (v, None)),
                )
            )
        ),
    }


requests = st.one_of(plausible_requests(), plausible_requests(), arbitrary_requests())


def environ_for(req: dict[str, Any]) -> WSGIEnvironment:
    """A raw WSGI environ: values go in exactly as drawn, as a server would pass them."""
    environ = EnvironBuilder(method="GET", path="/").get_environ()
    environ["REQUEST_METHOD"] = req["method"]
    environ["PATH_INFO"] = req["path"]
    environ["QUERY_STRING"] = req["boomi_auth"][0] if req["boomi_auth"] else ""
    environ.pop("HTTP_HOST", None)
    for key, value in (
        ("HTTP_ORIGIN", req["origin"]),
        ("HTTP_ACCESS_CONTROL_REQUEST_METHOD", req["acrm"]),
        ("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", req["acrh"]),
        ("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK", req["pna"]),
        ("HTTP_HOST", req["host"][0] if req["host"] else None),
        ("HTTP_AUTHORIZATION", req["authorization"][0] if req["authorization"] else None),
    ):
        if value is not None:
            environ[key] = value
    return environ


def expected_tenant(req: dict[str, Any]) -> str | None:
    """SPEC §3 identification, on the tags of the drawn values."""
    for drawn in (req["boomi_auth"], req["authorization"], req["host"]):
        if drawn is not None and drawn[1] is not None:
            return str(drawn[1])
    return None


def rule_of(headers: Any, preflight: bool) -> tuple[str, int] | None:
    """Which rule produced the headers, from its unique marker."""
    if preflight:
        max_age = headers.get("Access-Control-Max-Age")
        return RULE_IDS[int(max_age) - 1000] if max_age else None
    expose = headers.get("Access-Control-Expose-Headers")
    if not expose:
        return None
    _, tenant, index = expose.rsplit("-", 2)
    return tenant, int(index)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(requests)
def test_pipeline_never_fails_and_emits_only_allowed_cors_headers(req: dict[str, Any]) -> None:
    reject, _status = req["app"]
    environ = environ_for(req)
    origin = environ.get("HTTP_ORIGIN")
    preflight = (
        environ["REQUEST_METHOD"] == "OPTIONS"
        and origin is not None
        and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ
    )
    app_iter, status, headers = run_wsgi_app(APPS[req["app"]], environ, buffered=True)
    b"".join(app_iter)
    code = int(status.split(" ", 1)[0])

    # never a websvc failure: the only 500 is the API that raises
    if code == 500:
        assert environ["PATH_INFO"].startswith("/ws/rest/fail")
        assert not preflight

    # Vary is always there, once, naming Origin
    varies = headers.getlist("Vary")
    assert len(varies) == 1, varies
    if preflight:
        assert varies == [VARY_PREFLIGHT]
    else:
        assert "origin" in [v.strip().lower() for v in varies[0].split(",")]

    cors = {k.lower() for k, _ in headers if k.lower().startswith("access-control-")}
    acao = headers.getlist("Access-Control-Allow-Origin")
    assert len(acao) <= 1, acao
    assert headers.get("Access-Control-Allow-Origin") != "https://evil.example"
    assert "X-Leak" not in headers.get("Access-Control-Expose-Headers", "")
    kind = "preflight" if preflight else "normal"
    if origin is None:
        event("no origin")
        assert not cors, headers  # no Origin: untouched, the API's own are removed
        return
    if not acao:
        event(f"{kind} refused ({code})")
        assert not req["must_allow"], req
        assert not cors, headers  # a refusal carries no Access-Control-* at all
        if code == 403:
            assert reject
        return

    # allowed: exactly one rule decided, and it belongs to the identified tenant
    assert code != 403
    rule = rule_of(headers, preflight)
    assert rule is not None, headers
    event(f"{kind} allowed by {rule[0]}[{rule[1]}]")
    assert rule[0] == expected_tenant(req), (rule, req)
    spec = RULES[rule]
    if rule == ANY_ORIGIN_RULE:
        assert acao == ["*"]
    else:
        assert acao == [origin]  # byte for byte
        assert parse_origin(origin) is not None
    credentialed = headers.getlist("Access-Control-Allow-Credentials")
    if spec.get("allow_credentials"):
        assert credentialed == ["true"]
        assert acao != ["*"]
    else:
        assert credentialed == []
    if preflight:
        assert code == req["app"][1]
        allowed = set(spec.get("methods", ["GET", "HEAD", "POST"]))
        assert normalize_method(environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"]) in allowed
        echoed = headers.get("Access-Control-Allow-Headers")
        requested = parse_request_headers(environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", ""))
        assert echoed == (", ".join(requested) if requested else None)
    else:
        assert "access-control-allow-methods" not in cors
        assert "access-control-max-age" not in cors


# -- (e) the ASCII fast path of to_ascii is the idna codec ----------------------


def _codec(host: str) -> str | None:
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _ours(host: str) -> str | None:
    from websvc.syntax import to_ascii

    try:
        return to_ascii(host)
    except UnicodeError:
        return None


@given(
    st.lists(
        st.one_of(st.text("aZ0-_", max_size=3), st.just("a" * 63), st.just("b" * 64)),
        max_size=5,
    ).map(".".join)
    | st.text("a.-", max_size=8)
)
@example("")
@example(".")
@example("a.")
@example("a..")
def test_to_ascii_on_ascii_is_the_idna_codec(host: str) -> None:
    assert _ours(host) == _codec(host)
