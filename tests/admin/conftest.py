"""The admin API on a real SQLite file in tmp_path, and the tokens and tenants the tests use.

``api`` is a small world: tenants ``acme`` (tenant A) and ``bravo`` (tenant
B), each with one rule and a live admin token, a revoked token of acme's,
and an operator token. Requests go through ``werkzeug.test.Client``.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client, TestResponse

from websvc.admin import AdminApp, create_app
from websvc.store import Store, open_store

OPERATOR_TOKEN = "operator-secret-0123456789"
PREFIX = "/admin/v1"
A, B = "acme", "bravo"
GHOST = "ghost"  # a tenant that does not exist
A_HOSTS = ["acme.test"]
B_HOSTS = ["bravo.test"]
A_RULES = [{"domain": "app.acme.example", "methods": ["GET", "PUT"], "max_age": 60}]
B_RULES = [{"domain": "app.bravo.example", "allow_credentials": True}]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def user(name: str) -> dict[str, str]:
    return {"name": name, "token_sha256": sha256(f"token-of-{name}")}


@pytest.fixture(autouse=True)
def _no_plugin_autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WEBSVC_DISABLE_PLUGIN_AUTOLOAD", "1")


def config_for(db: Path, **admin: Any) -> dict[str, Any]:
    """A store-mode config (a dict) for the SQLite file *db*."""
    return {
        "store": {"url": f"sqlite:///{db}"},
        "admin": {"operator_tokens_sha256": [sha256(OPERATOR_TOKEN)], **admin},
    }


@dataclass
class Api:
    """The app, a client, the store behind it and the tokens of the small world."""

    app: AdminApp
    client: Client
    store: Store
    db: Path
    tokens: dict[str, str] = field(default_factory=dict)  # "A", "B", "A-revoked"
    token_ids: dict[str, str] = field(default_factory=dict)

    # -- headers -----------------------------------------------------------

    def auth(self, who: str | None) -> dict[str, str]:
        """``Authorization`` for *who*: "operator", "A", "B", "A-revoked", "bad" or None."""
        if who is None:
            return {}
        token = {"operator": OPERATOR_TOKEN, "bad": "not-a-token-anyone-has"}.get(who)
        return {"Authorization": f"Bearer {token or self.tokens[who]}"}

    # -- requests ------------------------------------------------------------

    def call(
        self,
        method: str,
        path: str,
        who: str | None = "operator",
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        data: bytes | str | None = None,
        content_type: str | None = None,
        query: Mapping[str, str] | None = None,
    ) -> TestResponse:
        all_headers = {**self.auth(who), **(headers or {})}
        kwargs: dict[str, Any] = {"method": method, "headers": all_headers}
        if query:
            kwargs["query_string"] = dict(query)
        if json_body is not None:
            kwargs["json"] = json_body
        elif data is not None:
            kwargs["data"] = data
            kwargs["content_type"] = content_type or "application/json"
        return self.client.open(PREFIX + path, **kwargs)

    def version(self, tenant: str) -> int:
        state = self.store.tenant(tenant)
        assert state is not None
        return state.version

    def if_match(self, tenant: str) -> dict[str, str]:
        return {"If-Match": f'"{self.version(tenant)}"'}

    def raw_row(self, tenant: str) -> tuple[Any, ...]:
        """The tenant's row, revisions, admin tokens and claims, read from the file itself."""
        with sqlite3.connect(self.db) as conn:
            row = conn.execute(
                "SELECT name, version, hosts, users, plugins, rules FROM tenants WHERE name = ?",
                (tenant,),
            ).fetchall()
            revisions = conn.execute(
                "SELECT * FROM revisions WHERE tenant = ? ORDER BY version", (tenant,)
            ).fetchall()
            tokens = conn.execute(
                "SELECT id, token_sha256, revoked_at FROM admin_tokens WHERE tenant = ? ORDER BY id",
                (tenant,),
            ).fetchall()
            claims = conn.execute(
                "SELECT kind, value FROM claims WHERE tenant = ? ORDER BY kind, value", (tenant,)
            ).fetchall()
        return (row, revisions, tokens, claims)

    def audit_rows(self) -> list[dict[str, Any]]:
        entries = self.store.audit_entries(limit=100_000)
        return [
            {
                "actor": e.actor,
                "tenant": e.tenant,
                "method": e.method,
                "path": e.path,
                "status": e.status,
                "outcome": e.outcome,
            }
            for e in entries
        ]


def make_api(db: Path, store: Store | None = None, **admin: Any) -> Api:
    own = store or open_store(f"sqlite:///{db}")
    own.init()
    app = create_app(config_for(db, **admin), store=own, autoload=False)
    return Api(app, Client(app), own, db)


def seed(api: Api) -> Api:
    """Tenants acme and bravo with a rule each, a token each, and a revoked token of acme's."""
    for name, hosts, rules in ((A, A_HOSTS, A_RULES), (B, B_HOSTS, B_RULES)):
        answer = api.call(
            "PUT", f"/tenants/{name}", json_body={"hosts": hosts, "users": [user(f"{name}-1")]}
        )
        assert answer.status_code == 201, answer.get_json()
        answer = api.call("PUT", f"/tenants/{name}/cors", json_body={"rules": rules},
                          headers={"If-Match": '"1"'})  # fmt: skip
        assert answer.status_code == 200, answer.get_json()
    for key, tenant in (("A", A), ("B", B), ("A-revoked", A)):
        answer = api.call("POST", f"/tenants/{tenant}/tokens")
        assert answer.status_code == 201, answer.get_json()
        api.tokens[key] = answer.get_json()["token"]
        api.token_ids[key] = answer.get_json()["id"]
    revoked = api.call("DELETE", f"/tenants/{A}/tokens/{api.token_ids['A-revoked']}")
    assert revoked.status_code == 204
    return api


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "websvc.db"


@pytest.fixture
def api(db: Path) -> Iterator[Api]:
    """The admin API over a fresh store holding acme and bravo (see :func:`seed`)."""
    made = seed(make_api(db))
    yield made
    made.store.close()


@pytest.fixture
def empty_api(db: Path) -> Iterator[Api]:
    made = make_api(db)
    yield made
    made.store.close()


def body_of(response: TestResponse) -> Any:
    """The JSON body (asserting the type says so)."""
    assert response.mimetype == "application/json", (response.status, response.data[:200])
    return json.loads(response.data)
