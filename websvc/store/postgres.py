"""The PostgreSQL store: one database shared by a fleet of hosts.

``postgresql://user[:password]@host[:port]/database[?option=value...]`` (or
``postgres://``): libpq's own URL, so every libpq option works (``sslmode``,
``connect_timeout``, several hosts, ``host=/run/postgresql`` for a Unix
socket...), plus websvc's ``timeout=SECONDS`` (default 5): how long a call
waits for a pooled connection and a write for the write lock before
:class:`~websvc.store.base.StoreUnavailable`. ``connect_timeout`` defaults
to 5 seconds and ``application_name`` to ``websvc``.

Every statement is the portable SQL of :class:`~websvc.store.sql.SQLStore`;
this module supplies the transactions:

- a **write** runs in ``BEGIN`` (read committed) and first takes a
  transaction-level advisory lock (:data:`LOCK_KEY`), so writers run one at
  a time, as under SQLite's ``BEGIN IMMEDIATE``: a compare-and-set reads the
  version and writes the next with no other write in between, and a change
  seq is ``MAX(seq) + 1``. The lock is released at commit, after the commit
  is visible, so the change seq is gap-free *in commit order*: a reader that
  sees seq N sees every change up to N.
- a write that changed a tenant sends ``pg_notify('websvc_changes', '<seq>')``
  (its highest seq) in the same transaction: PostgreSQL delivers it at
  commit, and never for a write rolled back.
- a **read** runs in ``BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY``:
  one snapshot of the database.

Connections come from a small :class:`psycopg_pool.ConnectionPool` (1 to 4,
checked before each use), created on first use in each process, so a store
opened before a ``fork`` opens its own in the child and never touches the
parent's sockets. :meth:`PostgresStore.wait_for_change` ``LISTEN``\\ s on a
connection of its own, outside the pool; :meth:`PostgresStore.watch`, a
worker's follower's one call per ``poll_interval``, waits and reads the change
seq on it.
"""

from __future__ import annotations

import os
import threading
import time
import weakref
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from urllib.parse import unquote

import psycopg
from psycopg import pq
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool, PoolTimeout

from websvc.store.base import StoreError, StoreUnavailable, masked_url
from websvc.store.pgsql import POOL_NAME, Conn, PgTx, Watcher, masked, one_line, password_in
from websvc.store.queries import MAX_SEQ
from websvc.store.records import Change
from websvc.store.schema import MIGRATIONS, Migration, Tx, check_version, migrate
from websvc.store.sql import SQLStore

#: The channel a write notifies, with its highest change seq as the payload.
CHANNEL = "websvc_changes"
#: The key of the transaction-level advisory lock every write takes ("websvc").
LOCK_KEY = int.from_bytes(b"websvc", "big")
#: The pool's bounds: the admin app's threads share a few connections.
POOL_MIN, POOL_MAX = 1, 4
#: ``application_name`` of a worker's own connection (``pg_stat_activity`` shows it):
#: listening, or polling only (``[store] listen = false``).
LISTENER_NAME, POLLER_NAME = "websvc listen", "websvc poll"

#: libpq options a URL may override. Keepalives notice a dead peer on an idle
#: connection (the listener's, a pooled one) in about 25 s, not TCP's 2 hours;
#: tcp_user_timeout bounds a call whose packets are no longer acknowledged.
_DEFAULTS: dict[str, str | int] = {
    "connect_timeout": 5,
    "application_name": "websvc",
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}

_BUSY = (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)


class PostgresStore(SQLStore):
    """A store in a PostgreSQL database; see the module doc."""

    notifications = True

    def __init__(
        self,
        conninfo: str,
        *,
        timeout: float = 5.0,
        url: str | None = None,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        """Open (lazily) the database *conninfo* names: a libpq URL or ``key=value`` string."""
        shown = url or masked(conninfo)
        try:
            params = conninfo_to_dict(conninfo)
        except psycopg.Error as e:
            raise StoreError(f"{shown}: {one_line(e, password_in(conninfo))}") from None
        self._password = str(params.get("password") or "") or None
        super().__init__(shown)
        extra = {k: v for k, v in _DEFAULTS.items() if k not in params}
        self._conninfo = make_conninfo(conninfo, **extra)
        self.timeout = timeout
        self.migrations = tuple(migrations)
        self._lock = threading.Lock()
        self._pool: ConnectionPool[Conn] | None = None
        self._pool_pid = 0
        self._schema_ok = False
        self._listen_lock = threading.Lock()
        self._listener: Watcher | None = None
        self._listener_pid = 0
        # Opened before a fork, in the parent: never used, closed or collected in
        # the child (closing one there would end the parent's session).
        self._inherited: list[object] = []
        _after_fork_in_child(self)

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """Open ``postgresql://...`` or ``postgres://...`` (``?timeout=SECONDS`` is websvc's)."""
        shown = masked_url(url)
        base, _, query = url.partition("?")
        timeout = 5.0
        rest: list[str] = []  # libpq's options, passed on as written
        for item in query.split("&") if query else []:
            key, _, value = item.partition("=")
            if key != "timeout":
                rest.append(item)
                continue
            try:
                timeout = float(unquote(value))
            except ValueError:
                raise StoreError(f"{shown}: timeout {value!r} is not a number of seconds") from None
            if not timeout > 0:
                raise StoreError(f"{shown}: timeout must be above 0 seconds, not {value!r}")
        conninfo = f"{base}?{'&'.join(rest)}" if rest else base
        return cls(conninfo, timeout=timeout, url=shown)

    # -- schema and life cycle -----------------------------------------------------

    def init(self) -> int:
        version = migrate(
            lambda: self._transaction("BEGIN", lock=True, check=False),
            "postgresql",
            self.url,
            self.migrations,
        )
        self._schema_ok = False  # checked again on the next use
        return version

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            mine = self._pool_pid == os.getpid()
        if pool is not None:
            if mine:
                pool.close()
            else:
                self._inherited.append(pool)
        with self._listen_lock:
            self._drop_listener()

    # -- transactions -----------------------------------------------------------------

    def _reading(self) -> AbstractContextManager[Tx]:
        return self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY", lock=False)

    def _writing(self) -> AbstractContextManager[Tx]:
        return self._transaction("BEGIN", lock=True)

    def _changed(self, tx: Tx, change: Change) -> None:
        assert isinstance(tx, PgTx)
        tx.notify = max(tx.notify or 0, change.seq)

    @contextmanager
    def _transaction(self, begin: str, *, lock: bool, check: bool = True) -> Iterator[PgTx]:
        """One transaction on a pooled connection: committed when the block ends, else rolled back.

        A write (*lock*) first takes the advisory lock, and sends its
        notification just before ``COMMIT``.
        """
        with self._errors():
            pool = self._the_pool()
            try:
                conn = pool.getconn()
            except PoolTimeout:
                raise self._unreachable() from None
            try:
                if check and not self._schema_ok:
                    self._check_schema(conn)
                conn.execute(
                    f"{begin}; SELECT pg_advisory_xact_lock({LOCK_KEY})" if lock else begin
                )
                tx = PgTx(conn)
                yield tx
                if tx.notify is not None:
                    conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, str(tx.notify)))
                if conn.execute("COMMIT").statusmessage != "COMMIT":
                    # A statement failed and its error was swallowed: PostgreSQL
                    # rolled the whole transaction back.
                    raise StoreError(f"{self.url}: the transaction was rolled back")
            except BaseException:
                if conn.info.transaction_status in _BUSY:
                    with suppress(psycopg.Error):  # a broken connection: the pool drops it
                        conn.execute("ROLLBACK")
                raise
            finally:
                pool.putconn(conn)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn psycopg's errors into store errors (one line, no password)."""
        try:
            yield
        except psycopg.OperationalError as e:
            # Connection refused or lost, admin_shutdown, lock or statement
            # timeout, serialization failure, too many connections: try later.
            self._schema_ok = False
            if isinstance(e, psycopg.errors.LockNotAvailable):
                raise StoreUnavailable(
                    f"{self.url}: another write held the write lock for {self.timeout:g}s"
                ) from None
            raise StoreUnavailable(f"{self.url}: {one_line(e, self._password)}") from None
        except psycopg.Error as e:
            raise StoreError(f"{self.url}: {one_line(e, self._password)}") from None

    def _unreachable(self) -> StoreUnavailable:
        """The error for a pool that gave no connection in time: probe the server to say why."""
        self._schema_ok = False
        try:
            with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=2):
                pass
        except psycopg.Error as e:
            why = one_line(e, self._password)
            return StoreUnavailable(f"{self.url}: cannot connect: {why}")
        return StoreUnavailable(
            f"{self.url}: no free connection within {self.timeout:g}s ({POOL_MAX} busy)"
        )

    def _check_schema(self, conn: Conn) -> None:
        row = conn.execute(
            "SELECT CASE WHEN to_regclass('schema_version') IS NULL THEN -1 ELSE 0 END"
        ).fetchone()
        found = 0
        if row is not None and row[0] == 0:
            top = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
            found = int(top[0]) if top and top[0] is not None else 0
        check_version(found, len(self.migrations), self.url)
        self._schema_ok = True

    # -- connections --------------------------------------------------------------------

    def _the_pool(self) -> ConnectionPool[Conn]:
        """This process's pool, created (and opened) on first use, and again after a fork."""
        pid = os.getpid()
        with self._lock:
            if self._pool is not None and self._pool_pid == pid:
                return self._pool
            if self._pool is not None:
                self._inherited.append(self._pool)
            pool: ConnectionPool[Conn] = ConnectionPool(
                self._conninfo,
                kwargs={"autocommit": True},
                min_size=POOL_MIN,
                max_size=POOL_MAX,
                open=False,
                configure=self._configure,
                check=ConnectionPool.check_connection,
                timeout=self.timeout,
                # Give up a failed reconnection soon: the next call starts a new
                # one at once, instead of waiting out a long backoff after an outage.
                reconnect_timeout=max(self.timeout, 1.0),
                name=f"{POOL_NAME}-{pid}",
                num_workers=2,
            )
            pool.open(wait=False)
            self._pool, self._pool_pid, self._schema_ok = pool, pid, False
            return pool

    def _configure(self, conn: Conn) -> None:
        """Session settings of every pooled connection: bounded waits."""
        ms = max(1, int(self.timeout * 1000))
        conn.execute(
            f"SET lock_timeout = {ms}; SET idle_in_transaction_session_timeout = {max(ms, 60_000)}"
        )

    # -- the follower's connection: notifications and the change seq ----------------------

    def wait_for_change(self, timeout: float) -> bool:
        """Wait up to *timeout* seconds for a write's notification; True when one came.

        The first call opens the listening connection (autocommit, not
        pooled) and ``LISTEN``\\ s; notifications that came since the last
        call count (all of them, at once). A broken listening connection
        raises :class:`StoreUnavailable`; the next call connects again.
        Call it from one thread (the others wait their turn).
        """
        with self._listen_lock, self._watching(listen=True) as watcher:
            return watcher.wait(max(0.0, timeout))

    def watch(self, timeout: float, *, listen: bool = True) -> int:
        """The follower's look, once per ``poll_interval``: the change seq after a wait.

        With *listen*, :meth:`wait_for_change` (up to *timeout*, less when a
        notification comes); without (poll only: a pooler in transaction
        mode), a sleep of *timeout*. Then :meth:`change_seq`, read on the same
        connection (one statement, no pool). The data plane's only steady cost
        of following the store: two wake-ups per interval (see
        :class:`~websvc.store.pgsql.Watcher`).
        """
        if not listen:
            time.sleep(max(0.0, timeout))
        with self._listen_lock, self._watching(listen) as watcher:
            if listen:
                watcher.wait(max(0.0, timeout))
            return watcher.value(MAX_SEQ)

    @contextmanager
    def _watching(self, listen: bool) -> Iterator[Watcher]:
        """This process's follower connection, opened (and ``LISTEN``\\ ing) if need be.

        Any error drops it (the next call connects again) and raises
        :class:`StoreUnavailable`.
        """
        try:
            watcher = self._watcher(listen)
            if listen:
                watcher.listen(CHANNEL)
            yield watcher
        except psycopg.Error as e:
            self._drop_listener()
            why = one_line(e, self._password)
            doing = "listening for" if listen else "polling"
            raise StoreUnavailable(f"{self.url}: {doing} changes: {why}") from None

    def _watcher(self, listen: bool) -> Watcher:
        pid = os.getpid()
        if self._listener is not None and self._listener_pid != pid:
            self._inherited.append(self._listener)
            self._listener = None
        if self._listener is not None and not self._listener.conn.closed:
            return self._listener
        name = LISTENER_NAME if listen else POLLER_NAME
        conn = psycopg.connect(self._conninfo, autocommit=True, application_name=name)
        try:
            watcher = Watcher(conn)
        except BaseException:
            conn.close()
            raise
        self._listener, self._listener_pid = watcher, pid
        return watcher

    def _drop_listener(self) -> None:
        watcher, self._listener = self._listener, None
        if watcher is None:
            return
        if self._listener_pid == os.getpid():
            with suppress(psycopg.Error):
                watcher.close()
        else:
            self._inherited.append(watcher)

    # -- what differs from SQLite -----------------------------------------------------

    def list_tenants(self) -> list[tuple[str, int]]:
        # By code point, as SQLite sorts: the database's collation may differ.
        return sorted(super().list_tenants())


def _after_fork_in_child(store: PostgresStore) -> None:
    """New locks for *store* in a forked child: a thread of the parent may have held one."""
    ref = weakref.ref(store)

    def renew() -> None:
        found = ref()
        if found is not None:
            found._lock = threading.Lock()
            found._listen_lock = threading.Lock()

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=renew)
