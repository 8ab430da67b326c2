"""The tenant store: tenants, their versions and history, the audit log, admin tokens.

Open one with :func:`open_store` and use it through the
:class:`~websvc.store.base.Store` interface; ``docs/store.md`` describes the
tables and the guarantees. The store holds plain data: it imports nothing
from websvc's config, app or CLI layers.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from websvc.store.base import (
    NoSuchRevision,
    NoSuchTenant,
    Store,
    StoreError,
    StoreUnavailable,
    Taken,
    VersionConflict,
)
from websvc.store.records import (
    ACTIONS,
    OUTCOMES,
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
from websvc.store.sqlite import SQLiteStore

__all__ = [
    "ACTIONS",
    "OUTCOMES",
    "AdminToken",
    "Audit",
    "AuditEntry",
    "Change",
    "Delta",
    "NoSuchRevision",
    "NoSuchTenant",
    "Revision",
    "RevisionInfo",
    "SQLiteStore",
    "Snapshot",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "Taken",
    "TenantData",
    "TenantState",
    "VersionConflict",
    "open_store",
]


def open_store(url: str) -> Store:
    """The store at *url*; nothing is opened until it is first used.

    ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``.

    :raises StoreError: a URL this websvc cannot open (its password masked).
    """
    scheme = urlsplit(url).scheme.lower() if ":" in url else ""
    if scheme == "sqlite":
        return SQLiteStore.from_url(url)
    shown = _masked(url)
    if scheme in ("postgresql", "postgres"):
        raise StoreError(f"{shown}: PostgreSQL stores are not supported yet (use sqlite:///PATH)")
    raise StoreError(f"{shown}: not a store URL (sqlite:///PATH)")


def _masked(url: str) -> str:
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        return "<unreadable URL>"
