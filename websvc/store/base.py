"""The store interface: what the admin API, the CLI and the data plane may ask of a store.

A store keeps tenants (hosts, users, plugins, CORS rules) with a version per
tenant, an append-only history of revisions, an audit log, tenant admin
tokens and a change sequence. Every write is one transaction: the tenant
row, its revision, its change record and its audit entry commit together or
not at all. A write that raises wrote nothing -- no audit entry either: the
caller records its ``denied``/``invalid`` entry with :meth:`Store.record_audit`.

Every method may raise :class:`StoreUnavailable` (the database cannot be
reached or stays locked: retry later) or another :class:`StoreError`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from websvc.store.records import (
    AdminToken,
    Audit,
    AuditEntry,
    Change,
    Delta,
    Revision,
    RevisionInfo,
    Snapshot,
    TenantData,
    TenantState,
)


class StoreError(Exception):
    """The store cannot do what was asked; the message is one line for a human."""


class StoreUnavailable(StoreError):
    """The database cannot be reached, or stayed locked: nothing was written, try later."""


class NoSuchTenant(StoreError):
    def __init__(self, tenant: str) -> None:
        super().__init__(f"no such tenant: {tenant!r}")
        self.tenant = tenant


class NoSuchRevision(StoreError):
    def __init__(self, tenant: str, version: int) -> None:
        super().__init__(f"tenant {tenant!r} has no revision {version}")
        self.tenant = tenant
        self.version = version


class VersionConflict(StoreError):
    """``if_match`` named another version than the current one; nothing was written."""

    def __init__(self, tenant: str, current: int) -> None:
        super().__init__(f"tenant {tenant!r} is at version {current}")
        self.tenant = tenant
        self.current = current


class Taken(StoreError):
    """A host or user name already belongs to another tenant; nothing was written."""

    def __init__(self, kind: str, value: str, owner: str) -> None:
        super().__init__(f"{kind} {value!r} already belongs to tenant {owner!r}")
        self.kind = kind  # "host" or "user"
        self.value = value
        self.owner = owner


def masked_url(url: str) -> str:
    """*url* with its password, if any, shown as ``***`` (for messages and ``Store.url``)."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unreadable URL>"


class Store(Protocol):
    """A tenant store. Safe to share between threads; open one per process."""

    url: str  # the URL it was opened with, any password masked

    # -- schema ---------------------------------------------------------------

    def init(self) -> int:
        """Create the schema or upgrade it to the newest this code knows; idempotent.

        Each missing migration runs in a transaction of its own.

        :returns: the schema version now in the database.
        :raises StoreError: the database was written by a newer websvc.
        """
        ...

    def close(self) -> None:
        """Close every connection this store opened."""
        ...

    def __enter__(self) -> Store: ...

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    # -- reads for the data plane ---------------------------------------------

    def change_seq(self) -> int:
        """The highest change seq, 0 when nothing was ever written: what workers poll.

        One indexed lookup. The seq grows by exactly one per tenant changed.
        """
        ...

    def changes_since(self, seq: int) -> list[Change]:
        """The change records after *seq*, oldest first.

        When *seq* is above :meth:`change_seq` the database was replaced:
        resync with :meth:`snapshot`.
        """
        ...

    def delta(self, since: int) -> Delta:
        """The current state of every tenant changed after *since*, in one read."""
        ...

    def snapshot(self) -> Snapshot:
        """Every tenant and the change seq they are current to, in one read transaction."""
        ...

    @property
    def notifications(self) -> bool:
        """True when writes wake :meth:`wait_for_change` (PostgreSQL's ``NOTIFY``).

        False (SQLite): :meth:`wait_for_change` only sleeps, and polling
        :meth:`change_seq` is the only way to see a change.
        """
        ...

    def wait_for_change(self, timeout: float) -> bool:
        """Wait up to *timeout* seconds for a change notification; True when one came.

        A hint only: a True says "look at :meth:`change_seq` now", a False
        says nothing (a notification can be lost, say across a reconnect), so
        a worker polls :meth:`change_seq` all the same. A notification that
        came since the last call counts at once. Without notifications
        (:attr:`notifications` False) it sleeps *timeout* and returns False.

        :raises StoreUnavailable: the listening connection cannot be opened
            or broke; the next call opens a new one.
        """
        ...

    # -- reads for the admin API ------------------------------------------------

    def tenant(self, name: str) -> TenantState | None:
        """One tenant, or None."""
        ...

    def tenants(self, names: Iterable[str]) -> dict[str, TenantState | None]:
        """Several tenants in one read; None for each one that does not exist."""
        ...

    def list_tenants(self) -> list[tuple[str, int]]:
        """``(name, version)`` of every tenant, by name."""
        ...

    def revisions(self, name: str) -> list[RevisionInfo]:
        """A tenant's history, newest first (empty for a name never used)."""
        ...

    def revision(self, name: str, version: int) -> Revision | None:
        """One revision with the tenant's whole state at that version, or None."""
        ...

    def audit_entries(
        self,
        *,
        tenant: str | None = None,
        actor: str | None = None,
        visible_to: str | None = None,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Audit entries, newest first, at most *limit*.

        Filters combine with AND: *tenant* is the tenant named in the path,
        *actor* the exact actor; *visible_to* ``"acme"`` keeps what tenant
        acme may see -- the entries about acme or made by ``tenant:acme``.
        """
        ...

    def find_admin_token(self, token_sha256: str) -> tuple[str, str] | None:
        """``(tenant, id)`` of the live admin token with this sha256 hex, or None.

        A lookup by digest: the digest of a random token is no secret an
        attacker could guess by timing, so no constant-time compare is
        needed here (operator tokens, compared in memory, need one).
        """
        ...

    def admin_tokens(self, tenant: str) -> list[AdminToken]:
        """A tenant's admin tokens, revoked ones included, oldest first."""
        ...

    # -- writes -------------------------------------------------------------------

    def put_tenant(
        self,
        name: str,
        *,
        hosts: Iterable[str],
        users: Iterable[Mapping[str, str]],
        plugins: Iterable[str],
        audit: Audit,
        if_match: int | None = None,
    ) -> tuple[bool, int]:
        """Create a tenant (version 1, no rules) or replace its settings (a new version).

        Settings equal to the stored ones change nothing (no new version);
        the audit entry is written all the same.

        :returns: ``(created, version)``.
        :raises Taken: a host or user name belongs to another tenant.
        :raises VersionConflict: *if_match* given and not the current version.
        """
        ...

    def delete_tenant(self, name: str, *, audit: Audit) -> bool:
        """Delete a tenant and revoke its admin tokens; False (nothing written) when absent.

        Its history stays: a ``delete`` revision closes it, and a tenant
        created again under that name continues its version numbers.
        """
        ...

    def put_rules(
        self,
        name: str,
        rules: Iterable[Mapping[str, Any]],
        *,
        if_match: int,
        audit: Audit,
        action: str = "put",
    ) -> int:
        """Replace a tenant's rules, as a new version; compare-and-set on *if_match*.

        :returns: the new version.
        :raises NoSuchTenant: no such tenant.
        :raises VersionConflict: *if_match* is not the current version.
        """
        ...

    def rollback(self, name: str, to_version: int, *, if_match: int, audit: Audit) -> int:
        """Write a new version whose rules are those of revision *to_version*.

        :returns: the new version.
        :raises NoSuchTenant, VersionConflict, NoSuchRevision: nothing written.
        """
        ...

    def import_tenants(self, states: Mapping[str, TenantData], *, audit: Audit) -> list[str]:
        """Write every tenant given, all or nothing, in one transaction.

        A tenant whose content equals what is stored is left alone, so
        importing an export changes nothing. Tenants not named are kept.
        One audit entry per tenant changed (one without a tenant when none).

        :returns: the names of the tenants changed, sorted.
        """
        ...

    def add_admin_token(self, tenant: str, token_sha256: str, *, audit: Audit) -> str:
        """Keep the sha256 of a new admin token for *tenant*; returns its public id.

        :raises NoSuchTenant: no such tenant.
        """
        ...

    def revoke_admin_token(self, tenant: str, token_id: str, *, audit: Audit) -> bool:
        """Revoke one of *tenant*'s live tokens; False (nothing written) when there is none."""
        ...

    def record_audit(self, entry: Audit) -> None:
        """Write one audit entry in a transaction of its own (a denied or invalid request)."""
        ...
