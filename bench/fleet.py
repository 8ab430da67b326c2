"""A fleet on PostgreSQL, measured: how fast an edit reaches every worker, and what following costs.

    python bench/fleet.py            # 100 edits each way, 5 rounds of wrk
    python bench/fleet.py --quick    # 30 edits, 3 rounds

It starts its own PostgreSQL (tests/store/pg.py) and two gunicorn masters
(two hosts, 2 workers each, ``-c python:websvc.gunicorn_conf``), as
tests/fleet/test_fleet.py does.

1. **edit-to-served** across both hosts (all four workers), p50 and p99,
   with ``[store] listen = true`` (LISTEN/NOTIFY, the poll as the safety
   net) and with ``listen = false`` (poll only, ``poll_interval`` 0.25 s).
3. **catch-up**: the hosts cut off from PostgreSQL (a TCP relay stops
   relaying) for 30 s while the admin API writes 50 edits; from the end of
   the cut until every worker serves the last edit.
2. **the follower's cost**: preflight throughput (wrk, 2 s rounds,
   interleaved) of one host in store mode (its follower thread listening)
   against a file-mode host serving the same rule: the ratio of requests
   per second.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fleet.test_fleet import (  # noqa: E402
    ORIGIN,
    Fleet,
    config_text,
    until_all_workers_serve,
)
from tests.servers import launch_gunicorn  # noqa: E402
from tests.store.pg import start_server  # noqa: E402


def edit_to_served(fleet: Fleet, edits: int) -> list[float]:
    times = []
    for i in range(edits):
        fleet.edit(i)
        times.append(until_all_workers_serve(fleet, i, 5.0))
    return sorted(times)


def percentiles(times: list[float]) -> tuple[float, float]:
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]


def throughput(port: int, script: Path, seconds: int = 2) -> float:
    out = subprocess.run(
        ["wrk", "-t1", "-c8", f"-d{seconds}s", "-s", str(script), f"http://127.0.0.1:{port}/api/x"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    assert match and "Non-2xx" not in out, out
    return float(match.group(1))


class Partition:
    """A TCP relay between the hosts and PostgreSQL that can cut them off (a network partition).

    While cut, it drops every relayed connection and refuses new ones; the
    admin API, which connects to PostgreSQL directly, keeps writing.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self.pairs: list[tuple[socket.socket, socket.socket]] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            client, _ = self.listener.accept()
            if self.cut.is_set():
                client.close()
                continue
            server = socket.create_connection(self.target)
            self.pairs.append((client, server))
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def disconnect(self) -> None:
        self.cut.set()
        for pair in self.pairs:
            for sock in pair:
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
        self.pairs.clear()

    def reconnect(self) -> None:
        self.cut.clear()


def catch_up(pg: Any, seconds: float, edits: int) -> float:
    """Seconds from the end of a *seconds*-long partition (with *edits* written meanwhile)
    until every worker of both hosts serves the last edit."""
    folder = Path(tempfile.mkdtemp(prefix="websvc-bench-partition-"))
    partition = Partition((pg.host, pg.port))
    fleet = Fleet(pg, folder, via_port=partition.port)
    try:
        fleet.edit(edits + 1)  # a shape the last edit below does not have
        until_all_workers_serve(fleet, edits + 1, 5.0)
        partition.disconnect()
        deadline = time.monotonic() + seconds
        for i in range(1, edits + 1):
            fleet.edit(i)
            time.sleep(max(0.0, (deadline - time.monotonic()) / (edits + 1 - i)))
        time.sleep(max(0.0, deadline - time.monotonic()))
        partition.reconnect()
        return until_all_workers_serve(fleet, edits, 30.0)
    finally:
        fleet.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    edits, rounds = (30, 3) if args.quick else (100, 5)
    figures: dict[str, Any] = {}
    pg = start_server()
    try:
        for listen in (True, False):
            folder = Path(tempfile.mkdtemp(prefix="websvc-bench-fleet-"))
            fleet = Fleet(pg, folder, listen=listen)
            try:
                p50, p99 = percentiles(edit_to_served(fleet, edits))
                name = "listen" if listen else "poll_only"
                figures[f"edit_to_served_{name}_p50_ms"] = p50 * 1e3
                figures[f"edit_to_served_{name}_p99_ms"] = p99 * 1e3
                if listen:
                    figures.update(_follower_cost(fleet, folder, rounds))
            finally:
                fleet.close()
        outage, outage_edits = (10.0, 20) if args.quick else (30.0, 50)
        figures[f"catch_up_after_{outage:.0f}s_outage_{outage_edits}_edits_ms"] = (
            catch_up(pg, outage, outage_edits) * 1e3
        )
    finally:
        pg.destroy()
    for key, value in figures.items():
        print(f"{key:<40} {value:10.3f}")
    ok = (
        figures["edit_to_served_listen_p99_ms"] <= 1000
        and figures["edit_to_served_poll_only_p99_ms"] <= 1000
    )
    print("targets: p99 <= 1 s both ways:", "PASS" if ok else "MISS")
    print(
        "target: store mode >= 0.98x file mode:",
        "PASS" if figures["store_over_file_rps"] >= 0.98 else "MISS",
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


def _follower_cost(fleet: Fleet, folder: Path, rounds: int) -> dict[str, float]:
    """Requests/s of a store-mode host against a file-mode host with the same rule."""
    text = config_text("sqlite:///unused.db", folder / "unused.json")
    file_config = folder / "file.toml"
    file_config.write_text(
        text.split("[store]")[0]
        + '[tenants.shop]\n\n[[tenants.shop.cors]]\ndomain = "app.fleet.example"\n'
        + 'methods = ["GET", "PUT"]\nallow_caching = true\nmax_age = 100\n'
    )
    cmd = [sys.executable, "-m", "gunicorn", "--no-control-socket", "-c", "python:websvc.gunicorn_conf",
           "-b", "127.0.0.1:0", "-w", "2", "--log-level", "info", f'websvc:create_app("{file_config}")']  # fmt: skip
    file_host = launch_gunicorn(cmd, folder / "file-host.log", workers=2)
    script = folder / "pre.lua"
    script.write_text(
        f'wrk.method = "OPTIONS"\nwrk.headers["Origin"] = "{ORIGIN}"\n'
        'wrk.headers["Access-Control-Request-Method"] = "PUT"\n'
    )
    fleet.edit(0)
    until_all_workers_serve(fleet, 0, 5.0)
    store_rps, file_rps = [], []
    try:
        for _ in range(rounds):
            store_rps.append(throughput(fleet.hosts[0].port, script))
            file_rps.append(throughput(file_host.port, script))
    finally:
        file_host.stop()
    ratios = [s / f for s, f in zip(store_rps, file_rps, strict=True)]
    return {
        "preflight_rps_store_mode": statistics.median(store_rps),
        "preflight_rps_file_mode": statistics.median(file_rps),
        "store_over_file_rps": statistics.median(ratios),
    }


if __name__ == "__main__":
    sys.exit(main())
