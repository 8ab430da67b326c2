"""gunicorn + wrk on 127.0.0.1: the load part of bench/run.py.

Each server is a gunicorn master started here with the repository's
``gunicorn.conf.py`` (``preload_app``), ``--no-control-socket``, no access
log, on a free 127.0.0.1 port; it is stopped (SIGTERM, then SIGKILL) when
the ``with`` block ends. wrk runs for a bounded time against loopback only.
"""

from __future__ import annotations

import glob
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
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
    app: str, worker_class: str, *, workers: int = 2, threads: int = 4
) -> Iterator[Server]:
    """Serve *app* (``module:attribute``) with gunicorn, no access log, until the block ends."""
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
    busiest: float = 0.0  # the busiest worker's share of the workers' CPU time
    cpu_us: float = 0.0  # the workers' CPU time per request, µs
    tries: int = 1


#: A run where one worker did more than this share of the work is retried.
MAX_SHARE = 0.65


def balanced_wrk(server: Server, script: str, seconds: float, *, tries: int = 4) -> WrkResult:
    """wrk, retried while the load fell (mostly) on one worker.

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
        result.busiest = max(used) / sum(used) if sum(used) else 1.0
        result.cpu_us = sum(used) / 1000 / max(1, result.requests)
        result.tries = attempt
        if result.busiest <= MAX_SHARE:
            break
    return result


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
