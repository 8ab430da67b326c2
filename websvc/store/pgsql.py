"""PostgreSQL glue for :mod:`websvc.store.postgres`: the cursor adapter, error lines, masking.

Nothing here holds state but a small cache of translated statements.
"""

from __future__ import annotations

import logging
import re
from contextlib import suppress
from typing import Any
from urllib.parse import urlsplit

import psycopg

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
