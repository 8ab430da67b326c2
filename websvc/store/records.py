"""The plain data a store holds and hands back: tenants, revisions, changes, audit.

Every record is a frozen dataclass of JSON-like values. A tenant's CORS
rules are kept exactly as given (validation happens before a write, in the
layers above); user entries carry a token's sha256 only, never the token.
Times are UTC, ISO-8601 with a ``Z``: ``2025-01-31T12:00:00.123Z``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: What a revision says happened to its tenant.
__all__ = [  # what websvc.store exports of this module
    "ACTIONS", "OUTCOMES", "AdminToken", "Audit", "AuditEntry", "Change", "Delta",
    "Revision", "RevisionInfo", "Snapshot", "TenantData", "TenantState", "is_sha256_hex",
]  # fmt: skip

ACTIONS = ("create", "put", "rollback", "import", "settings", "delete")
#: How an audited request ended.
OUTCOMES = ("ok", "denied", "invalid")

Rule = dict[str, Any]
User = dict[str, str]

_SHA256 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantData:
    """A tenant's content: what ``import`` takes and ``export`` gives.

    Treat the dicts as read-only: a snapshot is shared between threads.
    """

    hosts: tuple[str, ...] = ()
    users: tuple[User, ...] = ()  # {"name": ..., "token_sha256": <64 hex>}
    plugins: tuple[str, ...] = ()  # "module:attribute"
    rules: tuple[Rule, ...] = ()  # RULE dicts, exactly as written

    @classmethod
    def of(
        cls,
        *,
        hosts: Iterable[str] = (),
        users: Iterable[Mapping[str, str]] = (),
        plugins: Iterable[str] = (),
        rules: Iterable[Mapping[str, Any]] = (),
    ) -> TenantData:
        """Build from any iterables, checking the shapes the store relies on.

        :raises ValueError: a host or plugin that is not a string, a user
            that is not exactly ``{"name", "token_sha256"}`` with a 64-hex
            digest (a plain ``token`` is never stored), a rule that is not a
            dict.
        """
        host_list = _strings("hosts", hosts)
        plugin_list = _strings("plugins", plugins)
        user_list: list[User] = []
        for i, user in enumerate(users):
            if not isinstance(user, Mapping) or set(user) != {"name", "token_sha256"}:
                raise ValueError(f"users[{i}] must be exactly {{'name', 'token_sha256'}}")
            name, digest = user["name"], user["token_sha256"]
            if not isinstance(name, str) or not isinstance(digest, str):
                raise ValueError(f"users[{i}] must hold strings")
            if not _SHA256.fullmatch(digest):
                raise ValueError(f"users[{i}].token_sha256 is not 64 lower-case hex digits")
            user_list.append({"name": name, "token_sha256": digest})
        rule_list: list[Rule] = []
        for i, rule in enumerate(rules):
            if not isinstance(rule, Mapping):
                raise ValueError(f"rules[{i}] is not an object")
            rule_list.append(dict(rule))
        return cls(
            hosts=tuple(host_list),
            users=tuple(user_list),
            plugins=tuple(plugin_list),
            rules=tuple(rule_list),
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class TenantState(TenantData):
    """A stored tenant: its name, its current version and its content."""

    name: str
    version: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Every tenant, read in one transaction, and the change seq it is current to."""

    seq: int
    tenants: dict[str, TenantState]


@dataclass(frozen=True, slots=True)
class Delta:
    """The tenants changed after some seq, read in one transaction.

    ``tenants[name]`` is the tenant's state now, or None when it was deleted.
    """

    seq: int
    tenants: dict[str, TenantState | None]


@dataclass(frozen=True, slots=True)
class Change:
    """One record of the change sequence: *tenant* is at *version* (None: deleted)."""

    seq: int
    tenant: str
    version: int | None
    at: str


@dataclass(frozen=True, slots=True)
class RevisionInfo:
    """One line of a tenant's history."""

    version: int
    actor: str
    at: str
    action: str  # one of ACTIONS
    summary: str


@dataclass(frozen=True, slots=True, kw_only=True)
class Revision(RevisionInfo):
    """A tenant's whole state as of one version (empty for a ``delete``)."""

    data: TenantData = field(default_factory=TenantData)

    @property
    def rules(self) -> tuple[Rule, ...]:
        return self.data.rules


@dataclass(frozen=True, slots=True)
class Audit:
    """Who asks for a write, and how: becomes the write's audit entry.

    The store fills ``tenant`` with the tenant written and ``status`` with
    the write's natural success (200, 201 for a creation, 204 for a
    deletion) unless given. For :meth:`Store.record_audit` give both.
    """

    actor: str  # "operator:<id>", "tenant:<name>" or "cli"
    method: str
    path: str
    request_id: str | None = None
    remote_addr: str | None = None
    tenant: str | None = None
    status: int | None = None
    outcome: str = "ok"  # one of OUTCOMES


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One stored line of the audit log."""

    id: int
    at: str
    actor: str
    tenant: str | None
    method: str
    path: str
    status: int
    outcome: str
    request_id: str | None
    remote_addr: str | None


@dataclass(frozen=True, slots=True)
class AdminToken:
    """A tenant admin token, by its public id (the secret itself is never stored)."""

    id: str
    tenant: str
    created_at: str
    revoked_at: str | None


def is_sha256_hex(value: object) -> bool:
    """Whether *value* is a sha256 digest written as 64 lower-case hex digits."""
    return isinstance(value, str) and _SHA256.fullmatch(value) is not None


def _strings(what: str, values: Iterable[str]) -> list[str]:
    out = list(values)
    for i, value in enumerate(out):
        if not isinstance(value, str):
            raise ValueError(f"{what}[{i}] is not a string")
    return out
