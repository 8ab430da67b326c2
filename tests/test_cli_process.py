"""The websvc command as a new user runs it: real processes, real sockets on 127.0.0.1.

``serve`` and ``demo`` refuse a port outside 1-65535 and a taken port with
one line and exit 2 before announcing anything; Ctrl-C and SIGTERM stop them
with exit 0; ``websvc token >> websvc.toml`` appends valid TOML only (the
token goes to stderr); and ``scripts/serve`` on a complete venv starts
without pip.
"""

from __future__ import annotations

import hashlib
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]

# README.md's minimal config (one tenant, acme).
MINIMAL = """\
[server]
authentication = "basic"

[[apis]]
path = "/ws/rest/echo"
app = "websvc.demo:echo"

[tenants.acme]
hosts = ["acme.example.net"]

[[tenants.acme.users]]
name = "acme-123"
token_sha256 = "568169245baceb00b442d93709cf581b2aebf84cc9f5a4a818ea4c0acae11466"

[[tenants.acme.cors]]
domain = "app.acme.example"      # https://app.acme.example
methods = ["GET", "POST", "PUT", "DELETE"]
request_headers = ["X-Custom-Header"]
allow_credentials = true
"""

#: What the demo line says after its address (the demo runs in store mode).
DEMO_NOTE = "(store mode, an embedded SQLite store)"


def _env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "WEBSVC_DISABLE_PLUGIN_AUTOLOAD": "1", **extra}
    env.pop("WEBSVC_CONFIG", None)
    return env


def _websvc(*args: str | bytes, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "websvc", *args],
        capture_output=True,
        encoding="utf-8",
        timeout=timeout,
        env=_env(),
        cwd=ROOT,
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port another program listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


# `python -m websvc`, with Python's Ctrl-C handler even when this test run
# ignores SIGINT (a background shell job does, and its children inherit that).
WEBSVC = [
    sys.executable,
    "-c",
    "import runpy, signal; signal.signal(signal.SIGINT, signal.default_int_handler); "
    "runpy.run_module('websvc', run_name='__main__', alter_sys=True)",
]


class _Process:
    """A started command: its stdout read line by line, its stderr in a file."""

    def __init__(self, cmd: Sequence[str], log: Path, **env: str) -> None:
        self.log = log
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(
                list(cmd),
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                env=_env(**env),
                cwd=ROOT,
            )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line)
        self.lines.put("")  # end of output

    def line(self, timeout: float) -> str:
        """The next stdout line; "" at the end of the output or after *timeout* seconds."""
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            return ""

    def rest(self) -> str:
        """Everything still to come on stdout (call once the process exited)."""
        out = []
        while line := self.line(10):
            out.append(line)
        return "".join(out)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.reader.join(timeout=10)
        assert self.proc.stdout is not None
        self.proc.stdout.close()


# -- ports -------------------------------------------------------------------------


BAD_PORTS = [
    ("serve", "--port", "99999"),
    ("serve", "--port", "65536"),
    ("serve", "--port", "0"),
    ("serve", "--port", "-1"),
    ("serve", "--port", "http"),
    ("demo", "--api-port", "99999"),
    ("demo", "--api-port", "0"),
    ("demo", "--page-port", "70000"),
]


@pytest.mark.parametrize(
    ("command", "flag", "value"),
    [pytest.param(*case, id=" ".join(case)) for case in BAD_PORTS],
)
def test_a_port_outside_1_65535_is_refused_in_one_line(command: str, flag: str, value: str) -> None:
    done = _websvc(command, f"{flag}={value}", timeout=20)
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        f"websvc {command}: {flag} {value} is not a port (1-65535)\n",
    )


def test_serve_on_a_taken_port_says_so_in_one_line(busy_port: int) -> None:
    done = _websvc("serve", "--port", str(busy_port))
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        f"websvc serve: cannot listen on 127.0.0.1:{busy_port}: address already in use\n",
    )


@pytest.mark.parametrize("flag", ["--api-port", "--page-port"])
def test_demo_on_a_taken_port_says_so_in_one_line(busy_port: int, flag: str) -> None:
    ports = {"--api-port": _free_port(), "--page-port": _free_port(), flag: busy_port}
    done = _websvc("demo", *(f"{name}={port}" for name, port in ports.items()))
    assert done.returncode == 2, done.stdout + done.stderr
    # stdout, where tests/browser/test_playground.py expects it
    assert done.stdout + done.stderr == (
        f"websvc demo: cannot listen on 127.0.0.1:{busy_port}: address already in use\n"
    )


# -- start and stop ------------------------------------------------------------------


def _preflight(port: int) -> str | None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/ws/rest/echo",
        method="OPTIONS",
        headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "PUT"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        allowed: str | None = response.headers["Access-Control-Allow-Origin"]
        return allowed


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_serve_listens_before_it_announces_and_stops_cleanly(
    tmp_path: Path, signum: signal.Signals
) -> None:
    port = _free_port()
    serve = _Process([*WEBSVC, "serve", f"--port={port}", "--admin-port=0"], tmp_path / "log")
    try:
        line = serve.line(30)
        assert line == f"websvc: serving the demo at http://127.0.0.1:{port}/ {DEMO_NOTE}\n", (
            serve.stderr()
        )
        # Announced, so already listening: the first request is answered.
        assert _preflight(port) == "http://localhost:5173"
        serve.proc.send_signal(signum)
        assert serve.proc.wait(timeout=15) == 0, serve.stderr()
        assert serve.rest().startswith("websvc: demo: echo API at /ws/rest/echo")
        assert "Traceback" not in serve.stderr()
    finally:
        serve.stop()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_demo_stops_cleanly(tmp_path: Path, signum: signal.Signals) -> None:
    api, page = _free_port(), _free_port()
    cmd = [*WEBSVC, "demo", f"--api-port={api}", f"--page-port={page}"]
    demo = _Process(cmd, tmp_path / "log")
    try:
        assert f"API at http://127.0.0.1:{api}/" in demo.line(30), demo.stderr()
        assert f"playground at http://localhost:{page}/" in demo.line(10)
        demo.proc.send_signal(signum)
        assert demo.proc.wait(timeout=15) == 0, demo.stderr()
        assert demo.rest() == "websvc demo: stopping\n"
        assert "Traceback" not in demo.stderr()
    finally:
        demo.stop()


# -- token ---------------------------------------------------------------------------


def _append_token(config: Path, tenant: str, user: str) -> tuple[str, str]:
    """``websvc token --tenant T --user U >> CONFIG``; returns (what it appended, stderr)."""
    before = config.read_text(encoding="utf-8")
    with open(config, "ab") as out:
        done = subprocess.run(
            [sys.executable, "-m", "websvc", "token", "--tenant", tenant, "--user", user],
            stdout=out,
            stderr=subprocess.PIPE,
            encoding="utf-8",
            timeout=30,
            env=_env(),
            cwd=ROOT,
        )
    assert done.returncode == 0, done.stderr
    return config.read_text(encoding="utf-8")[len(before) :], done.stderr


NAMES = [
    ("acme", "bob"),
    ("acme", 'bob "the builder" \\o/'),
    ("acme corp", "bob"),
    ("acme.example", "bob.smith"),
    ("Zürich", "Jürg"),
    ("[x]", "#1 = 2"),
    ("it's", "o'neil"),
]


@pytest.mark.parametrize(("tenant", "user"), NAMES, ids=[f"{t}/{u}" for t, u in NAMES])
def test_token_appended_to_a_config_keeps_it_valid(tmp_path: Path, tenant: str, user: str) -> None:
    config = tmp_path / "websvc.toml"
    config.write_text(MINIMAL, encoding="utf-8")
    appended, err = _append_token(config, tenant, user)

    check = _websvc("check", "--config", str(config))
    assert check.returncode == 0, check.stdout + check.stderr + appended
    assert check.stdout.startswith(f"{config}: ok (")

    assert tomllib.loads(appended) == {
        "tenants": {tenant: {"users": [{"name": user, "token_sha256": _sha256_of(err)}]}}
    }
    users = tomllib.loads(config.read_text(encoding="utf-8"))["tenants"][tenant]["users"]
    assert users[-1]["name"] == user


def _sha256_of(err: str) -> str:
    match = re.fullmatch(
        r"token \(shown once; give it to the user, websvc keeps only its hash\): (\S{40,})\n", err
    )
    assert match, err
    return hashlib.sha256(match.group(1).encode()).hexdigest()


BAD_NAMES = [
    ("--tenant", "a\nb", 'websvc token: --tenant "a\\nb" contains a control character'),
    ("--tenant", "a\x7f", 'websvc token: --tenant "a\\u007f" contains a control character'),
    ("--user", "bo\tb", 'websvc token: --user "bo\\tb" contains a control character'),
    ("--user", "a:b", 'websvc token: --user "a:b" is not a user name (non-empty, no colon)'),
    ("--user", "", 'websvc token: --user "" is not a user name (non-empty, no colon)'),
    ("--tenant", "", 'websvc token: --tenant "" is not a tenant name (non-empty)'),
]


@pytest.mark.parametrize(
    ("flag", "value", "line"), [pytest.param(*case, id=repr(case[1])) for case in BAD_NAMES]
)
def test_token_refuses_a_name_no_config_accepts(flag: str, value: str, line: str) -> None:
    done = _websvc("token", flag, value)
    assert (done.returncode, done.stdout, done.stderr) == (2, "", line + "\n")


def test_token_refuses_a_name_that_is_not_utf8() -> None:
    done = _websvc("token", "--tenant", b"caf\xe9")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == 'websvc token: --tenant "caf\\udce9" is not valid UTF-8\n'


# -- scripts/serve -------------------------------------------------------------------


def _venv_view(path: Path) -> Path:
    """A venv at *path* that sees the test run's venv (its interpreter and packages).

    scripts/serve runs with it as WEBSVC_VENV: it finds the complete venv the
    tests run in. Were pip to run there after all, it would find no package
    (see _pip_offline) and could only write into *path*.
    """
    assert sys.prefix != sys.base_prefix, "the tests run in a venv (scripts/test makes one)"
    real = Path(sys.prefix)
    site = Path(sysconfig.get_path("purelib"))
    (path / "bin").mkdir(parents=True)
    (path / "pyvenv.cfg").write_bytes((real / "pyvenv.cfg").read_bytes())
    for name in ("python", "websvc"):
        (path / "bin" / name).symlink_to(real / "bin" / name)
    view_site = path / site.relative_to(real)
    view_site.mkdir(parents=True)
    (view_site / "test-run-venv.pth").write_text(f"import site; site.addsitedir({str(site)!r})\n")
    return path


def _pip_offline(tmp_path: Path, venv: Path) -> dict[str, str]:
    """The environment of a scripts/ run on *venv*, where pip can reach no package."""
    (tmp_path / "no-wheels").mkdir(exist_ok=True)
    return {
        "WEBSVC_VENV": str(venv),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(tmp_path / "no-wheels"),
        "PIP_CONFIG_FILE": os.devnull,
    }


def _lib_sh(venv: Path, script: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", f"set -euo pipefail; . scripts/lib.sh; {script}"],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(**_pip_offline(venv.parent, venv)),
        cwd=ROOT,
    )


def test_scripts_serve_starts_without_pip_on_a_complete_venv(tmp_path: Path) -> None:
    venv = _venv_view(tmp_path / "venv")
    # What a first scripts/serve leaves behind once pip succeeded.
    marked = _lib_sh(venv, 'stamp_venv ""')
    assert marked.returncode == 0, marked.stderr
    stamp = (venv / ".websvc-installed").read_text()

    port = _free_port()
    started = time.monotonic()
    serve = _Process(
        [str(ROOT / "scripts" / "serve"), f"--port={port}", "--admin-port=0"],
        tmp_path / "log",
        **_pip_offline(tmp_path, venv),
    )
    try:
        line = serve.line(30)
        elapsed = time.monotonic() - started
        assert line == f"websvc: serving the demo at http://127.0.0.1:{port}/ {DEMO_NOTE}\n", (
            serve.stderr()
        )
        assert "installing websvc" not in serve.stderr(), "pip ran"
        assert elapsed < 3, f"scripts/serve took {elapsed:.1f} s to serve"
        assert _preflight(port) == "http://localhost:5173"
    finally:
        serve.stop()
    assert (venv / ".websvc-installed").read_text() == stamp


def test_the_stamp_records_the_extras(tmp_path: Path) -> None:
    venv = _venv_view(tmp_path / "venv")

    def current(extras: str) -> bool:
        done = _lib_sh(venv, f'venv_is_current "{extras}"')
        assert done.returncode in (0, 1), done.stderr
        return done.returncode == 0

    assert not current("") and not current("test"), "nothing recorded yet: pip must run"
    assert _lib_sh(venv, 'stamp_venv ""').returncode == 0
    assert current("") and not current("test"), "scripts/test after scripts/serve installs"
    assert _lib_sh(venv, "stamp_venv test").returncode == 0
    assert current("") and current("test"), "scripts/serve after scripts/test does not"
    assert len((venv / ".websvc-installed").read_text().splitlines()) == 2
    for pth in venv.glob("lib/*/site-packages/test-run-venv.pth"):
        pth.unlink()  # websvc no longer imports there
    assert not current(""), "a venv where websvc does not import is installed again"
