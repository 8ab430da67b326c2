"""gunicorn + wrk on 127.0.0.1: the load part of bench/run.py.

Each server is a gunicorn master started here with the repository's
``gunicorn.conf.py`` (``preload_app``), ``--no-control-socket``, no access
log, on a free 127.0.0.1 port; it is stopped (SIGTERM, then SIGKILL) when
the ``with`` block ends. wrk runs for a bounded time against loopback only.

On a machine with two CPUs or more (and ``taskset``), gunicorn runs on CPU 1
and wrk on CPU 0 (:data:`SERVER_CPU`, :data:`CLIENT_CPU`): the one worker
is the bottleneck and never waits for wrk to give back its core, so a
run's req/s says what the server costs, not how the scheduler shared the
cores that second.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from tests.servers import Server, start_gunicorn

ROOT = Path(__file__).resolve().parents[1]
WRK_DIR = Path(__file__).resolve().parent / "wrk"
_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
_RPS = re.compile(r"Requests/sec:\s+([0-9.]+)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_REQUESTS = re.compile(r"(\d+) requests in")
_ERRORS = re.compile(r"Socket errors: (.*)")
_WORKER = re.compile(r"Booting worker with pid: (\d+)")
#: The CPUs gunicorn and wrk are pinned to (when :func:`pinned`).
SERVER_CPU, CLIENT_CPU = 1, 0


def pinned() -> bool:
    """Whether servers and wrk get a CPU each (two CPUs or more, and taskset)."""
    return (os.cpu_count() or 1) >= 2 and shutil.which("taskset") is not None


def _on_cpu(cpu: int) -> list[str]:
    return ["taskset", "-c", str(cpu)] if pinned() else []


def worker_cpu(server: Server) -> list[int]:
    """Nanoseconds of CPU each worker (all its threads) has used so far (Linux)."""
    used = []
    for pid in server.worker_pids():
        total = 0
        for stat in glob.glob(f"/proc/{pid}/task/*/schedstat"):
            try:
                with open(stat) as fh:
                    total += int(fh.read().split()[0])
            except (OSError, ValueError, IndexError):
                continue  # a thread or worker that has exited
        used.append(total)
    return used


@contextmanager
def gunicorn(
    app: str, worker_class: str, *, workers: int = 1, threads: int = 4
) -> Iterator[Server]:
    """Serve *app* (``module:attribute``) with gunicorn, no access log, until the block ends.

    One worker by default (on its own CPU when :func:`pinned`).
    """
    log_dir = Path(tempfile.mkdtemp(prefix="websvc-bench-"))
    threads_flag = ["--threads", str(threads if worker_class == "gthread" else 1)]
    try:
        server = start_gunicorn(
            log_dir / f"{app.replace(':', '_')}-{worker_class}.log",
            app,
            workers=workers,
            worker_class=worker_class,
            extra=threads_flag,
            access_log=False,
            prefix=_on_cpu(SERVER_CPU),
        )
        try:
            yield server
        finally:
            server.stop()
    finally:
        shutil.rmtree(log_dir, ignore_errors=True)


@dataclass
class WrkResult:
    rps: float
    requests: int
    non_2xx: int
    errors: str
    busiest: float = 0.0  # the busiest worker's share of the workers' CPU time (0: one worker)
    cpu_us: float = 0.0  # the workers' CPU time per request, µs
    tries: int = 1


#: A run where one worker did more than this share of the work is retried.
MAX_SHARE = 0.65


def balanced_wrk(server: Server, script: str, seconds: float, *, tries: int = 4) -> WrkResult:
    """wrk, retried while the load fell (mostly) on one worker of several.

    With keep-alive (gthread) the connections wrk opens at the start are
    split between the workers by an accept race and stay where they land:
    sometimes one worker gets them all and the other idles, halving the
    throughput of that run whatever the app. Such runs are thrown away (for
    every subject alike); the last try is kept when none is balanced.
    """
    for attempt in range(1, tries + 1):
        before = worker_cpu(server)
        result = wrk(server.port, script, seconds)
        after = worker_cpu(server)
        used = [a - b for a, b in zip(after, before, strict=False)]
        result.cpu_us = sum(used) / 1000 / max(1, result.requests)
        result.tries = attempt
        if len(used) < 2:
            break  # one worker: nothing to balance
        result.busiest = max(used) / sum(used) if sum(used) else 1.0
        if result.busiest <= MAX_SHARE:
            break
    return result


def side_by_side(
    a: tuple[Server, str], b: tuple[Server, str], seconds: float
) -> tuple[WrkResult, WrkResult]:
    """Load two (server, wrk script) pairs at the same time; each result with its CPU/request.

    Both servers share the server CPU and both wrk processes the client CPU,
    so the two are measured under the same conditions, second by second.
    """
    if a[0] is b[0]:
        raise ValueError("side_by_side needs two servers")
    before = [sum(worker_cpu(server)) for server, _ in (a, b)]
    with ThreadPoolExecutor(2) as pool:
        futures = [pool.submit(wrk, server.port, script, seconds) for server, script in (a, b)]
        results = [f.result() for f in futures]
    for (server, _), result, start in zip((a, b), results, before, strict=True):
        result.cpu_us = (sum(worker_cpu(server)) - start) / 1000 / max(1, result.requests)
    return results[0], results[1]


def wrk(
    port: int,
    script: str,
    seconds: float,
    *,
    path: str = "/api/items",
    connections: int = 8,
    threads: int = 1,
) -> WrkResult:
    """Run wrk with ``bench/wrk/<script>`` against 127.0.0.1:*port* for *seconds*."""
    cmd = [
        *_on_cpu(CLIENT_CPU),
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout", "5s",
        "-s", str(WRK_DIR / script),
        f"http://127.0.0.1:{port}{path}",
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30, check=True)
    text = out.stdout
    rps = _RPS.search(text)
    if rps is None:
        raise RuntimeError(f"unexpected wrk output:\n{text}\n{out.stderr}")
    requests = _REQUESTS.search(text)
    non_2xx = _NON_2XX.search(text)
    errors = _ERRORS.search(text)
    return WrkResult(
        rps=float(rps.group(1)),
        requests=int(requests.group(1)) if requests else 0,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        errors=errors.group(1).strip() if errors else "",
    )
