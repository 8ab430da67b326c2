"""Reloads and faults under load: gunicorn + wrk on 127.0.0.1, bounded.

While ``wrk`` sends a mix of preflights, authenticated normal requests and
no-Origin requests, this script sends SIGHUP reloads to the gunicorn master,
alternating two valid configs (A, B) with an invalid one, and optionally
SIGKILLs a worker mid-load. A sampler thread checks that every preflight
answer belongs to one whole config (A's or B's header set, never a mix).

    python bench/soak.py                      # full profile: 100 reloads, 30 s
    python bench/soak.py --reloads 30 --duration 8 --json out.json
    python bench/soak.py --form factory       # gunicorn 'websvc:create_app(...)' elsewhere
    python bench/soak.py --form legacy        # a legacy project's wrap() module

The invalid configs take turns among every kind of bad file: a value out of
range, bytes that are not UTF-8, a file truncated mid-line, the file replaced
by a directory, and a plugin module that raises at import; some valid ones
start with a UTF-8 byte-order mark. ``--form root`` is ``gunicorn wsgi:app``
from the repository root (websvc's gunicorn settings: ``preload_app`` and the
``on_reload`` hook); ``factory`` and ``legacy`` run gunicorn from another
directory with no settings at all (no ``-c``, no ``--preload``), so every
new worker reads the file itself.

It prints the figures and exits 1 when any 5xx, socket error (beyond the
requests in flight on a killed worker) or mixed answer was seen.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from base64 import b64encode
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.servers import Server, launch_gunicorn, start_gunicorn  # noqa: E402

ORIGIN = "https://app.soak.example"
TOKEN = "soak-token"
AUTH = "Basic " + b64encode(f"soak:{TOKEN}".encode()).decode()


def config_text(methods: list[str], max_age: int, expose: str, apis: bool = True) -> str:
    mounts = '[[apis]]\npath = "/ws/rest/echo"\napp = "websvc.demo:echo"\n' if apis else ""
    return f"""
[server]
authentication = "basic"

{mounts}
[tenants.soak]
hosts = ["soak.test"]

[[tenants.soak.users]]
name = "soak"
token_sha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"

[[tenants.soak.cors]]
domain = "app.soak.example"
methods = {json.dumps(methods)}
allow_caching = true
max_age = {max_age}
expose_headers = ["{expose}"]
"""


CONFIG_A = config_text(["GET", "PUT"], 100, "X-Config-A")
CONFIG_B = config_text(["GET", "PUT", "DELETE"], 200, "X-Config-B")
BOOM_MODULE = 'raise RuntimeError("soak: this plugin module fails at import")\n'


def bad_files(good: str) -> list[tuple[str, bytes | None, str]]:
    """Every kind of bad file: (kind, content or None for a directory, a log excerpt)."""
    return [
        ("value", good.replace("max_age = 100", "max_age = -1").encode(), "max_age: -1"),
        ("not UTF-8", (good + "# Z\u00fcrich\n").encode("latin-1"), "is not UTF-8"),
        ("truncated", good.encode()[: good.index("methods = [") + 15], "invalid TOML"),
        ("directory", None, "cannot read"),
        (
            "plugin raising at import",
            good.replace(
                'hosts = ["soak.test"]', 'hosts = ["soak.test"]\nplugins = ["soak_boom:plugin"]'
            ).encode(),
            "soak_boom:plugin",
        ),
    ]


def write_config(path: Path, content: bytes | None) -> None:
    """Replace the config file's content; None replaces the file by a directory."""
    if path.is_dir():
        path.rmdir()
    if content is None:
        path.unlink(missing_ok=True)
        path.mkdir()
    else:
        path.write_bytes(content)


LEGACY_MODULE = """
import os
import websvc


def legacy(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6")])
    return [b"legacy"]


app = websvc.wrap(legacy, os.environ["LEGACY_CONFIG"])
"""
#: The whole header sets a preflight may carry: one per valid config.
EXPECTED = {
    ("GET, PUT", "100"): "A",
    ("GET, PUT, DELETE", "200"): "B",
}

WRK_SCRIPT = f"""
local requests = {{}}
local counter = 0
init = function(args)
  local pre = {{["Origin"] = "{ORIGIN}", ["Access-Control-Request-Method"] = "PUT",
               ["Host"] = "soak.test"}}
  local normal = {{["Origin"] = "{ORIGIN}", ["Authorization"] = "{AUTH}", ["Host"] = "soak.test"}}
  local plain = {{["Authorization"] = "{AUTH}", ["Host"] = "soak.test"}}
  requests[1] = wrk.format("OPTIONS", "/ws/rest/echo/x", pre)
  requests[2] = wrk.format("GET", "/ws/rest/echo/x", normal)
  requests[3] = wrk.format("GET", "/ws/rest/echo/x", plain)
end
request = function()
  counter = counter + 1
  return requests[(counter % 3) + 1]
end
"""


_RELOAD_LINE = re.compile(r"websvc: config reload(ed| refused)")


def parse_wrk(output: str) -> dict[str, int | float]:
    """The figures of a wrk run: requests, rate, socket errors, non-2xx."""
    figures: dict[str, int | float] = {"requests": 0, "non_2xx": 0, "rps": 0.0}
    if match := re.search(r"(\d+) requests in", output):
        figures["requests"] = int(match.group(1))
    if match := re.search(r"Requests/sec:\s+([\d.]+)", output):
        figures["rps"] = float(match.group(1))
    if match := re.search(r"Non-2xx or 3xx responses: (\d+)", output):
        figures["non_2xx"] = int(match.group(1))
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    for i, name in enumerate(("connect_errors", "read_errors", "write_errors", "timeouts")):
        figures[name] = int(errors.group(i + 1)) if errors else 0
    return figures


class Sampler(threading.Thread):
    """Sends preflights in a loop and classifies each answer by config."""

    def __init__(self, server: Server) -> None:
        super().__init__(daemon=True)
        self.server = server
        self.stop = threading.Event()
        self.seen: dict[str, int] = {"A": 0, "B": 0}
        self.mixed: list[tuple[str | None, str | None]] = []
        self.failures = 0

    def run(self) -> None:
        headers = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET", "Host": "soak.test"}
        while not self.stop.is_set():
            try:
                reply = self.server.request("OPTIONS", "/ws/rest/echo/sample", headers)
            except OSError:
                self.failures += 1
                continue
            key = (reply.get("Access-Control-Allow-Methods"), reply.get("Access-Control-Max-Age"))
            which = EXPECTED.get(key) if reply.status == 200 else None  # type: ignore[arg-type]
            if which is None:
                self.mixed.append(key)
            else:
                self.seen[which] += 1
            time.sleep(0.002)


def worker_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children")
    return [int(pid) for pid in children.read_text().split()] if children.exists() else []


def soak(
    *,
    duration: float,
    reloads: int,
    connections: int,
    kill_worker: bool,
    workers: int = 2,
    folder: Path | None = None,
    form: str = "root",
) -> dict[str, Any]:
    """Run one soak; return its figures (see the module docstring)."""
    folder = folder or Path(tempfile.mkdtemp(prefix="websvc-soak-"))
    config = folder / "websvc.toml"
    good = {"A": CONFIG_A, "B": CONFIG_B}
    if form == "legacy":  # wrap() refuses [[apis]]: every path reaches the legacy app
        good = {
            "A": config_text(["GET", "PUT"], 100, "X-Config-A", apis=False),
            "B": config_text(["GET", "PUT", "DELETE"], 200, "X-Config-B", apis=False),
        }
    bad = bad_files(good["A"])
    config.write_text(good["A"])
    script = folder / "mix.lua"
    script.write_text(WRK_SCRIPT)
    server = _start(form, folder, config, workers)
    sampler = Sampler(server)
    try:
        sampler.start()
        wrk = subprocess.Popen(
            ["wrk", "-t", "2", "-c", str(connections), "-d", f"{_wrk_cap(duration)}s", "--timeout", "10s",
             "-s", str(script), f"http://127.0.0.1:{server.port}"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        time.sleep(min(1.0, duration / 10))
        sent = {"valid": 0, "invalid": 0}
        kinds: dict[str, int] = {}
        killed: list[int] = []
        interval = (duration * 0.8) / max(reloads, 1)
        started = time.monotonic()
        for i in range(reloads):
            if i % 2:
                kind, content, _ = bad[(i // 2) % len(bad)]
                write_config(config, content)
                sent["invalid"] += 1
                kinds[kind] = kinds.get(kind, 0) + 1
            else:
                text = good["B"] if (i // 2) % 2 == 0 else good["A"]
                bom = "\ufeff" if i % 6 == 4 else ""  # now and then a byte-order mark
                write_config(config, (bom + text).encode())
                sent["valid"] += 1
            if form == "root":
                server.hup()
                # One reload at a time: wait until the master has read this file.
                server.wait_for_log(_RELOAD_LINE, count=i + 1, timeout=30)
            else:
                _hup_and_wait_for_workers(server, workers)
            if kill_worker and i == reloads // 2:
                time.sleep(interval)
                pids = worker_pids(server.proc.pid)
                if pids:
                    os.kill(pids[0], signal.SIGKILL)
                    killed.append(pids[0])
            time.sleep(interval)
        reload_seconds = time.monotonic() - started
        # The load lasts as long as the reloads do (wrk reports on SIGINT),
        # plus a second, so every reload happens under load.
        time.sleep(1)
        wrk.send_signal(signal.SIGINT)
        output, _ = wrk.communicate(timeout=60)
        sampler.stop.set()
        sampler.join(timeout=10)
        figures = parse_wrk(output)
        if os.environ.get("SOAK_DEBUG"):
            print(output)
        log = server.log
        alive = server.proc.poll() is None
        after = server.request(
            "GET", "/ws/rest/echo/after", {"Authorization": AUTH, "Host": "soak.test"}
        )
    finally:
        sampler.stop.set()
        server.stop()
    return {
        "form": form,
        "wrk": figures,
        "reloads": sent,
        "invalid_by_kind": kinds,
        "refusal_lines_by_kind": {kind: log.count(excerpt) for kind, _, excerpt in bad},
        "applied": log.count("websvc: config reloaded"),
        "refused": log.count("websvc: config reload refused"),
        "killed_workers": len(killed),
        "reload_seconds": round(reload_seconds, 1),
        "load_cap": _wrk_cap(duration),
        "connections": connections,
        "sampled": sampler.seen,
        "sampler_errors": sampler.failures,
        "mixed": sampler.mixed,
        "master_alive": alive,
        "status_after": after.status,
        "http_5xx_in_log": len(re.findall(r'" 5\d\d ', log)),
    }


def verdict(result: dict[str, Any]) -> list[str]:
    """The problems in a soak result (empty when it passed)."""
    wrk = result["wrk"]
    problems = []
    socket_errors = (
        wrk["connect_errors"] + wrk["read_errors"] + wrk["write_errors"] + wrk["timeouts"]
    )
    allowed = result["connections"] if result["killed_workers"] else 0
    if socket_errors > allowed:
        problems.append(
            f"{socket_errors} socket errors (allowed: {allowed} in flight on a killed worker)"
        )
    if wrk["non_2xx"]:
        problems.append(f"{wrk['non_2xx']} non-2xx answers")
    if result["http_5xx_in_log"]:
        problems.append(f"{result['http_5xx_in_log']} 5xx in the access log")
    if result["mixed"]:
        problems.append(f"answers from no single config: {result['mixed'][:5]}")
    if result["sampler_errors"] > (2 if result["killed_workers"] else 0):
        problems.append(f"{result['sampler_errors']} sampler connection errors")
    if not result["master_alive"] or result["status_after"] != 200:
        problems.append("the server did not survive")
    unexplained = [
        kind for kind in result["invalid_by_kind"] if not result["refusal_lines_by_kind"].get(kind)
    ]
    if unexplained:
        problems.append(f"bad files refused without a log line naming why: {unexplained}")
    if result["form"] == "root" and (
        result["applied"] != result["reloads"]["valid"]
        or result["refused"] != result["reloads"]["invalid"]
    ):
        problems.append(
            f"reloads applied/refused {result['applied']}/{result['refused']} != sent {result['reloads']}"
        )
    if result["reload_seconds"] >= result["load_cap"]:
        problems.append(
            f"the reloads took {result['reload_seconds']} s, longer than the load could"
            f" last ({result['load_cap']} s): not all of them were under load"
        )
    if wrk["requests"] == 0:
        problems.append("wrk sent no request")
    return problems


def _wrk_cap(duration: float) -> int:
    """How long wrk may run at most: it is stopped when the reloads are done."""
    return max(60, round(duration * 5))


def _start(form: str, folder: Path, config: Path, workers: int) -> Server:
    """gunicorn in the *form* docs/deploy.md shows (see the module docstring)."""
    plugins = folder / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "soak_boom.py").write_text(BOOM_MODULE)
    env = {"PYTHONPATH": str(plugins), "WEBSVC_STATE_DIR": str(folder / "state")}
    if form == "root":
        return start_gunicorn(
            folder / "gunicorn.log",
            config=config,
            workers=workers,
            env=env,
            extra=["--graceful-timeout", "10"],
        )
    cwd = folder / ("legacy_project" if form == "legacy" else "elsewhere")
    cwd.mkdir(exist_ok=True)
    if form == "legacy":
        (cwd / "legacy_wsgi.py").write_text(LEGACY_MODULE)
        app = "legacy_wsgi:app"
        env["LEGACY_CONFIG"] = str(config)
    else:
        app = f'websvc:create_app("{config}")'
    cmd = [sys.executable, "-m", "gunicorn", "--no-control-socket", "-b", "127.0.0.1:0",
           "-w", str(workers), "--graceful-timeout", "10", "--log-level", "info",
           "--access-logfile", "-", app]  # fmt: skip
    return launch_gunicorn(cmd, folder / "gunicorn.log", cwd=cwd, env=env, workers=workers)


def _hup_and_wait_for_workers(server: Server, workers: int) -> None:
    """HUP, then wait until the workers booted before it have all exited."""
    before = set(worker_pids(server.proc.pid))
    server.hup()
    deadline = time.monotonic() + 30
    while True:
        now = set(worker_pids(server.proc.pid))
        if len(now) == workers and not now & before:
            return
        if time.monotonic() > deadline or server.proc.poll() is not None:
            raise AssertionError(f"workers not replaced after HUP:\n{server.log}")
        time.sleep(0.02)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=30.0,
        help="spread the reloads over about this many seconds (default 30); "
        "the load lasts until the last reload is done",
    )
    parser.add_argument("--reloads", type=int, default=100, help="SIGHUPs to send (default 100)")
    parser.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    parser.add_argument("--no-kill", action="store_true", help="do not kill a worker mid-load")
    parser.add_argument("--json", type=Path, help="write the figures as JSON")
    parser.add_argument(
        "--form", choices=("root", "factory", "legacy"), default="root", help="how gunicorn runs"
    )
    args = parser.parse_args(argv)
    result = soak(
        duration=args.duration,
        reloads=args.reloads,
        connections=args.connections,
        kill_worker=not args.no_kill,
        form=args.form,
    )
    problems = verdict(result)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    for problem in problems:
        print(f"FAIL: {problem}")
    print("soak: " + ("FAILED" if problems else "passed"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
