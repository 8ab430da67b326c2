"""Stores on real SQLite files in tmp_path; helpers shared by the store tests."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from websvc.store import Audit, SQLiteStore

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


@pytest.fixture
def store(db: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(db) as s:
        s.init()
        yield s


@pytest.fixture
def acme(store: SQLiteStore) -> SQLiteStore:
    """A store holding tenant acme at version 1: one host, one user, no rules."""
    store.put_tenant(
        "acme", hosts=["acme.example.net"], users=[user("acme-1")], plugins=[], audit=OPERATOR
    )
    return store
