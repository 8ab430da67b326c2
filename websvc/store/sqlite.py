"""The SQLite store: one file on one host, shared by every process and thread there.

``sqlite:///relative/path.db`` (relative to the current directory when the
store is opened) or ``sqlite:////absolute/path.db``; ``?timeout=SECONDS``
sets how long a write waits for another one (default 5) before
:class:`~websvc.store.base.StoreUnavailable`.

The file is in WAL mode, so readers never wait for the writer and the
writer never waits for readers. Each thread gets a connection of its own,
opened on first use (and again after a ``fork``) with ``busy_timeout`` and
foreign keys on; a connection whose thread ended is closed when it is
collected. A read runs in ``BEGIN`` (one consistent view of the file); a
write in ``BEGIN IMMEDIATE``, which takes the file's single write lock
before reading, so a compare-and-set can never interleave with another.

Only :meth:`SQLiteStore.init` may create the file: every other use opens it
read-write without creating it, so a mistyped path reads as "store
unavailable", never as an empty store.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from websvc.store.base import StoreError, StoreUnavailable
from websvc.store.schema import MIGRATIONS, Migration, check_version, migrate
from websvc.store.sql import SQLStore

#: OperationalError messages that mean "not now": the caller may retry.
_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o", "readonly", "disk is full")


class SQLiteStore(SQLStore):
    """A store in one SQLite file; see the module doc."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        timeout: float = 5.0,
        url: str | None = None,
        migrations: Sequence[Migration] = MIGRATIONS,
    ) -> None:
        self.path = os.path.abspath(path)
        super().__init__(url or f"sqlite:///{self.path}")
        self.timeout = timeout
        self.migrations = tuple(migrations)
        self._local = threading.local()
        self._open_connections: weakref.WeakSet[_Connection] = weakref.WeakSet()
        self._lock = threading.Lock()
        self._inherited: list[_Connection] = []

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """Open ``sqlite:///relative.db`` or ``sqlite:////abs.db`` (``?timeout=SECONDS``)."""
        rest = url.partition(":")[2]
        path, _, query = rest.partition("?")
        if not path.startswith("///") or len(path) == 3 or path[3:] == ":memory:":
            raise StoreError(
                f"{url}: a SQLite store URL is sqlite:///relative/path.db or sqlite:////abs/path.db"
            )
        timeout = 5.0
        for key, value in parse_qsl(query, keep_blank_values=True):
            if key != "timeout":
                raise StoreError(f"{url}: unknown option {key!r} (known: timeout)")
            try:
                timeout = float(value)
            except ValueError:
                raise StoreError(f"{url}: timeout {value!r} is not a number of seconds") from None
        return cls(unquote(path[3:]), timeout=timeout, url=url)

    def init(self) -> int:
        with self._errors():
            conn = self._open(create=True)
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return migrate(
                    lambda: _transaction(conn, "BEGIN IMMEDIATE"),
                    "sqlite",
                    self.url,
                    self.migrations,
                )
            finally:
                conn.close()

    def close(self) -> None:
        with self._lock:
            mine = [c for c in self._open_connections if c.pid == os.getpid()]
            self._open_connections.clear()
        for conn in mine:
            conn.close()
        self._local = threading.local()

    # -- transactions -----------------------------------------------------------

    @contextmanager
    def _reading(self) -> Iterator[_Tx]:
        with self._errors(), _transaction(self._connection(), "BEGIN") as tx:
            yield tx

    @contextmanager
    def _writing(self) -> Iterator[_Tx]:
        with self._errors(), _transaction(self._connection(), "BEGIN IMMEDIATE") as tx:
            yield tx

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn sqlite3's errors into store errors, and forget a connection that failed."""
        try:
            yield
        except sqlite3.OperationalError as e:
            self._forget()
            text = str(e)
            if "unable to open" in text:
                why = _unopenable(Path(self.path)) or text
                raise StoreUnavailable(f"{self.url}: cannot open {self.path}: {why}") from e
            if any(word in text.lower() for word in _TRANSIENT):
                raise StoreUnavailable(f"{self.url}: {text} (waited {self.timeout:g}s)") from e
            raise StoreError(f"{self.url}: {text}") from e
        except sqlite3.DatabaseError as e:
            self._forget()
            text = str(e)
            if "not a database" in text:
                raise StoreError(f"{self.url}: {self.path} is not a SQLite database") from e
            raise StoreError(f"{self.url}: {text}") from e

    # -- connections ------------------------------------------------------------

    def _connection(self) -> _Connection:
        """This thread's connection, opened and checked on first use (and after a fork)."""
        conn: _Connection | None = getattr(self._local, "conn", None)
        if conn is not None:
            if conn.pid == os.getpid():
                return conn
            # Opened before a fork: never used, never closed (closing it here
            # could release the parent's locks); kept alive so it is not collected.
            self._inherited.append(conn)
        conn = self._open(create=False)
        try:
            self._check(conn)
        except BaseException:
            conn.close()
            raise
        self._local.conn = conn
        with self._lock:
            self._open_connections.add(conn)
        return conn

    def _open(self, *, create: bool) -> _Connection:
        uri = f"file:{quote(self.path)}?mode={'rwc' if create else 'rw'}"
        conn = sqlite3.connect(
            uri,
            uri=True,
            timeout=self.timeout,
            isolation_level=None,  # no implicit transactions: BEGIN is ours
            check_same_thread=False,  # used by one thread; closed by any
            factory=_Connection,
        )
        assert isinstance(conn, _Connection)
        conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        conn.execute("PRAGMA foreign_keys = ON")
        return conn

    def _check(self, conn: sqlite3.Connection) -> None:
        try:
            row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
        except sqlite3.OperationalError as e:
            if "no such table" not in str(e):
                raise
            row = (0,)
        check_version(int(row[0] or 0), len(self.migrations), self.url)

    def _forget(self) -> None:
        """Drop this thread's connection; the next call opens a fresh one."""
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with self._lock:
                self._open_connections.discard(conn)
            conn.close()


class _Connection(sqlite3.Connection):
    """A connection that knows the process that opened it, and can be weakly referenced."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pid = os.getpid()


class _Tx:
    """:class:`~websvc.store.schema.Tx` over a sqlite3 connection."""

    __slots__ = ("_conn",)

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def one(self, sql: str, *args: object) -> tuple[Any, ...] | None:
        row: tuple[Any, ...] | None = self._conn.execute(sql, args).fetchone()
        return row

    def all(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        return self._conn.execute(sql, args).fetchall()

    def run(self, sql: str, *args: object) -> int:
        return self._conn.execute(sql, args).rowcount


@contextmanager
def _transaction(conn: sqlite3.Connection, begin: str) -> Iterator[_Tx]:
    """Run the block in a transaction: commit when it ends, roll back when it raises."""
    conn.execute(begin)
    try:
        yield _Tx(conn)
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            with suppress(sqlite3.Error):  # a broken connection: the caller forgets it
                conn.execute("ROLLBACK")
        raise


def _unopenable(path: Path) -> str | None:
    if not path.parent.is_dir():
        return "its folder does not exist"
    if not path.exists():
        return "no such file (`websvc store init` creates it)"
    return None
