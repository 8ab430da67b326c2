"""The store's tables, as an ordered list of migrations shared by every SQL dialect.

The DDL is written once, in portable SQL, with a few type placeholders that
each dialect fills in (:data:`TYPES`): ``{int}`` a 64-bit integer, ``{id}``
an auto-numbered integer primary key, ``{json}`` a JSON document kept as
text (``json.dumps(sort_keys=True)``, so equal content is equal text).

The ``schema_version`` table holds one row per migration applied;
:func:`migrate` applies the missing ones, each in its own transaction, and
refuses a database written by a newer websvc. A new migration is appended
to :data:`MIGRATIONS`, never edited in place once released.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Protocol

from websvc.store.base import StoreError

#: Per dialect, what the placeholders of the DDL become.
TYPES: dict[str, dict[str, str]] = {
    "sqlite": {
        "int": "INTEGER",
        "id": "INTEGER PRIMARY KEY",  # the rowid: max + 1, never NULL
        "json": "TEXT",
    },
    "postgresql": {
        "int": "BIGINT",
        "id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "json": "TEXT",
    },
}

_BOOTSTRAP = """CREATE TABLE IF NOT EXISTS schema_version (
    version {int} PRIMARY KEY,
    applied_at TEXT NOT NULL,
    description TEXT NOT NULL
)"""


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema: statements with type placeholders, run in one transaction."""

    version: int
    description: str
    statements: tuple[str, ...]

    def sql(self, dialect: str) -> list[str]:
        """The statements as *dialect* runs them."""
        return [statement.format_map(TYPES[dialect]) for statement in self.statements]


V1 = Migration(
    1,
    "tenants, revisions, changes, audit, admin tokens, host and user claims",
    (
        """CREATE TABLE tenants (
            name TEXT PRIMARY KEY,
            version {int} NOT NULL,
            hosts {json} NOT NULL,
            users {json} NOT NULL,
            plugins {json} NOT NULL,
            rules {json} NOT NULL,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        # Append-only; no foreign key: a deleted tenant's history stays.
        """CREATE TABLE revisions (
            tenant TEXT NOT NULL,
            version {int} NOT NULL,
            actor TEXT NOT NULL,
            at TEXT NOT NULL,
            action TEXT NOT NULL CHECK (action IN
                ('create', 'put', 'rollback', 'import', 'settings', 'delete')),
            summary TEXT NOT NULL,
            hosts {json} NOT NULL,
            users {json} NOT NULL,
            plugins {json} NOT NULL,
            rules {json} NOT NULL,
            PRIMARY KEY (tenant, version)
        )""",
        # seq is written as MAX(seq) + 1 inside the serialised write
        # transaction: gapless, and committed in order.
        """CREATE TABLE changes (
            seq {int} PRIMARY KEY,
            tenant TEXT NOT NULL,
            version {int},
            at TEXT NOT NULL
        )""",
        """CREATE TABLE audit (
            id {id},
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            tenant TEXT,
            method TEXT NOT NULL,
            path TEXT NOT NULL,
            status INTEGER NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'denied', 'invalid')),
            request_id TEXT,
            remote_addr TEXT
        )""",
        "CREATE INDEX audit_by_tenant ON audit (tenant, id)",
        "CREATE INDEX audit_by_actor ON audit (actor, id)",
        """CREATE TABLE admin_tokens (
            id TEXT PRIMARY KEY,
            tenant TEXT NOT NULL,
            token_sha256 TEXT NOT NULL UNIQUE,
            created_at TEXT NOT NULL,
            revoked_at TEXT
        )""",
        "CREATE INDEX admin_tokens_by_tenant ON admin_tokens (tenant)",
        # Host and user names are unique across tenants, as in the config file.
        """CREATE TABLE claims (
            kind TEXT NOT NULL CHECK (kind IN ('host', 'user')),
            value TEXT NOT NULL,
            tenant TEXT NOT NULL REFERENCES tenants (name) ON DELETE CASCADE,
            PRIMARY KEY (kind, value)
        )""",
        "CREATE INDEX claims_by_tenant ON claims (tenant)",
    ),
)

#: Every migration, in order; ``MIGRATIONS[i].version == i + 1``.
MIGRATIONS: tuple[Migration, ...] = (V1,)


class Tx(Protocol):
    """A cursor inside an open transaction; parameters are ``?`` placeholders."""

    def one(self, sql: str, *args: object) -> tuple[Any, ...] | None:
        """The first row, or None."""
        ...

    def all(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        """Every row."""
        ...

    def run(self, sql: str, *args: object) -> int:
        """Execute; the number of rows changed."""
        ...


def migrate(
    transaction: Callable[[], AbstractContextManager[Tx]],
    dialect: str,
    where: str,
    migrations: Sequence[Migration] = MIGRATIONS,
) -> int:
    """Apply the missing *migrations*, one transaction each; returns the version reached.

    *transaction* opens a write transaction that commits when its block
    ends without an exception. Safe to run from two processes at once: each
    step re-reads the version inside its transaction.
    """
    for i, migration in enumerate(migrations):
        if migration.version != i + 1:
            raise ValueError(f"migration {i} has version {migration.version}, not {i + 1}")
    with transaction() as tx:
        tx.run(_BOOTSTRAP.format_map(TYPES[dialect]))
        check_version(current_version(tx), len(migrations), where, upgrading=True)
    for migration in migrations:
        with transaction() as tx:
            if current_version(tx) >= migration.version:
                continue
            for statement in migration.sql(dialect):
                tx.run(statement)
            tx.run(
                "INSERT INTO schema_version (version, applied_at, description) VALUES (?, ?, ?)",
                migration.version,
                utc_now(),
                migration.description,
            )
    return len(migrations)


def current_version(tx: Tx) -> int:
    """The schema version recorded in the database (0: none)."""
    row = tx.one("SELECT MAX(version) FROM schema_version")
    return int(row[0]) if row and row[0] is not None else 0


def check_version(found: int, known: int, where: str, *, upgrading: bool = False) -> None:
    """Refuse a schema this code cannot use: newer, or (unless *upgrading*) older."""
    if found > known:
        raise StoreError(
            f"{where} was created by a newer websvc (schema {found}); this one knows up to {known}"
        )
    if found < known and not upgrading:
        raise StoreError(
            f"{where} has schema {found}, this websvc needs {known}: run `websvc store init`"
            if found
            else f"{where} has no websvc tables: run `websvc store init`"
        )


def utc_now() -> str:
    """Now, UTC, ISO-8601 with milliseconds and a ``Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
