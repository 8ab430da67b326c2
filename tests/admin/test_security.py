"""The security matrix (OWASP API Top 10: API1 BOLA, API3, API4, API5), audit, concurrency.

Every route of ADMIN-API §3 is called with every kind of caller; after each
call tenant B's row, revisions, tokens and claims are byte-for-byte what they
were (read from the SQLite file itself), and every refusal is in the audit log.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from tests.admin.conftest import (
    A_HOSTS,
    B_HOSTS,
    GHOST,
    OPERATOR_TOKEN,
    PREFIX,
    A,
    Api,
    B,
    body_of,
    config_for,
    make_api,
    seed,
    user,
)
from websvc.admin import create_app
from websvc.admin.routes import ROUTES
from websvc.store import Audit, open_store

WWW_AUTHENTICATE = 'Bearer realm="websvc admin"'
NO_SUCH_TENANT = {"error": "no such tenant"}


@dataclass(frozen=True)
class Call:
    """One route, and how to call it on a tenant so that only the caller can make it fail."""

    endpoint: str
    method: str
    path: str  # {t}: the tenant, {id}: a token id, {v}: a revision
    ok: int  # the status for an operator (and, on tenant routes, the tenant itself)
    body: dict[str, Any] | None = None
    if_match: bool = False


CALLS = {
    c.endpoint: c
    for c in (
        Call("openapi", "GET", "/openapi.json", 200),
        Call("whoami", "GET", "/whoami", 200),
        Call("list_tenants", "GET", "/tenants", 200),
        Call("put_tenant", "PUT", "/tenants/{t}", 200, {"hosts": ["{host}", "extra.{host}"]}),
        Call("delete_tenant", "DELETE", "/tenants/{t}", 204),
        Call("add_token", "POST", "/tenants/{t}/tokens", 201),
        Call("revoke_token", "DELETE", "/tenants/{t}/tokens/{id}", 204),
        Call("get_rules", "GET", "/tenants/{t}/cors", 200),
        Call("put_rules", "PUT", "/tenants/{t}/cors", 200,
             {"rules": [{"domain": "new.example"}]}, if_match=True),
        Call("revisions", "GET", "/tenants/{t}/cors/revisions", 200),
        Call("revision", "GET", "/tenants/{t}/cors/revisions/1", 200),
        Call("rollback", "POST", "/tenants/{t}/cors/rollback", 200, {"version": 1}, if_match=True),
        Call("evaluate", "POST", "/tenants/{t}/cors/evaluate", 200,
             {"origin": "https://app.bravo.example", "method": "GET"}),
        Call("audit", "GET", "/audit?tenant={t}", 200),
    )
}  # fmt: skip

#: caller -> (token, tenant named in the path)
CALLERS = {
    "no token": (None, B),
    "bad token": ("bad", B),
    "revoked token": ("A-revoked", A),
    "A on A": ("A", A),
    "A on B": ("A", B),
    "A on a ghost": ("A", GHOST),
    "operator": ("operator", A),
}


def test_the_matrix_covers_every_route() -> None:
    assert sorted(CALLS) == sorted(route.endpoint for route in ROUTES)
    for route in ROUTES:
        call = CALLS[route.endpoint]
        assert call.method == route.method
        assert call.if_match == route.if_match


def expected(route_who: str, caller: str, ok: int, names_tenant: bool = True) -> int:
    """The status ADMIN-API §3 requires of *caller* on a route for *route_who*."""
    if not names_tenant and caller.startswith("A on"):
        caller = "A on A"  # the path names no tenant: A's token is A's token
    if route_who == "anyone":
        return ok
    if caller in ("no token", "bad token", "revoked token"):
        return 401
    if caller == "operator":
        return ok
    if caller in ("A on B", "A on a ghost"):
        return 404  # any route, any method: exactly as for a tenant that does not exist
    return 403 if route_who == "operator" else ok


def send(api: Api, call: Call, token: str | None, tenant: str) -> TestResponse:
    token_id = ""
    if call.endpoint == "revoke_token":
        if token == "operator" and tenant != GHOST:  # a live token of the tenant, to revoke
            token_id = api.store.add_admin_token(tenant, hashlib.sha256(b"x").hexdigest(),
                                                 audit=Audit("cli", "POST", "setup"))  # fmt: skip
        else:
            token_id = api.token_ids.get("B" if tenant == B else "A", "0" * 12)
    path = call.path.format(t=tenant, id=token_id)
    body = call.body
    if body is not None and call.endpoint == "put_tenant":
        host = {A: A_HOSTS, B: B_HOSTS}.get(tenant, ["ghost.test"])[0]
        body = {"hosts": [h.format(host=host) for h in body["hosts"]]}
    headers = {}
    if call.if_match:
        state = api.store.tenant(tenant)
        headers["If-Match"] = f'"{state.version if state else 1}"'
    return api.call(call.method, path, token, json_body=body, headers=headers)


@pytest.mark.parametrize("caller", list(CALLERS))
@pytest.mark.parametrize("endpoint", list(CALLS))
def test_security_matrix(api: Api, endpoint: str, caller: str) -> None:
    route = next(r for r in ROUTES if r.endpoint == endpoint)
    call = CALLS[endpoint]
    token, tenant = CALLERS[caller]
    b_before = api.raw_row(B)
    audit_before = len(api.audit_rows())
    answer = send(api, call, token, tenant)
    status = expected(route.who, caller, call.ok, "{t}" in call.path)
    assert answer.status_code == status, (answer.status_code, answer.data[:300])
    if status == 401:
        assert answer.headers["WWW-Authenticate"] == WWW_AUTHENTICATE
        assert set(body_of(answer)) == {"error"}
    else:
        assert "WWW-Authenticate" not in answer.headers
    if status == 404:
        assert body_of(answer) == NO_SUCH_TENANT
    if status == 403:
        assert set(body_of(answer)) == {"error"}
    if status == 204:
        assert answer.data == b""
    elif status < 300:
        body_of(answer)  # JSON
    # B is untouched, whoever asked for what
    assert api.raw_row(B) == b_before
    # a refusal is in the audit log, with its status, as "denied"
    entries = api.store.audit_entries(limit=5)
    if status in (401, 403, 404):
        newest = entries[0]
        assert (newest.status, newest.outcome, newest.method) == (status, "denied", call.method)
        assert newest.path == answer.request.path
        assert newest.request_id == answer.headers["X-Request-Id"]
        assert newest.tenant == (None if "{t}" not in call.path or endpoint == "audit" else tenant)
        actor = {"A": f"tenant:{A}", "A-revoked": f"tenant:{A}"}.get(token or "", "anonymous")
        if token in (None, "bad", "A-revoked"):
            actor = "anonymous"  # not authenticated: nobody's
        assert newest.actor == actor
        assert len(api.audit_rows()) == audit_before + 1
    elif call.method != "GET" and endpoint != "evaluate":  # a write: its own "ok" entry
        newest = entries[0]
        assert (newest.status, newest.outcome) == (status, "ok")


@pytest.mark.parametrize(
    "endpoint", [c.endpoint for c in CALLS.values() if "{t}" in c.path and c.endpoint != "audit"]
)
def test_another_tenants_path_answers_exactly_as_a_missing_tenant(api: Api, endpoint: str) -> None:
    """API1 (BOLA): A's token cannot tell whether B exists, by status, body or header."""
    call = CALLS[endpoint]
    on_b = send(api, call, "A", B)
    on_ghost = send(api, call, "A", GHOST)

    def seen(answer: TestResponse) -> tuple[int, bytes, list[tuple[str, str]]]:
        headers = [(k, v) for k, v in answer.headers.items() if k != "X-Request-Id"]
        return answer.status_code, answer.data, headers

    assert seen(on_b) == seen(on_ghost)
    assert on_b.status_code == 404
    # and the operator's answer for a tenant that does not exist is the same 404
    if call.endpoint not in ("put_tenant",):  # PUT creates it
        assert seen(send(api, call, "operator", GHOST))[:2] == seen(on_ghost)[:2]


@pytest.mark.parametrize(
    "authorization",
    [
        "",
        "Bearer",
        "Bearer ",
        "Basic b3BlcmF0b3I6c2VjcmV0",
        f"Basic {OPERATOR_TOKEN}",
        f"Token {OPERATOR_TOKEN}",
        f"Bearer {OPERATOR_TOKEN}x",
        f"Bearer {OPERATOR_TOKEN[:-1]}",
        f"Bearer {hashlib.sha256(OPERATOR_TOKEN.encode()).hexdigest()}",  # the digest is no token
        "Bearer " + "a" * 5000,
        "Bearer token-of-acme-1",  # a data-plane user's token is no admin token
    ],
)
def test_what_is_not_a_valid_token(api: Api, authorization: str) -> None:
    answer = api.client.get(f"{PREFIX}/whoami", headers={"Authorization": authorization})
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == WWW_AUTHENTICATE
    assert api.store.audit_entries(limit=1)[0].outcome == "denied"


def test_the_bearer_scheme_is_case_insensitive(api: Api) -> None:
    answer = api.client.get(
        f"{PREFIX}/whoami", headers={"Authorization": f"bearer {OPERATOR_TOKEN}"}
    )
    assert answer.status_code == 200


def test_a_revoked_token_stops_at_once_even_for_a_second_app(api: Api) -> None:
    other_store = open_store(f"sqlite:///{api.db}")
    other = Client(create_app(config_for(api.db), store=other_store, autoload=False))
    created = body_of(api.call("POST", f"/tenants/{A}/tokens"))
    headers = {"Authorization": f"Bearer {created['token']}"}
    assert other.get(f"{PREFIX}/whoami", headers=headers).status_code == 200
    api.call("DELETE", f"/tenants/{A}/tokens/{created['id']}")
    assert other.get(f"{PREFIX}/whoami", headers=headers).status_code == 401
    other_store.close()


# -- API3 (object property level), API4 (resources): bodies --------------------------------------


@pytest.mark.parametrize("who", ["A", "operator"])
def test_a_tenant_field_in_a_body_is_refused(api: Api, who: str) -> None:
    before = (api.raw_row(A), api.raw_row(B))
    for method, path, body in (
        ("PUT", f"/tenants/{A}/cors", {"rules": [], "tenant": B}),
        ("PUT", f"/tenants/{A}/cors", {"corsConfiguration": {"origins": []}, "tenant": B}),
        ("POST", f"/tenants/{A}/cors/rollback", {"version": 1, "tenant": B}),
        ("POST", f"/tenants/{A}/cors/evaluate", {"origin": "https://x.example", "method": "GET",
                                                 "tenant": B}),
        ("PUT", f"/tenants/{A}", {"hosts": A_HOSTS, "tenant": B, "version": 9}),
    ):  # fmt: skip
        if method == "PUT" and path == f"/tenants/{A}" and who != "operator":
            continue
        answer = api.call(method, path, who, json_body=body, headers=api.if_match(A))
        assert answer.status_code == 400, (path, answer.get_json())
        assert any(p["path"] == "tenant" for p in body_of(answer)["problems"])
        entry = api.store.audit_entries(limit=1)[0]
        assert (entry.status, entry.outcome) == (400, "invalid")
    assert (api.raw_row(A), api.raw_row(B)) == before


def test_a_rule_cannot_smuggle_keys(api: Api) -> None:
    before = api.raw_row(A)
    for extra in ({"tenant": B}, {"hosts": ["evil.test"]}, {"users": []}, {"version": 1}):
        body = {"rules": [{"domain": "a.example", **extra}]}
        answer = api.call("PUT", f"/tenants/{A}/cors", "A", json_body=body, headers=api.if_match(A))
        assert answer.status_code == 400
        [problem] = body_of(answer)["problems"]
        assert problem["path"] == f"rules[0].{next(iter(extra))}"
    assert api.raw_row(A) == before


def test_caps_are_413_and_audited_as_invalid(db: Path) -> None:
    api = seed(make_api(db, max_body_bytes=1024, max_rules_per_tenant=2))
    before = api.raw_row(A)
    cases = [
        {"rules": [{"domain": "a.example", "paths": ["/" + "x" * 2000]}]},
        {"rules": [{"domain": f"r{i}.example"} for i in range(3)]},
        {"corsConfiguration": {"origins": [{"domain": f"r{i}.example"} for i in range(3)]}},
    ]
    for body in cases:
        answer = api.call("PUT", f"/tenants/{A}/cors", "A", json_body=body, headers=api.if_match(A))
        assert answer.status_code == 413, body
        entry = api.store.audit_entries(limit=1)[0]
        assert (entry.status, entry.outcome, entry.actor) == (413, "invalid", f"tenant:{A}")
    assert api.raw_row(A) == before
    api.store.close()


@pytest.mark.parametrize(
    ("data", "content_type", "headers", "status"),
    [
        (b"not json", "application/json", True, 400),
        (b'{"rules": []}', "text/plain", True, 415),
        (b'{"rules": []}', "application/json", False, 428),
        (b'{"rules": [{"domain": "a.example", "max_age": -1}]}', "application/json", True, 400),
    ],
)
def test_invalid_requests_are_audited_as_invalid(
    api: Api, data: bytes, content_type: str, headers: bool, status: int
) -> None:
    before = api.raw_row(A)
    answer = api.call(
        "PUT",
        f"/tenants/{A}/cors",
        "A",
        data=data,
        content_type=content_type,
        headers=api.if_match(A) if headers else {},
    )
    assert answer.status_code == status
    entry = api.store.audit_entries(limit=1)[0]
    assert (entry.status, entry.outcome, entry.tenant, entry.actor) == (
        status,
        "invalid",
        A,
        f"tenant:{A}",
    )
    assert api.raw_row(A) == before


def test_a_stale_write_is_audited_as_invalid(api: Api) -> None:
    answer = api.call("PUT", f"/tenants/{A}/cors", "A", json_body={"rules": []},
                      headers={"If-Match": '"1"'})  # fmt: skip
    assert answer.status_code == 412
    entry = api.store.audit_entries(limit=1)[0]
    assert (entry.status, entry.outcome) == (412, "invalid")


def test_every_refusal_is_in_the_audit_log(api: Api) -> None:
    """The whole matrix at once: one denied entry per refusal, none for an answered read."""
    refusals = 0
    for endpoint, call in CALLS.items():
        route = next(r for r in ROUTES if r.endpoint == endpoint)
        for caller, (token, tenant) in CALLERS.items():
            if caller == "operator" or (caller == "A on A" and route.who != "operator"):
                continue  # successes: see the matrix
            before = len(api.audit_rows())
            answer = send(api, call, token, tenant)
            if answer.status_code in (401, 403, 404):
                refusals += 1
                rows = api.audit_rows()
                assert len(rows) == before + 1
                assert rows[0]["outcome"] == "denied"
                assert rows[0]["status"] == answer.status_code
            else:
                assert route.who == "anyone" or endpoint in ("whoami", "audit")
    assert refusals > 50


# -- two writers with the same If-Match ----------------------------------------------------------

ROUNDS = 8


def _race(clients: list[Client], tenant: str, rounds: int = ROUNDS) -> list[list[int]]:
    """Each round, every client PUTs at the same If-Match at once; the status of each."""
    barrier = threading.Barrier(len(clients))
    results: list[list[int]] = [[] for _ in range(rounds)]
    versions: list[int] = []
    lock = threading.Lock()
    auth = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    start = clients[0].get(f"{PREFIX}/tenants/{tenant}/cors", headers=auth)
    first = int(start.headers["ETag"].strip('"'))

    def run(i: int, client: Client) -> None:
        for r in range(rounds):
            barrier.wait()
            answer = client.put(
                f"{PREFIX}/tenants/{tenant}/cors",
                json={"rules": [{"domain": f"w{i}-r{r}.example"}]},
                headers={**auth, "If-Match": f'"{first + r}"'},
            )
            with lock:
                results[r].append(answer.status_code)
                if answer.status_code == 200:
                    versions.append(int(answer.headers["ETag"].strip('"')))
                else:
                    assert answer.get_json()["version"] == first + r + 1
            barrier.wait()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(versions) == [first + r + 1 for r in range(rounds)]
    return results


def test_two_threads_same_if_match_exactly_one_wins(api: Api) -> None:
    clients = [Client(api.app), Client(api.app)]
    for statuses in _race(clients, A):
        assert sorted(statuses) == [200, 412]
    assert len(api.store.revisions(A)) == 2 + ROUNDS


def test_two_apps_on_one_file_same_if_match_exactly_one_wins(api: Api) -> None:
    second = create_app(config_for(api.db), store=open_store(f"sqlite:///{api.db}"), autoload=False)
    clients = [Client(api.app), Client(second), Client(api.app), Client(second)]
    for statuses in _race(clients, B):
        assert sorted(statuses) == [200, 412, 412, 412]
    assert len(api.store.revisions(B)) == 2 + ROUNDS
    second.store.close()


# -- the store unreachable -------------------------------------------------------------------------


def test_the_store_unreachable_is_503_with_retry_after(tmp_path: Path) -> None:
    missing = tmp_path / "gone" / "websvc.db"
    app = create_app(config_for(missing), store=open_store(f"sqlite:///{missing}"), autoload=False)
    client = Client(app)
    auth = {"Authorization": f"Bearer {OPERATOR_TOKEN}"}
    for method, path, body in (
        ("GET", "/tenants", None),
        ("PUT", f"/tenants/{A}", {"hosts": A_HOSTS, "users": [user("u")]}),
        ("GET", f"/tenants/{A}/cors", None),
    ):
        answer = client.open(PREFIX + path, method=method, json=body, headers=auth)
        assert answer.status_code == 503
        assert answer.headers["Retry-After"]
        assert set(body_of(answer)) == {"error"}
    # a tenant token cannot even be looked up: 503, not 401
    answer = client.get(f"{PREFIX}/whoami", headers={"Authorization": "Bearer some-tenant-token"})
    assert answer.status_code == 503
    assert client.get(f"{PREFIX}/openapi.json").status_code == 200
