"""PostgreSQL glue for :mod:`websvc.store.postgres`: the cursor adapter, the follower's
connection, error lines, masking.

Nothing here holds state but a small cache of translated statements (and each
:class:`Watcher`, its connection).
"""

from __future__ import annotations

import logging
import math
import re
import select
import time
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import pq

from websvc.store.base import masked_url

#: The name of the store's pools (their warnings are filtered by :class:`QuietPool`).
POOL_NAME = "websvc-pool"

Conn = psycopg.Connection[tuple[Any, ...]]


class QuietPool(logging.Filter):
    """Drop psycopg_pool's warning per failed (re)connection attempt of the store's pools.

    The caller gets a :class:`StoreUnavailable` saying why, and logs it once
    per outage (ADMIN-API §4), not once per attempt.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        return not (
            isinstance(args, tuple)
            and args
            and isinstance(args[0], str)
            and args[0].startswith(POOL_NAME)
            and record.levelno <= logging.WARNING
        )


logging.getLogger("psycopg.pool").addFilter(QuietPool())


class PgTx:
    """:class:`~websvc.store.schema.Tx` over a psycopg connection (``?`` becomes ``%s``)."""

    __slots__ = ("_conn", "notify")

    def __init__(self, conn: Conn) -> None:
        self._conn = conn
        self.notify: int | None = None  # the highest change seq written, if any

    def one(self, sql: str, *args: object) -> tuple[Any, ...] | None:
        return self._conn.execute(pg_sql(sql), args or None).fetchone()

    def all(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        return self._conn.execute(pg_sql(sql), args or None).fetchall()

    def run(self, sql: str, *args: object) -> int:
        return self._conn.execute(pg_sql(sql), args or None).rowcount


class Watcher:
    """The follower's connection (autocommit, outside the pool): ``LISTEN`` and the change seq.

    A worker's follower thread runs beside the request path and shares its
    GIL: every time the thread wakes it takes the GIL from the thread serving
    requests (a hand-off both ways, and on a busy host a wait for a CPU). So
    each call here is one libpq call that blocks with the GIL released: a
    wait is one ``poll()`` of the socket for the whole timeout (not
    psycopg's ``notifies()``, which wakes every 0.1 s), a read one ``PQexec``
    (not a pooled transaction: a check, ``BEGIN``, the query, ``COMMIT``).
    """

    def __init__(self, conn: Conn) -> None:
        self.conn = conn
        self.pgconn = conn.pgconn
        self.listening = False
        self._poll = select.poll()
        self._poll.register(self.pgconn.socket, select.POLLIN)

    def listen(self, channel: str) -> None:
        if not self.listening:
            self._exec(f"LISTEN {channel}")
            self.listening = True

    def wait(self, timeout: float) -> bool:
        """True when a notification came: one libpq already holds (received during a
        query) at once, else the first within *timeout* seconds; all of them count once."""
        deadline = time.monotonic() + timeout
        while not self._notified():
            left = deadline - time.monotonic()
            if not self._poll.poll(math.ceil(max(0.0, left) * 1000)):
                return False
            self.pgconn.consume_input()  # at the end of the stream: raises
        return True

    def value(self, sql: str) -> int:
        """The integer *sql* (one row, one column) answers; NULL is 0."""
        found = self._exec(sql).get_value(0, 0)
        return int(found) if found is not None else 0

    def close(self) -> None:
        self.conn.close()

    def _exec(self, sql: str) -> pq.abc.PGresult:
        result = self.pgconn.exec_(sql.encode())
        if result.status not in (pq.ExecStatus.COMMAND_OK, pq.ExecStatus.TUPLES_OK):
            raise psycopg.OperationalError(
                pq.error_message(result) or pq.error_message(self.pgconn)
            )
        return result

    def _notified(self) -> bool:
        got = False
        while self.pgconn.notifies() is not None:
            got = True
        return got


_PG_SQL: dict[str, str] = {}


def pg_sql(sql: str) -> str:
    """*sql* with psycopg's ``%s`` for each ``?`` (the store's SQL holds no other ``?`` or ``%``)."""
    found = _PG_SQL.get(sql)
    if found is None:
        found = sql.replace("?", "%s")
        if len(_PG_SQL) < 1000:  # IN lists of every length could grow it without end
            _PG_SQL[sql] = found
    return found


def one_line(error: BaseException, password: str | None) -> str:
    """The error's message on one line, the password (if it could be in it) as ``***``."""
    text = " ".join(str(error).split()) or type(error).__name__
    if password and len(password) >= 3:  # masking "a" would garble the message
        text = text.replace(password, "***")
    return text[:500]


_KV_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)")


def masked(conninfo: str) -> str:
    """A URL or ``key=value`` conninfo with its password shown as ``***``."""
    if "://" in conninfo:
        return masked_url(conninfo)
    return _KV_PASSWORD.sub(r"\1***", conninfo)


def password_in(conninfo: str) -> str | None:
    """The password of a conninfo that libpq cannot parse, as far as it can be found."""
    if "://" in conninfo:
        with suppress(ValueError):
            return urlsplit(conninfo).password
        return None
    found = _KV_PASSWORD.search(conninfo)
    return found.group(2).strip("'") if found else None
