"""A bad config plus ``kill -HUP`` never takes the site down, however gunicorn was started.

Every command docs/deploy.md shows is started for real -- ``gunicorn wsgi:app``
from the repository root, the factory form from another directory, a legacy
project's own module around ``wrap()`` in that project's directory -- with
and without websvc's gunicorn settings (``-c python:websvc.gunicorn_conf``)
and with and without ``--preload``. Each gets bad files of every kind and a
HUP: the master must stay up, every request must be answered from the last
good config, and the log must name the problem. Good files are applied.
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import pytest

from bench.soak import LEGACY_MODULE
from bench.soak import write_config as write
from tests.servers import ROOT, Server, launch_gunicorn

ORIGIN = "https://app.forms.example"
PREFLIGHT = {"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}


def config_text(methods: str, extra: str = "") -> str:
    return f"""
[[tenants.forms.cors]]
domain = "app.forms.example"
methods = [{methods}]
{extra}
"""


GOOD_A = config_text('"GET", "PUT"')
GOOD_B = config_text('"GET", "PUT", "DELETE"')
A, B = "GET, PUT", "GET, PUT, DELETE"

#: Bad files: (kind, bytes or None for "the file replaced by a directory", a log excerpt).
BAD_FILES: list[tuple[str, bytes | None, str]] = [
    (
        "not UTF-8",
        (GOOD_B + "# Zürich\n").encode("latin-1"),
        "is not UTF-8",
    ),
    ("truncated", GOOD_B.encode()[: GOOD_B.index('"PUT"') + 3], "invalid TOML"),
    ("directory", None, "cannot read"),
    (
        "plugin raising at import",
        (
            GOOD_B.replace(
                "[[tenants.forms.cors]]",
                '[tenants.forms]\nplugins = ["forms_boom:plugin"]\n\n[[tenants.forms.cors]]',
            )
        ).encode(),
        "forms_boom:plugin",
    ),
    ("bad value", config_text('"GET"', "max_age = 999999").encode(), "max_age: 999999"),
]

BOOM = 'raise RuntimeError("this plugin module fails at import")\n'

WEBSVC_CONF = ["-c", "python:websvc.gunicorn_conf"]


def methods(server: Server) -> str | None:
    reply = server.request("OPTIONS", "/ws/x", PREFLIGHT)
    assert reply.status == 200, reply
    return reply.get("Access-Control-Allow-Methods")


def hup_and_settle(server: Server, workers: int) -> None:
    """HUP the master and wait until every worker is one booted after it."""
    before = server.worker_pids()
    booted = len(before)
    server.hup()
    server.wait_for_log("Booting worker", count=booted + workers)
    for pid in before[-workers:]:
        server.wait_for_log(f"Worker exiting (pid: {pid})")
    assert server.proc.poll() is None, server.log


def assert_serves(server: Server, expected: str) -> None:
    deadline = time.monotonic() + 10
    answers: list[str | None] = []
    while time.monotonic() < deadline:
        answers = [methods(server) for _ in range(8)]
        if set(answers) == {expected}:
            return
        time.sleep(0.1)
    raise AssertionError(f"expected {expected!r}, served {answers}:\n{server.log}")


FORMS = {
    # id: (gunicorn arguments before the app, app, cwd kind)
    "wsgi:app from the repository root": ([], "wsgi:app", "root"),
    "factory, another directory": ([], "factory", "elsewhere"),
    "factory, another directory, --preload": (["--preload"], "factory", "elsewhere"),
    "factory, -c python:websvc.gunicorn_conf": (WEBSVC_CONF, "factory", "elsewhere"),
    "legacy wrap() in its own directory": ([], "legacy_wsgi:app", "legacy"),
    "legacy wrap(), --preload": (["--preload"], "legacy_wsgi:app", "legacy"),
    "legacy wrap(), -c python:websvc.gunicorn_conf": (WEBSVC_CONF, "legacy_wsgi:app", "legacy"),
}


def start_form(form: str, tmp_path: Path, config: Path, workers: int = 2) -> Server:
    """Start gunicorn as docs/deploy.md shows for *form*, serving *config*."""
    args, app, where = FORMS[form]
    plugins = tmp_path / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "forms_boom.py").write_text(BOOM)
    env = {
        "PYTHONPATH": str(plugins),
        "LEGACY_CONFIG": str(config),
        "WEBSVC_STATE_DIR": str(tmp_path / "state"),
    }
    if where == "root":
        cwd = ROOT  # gunicorn reads ./gunicorn.conf.py here
    elif where == "legacy":
        cwd = tmp_path / "legacy_project"
        cwd.mkdir(exist_ok=True)
        (cwd / "legacy_wsgi.py").write_text(LEGACY_MODULE)
    else:
        cwd = tmp_path / "elsewhere"
        cwd.mkdir(exist_ok=True)
    if app == "factory":
        app = f'websvc:create_app("{config}")'
    cmd = [sys.executable, "-m", "gunicorn", "--no-control-socket", *args,
           "-b", "127.0.0.1:0", "-w", str(workers), "--log-level", "info", app]  # fmt: skip
    return launch_gunicorn(
        cmd,
        tmp_path / "gunicorn.log",
        cwd=cwd,
        env=env,
        workers=workers,
        config=config if where == "root" else None,  # $WEBSVC_CONFIG for wsgi.py
    )


@pytest.mark.parametrize("form", list(FORMS))
def test_bad_files_and_hup_never_take_the_site_down(form: str, tmp_path: Path) -> None:
    config = tmp_path / "websvc.toml"
    config.write_text(GOOD_A)
    server = start_form(form, tmp_path, config)
    try:
        assert_serves(server, A)
        for kind, content, excerpt in BAD_FILES:
            write(config, content)
            hup_and_settle(server, 2)
            assert_serves(server, A)
            assert excerpt in server.log, f"{kind}: the log does not say why:\n{server.log}"
        write(config, GOOD_B.encode())
        hup_and_settle(server, 2)
        assert_serves(server, B)
        # A byte-order mark is accepted: the file is applied.
        write(config, "\ufeff".encode() + GOOD_A.encode())
        hup_and_settle(server, 2)
        assert_serves(server, A)
        # A killed worker comes back with the last good config, not the bad file.
        write(config, BAD_FILES[0][1])
        hup_and_settle(server, 2)
        booted = len(server.worker_pids())
        os.kill(server.worker_pids()[-1], 9)
        server.wait_for_log(re.compile(r"Booting worker"), count=booted + 1)
        assert_serves(server, A)
        assert server.proc.poll() is None
        assert "Traceback" not in server.log, server.log
    finally:
        server.stop()


@pytest.mark.parametrize(
    "form", ["factory, another directory", "factory, -c python:websvc.gunicorn_conf"]
)
def test_a_new_server_refuses_to_start_on_a_bad_file(form: str, tmp_path: Path) -> None:
    """The last good config of a running server is never used by a new start."""
    config = tmp_path / "websvc.toml"
    config.write_text(GOOD_A)
    first = start_form(form, tmp_path, config)
    first.stop()
    write(config, BAD_FILES[0][1])
    with pytest.raises(AssertionError, match=r"did not (start|answer)[\s\S]*is not UTF-8"):
        start_form(form, tmp_path, config)
