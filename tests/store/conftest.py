"""Stores on real SQLite files in tmp_path and on a real PostgreSQL server; shared helpers.

The ``store`` fixture (and ``acme``, built on it) runs each test that uses
it against both backends: ``test_x[sqlite]`` and ``test_x[postgresql]``. A
test about one backend only restricts it with :data:`sqlite_only`. The
PostgreSQL server (:mod:`tests.store.pg`) starts once, on first use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.store.pg import pg_server, pg_url
from websvc.store import Audit, Store, open_store

__all__ = ["pg_server", "pg_url"]  # fixtures, for the tests of this folder

BACKENDS = ("sqlite", "postgresql")
#: Restricts a test that uses ``store`` (or ``acme``) to the SQLite store.
sqlite_only = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

OPERATOR = Audit("operator:ops", "PUT", "/admin/v1/tenants/acme", "req-1", "10.0.0.1")


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def user(name: str) -> dict[str, str]:
    return {"name": name, "token_sha256": digest(f"token-of-{name}")}


def rule(domain: str, **more: Any) -> dict[str, Any]:
    return {"domain": domain, **more}


def as_tenant(name: str, method: str = "PUT", path: str | None = None) -> Audit:
    return Audit(f"tenant:{name}", method, path or f"/admin/v1/tenants/{name}/cors")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "websvc.db"


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, db: Path) -> str:
    """The URL of a new, empty store of each backend (not initialised)."""
    if request.param == "sqlite":
        return f"sqlite:///{db}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    with open_store(store_url) as s:
        s.init()
        yield s


@pytest.fixture
def acme(store: Store) -> Store:
    """A store holding tenant acme at version 1: one host, one user, no rules."""
    store.put_tenant(
        "acme", hosts=["acme.example.net"], users=[user("acme-1")], plugins=[], audit=OPERATOR
    )
    return store
