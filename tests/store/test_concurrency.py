"""Two writers with the same If-Match: exactly one wins, in threads and in processes (each backend)."""

from __future__ import annotations

import multiprocessing
import threading
from typing import Any

from tests.store.conftest import OPERATOR, rule, sqlite_only
from websvc.store import SQLiteStore, Store, VersionConflict, open_store

ROUNDS = 30


def _attempt(store: Store, round_: int, who: str) -> str:
    """One write at the version every contender saw at the start of the round."""
    try:
        store.put_rules("acme", [rule(f"{who}.example")], if_match=round_ + 1, audit=OPERATOR)
    except VersionConflict as e:
        return f"conflict@{e.current}"
    return "ok"


def test_threads_with_the_same_if_match_exactly_one_wins(acme: Store) -> None:
    contenders = 6
    barrier = threading.Barrier(contenders)
    results: list[list[str]] = [[] for _ in range(ROUNDS)]

    def run(who: int) -> None:
        for r in range(ROUNDS):
            barrier.wait()
            results[r].append(_attempt(acme, r, f"t{who}"))
            barrier.wait()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(contenders)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r, outcomes in enumerate(results):
        assert sorted(outcomes) == sorted(["ok"] + [f"conflict@{r + 2}"] * (contenders - 1)), r
    assert acme.tenant("acme").version == ROUNDS + 1  # type: ignore[union-attr]
    assert acme.change_seq() == ROUNDS + 1
    assert len(acme.revisions("acme")) == ROUNDS + 1


def _process(url: str, who: int, barrier: Any, out: Any) -> None:
    store = open_store(url)
    for r in range(ROUNDS):
        barrier.wait()
        out.put((r, _attempt(store, r, f"p{who}")))
        barrier.wait()
    store.close()


def test_processes_with_the_same_if_match_exactly_one_wins(acme: Store, store_url: str) -> None:
    contenders = 3
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(contenders)
    out = ctx.Queue()
    procs = [
        ctx.Process(target=_process, args=(store_url, i, barrier, out)) for i in range(contenders)
    ]
    for p in procs:
        p.start()
    results: list[list[str]] = [[] for _ in range(ROUNDS)]
    for _ in range(ROUNDS * contenders):
        r, outcome = out.get(timeout=60)
        results[r].append(outcome)
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    for r, outcomes in enumerate(results):
        assert sorted(outcomes) == sorted(["ok"] + [f"conflict@{r + 2}"] * (contenders - 1)), r
    assert acme.tenant("acme").version == ROUNDS + 1  # type: ignore[union-attr]
    assert [c.seq for c in acme.changes_since(0)] == list(range(1, ROUNDS + 2))


def test_readers_see_whole_versions_while_a_writer_writes(acme: Store) -> None:
    """Every snapshot's rules match its version: never a mix of two writes."""
    stop = threading.Event()
    bad: list[tuple[int, int]] = []

    def read() -> None:
        while not stop.is_set():
            state = acme.snapshot().tenants["acme"]
            if len(state.rules) != state.version - 1:
                bad.append((state.version, len(state.rules)))

    readers = [threading.Thread(target=read) for _ in range(3)]
    for t in readers:
        t.start()
    try:
        for version in range(1, 60):
            rules = [rule(f"r{i}.example") for i in range(version)]
            acme.put_rules("acme", rules, if_match=version, audit=OPERATOR)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert bad == []


def test_concurrent_writers_commit_the_change_seq_in_order(store: Store) -> None:
    """A reader that has seen seq N has seen every change up to N: no gap, ever.

    Writers of different tenants never conflict; a reader keeps asking for
    the changes after the last seq it saw, and must always get the very next
    seqs (a seq committed after a higher one would show as a gap).
    """
    writers, per_writer = 4, 25
    for i in range(writers):
        store.put_tenant(f"w{i}", hosts=[], users=[], plugins=[], audit=OPERATOR)
    stop = threading.Event()
    gaps: list[tuple[int, list[int]]] = []

    def read() -> None:
        seen = store.change_seq()
        while not stop.is_set():
            seqs = [c.seq for c in store.changes_since(seen)]
            if seqs != list(range(seen + 1, seen + 1 + len(seqs))):
                gaps.append((seen, seqs))
            seen = seqs[-1] if seqs else seen

    def write(i: int) -> None:
        for version in range(1, per_writer + 1):
            store.put_rules(
                f"w{i}", [rule(f"v{version}.example")], if_match=version, audit=OPERATOR
            )

    reader = threading.Thread(target=read)
    reader.start()
    threads = [threading.Thread(target=write, args=(i,)) for i in range(writers)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        stop.set()
        reader.join()
    assert gaps == []
    total = writers * (per_writer + 1)
    assert [c.seq for c in store.changes_since(0)] == list(range(1, total + 1))


def _read_in_child(store: Store, out: Any) -> None:
    out.put((store.change_seq(), store.tenant("acme") is not None))


def test_a_store_opened_before_a_fork_works_in_the_child(acme: Store) -> None:
    """gunicorn's preload_app: the master opened the store, each worker uses it."""
    assert acme.change_seq() == 1  # the parent's thread now holds a connection
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    child = ctx.Process(target=_read_in_child, args=(acme, out))
    child.start()
    assert out.get(timeout=30) == (1, True)
    child.join(timeout=30)
    assert child.exitcode == 0
    assert acme.change_seq() == 1


@sqlite_only
def test_connections_of_ended_threads_are_closed(store: SQLiteStore) -> None:
    import gc

    for _ in range(20):
        t = threading.Thread(target=store.change_seq)
        t.start()
        t.join()
    gc.collect()
    assert len(store._open_connections) <= 1
