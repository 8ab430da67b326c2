"""What only the PostgreSQL store does, against a real server (tests/store/pg.py).

The behaviour both stores share runs on both from the other modules (the
``store`` fixture); here: URLs, the schema and its upgrades on PostgreSQL,
NOTIFY in the write's transaction, ``wait_for_change``, an unreachable or
restarted server, a connection lost in the middle of a write, forks.
"""

from __future__ import annotations

import multiprocessing
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.store.conftest import OPERATOR, digest, rule, user
from tests.store.pg import PostgresServer, _free_port
from websvc.store import (
    SQLiteStore,
    StoreError,
    StoreUnavailable,
    TenantData,
    VersionConflict,
    open_store,
)
from websvc.store.postgres import CHANNEL, LISTENER_NAME, LOCK_KEY, PostgresStore
from websvc.store.schema import MIGRATIONS, V1, Migration

V2 = Migration(
    2,
    "tenants get a note; changes are indexed by tenant",
    (
        "ALTER TABLE tenants ADD COLUMN note TEXT NOT NULL DEFAULT ''",
        "UPDATE tenants SET note = 'from v1'",
        "CREATE INDEX changes_by_tenant ON changes (tenant, seq)",
    ),
)

#: The advisory lock a test holds to stop a write at its COMMIT (see ``_hold_commits``).
HOLD = 4242


def _db(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


@pytest.fixture
def pg(pg_url: str) -> Iterator[PostgresStore]:
    with PostgresStore.from_url(pg_url) as s:
        s.init()
        yield s


@pytest.fixture
def acme(pg: PostgresStore) -> PostgresStore:
    pg.put_tenant(
        "acme", hosts=["acme.example.net"], users=[user("acme-1")], plugins=[], audit=OPERATOR
    )
    return pg


@pytest.fixture
def listener(pg_url: str) -> Iterator[psycopg.Connection[Any]]:
    """A plain LISTENing connection, as a worker of another host would hold."""
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        yield conn


def _notified(
    conn: psycopg.Connection[Any], timeout: float, expect: int | None = None
) -> list[str]:
    """The payloads *conn* receives within *timeout* (stopping after *expect* of them)."""
    return [n.payload for n in conn.notifies(timeout=timeout, stop_after=expect)]


def _hold_commits(url: str, *, fail: bool = False) -> None:
    """Make every write wait at its COMMIT while a session holds the advisory lock HOLD.

    A deferred constraint trigger runs at COMMIT, after every statement of
    the write (its pg_notify included); *fail*: it raises instead, and the
    whole write rolls back.
    """
    body = (
        "RAISE EXCEPTION 'refused at commit'" if fail else f"PERFORM pg_advisory_xact_lock({HOLD})"
    )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql"
            f" AS $$ BEGIN {body}; RETURN NULL; END $$;"
            " CREATE CONSTRAINT TRIGGER hold AFTER INSERT ON changes"
            " DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION hold()"
        )


def _wait_for_lock_waiter(server: PostgresServer, database: str) -> int:
    """The pid of the session of *database* waiting for a lock (a write held at COMMIT)."""
    deadline = time.monotonic() + 10
    with server.admin() as conn:
        while time.monotonic() < deadline:
            row = conn.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                (database,),
            ).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.02)
    raise AssertionError("no write ever waited at its commit")


# -- URLs ------------------------------------------------------------------------------


def test_postgresql_urls(pg_url: str) -> None:
    store = open_store(pg_url)
    assert isinstance(store, PostgresStore) and store.url == pg_url
    assert store.notifications is True and store.timeout == 5.0
    other = open_store(pg_url.replace("postgresql://", "postgres://") + "?timeout=0.5")
    assert isinstance(other, PostgresStore) and other.timeout == 0.5
    secret = open_store("postgresql://websvc:hunter2@db.internal:6432/websvc?sslmode=require")
    assert secret.url == "postgresql://websvc:***@db.internal:6432/websvc?sslmode=require"
    assert "hunter2" not in repr(secret)
    with pytest.raises(StoreError, match="timeout must be above 0"):
        open_store(f"{pg_url}?timeout=0")
    # libpq's own options are passed on as written; only timeout is websvc's.
    options = open_store(f"{pg_url}?timeout=2&application_name=a+b&connect_timeout=3")
    assert isinstance(options, PostgresStore) and options.timeout == 2.0
    assert "application_name=a+b" in options._conninfo and "timeout=2" not in options._conninfo
    keyword = PostgresStore("host=db.internal dbname=websvc password='hunter 2' user=websvc")
    assert keyword.url == "host=db.internal dbname=websvc password=*** user=websvc"
    for s in (store, other, secret, options, keyword):
        s.close()  # never used: nothing was opened


def test_over_a_unix_socket(pg_url: str, pg_server: PostgresServer) -> None:
    store = open_store(
        f"postgresql://websvc@/{_db(pg_url)}?host={pg_server.root}&port={pg_server.port}"
    )
    assert store.init() == 1
    store.put_tenant("acme", hosts=[], users=[], plugins=[], audit=OPERATOR)
    assert store.wait_for_change(0.5) is False  # listening from now on
    with open_store(pg_url) as other:
        other.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR)
    assert store.wait_for_change(5) is True and store.change_seq() == 2
    store.close()


def test_without_psycopg_a_postgresql_url_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "websvc.store.postgres", None)  # as if not installed
    with pytest.raises(
        StoreError, match=r"needs psycopg 3 and psycopg-pool \(pip install 'websvc\[postgresql\]'\)"
    ):
        open_store("postgresql://websvc:hunter2@db/websvc")


def test_sqlite_has_no_notifications_and_sleeps(tmp_path: Any) -> None:
    store = SQLiteStore(tmp_path / "w.db")
    assert store.notifications is False
    began = time.monotonic()
    assert store.wait_for_change(0.05) is False
    assert time.monotonic() - began >= 0.05


# -- the schema -----------------------------------------------------------------------


def _tables(url: str) -> dict[str, list[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name, column_name FROM information_schema.columns"
            " WHERE table_schema = 'public' ORDER BY table_name, ordinal_position"
        ).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def test_init_creates_the_same_tables_as_sqlite_and_is_idempotent(
    pg_url: str, tmp_path: Any
) -> None:
    store = open_store(pg_url)
    with pytest.raises(StoreError, match=r"has no websvc tables: run `websvc store init`"):
        store.change_seq()
    assert store.init() == 1
    assert store.init() == 1
    import sqlite3

    SQLiteStore(tmp_path / "w.db").init()
    with sqlite3.connect(tmp_path / "w.db") as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        sqlite_tables = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in names}
    assert _tables(pg_url) == sqlite_tables
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [(1,)]
        identity = conn.execute(
            "SELECT is_identity, data_type FROM information_schema.columns"
            " WHERE table_name = 'audit' AND column_name = 'id'"
        ).fetchone()
    assert identity == ("YES", "bigint")
    assert store.change_seq() == 0
    store.close()


def test_two_inits_at_once(pg_url: str) -> None:
    stores = [open_store(pg_url) for _ in range(4)]
    results: list[object] = []
    threads = [threading.Thread(target=lambda s=s: results.append(s.init())) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [1, 1, 1, 1]
    for s in stores:
        s.close()


def test_an_upgrade_keeps_the_data_and_an_older_websvc_refuses_it(pg_url: str) -> None:
    old = open_store(pg_url)
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

    new = PostgresStore(pg_url, migrations=(*MIGRATIONS, V2))
    with pytest.raises(
        StoreError, match=r"has schema 1, this websvc needs 2: run `websvc store init`"
    ):
        new.snapshot()
    assert new.init() == 2
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
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT note FROM tenants").fetchall() == [("from v1",)]
        assert conn.execute("SELECT version FROM schema_version ORDER BY 1").fetchall() == [(1,), (2,)]  # fmt: skip
    new.close()

    stale = open_store(pg_url)  # knows v1 only
    message = r"was created by a newer websvc \(schema 2\); this one knows up to 1"
    with pytest.raises(StoreError, match=message):
        stale.change_seq()
    with pytest.raises(StoreError, match=message):
        stale.init()
    with pytest.raises(StoreError, match=message):
        stale.put_rules("acme", [], if_match=3, audit=OPERATOR)
    stale.close()


def test_a_failed_migration_leaves_the_previous_version(pg: PostgresStore, pg_url: str) -> None:
    broken = Migration(2, "broken", ("ALTER TABLE tenants ADD COLUMN x TEXT", "NOT SQL AT ALL"))
    with pytest.raises(StoreError, match="syntax error") as caught:
        PostgresStore(pg_url, migrations=(V1, broken)).init()
    assert not isinstance(caught.value, StoreUnavailable)
    assert "x" not in _tables(pg_url)["tenants"]  # DDL is transactional
    assert pg.change_seq() == 0


# -- NOTIFY, in the write's transaction -------------------------------------------------------


def test_a_write_notifies_its_seq_at_commit_and_not_before(
    pg_url: str, pg_server: PostgresServer, listener: psycopg.Connection[Any]
) -> None:
    store = PostgresStore.from_url(f"{pg_url}?timeout=30")  # the held COMMIT waits for a lock
    store.init()
    store.put_tenant("acme", hosts=[], users=[], plugins=[], audit=OPERATOR)
    assert _notified(listener, 5.0, 1) == ["1"]
    _hold_commits(pg_url)
    with pg_server.admin(_db(pg_url)) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (HOLD,))
        done: list[int] = []

        def write() -> None:
            done.append(store.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR))

        writer = threading.Thread(target=write)
        writer.start()
        _wait_for_lock_waiter(pg_server, _db(pg_url))
        # Every statement of the write ran, pg_notify included: nothing is sent yet,
        # nor visible.
        assert _notified(listener, 0.3) == []
        assert store.change_seq() == 1 and store.tenant("acme").version == 1  # type: ignore[union-attr]
        holder.execute("SELECT pg_advisory_unlock(%s)", (HOLD,))
        writer.join(timeout=10)
    assert done == [2]
    assert _notified(listener, 5.0, 1) == ["2"]
    store.close()


def test_a_rolled_back_write_notifies_nothing(
    acme: PostgresStore, pg_url: str, listener: psycopg.Connection[Any]
) -> None:
    _hold_commits(pg_url, fail=True)
    before = (acme.snapshot(), acme.revisions("acme"), acme.audit_entries())
    acme.wait_for_change(0)  # listening from now on
    with pytest.raises(StoreError, match="refused at commit") as caught:
        acme.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR)
    assert not isinstance(caught.value, StoreUnavailable)
    assert _notified(listener, 0.3) == []
    assert acme.wait_for_change(0.2) is False
    assert (acme.snapshot(), acme.revisions("acme"), acme.audit_entries()) == before


def test_one_notification_per_write_with_its_highest_seq(
    pg: PostgresStore, listener: psycopg.Connection[Any]
) -> None:
    changed = pg.import_tenants({f"t{i}": TenantData() for i in range(5)}, audit=OPERATOR)
    assert len(changed) == 5
    assert _notified(listener, 5.0, 1) == ["5"]
    pg.add_admin_token("t1", digest("x"), audit=OPERATOR)  # no config change: no notification
    pg.record_audit(OPERATOR)
    pg.put_tenant("t1", hosts=[], users=[], plugins=[], audit=OPERATOR)  # the same settings
    assert _notified(listener, 0.3) == []
    pg.delete_tenant("t2", audit=OPERATOR)
    assert _notified(listener, 5.0, 1) == ["6"]


# -- wait_for_change ------------------------------------------------------------------------


def test_wait_for_change_wakes_within_100ms_of_a_write(acme: PostgresStore, pg_url: str) -> None:
    assert acme.wait_for_change(0) is False  # opens the listening connection
    began = time.monotonic()
    assert acme.wait_for_change(0.2) is False
    assert 0.19 <= time.monotonic() - began < 1.0

    other = open_store(pg_url)  # another host's admin API
    committed: list[float] = []

    def write() -> None:
        time.sleep(0.3)
        other.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR)
        committed.append(time.monotonic())

    writer = threading.Thread(target=write)
    writer.start()
    assert acme.wait_for_change(5.0) is True
    woke = time.monotonic()
    writer.join()
    assert woke - committed[0] < 0.1
    assert acme.change_seq() == 2

    # A notification that came between two calls counts at once; a burst counts once.
    for version in (2, 3, 4):
        other.put_rules("acme", [], if_match=version, audit=OPERATOR)
    time.sleep(0.1)
    began = time.monotonic()
    assert acme.wait_for_change(5.0) is True
    assert time.monotonic() - began < 0.1
    assert acme.wait_for_change(0.1) is False
    other.close()


def test_the_listener_reconnects_after_its_backend_is_terminated(
    acme: PostgresStore, pg_url: str, pg_server: PostgresServer
) -> None:
    assert acme.wait_for_change(0) is False
    assert pg_server.terminate(_db(pg_url), LISTENER_NAME) == 1
    with pytest.raises(StoreUnavailable, match=r"listening for changes: ") as caught:
        acme.wait_for_change(1.0)
    assert "\n" not in str(caught.value)
    # The next call listens on a new connection: it times out, then wakes for a write.
    assert acme.wait_for_change(0.1) is False
    threading.Timer(0.2, lambda: acme.put_rules("acme", [], if_match=1, audit=OPERATOR)).start()
    assert acme.wait_for_change(5.0) is True


# -- an unreachable server ----------------------------------------------------------------------


def test_a_server_nobody_listens_on(pg_server: PostgresServer) -> None:
    url = f"postgresql://websvc:hunter2@127.0.0.1:{_free_port()}/nowhere?timeout=0.5"
    store = open_store(url)
    for call in (store.change_seq, store.snapshot, store.init, lambda: store.wait_for_change(1)):
        began = time.monotonic()
        with pytest.raises(StoreUnavailable) as caught:
            call()
        assert time.monotonic() - began < 5
        message = str(caught.value)
        assert "Connection refused" in message or "connection refused" in message.lower()
        assert "hunter2" not in message and "\n" not in message
        assert message.startswith("postgresql://websvc:***@127.0.0.1:")
    store.close()


def test_a_database_that_does_not_exist(pg_server: PostgresServer) -> None:
    store = open_store(pg_server.url("nosuchdb") + "?timeout=0.5")
    with pytest.raises(StoreUnavailable, match='database "nosuchdb" does not exist'):
        store.change_seq()
    store.close()


def test_a_stopped_server_is_unavailable_then_works_again_after_a_start(
    pg_url: str, pg_server: PostgresServer
) -> None:
    url = pg_url.replace("websvc@", "websvc:hunter2@") + "?timeout=1"
    store = open_store(url)
    store.init()
    store.put_tenant("acme", hosts=[], users=[], plugins=[], audit=OPERATOR)
    assert store.wait_for_change(0) is False
    pg_server.stop()
    try:
        calls = {
            "change_seq": store.change_seq,
            "snapshot": store.snapshot,
            "put_rules": lambda: store.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR),
            "wait_for_change": lambda: store.wait_for_change(1.0),
            "wait_for_change again": lambda: store.wait_for_change(1.0),
        }  # fmt: skip
        for name, call in calls.items():
            began = time.monotonic()
            with pytest.raises(StoreUnavailable) as caught:
                call()
            took = time.monotonic() - began
            assert took < 6, (name, took)
            assert "hunter2" not in str(caught.value) and "\n" not in str(caught.value)
    finally:
        pg_server.start()
    # Back: the very next calls work, and the failed write wrote nothing.
    assert store.change_seq() == 1
    assert store.tenant("acme").version == 1  # type: ignore[union-attr]
    assert store.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR) == 2
    assert store.wait_for_change(0.1) is False  # listening again
    store.close()


def test_a_connection_lost_in_the_middle_of_a_write_writes_nothing(
    pg_url: str, pg_server: PostgresServer
) -> None:
    store = PostgresStore.from_url(f"{pg_url}?timeout=30")
    store.init()
    store.put_tenant("acme", hosts=[], users=[], plugins=[], audit=OPERATOR)
    before = (store.snapshot(), store.revisions("acme"), store.audit_entries(), store.change_seq())
    _hold_commits(pg_url)
    with pg_server.admin(_db(pg_url)) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (HOLD,))
        failed: list[BaseException] = []

        def write() -> None:
            try:
                store.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR)
            except BaseException as e:
                failed.append(e)

        writer = threading.Thread(target=write)
        writer.start()
        pid = _wait_for_lock_waiter(pg_server, _db(pg_url))
        holder.execute("SELECT pg_terminate_backend(%s)", (pid,))
        writer.join(timeout=10)
        holder.execute("DROP TRIGGER hold ON changes")
    assert len(failed) == 1 and isinstance(failed[0], StoreUnavailable), failed
    assert "terminating connection" in str(failed[0])
    assert (store.snapshot(), store.revisions("acme"), store.audit_entries(), store.change_seq()) == before  # fmt: skip
    assert store.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR) == 2
    store.close()


def test_a_write_waits_for_the_write_lock_at_most_timeout(acme: PostgresStore, pg_url: str) -> None:
    impatient = PostgresStore.from_url(f"{pg_url}?timeout=0.3")
    with psycopg.connect(pg_url, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))  # as a stuck writer would
        began = time.monotonic()
        with pytest.raises(StoreUnavailable, match=r"another write held the write lock for 0.3s"):
            impatient.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR)
        assert time.monotonic() - began < 3
        assert impatient.snapshot().tenants["acme"].version == 1  # reads never wait
    assert impatient.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR) == 2
    with pytest.raises(VersionConflict):
        acme.put_rules("acme", [], if_match=1, audit=OPERATOR)
    impatient.close()


# -- fork ------------------------------------------------------------------------------------


def _listen_in_child(store: PostgresStore, out: Any) -> None:
    out.put(("listening", store.wait_for_change(0)))
    out.put(("woke", store.wait_for_change(10)))
    out.put(("seq", store.change_seq()))


def test_a_forked_child_listens_and_reads_on_connections_of_its_own(acme: PostgresStore) -> None:
    assert acme.wait_for_change(0) is False and acme.change_seq() == 1  # the parent's connections
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_listen_in_child, args=(acme, out))
    child.start()
    assert out.get(timeout=30) == ("listening", False)
    acme.put_rules("acme", [rule("a.com")], if_match=1, audit=OPERATOR)
    assert out.get(timeout=30) == ("woke", True)
    assert out.get(timeout=30) == ("seq", 2)
    child.join(timeout=30)
    assert child.exitcode == 0
    # The parent's connections were never touched by the child.
    assert acme.wait_for_change(1.0) is True  # its own write's notification
    assert acme.change_seq() == 2
