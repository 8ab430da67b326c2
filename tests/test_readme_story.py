"""The README's store-mode story, run for real: ``websvc serve`` (the demo) and its curl lines.

Each ``$ curl`` line of the README's "The tenant edits its own rules, live"
section is run with bash against a real ``websvc serve`` on free ports
(8080 and 8081 in the README are replaced), in order. Every line the README
shows of the answer must be in curl's output, in the same order (the README
leaves out the lines that change each time: Server, Date, X-Request-Id...).
The edit must be served within a second, as the README says.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.servers import ROOT

SECTION = "### The tenant edits its own rules, live"


def _blocks() -> list[tuple[str, list[str]]]:
    text = (ROOT / "README.md").read_text()
    section = text.split(SECTION, 1)[1].split("\n### ", 1)[0]
    out = []
    for block in re.findall(r"```console\n(.*?)```", section, re.DOTALL):
        command, *shown = block.rstrip("\n").split("\n")
        assert command.startswith("$ curl ")
        out.append((command[2:], [line for line in shown if line]))
    return out


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_readme_edit_then_preflight_story(tmp_path: Path) -> None:
    assert shutil.which("curl"), "scripts/test installs curl"
    blocks = _blocks()
    assert len(blocks) == 4
    port, admin = _free_port(), _free_port()
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "websvc", "serve", "--port", str(port), "--admin-port", str(admin)],
        stdout=log, stderr=log, cwd=tmp_path,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while b"admin API at" not in (tmp_path / "serve.log").read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, (
                tmp_path / "serve.log"
            ).read_text()
            time.sleep(0.05)
        for i, (command, shown) in enumerate(blocks):
            command = command.replace(":8080/", f":{port}/").replace(":8081/", f":{admin}/")
            deadline = time.monotonic() + (1.0 if i == 3 else 0)  # the edit: within a second
            while True:
                got = subprocess.run(
                    ["bash", "-c", command + " -s"], capture_output=True, text=True, timeout=10
                ).stdout.replace("\r\n", "\n")
                lines = [line for line in got.split("\n") if line]
                missing = _not_in_order(shown, lines)
                if not missing or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            assert not missing, f"{command}\nREADME shows {missing!r}, curl printed:\n{got}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()


def _not_in_order(shown: list[str], lines: list[str]) -> list[str]:
    """The shown lines not found in *lines* in order (empty when all are)."""
    at = 0
    for i, line in enumerate(shown):
        try:
            at = lines.index(line, at) + 1
        except ValueError:
            return shown[i:]
    return []
