"""Store mode, measured: propagation, the cost of one edit, and the data plane's cost.

    python bench/store.py            # 100 edits, 10k tenants / 100k rules
    python bench/store.py --quick    # 30 edits, 2k tenants

1. **edit-to-served**: a 2-worker gunicorn (``-c python:websvc.gunicorn_conf``)
   on a SQLite store; the admin API (in this process, on the same file) saves
   an edit; the time until *both* workers serve it (each asked on new
   connections; an API answering with its pid tells them apart). p50 and
   p99 over the edits.
2. **apply one edit**: in one process, the follower's ``poll()`` after one
   tenant's rules changed, with 10 tenants and with 10,000 tenants / 100,000
   rules in the store (median of repeated edits): it must not depend on the
   number of tenants, since only the changed tenant is compiled.
3. **store mode vs file mode**: an allowed preflight through ``create_app``
   of the same tenant held in a file and in the store, interleaved in rounds
   (the ratio of the medians; the request path makes no store query).
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import statistics
import sys
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from werkzeug.test import Client  # noqa: E402

import websvc  # noqa: E402
from websvc.admin import create_app as create_admin_app  # noqa: E402
from websvc.store import Audit, TenantData, open_store  # noqa: E402

OPERATOR = "bench-operator"
AUDIT = Audit(actor="cli", method="BENCH", path="bench/store.py")
RULE = {
    "domain": "app.example.com",
    "methods": ["GET", "PUT"],
    "request_headers": ["X-Custom-Header"],
}
PREFLIGHT = {
    "REQUEST_METHOD": "OPTIONS", "PATH_INFO": "/api/x", "QUERY_STRING": "", "wsgi.url_scheme": "http",
    "HTTP_HOST": "api.acme.test", "HTTP_ORIGIN": "https://app.example.com",
    "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "PUT", "HTTP_ACCESS_CONTROL_REQUEST_HEADERS": "x-custom-header",
}  # fmt: skip


def _store_config(db: Path, poll: float = 0.25) -> dict[str, Any]:
    return {
        "store": {"url": f"sqlite:///{db}", "poll_interval": poll},
        "admin": {"operator_tokens_sha256": [hashlib.sha256(OPERATOR.encode()).hexdigest()]},
    }


def _seed(db: Path, tenants: int, rules_each: int) -> None:
    store = open_store(f"sqlite:///{db}")
    store.init()
    states = {
        f"t{i}": TenantData.of(
            hosts=[f"t{i}.test"],
            rules=[{"domain": f"app{j}.t{i}.example"} for j in range(rules_each)],
        )
        for i in range(tenants)
    }
    states["acme"] = TenantData.of(hosts=["api.acme.test"], rules=[RULE])
    store.import_tenants(states, audit=AUDIT)


def apply_one_edit(sizes: list[int], rules_each: int, edits: int, folder: Path) -> list[float]:
    """Median seconds of the follower's poll() applying one tenant's edit, per store size.

    The sizes are measured interleaved (one edit each, in turn), so that the
    machine's drift falls on all of them alike.
    """
    followers, stores, versions = [], [], []
    for tenants in sizes:
        db = folder / f"apply-{tenants}.db"
        _seed(db, tenants, rules_each)
        config = _store_config(db, poll=60)
        follower = websvc.create_app(config).follower
        assert follower is not None
        store = open_store(config["store"]["url"])
        followers.append(follower)
        stores.append(store)
        versions.append(store.tenant("acme").version)  # type: ignore[union-attr]
    times: list[list[float]] = [[] for _ in sizes]
    gc.collect()
    for i in range(edits):
        methods = ["GET", "PUT"] if i % 2 else ["GET", "PUT", "DELETE"]
        for k, (follower, store) in enumerate(zip(followers, stores, strict=True)):
            versions[k] = store.put_rules(
                "acme", [{**RULE, "methods": methods}], if_match=versions[k], audit=AUDIT
            )
            started = time.perf_counter()
            assert follower.poll()
            times[k].append(time.perf_counter() - started)
    return [statistics.median(t) for t in times]


def store_vs_file(folder: Path, rounds: int = 15) -> tuple[float, float]:
    """Median µs of an allowed preflight: file mode, store mode (same tenant and rule)."""
    db = folder / "ratio.db"
    _seed(db, 0, 0)
    store_app = websvc.create_app(
        {**_store_config(db, poll=60), "apis": [{"path": "/api", "app": "bench.apps:raw"}]}
    )
    file_app = websvc.create_app({
        "apis": [{"path": "/api", "app": "bench.apps:raw"}],
        "tenants": {"acme": {"hosts": ["api.acme.test"], "cors": [RULE]}},
    })  # fmt: skip

    def call(app: Any) -> None:
        for _ in app(dict(PREFLIGHT), lambda s, h, e=None: None):
            pass

    samples: dict[str, list[float]] = {"file": [], "store": []}
    for _ in range(rounds):
        for name, app in (("file", file_app), ("store", store_app)):
            samples[name].append(timeit.timeit(lambda a=app: call(a), number=5000) / 5000 * 1e6)
    return statistics.median(samples["file"]), statistics.median(samples["store"])


def edit_to_served(edits: int, folder: Path) -> list[float]:
    """Seconds from a PUT's 200 to both gunicorn workers serving it, per edit."""
    from tests.gunicorn.test_store_mode import OPERATOR as TEST_OPERATOR
    from tests.gunicorn.test_store_mode import ask, config_text, marker, rules
    from tests.servers import launch_gunicorn

    db = folder / "served.db"
    config = folder / "websvc.toml"
    config.write_text(config_text(db, poll=0.25))
    open_store(f"sqlite:///{db}").init()
    admin = Client(create_admin_app(str(config)))
    auth = {"Authorization": f"Bearer {TEST_OPERATOR}"}  # the operator of config_text
    admin.put("/admin/v1/tenants/shop", json={}, headers=auth)
    cmd = [sys.executable, "-m", "gunicorn", "--no-control-socket", "-c", "python:websvc.gunicorn_conf",
           "-b", "127.0.0.1:0", "-w", "2", "--log-level", "info", f'websvc:create_app("{config}")']  # fmt: skip
    server = launch_gunicorn(cmd, folder / "gunicorn.log", workers=2)
    latencies = []
    version = 1
    try:
        for i in range(edits):
            methods = ["GET", "PUT"] if i % 2 == 0 else ["GET", "PUT", "DELETE"]
            reply = admin.put("/admin/v1/tenants/shop/cors", json=rules(methods),
                              headers={**auth, "If-Match": f'"{version}"'})  # fmt: skip
            version = reply.get_json()["version"]
            saved = time.monotonic()
            expected, seen = marker(methods), set()
            while len(seen) < 2:
                pid, allowed = ask(server)
                if allowed == expected:
                    seen.add(pid)
                if time.monotonic() - saved > 5:
                    raise AssertionError(f"edit {i} not served by both workers in 5 s")
            latencies.append(time.monotonic() - saved)
    finally:
        server.stop()
    return latencies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="30 edits, 2k tenants")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON")
    args = parser.parse_args(argv)
    edits = 30 if args.quick else 100
    big = 2000 if args.quick else 10_000
    folder = Path(tempfile.mkdtemp(prefix="websvc-bench-store-"))
    figures: dict[str, Any] = {}
    served = sorted(edit_to_served(edits, folder))
    figures["edit_to_served_p50_s"] = served[len(served) // 2]
    figures["edit_to_served_p99_s"] = served[min(len(served) - 1, int(len(served) * 0.99))]
    small_apply, big_apply = apply_one_edit([10, big], 10, 41, folder)
    figures["apply_10_tenants_ms"] = small_apply * 1e3
    figures[f"apply_{big}_tenants_ms"] = big_apply * 1e3
    figures["apply_ratio"] = big_apply / small_apply
    file_us, store_us = store_vs_file(folder)
    figures["preflight_file_us"] = file_us
    figures["preflight_store_us"] = store_us
    figures["preflight_store_over_file"] = store_us / file_us
    rows = [
        ("edit-to-served, both workers, p50", f"{figures['edit_to_served_p50_s'] * 1e3:.0f} ms", "", ""),
        ("edit-to-served, both workers, p99", f"{figures['edit_to_served_p99_s'] * 1e3:.0f} ms", "≤ 1000 ms",
         "PASS" if figures["edit_to_served_p99_s"] <= 1 else "MISS"),
        ("apply one edit, 10 tenants", f"{small_apply * 1e3:.2f} ms", "", ""),
        (f"apply one edit, {big} tenants / {big * 10} rules", f"{big_apply * 1e3:.2f} ms",
         "≤ 1.2x 10 tenants", f"{figures['apply_ratio']:.2f}x " + ("PASS" if figures["apply_ratio"] <= 1.2 else "MISS")),
        ("allowed preflight, file mode", f"{file_us:.3f} µs", "", ""),
        ("allowed preflight, store mode", f"{store_us:.3f} µs", "≤ 1.05x file mode",
         f"{figures['preflight_store_over_file']:.3f}x " + ("PASS" if figures["preflight_store_over_file"] <= 1.05 else "MISS")),
    ]  # fmt: skip
    width = max(len(r[0]) for r in rows)
    for name, value, target, result in rows:
        print(f"{name:<{width}}  {value:>10}  {target:<18}  {result}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
