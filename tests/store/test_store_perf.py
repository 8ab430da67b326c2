"""How fast the data plane's reads and an admin write are, on 10,000 tenants / 100,000 rules.

The bounds are generous (a slow CI machine must not fail them) while a
regression to a table scan or a per-tenant query would. Run this module
directly for the figures: ``python -m tests.store.test_store_perf``.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from websvc.store import Audit, SQLiteStore, TenantData

TENANTS = 10_000
RULES_PER_TENANT = 10
CLI = Audit("cli", "CLI", "websvc store import")


def build(path: Path) -> SQLiteStore:
    store = SQLiteStore(path)
    store.init()
    states = {f"t{i:05d}": _tenant(i) for i in range(TENANTS)}
    store.import_tenants(states, audit=CLI)
    return store


def measure(store: SQLiteStore) -> dict[str, float]:
    """Seconds: one snapshot, and the median of many put_rules / change_seq / small deltas."""
    seq = store.change_seq()
    figures = {"snapshot": _best(store.snapshot, 3)}
    versions = iter(range(1, 10_000))
    rules = [_rule(0, j) for j in range(RULES_PER_TENANT)]
    figures["put_rules"] = _median(
        lambda: store.put_rules("t00042", rules, if_match=next(versions), audit=CLI), 50
    )
    figures["change_seq"] = _median(store.change_seq, 2000)
    figures["changes_since"] = _median(lambda: store.changes_since(seq), 200)
    figures["delta"] = _median(lambda: store.delta(seq), 200)
    return figures


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SQLiteStore]:
    store = build(tmp_path_factory.mktemp("perf") / "big.db")
    yield store
    store.close()


def test_ten_thousand_tenants(big: SQLiteStore) -> None:
    snapshot = big.snapshot()
    assert len(snapshot.tenants) == TENANTS
    assert sum(len(t.rules) for t in snapshot.tenants.values()) == TENANTS * RULES_PER_TENANT
    figures = measure(big)
    assert figures["snapshot"] < 5.0
    assert figures["put_rules"] < 0.05
    assert figures["change_seq"] < 0.002
    assert figures["changes_since"] < 0.005
    assert figures["delta"] < 0.01


def _tenant(i: int) -> TenantData:
    return TenantData.of(
        hosts=[f"t{i}.example.net"],
        users=[{"name": f"user-{i}", "token_sha256": f"{i:064x}"}],
        rules=[_rule(i, j) for j in range(RULES_PER_TENANT)],
    )


def _rule(i: int, j: int) -> dict[str, Any]:
    return {
        "domain": f"app{j}.tenant{i}.example.com",
        "protocols": ["https"],
        "ports": [443, 8443],
        "methods": ["GET", "POST", "PUT", "DELETE"],
        "request_headers": ["X-Custom-Header", "Some-Other-Header"],
        "expose_headers": ["X-Request-Id"],
        "allow_credentials": True,
        "allow_caching": True,
        "max_age": 3600,
        "paths": ["/ws/rest/*"],
    }


def _best(call: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times)


def _median(call: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        store = build(Path(folder) / "big.db")
        print(
            f"import of {TENANTS} tenants / {TENANTS * RULES_PER_TENANT} rules: {time.perf_counter() - start:.2f} s"
        )
        for name, seconds in measure(store).items():
            print(f"{name:>14}: {seconds * 1000:9.3f} ms")
        print(
            f"file size: {(Path(folder) / 'big.db').stat().st_size / 1e6:.1f} MB", file=sys.stderr
        )
        store.close()
