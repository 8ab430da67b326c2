"""The pipeline's memos never change an answer.

Where only the default plugins decide, :func:`websvc.pipeline.prepare` keeps
answers per site (see "the memos" in websvc/pipeline.py). Here, for configs
that cover every setting the answer depends on, a few hundred varied requests
are sent in a shuffled order, twice, to one app (memos cold, then warm, and
entries of one key meeting requests of another), and each answer must equal,
byte for byte, the answer of an app that computes everything afresh
(``prepare(..., memo=False)``). A key that forgot a part of the request the
answer depends on fails here: two requests that differ only in that part
collide.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import itertools
import random
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.test import EnvironBuilder

import websvc.app
from websvc import create_app
from websvc.pipeline import MEMO_SIZE, prepare
from websvc.site import AuthResult, Identity

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment


def echo(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """Everything websvc tells an API, in the body; a ``Vary`` of its own on /ws/vary."""
    seen = [environ.get(k) for k in ("websvc.tenant", "websvc.user", "SCRIPT_NAME", "PATH_INFO")]
    headers = [("Content-Type", "text/plain")]
    if environ["PATH_INFO"].startswith("/vary"):
        headers.append(("Vary", "Accept"))
    start_response("200 OK", headers)
    return [repr(seen).encode()]


def _user(name: str) -> dict[str, str]:
    return {"name": name, "token_sha256": hashlib.sha256(f"{name}-token".encode()).hexdigest()}


RULES = [
    {"domain": "a.com", "methods": ["GET", "PUT"], "request_headers": ["X-Ok"],
     "allow_credentials": True, "expose_headers": ["X-Id"]},
    {"domain": "*.b.com", "protocols": ["http", "https"], "ports": [8080, 443],
     "allow_private_network": True, "allow_caching": True, "max_age": 60},
    {"domain": "c.com", "paths": ["/ws/only/*"], "methods": ["DELETE"]},
    {"domain": "*", "allow_any_origin": True, "methods": ["GET"]},
]  # fmt: skip


def _config(server: dict[str, Any], *, paths: bool) -> dict[str, Any]:
    rules = RULES if paths else [r for r in RULES if "paths" not in r]
    return {
        "server": server,
        "apis": [{"path": "/ws", "app": f"{__name__}:echo"}],
        "tenants": {
            "acme": {"hosts": ["acme.test"], "users": [_user("ann")], "cors": rules},
            "beta": {"hosts": ["beta.test"], "users": [_user("bob")], "cors": rules[:1]},
        },
    }


CONFIGS = {
    "none": ({"authentication": "none"}, False),
    "none-paths": ({"authentication": "none"}, True),
    "basic": ({"authentication": "basic"}, True),
    "basic-no-paths": ({"authentication": "basic"}, False),
    "reject": ({"authentication": "none", "reject_disallowed": True}, False),
    "debug-204": ({"authentication": "none", "debug_header": True, "preflight_status": 204}, False),
}

ORIGINS = [None, "https://a.com", "http://a.com", "https://x.b.com:8080", "https://x.b.com",
           "http://acme.test", "https://acme.test", "https://c.com", "https://A.com", "null", "https://other.org"]  # fmt: skip
HOSTS = ["acme.test", "beta.test", "nobody.test"]
PATHS = ["/ws/x", "/ws/only/y", "/ws/vary", "/elsewhere"]
METHODS = ["GET", "PUT", "DELETE", "OPTIONS"]
ACRMS = [None, "GET", "PUT", "DELETE", "get"]
ACRHS = [None, "x-ok", "x-ok,x-bad", "content-type", "x ok"]
CREDENTIALS = [None, "ann:ann-token", "ann:wrong", "bob:bob-token", "boomi:ann:ann-token"]


SCHEMES = ["http://localhost", "https://localhost"]


def _requests(count: int, seed: int) -> list[EnvironBuilder]:
    """*count* random requests, each followed by its variants in one part each.

    A variant differs from its request in exactly one thing (Host, scheme,
    path, method, Origin, the preflight headers, the credential), so a memo
    key that forgot that thing makes the two collide.
    """
    rng = random.Random(seed)
    requests: list[dict[str, Any]] = []
    plain = {"host": "acme.test", "scheme": SCHEMES[1], "path": "/ws/only/y", "acrh": None,
             "pna": True, "credential": None}  # fmt: skip
    # Requests the rules allow (so a forgotten part changes a header), then random ones.
    bases = [
        {**plain, "origin": origin, "method": method, "acrm": acrm}
        for origin in ORIGINS
        for method, acrm in (("GET", None), ("DELETE", None), ("OPTIONS", "GET"), ("OPTIONS", "DELETE"))
    ]  # fmt: skip
    for _ in range(count):
        bases.append({
            "host": rng.choice(HOSTS),
            "scheme": rng.choice(SCHEMES),
            "path": rng.choice(PATHS),
            "method": rng.choice(METHODS),
            "origin": rng.choice(ORIGINS),
            "acrm": rng.choice(ACRMS),
            "acrh": rng.choice(ACRHS),
            "pna": rng.random() < 0.5,
            "credential": rng.choice(CREDENTIALS) if rng.random() < 0.5 else None,
        })  # fmt: skip
    for base in bases:
        requests.append(base)
        for part, choices in (
            ("host", HOSTS), ("scheme", SCHEMES), ("path", PATHS), ("method", METHODS),
            ("origin", ORIGINS), ("acrm", ACRMS), ("acrh", ACRHS), ("pna", [True, False]),
            ("credential", CREDENTIALS),
        ):  # fmt: skip
            requests.append({**base, part: rng.choice([c for c in choices if c != base[part]])})
    return [_builder(**request) for request in requests]


def _builder(
    *,
    host: str,
    scheme: str,
    path: str,
    method: str,
    origin: str | None,
    acrm: str | None,
    acrh: str | None,
    pna: bool,
    credential: str | None,
) -> EnvironBuilder:
    headers = {"Host": host}
    if origin is not None:
        headers["Origin"] = origin
    if acrm is not None:
        headers["Access-Control-Request-Method"] = acrm
    if acrh is not None:
        headers["Access-Control-Request-Headers"] = acrh
    if pna:
        headers["Access-Control-Request-Private-Network"] = "true"
    query = ""
    if credential is not None and credential.startswith("boomi:"):
        query = "boomi_auth=" + base64.b64encode(credential[6:].encode()).decode()
    elif credential is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(credential.encode()).decode()
    return EnvironBuilder(
        path, method=method, headers=list(headers.items()), query_string=query, base_url=scheme
    )


def _answer(app: Any, builder: EnvironBuilder) -> tuple[str, list[tuple[str, str]], bytes]:
    got: list[Any] = []
    body = b"".join(app(builder.get_environ(), lambda s, h, e=None: got.extend((s, h))))
    return got[0], list(got[1]), body


@pytest.mark.parametrize("name", list(CONFIGS))
def test_memoized_answers_equal_fresh_ones(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    server, paths = CONFIGS[name]
    memoized = create_app(_config(server, paths=paths))
    fresh = create_app(_config(server, paths=paths))
    requests = _requests(150, seed=len(name))
    expected = {}
    with monkeypatch.context() as patch:
        patch.setattr(websvc.app, "prepare", functools.partial(prepare, memo=False))
        for builder in requests:
            expected[id(builder)] = _answer(fresh, builder)
    assert not fresh.site.answers and not fresh.site.plans
    order = requests * 2
    random.Random(7).shuffle(order)
    for builder in order:
        assert _answer(memoized, builder) == expected[id(builder)], builder.headers
    # The memos did work here (else this test proves nothing).
    assert memoized.site.answers and memoized.site.plans
    kept = [plan[0] for plan in memoized.site.plans.values()]  # its Outcome
    assert all(o.auth is None or o.auth.ok for o in kept)  # a 401 is never kept
    if name == "basic-no-paths":  # requests that passed Basic authentication are kept
        assert any(o.auth is not None and o.auth.user for o in kept)


def test_a_memoized_request_keeps_no_environ() -> None:
    app = create_app(_config({"authentication": "none"}, paths=False))
    builder = EnvironBuilder(
        "/ws/x", headers={"Host": "acme.test", "Origin": "https://a.com"}, method="GET"
    )
    _answer(app, builder)
    ((plan,),) = [list(app.site.plans.values())]
    outcome = plan[0]
    assert outcome.request is not None and dict(outcome.request.environ) == {}


def test_memos_are_bounded_and_start_again_when_full() -> None:
    app = create_app(_config({"authentication": "none"}, paths=False))
    for n in itertools.islice(itertools.count(), MEMO_SIZE + 10):
        builder = EnvironBuilder(
            "/ws/x", headers={"Host": "acme.test", "Origin": f"https://{n}.b.com"}
        )
        _answer(app, builder)
    assert 0 < len(app.site.plans) <= MEMO_SIZE
    assert len(app.site.plans) < 100  # cleared once full, then refilled


def test_long_values_are_never_memoized() -> None:
    app = create_app(_config({"authentication": "none"}, paths=False))
    long_origin = "https://" + "x" * 300 + ".b.com"
    _answer(app, EnvironBuilder("/ws/x", headers={"Host": "acme.test", "Origin": long_origin}))
    assert not app.site.plans and not app.site.answers


def test_a_plugin_that_decides_turns_the_cors_memo_off() -> None:
    calls = []

    class Counting:
        @websvc.hookimpl
        def websvc_lookup_rule(self) -> None:
            calls.append(1)

    app = websvc.WebsvcApp(
        _config({"authentication": "none"}, paths=False), plugins=[Counting()], autoload=False
    )
    builder = EnvironBuilder("/ws/x", headers={"Host": "acme.test", "Origin": "https://a.com"})
    for _ in range(3):
        _answer(app, builder)
    assert len(calls) == 3
    assert not app.site.plans and not app.site.answers


def test_a_plugin_that_identifies_turns_the_whole_outcome_memo_off() -> None:
    class ByHeader:
        @websvc.hookimpl
        def websvc_identify_tenant(self, environ: WSGIEnvironment, site: Any) -> Any:
            name = environ.get("HTTP_X_TENANT")
            return Identity(site.tenants[name], "header") if name else None

    config = _config({"authentication": "none"}, paths=False)
    app = websvc.WebsvcApp(config, plugins=[ByHeader()], autoload=False)
    headers = {"Host": "acme.test", "Origin": "https://a.com"}
    first = _answer(app, EnvironBuilder("/ws/x", headers=headers))
    second = _answer(app, EnvironBuilder("/ws/x", headers={**headers, "X-Tenant": "beta"}))
    assert b"'acme'" in first[2] and b"'beta'" in second[2]
    assert not app.site.plans


def test_a_plugin_that_authenticates_turns_the_whole_outcome_memo_off() -> None:
    class ByKey:
        @websvc.hookimpl
        def websvc_authenticate(self, environ: WSGIEnvironment) -> AuthResult:
            return AuthResult(True, user=environ.get("HTTP_X_KEY"))

    app = websvc.WebsvcApp(
        _config({"authentication": "none"}, paths=False), plugins=[ByKey()], autoload=False
    )
    headers = {"Host": "acme.test", "Origin": "https://a.com"}
    first = _answer(app, EnvironBuilder("/ws/x", headers={**headers, "X-Key": "k1"}))
    second = _answer(app, EnvironBuilder("/ws/x", headers={**headers, "X-Key": "k2"}))
    assert b"'k1'" in first[2] and b"'k2'" in second[2]
    assert not app.site.plans and app.site.answers  # the CORS part is still kept


def test_basic_authentication_is_kept_per_credential_and_a_401_never() -> None:
    app = create_app(_config({"authentication": "basic"}, paths=False))

    def get(credential: str) -> tuple[str, list[tuple[str, str]], bytes]:
        auth = "Basic " + base64.b64encode(credential.encode()).decode()
        headers = {"Host": "beta.test", "Origin": "https://a.com", "Authorization": auth}
        return _answer(app, EnvironBuilder("/ws/x", headers=headers))

    for _ in range(2):
        assert get("bob:bob-token")[0] == "200 OK"
        assert get("bob:wrong")[0] == "401 Unauthorized"
        assert get("carl:carl-token")[0] == "401 Unauthorized"  # no such user
    ((plan,),) = [list(app.site.plans.values())]
    outcome, _, _, _, _, user, _ = plan
    assert user == "bob" and outcome.auth is not None and outcome.auth.ok


def test_a_changed_token_takes_effect_with_the_reload_that_changes_it() -> None:
    config = _config({"authentication": "basic"}, paths=False)
    app = create_app(config)
    auth = "Basic " + base64.b64encode(b"bob:bob-token").decode()
    builder = EnvironBuilder("/ws/x", headers={"Host": "beta.test", "Authorization": auth})
    assert _answer(app, builder)[0] == "200 OK"
    assert _answer(app, builder)[0] == "200 OK"  # kept
    config["tenants"]["beta"]["users"] = [_user("bob") | {"token_sha256": "0" * 64}]
    assert app.reload(config)
    assert _answer(app, builder)[0] == "401 Unauthorized"
