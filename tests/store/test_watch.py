"""PostgresStore.watch: a worker's follower looks at the store, and costs its requests next to nothing.

The follower thread shares the GIL with the requests of its worker: every
wake-up takes the GIL from them. So a look (a wait, then the change seq) must
wake the thread twice at most, however long the wait: once when the wait
ends, once when the answer to its one statement comes.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from tests.store.conftest import OPERATOR, rule
from tests.store.pg import PostgresServer
from websvc.store import StoreUnavailable, open_store
from websvc.store.postgres import LISTENER_NAME, POLLER_NAME, PostgresStore


@pytest.fixture
def acme(pg_url: str) -> Iterator[PostgresStore]:
    with PostgresStore.from_url(pg_url) as store:
        store.init()
        store.put_tenant("acme", hosts=[], users=[], plugins=[], audit=OPERATOR)
        yield store


def _db(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


def _write_soon(url: str, version: int, delay: float = 0.2) -> threading.Thread:
    """Another host's admin API writes acme's next version in *delay* seconds."""

    def write() -> None:
        time.sleep(delay)
        with open_store(url) as other:
            other.put_rules("acme", [rule(f"v{version}.com")], if_match=version, audit=OPERATOR)

    writer = threading.Thread(target=write)
    writer.start()
    return writer


def test_watch_returns_the_change_seq_after_the_wait_or_at_a_notification(
    acme: PostgresStore, pg_url: str
) -> None:
    assert acme.watch(0) == 1  # opens the connection and listens
    began = time.monotonic()
    assert acme.watch(0.2) == 1
    assert 0.19 <= time.monotonic() - began < 1.0
    writer = _write_soon(pg_url, 1)
    began = time.monotonic()
    assert acme.watch(5.0) == 2  # woken by the write's notification
    assert time.monotonic() - began < 1.0
    writer.join()
    assert acme.wait_for_change(0) is False  # the notification was taken by the look


def test_poll_only_neither_listens_nor_wakes_early(
    acme: PostgresStore, pg_url: str, pg_server: PostgresServer
) -> None:
    assert acme.watch(0, listen=False) == 1
    writer = _write_soon(pg_url, 1, delay=0.1)
    began = time.monotonic()
    assert acme.watch(0.5, listen=False) == 2
    assert time.monotonic() - began >= 0.5
    writer.join()
    with pg_server.admin(_db(pg_url)) as conn:
        names = [row[0] for row in conn.execute("SELECT application_name FROM pg_stat_activity")]
    assert POLLER_NAME in names and LISTENER_NAME not in names


def test_a_terminated_connection_is_unavailable_then_replaced(
    acme: PostgresStore, pg_url: str, pg_server: PostgresServer
) -> None:
    assert acme.watch(0) == 1
    assert pg_server.terminate(_db(pg_url), LISTENER_NAME) == 1
    with pytest.raises(StoreUnavailable, match=r"listening for changes: ") as caught:
        acme.watch(1.0)
    assert "\n" not in str(caught.value)
    assert acme.watch(0.1) == 1  # a new connection, listening again
    writer = _write_soon(pg_url, 1)
    assert acme.watch(5.0) == 2
    writer.join()


def _wakeups(call: Callable[[], object]) -> int:
    """How many times this thread slept and woke during *call* (Linux's voluntary switches)."""
    status = f"/proc/self/task/{threading.get_native_id()}/status"

    def switches() -> int:
        with open(status, encoding="ascii") as fh:
            found = re.search(r"^voluntary_ctxt_switches:\s+(\d+)", fh.read(), re.M)
        assert found is not None
        return int(found.group(1))

    before = switches()
    call()
    return switches() - before


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux's /proc")
@pytest.mark.parametrize("listen", [True, False], ids=["listen", "poll_only"])
def test_a_look_wakes_the_thread_twice_at_most_however_long_the_wait(
    acme: PostgresStore, listen: bool
) -> None:
    """psycopg's ``notifies(timeout=...)`` would wake it every 0.1 s, a pooled
    transaction once per round trip (a check, BEGIN, the query, COMMIT)."""
    acme.watch(0, listen=listen)
    woke = min(_wakeups(lambda: acme.watch(1.0, listen=listen)) for _ in range(2))
    assert woke <= 2
