"""Real server processes for tests: gunicorn masters and ``websvc serve``.

Each listens on a fresh 127.0.0.1 port and logs to a file the tests read
(access lines included, so tests can count the requests a server saw).
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
_WORKER = re.compile(r"Booting worker with pid: (\d+)")


@dataclass
class Reply:
    status: int
    headers: http.client.HTTPMessage
    body: bytes

    def get(self, name: str) -> str | None:
        return self.headers.get(name)

    def all(self, name: str) -> list[str]:
        return self.headers.get_all(name) or []


@dataclass
class Server:
    """A running server process; ``log`` is its combined output."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def url(self) -> str:
        return f"http://localhost:{self.port}"

    def request(
        self,
        method: str,
        path: str,
        headers: Mapping[str, str] | None = None,
        body: bytes | None = None,
    ) -> Reply:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=dict(headers or {}))
            response = conn.getresponse()
            return Reply(response.status, response.headers, response.read())
        finally:
            conn.close()

    def hup(self) -> None:
        self.proc.send_signal(signal.SIGHUP)

    def count(self, text: str | re.Pattern[str]) -> int:
        """How often *text* (a string or a regex) occurs in the log."""
        log = self.log
        return log.count(text) if isinstance(text, str) else len(text.findall(log))

    def wait_for_log(
        self, text: str | re.Pattern[str], count: int = 1, timeout: float = 20
    ) -> None:
        deadline = time.monotonic() + timeout
        while self.count(text) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not seen {count}x in the server log:\n{self.log}")
            if self.proc.poll() is not None:
                raise AssertionError(f"server exited ({self.proc.returncode}):\n{self.log}")
            time.sleep(0.05)

    def worker_pids(self) -> list[int]:
        """The pids of every worker this master has booted (live or not)."""
        return [int(pid) for pid in _WORKER.findall(self.log)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def start_gunicorn(
    log_path: Path,
    app: str = "wsgi:app",
    *,
    config: Path | None = None,
    workers: int = 1,
    worker_class: str = "sync",
    env: Mapping[str, str] | None = None,
    extra: Sequence[str] = (),
    access_log: bool = True,
    prefix: Sequence[str] = (),
) -> Server:
    """A gunicorn master on a free port, with the repository's gunicorn.conf.py.

    The access log (on by default, so tests can count requests) goes to the
    log file too; benchmarks turn it off. *prefix* runs gunicorn through a
    command (the benchmark's ``taskset -c 1``).
    """
    cmd = [
        *prefix,
        sys.executable, "-m", "gunicorn",
        "--no-control-socket",
        "-c", str(ROOT / "gunicorn.conf.py"),
        "--chdir", str(ROOT),
        "-b", "127.0.0.1:0",
        "-w", str(workers),
        "-k", worker_class,
        "--log-level", "info",
        *(["--access-logfile", "-"] if access_log else []),
        *extra,
        app,
    ]  # fmt: skip
    return launch_gunicorn(cmd, log_path, config=config, env=env, workers=workers)


def launch_gunicorn(
    cmd: Sequence[str],
    log_path: Path,
    *,
    cwd: Path = ROOT,
    config: Path | None = None,
    env: Mapping[str, str] | None = None,
    workers: int = 1,
) -> Server:
    """Run a gunicorn command line as given (in *cwd*); wait until it serves."""
    server = _spawn(list(cmd), log_path, config, env, cwd)
    deadline = time.monotonic() + 30
    while True:
        match = _LISTENING.search(server.log)
        if match and server.log.count("Booting worker") >= workers:
            server.port = int(match.group(1))
            break
        if server.proc.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise AssertionError(f"gunicorn did not start:\n{server.log}")
        time.sleep(0.05)
    _wait_ready(server)
    return server


def start_serve(
    log_path: Path,
    *,
    config: Path | None = None,
    wrap: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Server:
    """``websvc serve`` (werkzeug's server) on a free port."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    cmd = [sys.executable, "-m", "websvc", "serve", "--port", str(port), "--admin-port", "0"]
    if wrap:
        cmd += ["--wrap", wrap]
    server = _spawn(cmd, log_path, config, env)
    server.port = port
    _wait_ready(server)
    return server


def _spawn(
    cmd: list[str],
    log_path: Path,
    config: Path | None,
    env: Mapping[str, str] | None,
    cwd: Path = ROOT,
) -> Server:
    environ = {**os.environ, "WEBSVC_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})}
    environ.pop("WEBSVC_CONFIG", None)
    if config is not None:
        environ["WEBSVC_CONFIG"] = str(config)
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, cwd=cwd, env=environ, stdout=log, stderr=log)
    return Server(proc, log_path)


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            server.request("GET", "/__ready__")
            return
        except OSError:
            if server.proc.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise AssertionError(f"server did not answer:\n{server.log}") from None
            time.sleep(0.05)
