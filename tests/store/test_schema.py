"""The versioned schema: init, upgrades, refusing a newer database; URLs; an unreachable store.

On SQLite; ``test_postgres_store.py`` runs the same upgrade and refusal on PostgreSQL.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.store.conftest import OPERATOR, digest, rule, sqlite_only, user
from websvc.store import SQLiteStore, StoreError, StoreUnavailable, open_store
from websvc.store.schema import MIGRATIONS, V1, Migration

#: A second schema version, as a future release would append it.
V2 = Migration(
    2,
    "tenants get a note; changes are indexed by tenant",
    (
        "ALTER TABLE tenants ADD COLUMN note TEXT NOT NULL DEFAULT ''",
        "UPDATE tenants SET note = 'from v1'",
        "CREATE INDEX changes_by_tenant ON changes (tenant, seq)",
    ),
)


def _schema_rows(db: Path) -> list[int]:
    with sqlite3.connect(db) as conn:
        return [
            row[0] for row in conn.execute("SELECT version FROM schema_version ORDER BY version")
        ]


def test_init_is_idempotent_and_turns_wal_on(db: Path) -> None:
    store = SQLiteStore(db)
    assert store.init() == 1
    assert store.init() == 1
    assert _schema_rows(db) == [1]
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    store.close()


def test_an_upgrade_keeps_the_data(db: Path) -> None:
    old = SQLiteStore(db)
    old.init()
    old.put_tenant(
        "acme", hosts=["acme.example"], users=[user("u")], plugins=["m:p"], audit=OPERATOR
    )
    old.put_rules("acme", [rule("a.com", max_age=60)], if_match=1, audit=OPERATOR)
    old.add_admin_token("acme", digest("t"), audit=OPERATOR)
    before = (
        old.snapshot(),
        old.revisions("acme"),
        old.revision("acme", 2),
        old.audit_entries(),
        old.changes_since(0),
    )
    old.close()

    new = SQLiteStore(db, migrations=(*MIGRATIONS, V2))
    with pytest.raises(
        StoreError, match=r"has schema 1, this websvc needs 2: run `websvc store init`"
    ):
        new.snapshot()
    assert new.init() == 2
    assert _schema_rows(db) == [1, 2]
    after = (
        new.snapshot(),
        new.revisions("acme"),
        new.revision("acme", 2),
        new.audit_entries(),
        new.changes_since(0),
    )
    assert after == before
    assert new.find_admin_token(digest("t")) is not None
    assert new.put_rules("acme", [], if_match=2, audit=OPERATOR) == 3
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT note FROM tenants").fetchall() == [("from v1",)]
    new.close()

    # The code that knew only v1 now refuses the database, for reads and for init.
    stale = SQLiteStore(db)
    message = r"was created by a newer websvc \(schema 2\); this one knows up to 1"
    with pytest.raises(StoreError, match=message):
        stale.change_seq()
    with pytest.raises(StoreError, match=message):
        stale.init()


@sqlite_only
def test_a_failed_migration_leaves_the_previous_version(store: SQLiteStore, db: Path) -> None:
    broken = Migration(2, "broken", ("ALTER TABLE tenants ADD COLUMN x TEXT", "NOT SQL AT ALL"))
    with pytest.raises(StoreError, match="syntax error"):
        SQLiteStore(db, migrations=(V1, broken)).init()
    assert _schema_rows(db) == [1]
    with sqlite3.connect(db) as conn:
        assert "x" not in [row[1] for row in conn.execute("PRAGMA table_info(tenants)")]
    assert store.change_seq() == 0


def test_migrations_must_be_numbered_in_order(db: Path) -> None:
    with pytest.raises(ValueError, match="version 3, not 2"):
        SQLiteStore(db, migrations=(V1, Migration(3, "gap", ()))).init()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_every_dialect_fills_every_placeholder(dialect: str) -> None:
    for migration in MIGRATIONS:
        for statement in migration.sql(dialect):
            assert "{" not in statement and "}" not in statement


# -- URLs ---------------------------------------------------------------------------


def test_sqlite_urls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    relative = open_store("sqlite:///data/w.db")
    assert isinstance(relative, SQLiteStore) and relative.path == str(tmp_path / "data" / "w.db")
    assert relative.url == "sqlite:///data/w.db"
    absolute = open_store(f"sqlite:///{tmp_path}/x y.db?timeout=0.5")
    assert isinstance(absolute, SQLiteStore)
    assert (absolute.path, absolute.timeout) == (f"{tmp_path}/x y.db", 0.5)
    assert open_store("sqlite:////tmp/a%20b.db").path == "/tmp/a b.db"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        pytest.param("sqlite://w.db", "a SQLite store URL is sqlite:///relative", id="two-slashes"),
        pytest.param("sqlite:///", "a SQLite store URL", id="no-path"),
        pytest.param("sqlite:///:memory:", "a SQLite store URL", id="memory"),
        pytest.param("sqlite:///w.db?mode=ro", "unknown option 'mode'", id="unknown-option"),
        pytest.param("sqlite:///w.db?timeout=soon", "'soon' is not a number", id="bad-timeout"),
        pytest.param("postgresql://websvc:hunter2@db/websvc?timeout=soon", "postgresql://websvc:***@db/websvc?timeout=soon: timeout 'soon' is not a number", id="postgresql-bad-timeout"),
        pytest.param("postgres://websvc:hunter2@db/websvc?colour=blue", 'postgres://websvc:***@db/websvc?colour=blue: invalid URI query parameter: "colour"', id="postgresql-unknown-option"),
        pytest.param("mysql://db/websvc", "mysql://db/websvc: not a store URL", id="other-scheme"),
        pytest.param("websvc.db", "websvc.db: not a store URL", id="a-bare-path"),
    ],
)  # fmt: skip
def test_urls_it_cannot_open(url: str, message: str) -> None:
    with pytest.raises(StoreError) as caught:
        open_store(url)
    assert message in str(caught.value)
    assert "hunter2" not in str(caught.value) and "\n" not in str(caught.value)


# -- an unreachable store --------------------------------------------------------------


def test_a_folder_that_does_not_exist(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/nowhere/w.db")
    for call in (store.change_seq, store.init, store.snapshot):
        with pytest.raises(
            StoreUnavailable, match=r"cannot open .*/nowhere/w.db: its folder does not exist"
        ):
            call()


def test_a_missing_file_is_unavailable_until_init_creates_it(db: Path) -> None:
    reader = SQLiteStore(db)
    with pytest.raises(StoreUnavailable, match="no such file"):
        reader.change_seq()
    assert not db.exists()  # reading never creates the file
    SQLiteStore(db).init()
    assert reader.change_seq() == 0  # the same store recovers


def test_a_file_that_is_not_a_database(db: Path) -> None:
    db.write_text("these are not the tables you are looking for\n" * 100)
    store = SQLiteStore(db)
    for call in (store.change_seq, store.init):
        with pytest.raises(StoreError, match="is not a SQLite database") as caught:
            call()
        assert not isinstance(caught.value, StoreUnavailable)


def test_a_database_without_websvc_tables(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE other (x)")
    with pytest.raises(StoreError, match=r"has no websvc tables: run `websvc store init`"):
        SQLiteStore(db).snapshot()


@sqlite_only
def test_a_locked_store_is_unavailable_for_writes_and_still_readable(
    acme: SQLiteStore, db: Path
) -> None:
    impatient = SQLiteStore(db, timeout=0.2)
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock
    try:
        with pytest.raises(StoreUnavailable, match=r"database is locked \(waited 0.2s\)"):
            impatient.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR)
        assert impatient.snapshot().tenants["acme"].version == 1  # the data plane reads on
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert impatient.revisions("acme")[0].version == 1  # nothing half-written
    assert impatient.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR) == 2
    impatient.close()
