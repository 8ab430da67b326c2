"""Fixtures that run real gunicorn masters on 127.0.0.1 ports of their own."""

from __future__ import annotations

import http.client
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
_LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")


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
class Gunicorn:
    """A running gunicorn master; ``log`` is its combined output."""

    proc: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0
    booted: list[int] = field(default_factory=list)

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

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

    def wait_for_log(self, text: str, count: int = 1, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while self.log.count(text) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} not seen {count}x in gunicorn log:\n{self.log}")
            if self.proc.poll() is not None:
                raise AssertionError(f"gunicorn exited ({self.proc.returncode}):\n{self.log}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[object]:
    """Start gunicorn: ``gunicorn(app="wsgi:app", config=PATH, workers=1, env={})``."""
    servers: list[Gunicorn] = []

    def start(
        app: str = "wsgi:app",
        *,
        config: Path | None = None,
        workers: int = 1,
        worker_class: str = "sync",
        env: Mapping[str, str] | None = None,
    ) -> Gunicorn:
        log_path = tmp_path / f"gunicorn-{len(servers)}.log"
        environ = {**os.environ, "WEBSVC_DISABLE_PLUGIN_AUTOLOAD": "1", **(env or {})}
        environ.pop("WEBSVC_CONFIG", None)
        if config is not None:
            environ["WEBSVC_CONFIG"] = str(config)
        cmd = [
            sys.executable, "-m", "gunicorn",
            "--no-control-socket",
            "-c", str(ROOT / "gunicorn.conf.py"),
            "--chdir", str(ROOT),
            "-b", "127.0.0.1:0",
            "-w", str(workers),
            "-k", worker_class,
            "--log-level", "info",
            app,
        ]  # fmt: skip
        with open(log_path, "wb") as log:
            proc = subprocess.Popen(cmd, cwd=ROOT, env=environ, stdout=log, stderr=log)
        server = Gunicorn(proc, log_path)
        servers.append(server)
        deadline = time.monotonic() + 30
        while True:
            match = _LISTENING.search(server.log)
            if match and server.log.count("Booting worker") >= workers:
                server.port = int(match.group(1))
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise AssertionError(f"gunicorn did not start:\n{server.log}")
            time.sleep(0.05)
        _wait_ready(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _wait_ready(server: Gunicorn) -> None:
    deadline = time.monotonic() + 20
    while True:
        try:
            server.request("GET", "/__ready__")
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
