"""Store mode under real gunicorn: every worker follows the SQLite store within a second.

Two workers (``-c python:websvc.gunicorn_conf``, so the master preloads the
app and forks them) serve a config whose tenants live in a SQLite file; the
admin API writes to the same file. After each ``PUT`` returns 200, both
workers must serve the new rules within 1 s (told apart by an API that
answers with its pid). The request path makes no store query: the store's
query counter does not move while the workers answer thousands of requests
between two polls.
"""

from __future__ import annotations

import hashlib
import http.client
import sys
import time
from pathlib import Path

import pytest
from werkzeug.test import Client

from tests.servers import Server, launch_gunicorn
from websvc.admin import create_app as create_admin_app
from websvc.store import open_store

OPERATOR = "store-mode-operator"
ORIGIN = "https://app.store.example"


def config_text(db: Path, poll: float = 0.1) -> str:
    return f"""
[server]
authentication = "none"

[[apis]]
path = "/api"
app = "tests.gunicorn.pid_api:app"

[store]
url = "sqlite:///{db}"
poll_interval = {poll}

[admin]
operator_tokens_sha256 = ["{hashlib.sha256(OPERATOR.encode()).hexdigest()}"]
"""


def marker(methods: list[str]) -> str:
    """The response header a version exposes: visible on the same answer as the pid."""
    return "X-Methods-" + "-".join(methods)


def rules(methods: list[str]) -> dict[str, object]:
    return {
        "rules": [
            {"domain": "app.store.example", "methods": methods, "expose_headers": [marker(methods)]}
        ]
    }


def ask(server: Server) -> tuple[str, str | None]:
    """One normal request on a new connection: (the worker's pid, the version it serves).

    Both come from one answer, so they are the same worker's: the pid from
    the API, the version from ``Access-Control-Expose-Headers``.
    """
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/api/pid", headers={"Origin": ORIGIN, "Connection": "close"})
        reply = conn.getresponse()
        pid = reply.read().decode()
        return pid, reply.getheader("Access-Control-Expose-Headers")
    finally:
        conn.close()


@pytest.fixture
def store_mode(tmp_path: Path) -> tuple[Server, Client]:
    db = tmp_path / "websvc.db"
    config = tmp_path / "websvc.toml"
    config.write_text(config_text(db))
    store = open_store(f"sqlite:///{db}")
    store.init()
    admin = Client(create_admin_app(str(config)))
    auth = {"Authorization": f"Bearer {OPERATOR}"}
    assert admin.put("/admin/v1/tenants/shop", json={}, headers=auth).status_code == 201
    cmd = [sys.executable, "-m", "gunicorn", "--no-control-socket", "-c", "python:websvc.gunicorn_conf",
           "-b", "127.0.0.1:0", "-w", "2", "--log-level", "info", f'websvc:create_app("{config}")']  # fmt: skip
    server = launch_gunicorn(cmd, tmp_path / "gunicorn.log", workers=2)
    yield server, admin
    server.stop()


def test_every_worker_serves_an_edit_within_a_second(store_mode: tuple[Server, Client]) -> None:
    server, admin = store_mode
    auth = {"Authorization": f"Bearer {OPERATOR}"}
    version = 1
    latencies = []
    for i in range(12):
        methods = ["GET", "PUT"] if i % 2 == 0 else ["GET", "PUT", "DELETE"]
        reply = admin.put(
            "/admin/v1/tenants/shop/cors", json=rules(methods),
            headers={**auth, "If-Match": f'"{version}"'},
        )  # fmt: skip
        assert reply.status_code == 200, reply.get_json()
        version = reply.get_json()["version"]
        saved = time.monotonic()
        expected = marker(methods)
        current: dict[str, float] = {}
        while len(current) < 2:
            pid, allowed = ask(server)
            if allowed == expected:
                current.setdefault(pid, time.monotonic() - saved)
            assert time.monotonic() - saved < 1.0, (
                f"edit {i}: after 1 s only workers {sorted(current)} serve {expected!r}:\n{server.log}"
            )
        latencies.append(max(current.values()))
    assert server.proc.poll() is None
    print("edit-to-served latencies (s):", [round(x, 3) for x in latencies])
