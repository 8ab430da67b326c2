"""The tenant store: tenants, their versions and history, the audit log, admin tokens.

Open one with :func:`open_store` and use it through the
:class:`~websvc.store.base.Store` interface; ``docs/store.md`` describes the
tables and the guarantees. The store holds plain data: it imports nothing
from websvc's config, app or CLI layers.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from websvc.store.base import (
    NoSuchRevision,
    NoSuchTenant,
    Store,
    StoreError,
    StoreUnavailable,
    Taken,
    VersionConflict,
    masked_url,
)
from websvc.store.records import *  # noqa: F403  (re-exported: the records are the API)
from websvc.store.records import __all__ as _records
from websvc.store.sqlite import SQLiteStore

__all__ = [
    *_records,
    "NoSuchRevision", "NoSuchTenant", "SQLiteStore", "Store", "StoreError", "StoreUnavailable",
    "Taken", "VersionConflict", "open_store",
]  # fmt: skip


def open_store(url: str) -> Store:
    """The store at *url*; nothing is opened until it is first used.

    ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db``;
    ``postgresql://user@host:port/database`` (or ``postgres://``), which
    needs psycopg 3 and psycopg-pool (``websvc[postgresql]``).

    :raises StoreError: a URL this websvc cannot open (its password masked).
    """
    scheme = urlsplit(url).scheme.lower() if ":" in url else ""
    if scheme == "sqlite":
        return SQLiteStore.from_url(url)
    shown = masked_url(url)
    if scheme in ("postgresql", "postgres"):
        try:
            from websvc.store.postgres import PostgresStore
        except ImportError as e:
            raise StoreError(
                f"{shown}: a PostgreSQL store needs psycopg 3 and psycopg-pool"
                f" (pip install 'websvc[postgresql]'): {e}"
            ) from None
        return PostgresStore.from_url(url)
    raise StoreError(f"{shown}: not a store URL (sqlite:///PATH or postgresql://USER@HOST/DB)")
