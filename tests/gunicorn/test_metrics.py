"""Prometheus multiprocess mode under gunicorn: every scrape sums all workers."""

from __future__ import annotations

import hashlib
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.test_observability import _value

TOKEN = "scrape-me"
CONFIG = f"""
[server]
metrics_path = "/-/metrics"
metrics_token_sha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"

[[tenants.acme.cors]]
domain = "app.example"
"""


def test_multiprocess_metrics_add_up_across_workers(
    gunicorn: Callable[..., Any], tmp_path: Path
) -> None:
    config = tmp_path / "websvc.toml"
    config.write_text(CONFIG)
    prom = tmp_path / "prom"
    prom.mkdir()
    server = gunicorn(config=config, workers=2, env={"PROMETHEUS_MULTIPROC_DIR": str(prom)})
    pre = {"Origin": "https://app.example", "Access-Control-Request-Method": "GET"}
    for _ in range(40):
        assert server.request("OPTIONS", "/x", pre).get("Access-Control-Allow-Origin")
    # Stop every worker that served those requests: the new workers never saw
    # them, yet each scrape must still report all 40 (the files add up).
    served = [int(db.stem.split("_")[1]) for db in prom.glob("counter_*.db")]
    assert served
    for pid in served:
        os.kill(pid, signal.SIGTERM)
    server.wait_for_log("Booting worker", count=2 + len(served))
    labels = {"tenant": "acme", "kind": "preflight", "outcome": "allowed", "reason": ""}
    for _ in range(6):
        scrape = server.request("GET", "/-/metrics", {"Authorization": f"Bearer {TOKEN}"})
        assert scrape.status == 200
        assert _value(scrape.body.decode(), "websvc_requests_total", **labels) == 40
    assert server.request("GET", "/-/metrics").status == 401
