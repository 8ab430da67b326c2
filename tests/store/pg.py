"""A real PostgreSQL server for the store tests: started once per session, stopped at its end.

``initdb`` and ``pg_ctl`` in a temporary folder (as the ``postgres`` user when
the tests run as root: initdb refuses root), listening on 127.0.0.1 on a free
port and on a Unix socket in that folder, trust authentication, ``fsync`` off.
Each test gets a database of its own (:meth:`PostgresServer.create_database`),
owned by the role ``websvc`` (a plain role, no superuser: what a deployment
gives websvc), and dropped after the test.

The binaries are looked up in ``$WEBSVC_PG_BINDIR``, on ``PATH``, then in
Debian's ``/usr/lib/postgresql/<version>/bin``. Missing, the tests that need
them fail with a message naming the package (``CI=true``) or are skipped
(a developer's machine without PostgreSQL).

Run this module to start a server by hand: ``python -m tests.store.pg``
prints its URL and keeps it up until Ctrl-C.
"""

from __future__ import annotations

import atexit
import contextlib
import glob
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PACKAGE_HINT = (
    "the PostgreSQL server binaries (initdb, pg_ctl, postgres) are missing:"
    " install the Debian package `postgresql` (apt-get install postgresql;"
    " it puts them in /usr/lib/postgresql/<version>/bin), or set WEBSVC_PG_BINDIR"
)
ROLE = "websvc"
_TOOLS = ("initdb", "pg_ctl", "postgres")


def find_bindir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or None."""
    candidates: list[str] = []
    if os.environ.get("WEBSVC_PG_BINDIR"):
        candidates.append(os.environ["WEBSVC_PG_BINDIR"])
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(os.path.dirname(os.path.realpath(on_path)))
        candidates.append(os.path.dirname(on_path))
    debian = glob.glob("/usr/lib/postgresql/*/bin")
    candidates += sorted(debian, key=lambda p: _version_key(p), reverse=True)
    candidates += ["/usr/local/pgsql/bin", "/usr/local/bin"]
    for folder in candidates:
        if all(os.access(os.path.join(folder, tool), os.X_OK) for tool in _TOOLS):
            return Path(folder)
    return None


def _version_key(path: str) -> tuple[int, ...]:
    version = Path(path).parent.name
    return tuple(int(part) for part in version.split(".") if part.isdigit())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder; see the module doc."""

    host = "127.0.0.1"

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="websvc-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.port = 0
        self._names = itertools.count(1)
        self._user: dict[str, Any] = {}
        if os.geteuid() == 0:  # initdb refuses root: run the server as an ordinary user
            try:
                who = pwd.getpwnam("postgres")
            except KeyError:
                who = pwd.getpwnam("nobody")
            self._user = {"user": who.pw_uid, "group": who.pw_gid, "extra_groups": []}
            os.chown(self.root, who.pw_uid, who.pw_gid)
        os.chmod(self.root, 0o700)

    # -- life cycle ---------------------------------------------------------------

    def init(self) -> None:
        self._run(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions",
        )  # fmt: skip

    def start(self) -> None:
        """Start the server (on a free port the first time, the same port after a stop)."""
        for attempt in range(3):
            if not self.port or attempt:
                self.port = _free_port()
            options = " ".join(
                [
                    f"-k {self.root} -h {self.host} -p {self.port}",
                    "-c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                    "-c max_connections=300 -c shared_buffers=32MB",
                    "-c log_min_messages=warning -c log_min_error_statement=panic",
                ]
            )
            done = self._run(
                "pg_ctl", "start", "-D", str(self.data), "-l", str(self.log),
                "-w", "-t", "60", "-o", options, check=False,
            )  # fmt: skip
            if done.returncode == 0:
                return
            self.stop(mode="immediate", check=False)
        raise RuntimeError(f"pg_ctl start failed:\n{done.stdout}\n{self._log_tail()}")

    def stop(self, *, mode: str = "fast", check: bool = True) -> None:
        self._run("pg_ctl", "stop", "-D", str(self.data), "-m", mode, "-w", "-t", "60", check=check)

    def destroy(self) -> None:
        """Stop the server (whatever state it is in) and remove its folder."""
        if self.data.exists():
            self.stop(mode="immediate", check=False)
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.bindir / tool), *args],
            cwd=self.root,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "LC_ALL": "C", "TZ": "UTC"},
            timeout=120,
            **self._user,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"{tool} {' '.join(args)} failed:\n{done.stdout}{self._log_tail()}")
        return done

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    # -- databases ------------------------------------------------------------------

    def url(self, database: str, user: str = ROLE) -> str:
        return f"postgresql://{user}@{self.host}:{self.port}/{database}"

    def admin(self, database: str = "postgres") -> Any:
        """A superuser connection (autocommit) to *database*; close it after use."""
        import psycopg

        return psycopg.connect(self.url(database, "postgres"), autocommit=True)

    def create_database(self) -> str:
        """A new empty database owned by the role ``websvc``; returns its URL."""
        name = f"t{next(self._names)}"
        with self.admin() as conn:
            conn.execute(f"CREATE DATABASE {name} OWNER {ROLE} TEMPLATE template0")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        name = url.rsplit("/", 1)[1]
        with self.admin() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def terminate(self, database: str, application_name: str | None = None) -> int:
        """``pg_terminate_backend`` the sessions on *database* (of *application_name*); how many."""
        with self.admin() as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()"
                " AND (%s::text IS NULL OR application_name = %s)",
                (database, application_name, application_name),
            ).fetchall()
        return len(rows)


def start_server() -> PostgresServer:
    """Init and start a server with the ``websvc`` role; raise (or skip) without binaries."""
    bindir = find_bindir()
    if bindir is None:
        if os.environ.get("CI", "").lower() not in ("", "0", "false", "no"):
            pytest.fail(PACKAGE_HINT, pytrace=False)
        pytest.skip(PACKAGE_HINT)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.fail("psycopg is not installed: pip install 'psycopg[binary]' psycopg-pool")
    server = PostgresServer(bindir)
    atexit.register(server.destroy)  # a safety net: the fixture's teardown comes first
    try:
        server.init()
        server.start()
        with server.admin() as conn:
            conn.execute(f"CREATE ROLE {ROLE} LOGIN")
    except BaseException:
        server.destroy()
        raise
    return server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (started on first use, stopped at the end)."""
    started = time.monotonic()
    server = start_server()
    server.started_in = time.monotonic() - started  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.destroy()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> Iterator[str]:
    """The URL of a new empty database of the session's server, dropped after the test."""
    url = pg_server.create_database()
    try:
        yield url
    finally:
        with contextlib.suppress(Exception):  # the server may be stopped by a failed test
            if not _running(pg_server):
                pg_server.start()
        pg_server.drop_database(url)


def _running(server: PostgresServer) -> bool:
    try:
        with socket.create_connection((server.host, server.port), timeout=1):
            return True
    except OSError:
        return False


if __name__ == "__main__":  # pragma: no cover - a tool for humans
    began = time.monotonic()
    server = start_server()
    print(f"started in {time.monotonic() - began:.2f}s: {server.url('postgres', 'postgres')}")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.destroy()
