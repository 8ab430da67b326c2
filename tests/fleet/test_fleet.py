"""A fleet on PostgreSQL: two hosts, every worker current within a second, nothing lost on failure.

A real PostgreSQL (started by this module, stopped and started again by the
failure cases) holds the tenants; two gunicorn masters on two loopback ports
stand for two hosts (``-c python:websvc.gunicorn_conf``, 2 workers each,
each with its own ``snapshot_path``); the admin API runs in this process on
the same database. An API that answers with its pid tells the workers apart.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from tests.servers import Server, launch_gunicorn
from tests.store.pg import PostgresServer, start_server
from websvc.admin import create_app as create_admin_app
from websvc.store.postgres import LISTENER_NAME, POLLER_NAME

OPERATOR = "fleet-operator"
ORIGIN = "https://app.fleet.example"
AUTH = {"Authorization": f"Bearer {OPERATOR}"}
#: The rule's methods and max age of each version the tests write: a preflight
#: answer must show one whole version, never a mix.
SHAPES = [(["GET", "PUT"], 100, "X-Version-A"), (["GET", "PUT", "DELETE"], 200, "X-Version-B")]
KNOWN = {(", ".join(m), str(a)) for m, a, _ in SHAPES}


def rules(i: int) -> dict[str, Any]:
    methods, age, marker = SHAPES[i % 2]
    return {"rules": [{"domain": "app.fleet.example", "methods": methods, "expose_headers": [marker],
                       "allow_caching": True, "max_age": age}]}  # fmt: skip


def config_text(url: str, snapshot: Path, listen: bool = True, poll_interval: float = 0.25) -> str:
    return f"""
[server]
authentication = "none"

[[apis]]
path = "/api"
app = "tests.gunicorn.pid_api:app"

[store]
url = "{url}"
poll_interval = {poll_interval}
listen = {"true" if listen else "false"}
snapshot_path = "{snapshot}"

[admin]
operator_tokens_sha256 = ["{hashlib.sha256(OPERATOR.encode()).hexdigest()}"]
"""


class Fleet:
    """The database, two hosts, and the admin API."""

    def __init__(
        self, pg: PostgresServer, folder: Path, *, listen: bool = True, via_port: int = 0
    ) -> None:
        self.pg = pg
        self.listen = listen
        # The hosts' URL: through another port (a relay) when given; the admin's: direct.
        self.via_port = via_port
        self.url = pg.create_database()
        self.database = self.url.rsplit("/", 1)[1]
        self.folder = folder
        admin_config = folder / "admin.toml"
        admin_config.write_text(config_text(self.url, folder / "admin-snapshot.json"))
        subprocess.run(
            [sys.executable, "-m", "websvc", "store", "init", "--config", str(admin_config)],
            check=True, capture_output=True,
        )  # fmt: skip
        self.admin = Client(create_admin_app(str(admin_config)))
        reply = self.admin.put("/admin/v1/tenants/shop", json={}, headers=AUTH)
        assert reply.status_code == 201, reply.get_json()
        self.version = 1
        self.hosts = [self._host(name) for name in ("a", "b")]

    def _host(self, name: str, snapshot_of: str | None = None) -> Server:
        """A gunicorn master: host *name*, keeping its snapshot as host *snapshot_of* does."""
        snapshot = self.folder / f"snapshot-{snapshot_of or name}.json"
        url = (
            self.url.replace(f":{self.pg.port}/", f":{self.via_port}/")
            if self.via_port
            else self.url
        )
        return self.launch(name, config_text(url, snapshot, self.listen))

    def launch(self, name: str, text: str) -> Server:
        """A gunicorn master (2 workers) serving the config *text*, as host *name*."""
        config = self.folder / f"host-{name}.toml"
        config.write_text(text)
        cmd = [sys.executable, "-m", "gunicorn", "--no-control-socket", "-c", "python:websvc.gunicorn_conf",
               "-b", "127.0.0.1:0", "-w", "2", "--log-level", "info", f'websvc:create_app("{config}")']  # fmt: skip
        return launch_gunicorn(cmd, self.folder / f"host-{name}.log", workers=2)

    def edit(self, i: int) -> int:
        reply = self.admin.put(
            "/admin/v1/tenants/shop/cors", json=rules(i),
            headers={**AUTH, "If-Match": f'"{self.version}"'},
        )  # fmt: skip
        assert reply.status_code == 200, reply.get_json()
        self.version = reply.get_json()["version"]
        return self.version

    def close(self) -> None:
        for host in self.hosts:
            host.stop()


def ask(server: Server) -> tuple[str, str | None]:
    """One normal request, new connection: (the worker's pid, the version marker it exposes).

    Both come from one answer, so they are the same worker's.
    """
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("GET", "/api/pid", headers={"Origin": ORIGIN, "Connection": "close"})
        reply = conn.getresponse()
        pid = reply.read().decode()
        assert reply.status == 200
        return pid, reply.getheader("Access-Control-Expose-Headers")
    finally:
        conn.close()


def preflight_shape(server: Server) -> tuple[str | None, str | None]:
    """A preflight's (Allow-Methods, Max-Age): one whole version, or nothing."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    try:
        conn.request("OPTIONS", "/api/x", headers={
            "Origin": ORIGIN, "Access-Control-Request-Method": "PUT", "Connection": "close"})  # fmt: skip
        reply = conn.getresponse()
        reply.read()
        assert reply.status == 200
        return reply.getheader("Access-Control-Allow-Methods"), reply.getheader(
            "Access-Control-Max-Age"
        )
    finally:
        conn.close()


def until_all_workers_serve(fleet: Fleet, i: int, limit: float) -> float:
    """Seconds until both workers of both hosts serve version *i*'s shape (fails after *limit*)."""
    expected = SHAPES[i % 2][2]
    started = time.monotonic()
    current: set[tuple[int, str]] = set()
    while len(current) < 4:
        for h, host in enumerate(fleet.hosts):
            pid, served = ask(host)
            if served == expected:
                current.add((h, pid))
        waited = time.monotonic() - started
        assert waited < limit, f"after {limit} s only {sorted(current)} serve edit {i}"
    return time.monotonic() - started


@pytest.fixture(scope="module")
def pg() -> Iterator[PostgresServer]:
    server = start_server()  # this module's own: the failure cases stop and start it
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def fleet(pg: PostgresServer, tmp_path: Path) -> Iterator[Fleet]:
    fleet = Fleet(pg, tmp_path)
    try:
        yield fleet
    finally:
        fleet.close()


def test_an_edit_on_one_host_is_served_by_all_four_workers_within_a_second(fleet: Fleet) -> None:
    latencies = []
    for i in range(6):
        fleet.edit(i)
        latencies.append(until_all_workers_serve(fleet, i, 1.0))
    print("edit-to-served across 2 hosts x 2 workers (s):", [round(x, 3) for x in latencies])


def test_poll_only_every_worker_serves_an_edit_within_a_second(
    pg: PostgresServer, tmp_path: Path
) -> None:
    fleet = Fleet(pg, tmp_path, listen=False)  # [store] listen = false: behind a pooler
    try:
        for i in range(3):
            fleet.edit(i)
            until_all_workers_serve(fleet, i, 1.0)
        with pg.admin(fleet.database) as conn:
            names = [
                row[0] for row in conn.execute("SELECT application_name FROM pg_stat_activity")
            ]
        assert names.count(POLLER_NAME) == 4 and LISTENER_NAME not in names
    finally:
        fleet.close()


def test_a_lost_notification_still_leads_to_the_edit_within_a_second(fleet: Fleet) -> None:
    fleet.edit(0)
    until_all_workers_serve(fleet, 0, 1.0)
    killed = fleet.pg.terminate(fleet.database)  # every watcher's LISTEN connection, and the pools
    assert killed >= 4
    fleet.edit(1)  # its NOTIFY reaches no one: the poll is the safety net
    until_all_workers_serve(fleet, 1, 1.0)


def test_the_store_down_and_back(fleet: Fleet) -> None:
    fleet.edit(0)
    until_all_workers_serve(fleet, 0, 1.0)
    fleet.pg.stop()
    try:
        # Both hosts keep serving the last version; admin writes get 503.
        for _ in range(10):
            for host in fleet.hosts:
                assert ask(host)[1] == "X-Version-A"
        reply = fleet.admin.put(
            "/admin/v1/tenants/shop/cors", json=rules(1),
            headers={**AUTH, "If-Match": f'"{fleet.version}"'},
        )  # fmt: skip
        assert reply.status_code == 503 and reply.headers.get("Retry-After")
        # A worker killed meanwhile comes back with the last version (the snapshot file).
        host = fleet.hosts[0]
        booted = len(host.worker_pids())
        os.kill(host.worker_pids()[-1], signal.SIGKILL)
        host.wait_for_log("Booting worker", count=booted + 1)
        for _ in range(10):
            assert ask(host)[1] == "X-Version-A"
        for h in fleet.hosts:
            assert h.count("store unreachable") >= 1
        # A host that boots now serves host a's snapshot file, and says so.
        late = fleet._host("late", snapshot_of="a")
        try:
            assert ask(late)[1] == "X-Version-A"
            assert late.count("store unreachable at boot") >= 1
            assert late.count("serving the snapshot") >= 1
        finally:
            late.stop()
    finally:
        fleet.pg.start()
    # Back: an edit written now, before the hosts reconnect, is caught up on.
    fleet.edit(1)
    until_all_workers_serve(fleet, 1, 10.0)
    for h in fleet.hosts:
        assert h.count(re.compile(r"store reachable again after [\d.]+ s: resync")) >= 1
        assert h.proc.poll() is None


def test_edits_under_load_never_mix_two_versions(fleet: Fleet, tmp_path: Path) -> None:
    answers: list[tuple[str | None, str | None]] = []
    failures: list[str] = []
    stop = threading.Event()

    def sample(host: Server) -> None:
        while not stop.is_set():
            try:
                answers.append(preflight_shape(host))
            except (OSError, AssertionError) as exc:
                failures.append(repr(exc))

    samplers = [threading.Thread(target=sample, args=(h,), daemon=True) for h in fleet.hosts]
    script = tmp_path / "pre.lua"
    script.write_text(
        'wrk.method = "OPTIONS"\n'
        f'wrk.headers["Origin"] = "{ORIGIN}"\n'
        'wrk.headers["Access-Control-Request-Method"] = "PUT"\n'
    )
    wrks = [
        subprocess.Popen(
            ["wrk", "-t1", "-c4", "-d60s", "-s", str(script), f"http://127.0.0.1:{h.port}/api/x"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for h in fleet.hosts
    ]
    for thread in samplers:
        thread.start()
    try:
        for i in range(100):
            fleet.edit(i)
            time.sleep(0.02)
        until_all_workers_serve(fleet, 99, 1.0)
    finally:
        stop.set()
        for w in wrks:
            w.send_signal(signal.SIGINT)
        outputs = [w.communicate(timeout=30)[0] for w in wrks]
        for thread in samplers:
            thread.join(timeout=10)
    mixed = [a for a in answers if a not in KNOWN and a != (None, None)]
    assert not failures, failures[:5]
    assert not mixed, mixed[:5]
    assert len(answers) > 50
    for output in outputs:
        assert "Non-2xx" not in output, output
        assert "Socket errors" not in output, output
        assert int(re.search(r"(\d+) requests in", output).group(1)) > 500  # type: ignore[union-attr]
