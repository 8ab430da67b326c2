"""The websvc command line: check, explain, token (serve runs in tests/gunicorn-style tests)."""

from __future__ import annotations

import hashlib
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from websvc.cli import main

#: What the demo line says after its address (the demo runs in store mode).
DEMO_NOTE = "(store mode, an embedded SQLite store)"

GOOD = """
[server]
authentication = "basic"

[[apis]]
path = "/ws/rest/echo"
app = "websvc.demo:echo"

[tenants.acme]
hosts = ["acme.test"]

[[tenants.acme.users]]
name = "acme-123"
token_sha256 = "{}"

[[tenants.acme.cors]]
domain = "mydomain.com"
protocols = ["https"]
ports = [443, 8443]
methods = ["GET", "POST", "PUT", "DELETE"]
request_headers = ["X-Custom-Header"]
paths = ["/ws/rest/*"]

[tenants.other]
hosts = ["other.test"]
""".format(hashlib.sha256(b"t").hexdigest())


def _write(tmp_path: Path, text: str, name: str = "websvc.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_check_good_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, GOOD)
    code, out, _ = _run(capsys, "check", "--config", str(path))
    assert code == 0
    assert out == f"{path}: ok (2 tenants, 1 CORS rules, 1 APIs)\n"


# Each broken piece of config and the exact line `check` must print for it.
BROKEN = [
    ("[tenants.a]\n[[tenants.a.cors]]\ndomain = \"a.com\"\nports = [70000]\n",
     "tenants.a.cors[0].ports: 70000 is not a port (1-65535)"),
    ("[[tenants.a.cors]]\ndomain = \"*\"\nallow_any_origin = true\nallow_credentials = true\n",
     "tenants.a.cors[0].allow_credentials: must be false on the \"*\" domain"),
    ("[[tenants.a.cors]]\ndomain = \"*\"\n", "tenants.a.cors[0].domain: \"*\" matches any origin"),
    ("[[tenants.a.cors]]\ndomain = \"a.com\"\nmax_age = 90000\n",
     "tenants.a.cors[0].max_age: 90000 is not a number of seconds from 0 to 86400"),
    ("[[tenants.a.cors]]\ndomain = \"a.com\"\nmethods = [\"TRACE\"]\n",
     "tenants.a.cors[0].methods: \"TRACE\" is a forbidden method"),
    ("[[tenants.a.cors]]\ndomain = \"a.com\"\nrequest_headers = [\"X Bad\"]\n",
     "tenants.a.cors[0].request_headers: \"X Bad\" is not an HTTP header name"),
    ("[[tenants.a.cors]]\ndomain = \"a.com\"\nexpose_headers = [\"X-A\\r\\nSet-Cookie: x\"]\n",
     "tenants.a.cors[0].expose_headers[0]: \"X-A\\r\\nSet-Cookie: x\" contains a control character"),
    ("[[tenants.a.cors]]\ndomain = \"null\"\n", "tenants.a.cors[0].domain: \"null\" is refused"),
    ("[[tenants.a.cors]]\ndomain = \"ftp://a.com\"\n",
     "tenants.a.cors[0].domain: \"ftp://a.com\" has a scheme other than http or https"),
    ("[[tenants.a.cors]]\ndomain = \"a.com\"\npaths = []\n", "tenants.a.cors[0].paths: [] is empty"),
    ("[[tenants.a.cors]]\ndomain = \"a.com\"\npaths = [\"/a*b\"]\n",
     "tenants.a.cors[0].paths: \"/a*b\" has a * that is not a trailing \"/*\" prefix"),
    ("[tenants.a]\nhosts = [\"a.test:8080\"]\n", "tenants.a.hosts: \"a.test:8080\" has a port"),
    ("[server]\npreflight_status = 201\n", "server.preflight_status: 201 is not 200 or 204"),
    ("[server]\napi_type = \"basic\"\n[[tenants.a.cors]]\ndomain = \"a.com\"\n",
     "server.api_type: \"basic\" does not allow CORS rules"),
    ("[server]\nauthentication = \"kerberos\"\n", "server.authentication: \"kerberos\" is not a known authentication"),
    ("[[apis]]\npath = \"/x\"\napp = \"no_such_module_xyz:app\"\n",
     "apis[0].app: \"no_such_module_xyz:app\" cannot be imported"),
    ("[server]\nreject_disalowed = true\n", "server.reject_disalowed: unknown key"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "line"), [pytest.param(t, line, id=line.split(":")[0]) for t, line in BROKEN]
)
def test_check_names_each_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, line: str
) -> None:
    path = _write(tmp_path, text)
    code, out, _ = _run(capsys, "check", "--config", str(path))
    assert code == 2
    assert f"{path}: {line}" in out, out


def test_check_reports_every_problem_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rule_problems = [t for t, _ in BROKEN if t.startswith("[[tenants.a.cors]]")]
    rules = "".join(
        t.replace("[[tenants.a.cors]]", f"[[tenants.t{i}.cors]]")
        for i, t in enumerate(rule_problems)
    )
    path = _write(tmp_path, rules)
    code, out, _ = _run(capsys, "check", "--config", str(path))
    assert code == 2
    lines = out.splitlines()
    assert len(lines) == len(rule_problems), out
    assert all(line.startswith(f"{path}: tenants.t") for line in lines)
    assert {line.split(":")[1].strip().split(".")[1] for line in lines} == {
        f"t{i}" for i in range(len(rule_problems))
    }


def test_check_invalid_toml_and_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(tmp_path, "[server\n")
    code, out, _ = _run(capsys, "check", "--config", str(path))
    assert code == 2 and out.startswith(f"{path}: invalid TOML:")
    code, out, _ = _run(capsys, "check", "--config", str(tmp_path / "missing.toml"))
    assert (
        code == 2
        and out == f"{tmp_path / 'missing.toml'}: cannot read: No such file or directory\n"
    )


def test_check_warns_about_plain_tokens(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, '[[tenants.a.users]]\nname = "u"\ntoken = "secret-value"\n')
    code, out, err = _run(capsys, "check", "--config", str(path))
    assert code == 0
    assert "tenants.a.users[0].token: plain token in the config" in err
    assert "secret-value" not in out + err


def _explain(capsys: pytest.CaptureFixture[str], path: Path, *extra: str) -> tuple[int, str]:
    code, out, _ = _run(capsys, "explain", "--config", str(path), *extra)
    return code, out


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["--origin", "https://mydomain.com", "--method", "PUT", "--header", "X-Custom-Header"],
            ["tenant: acme (identified by the Host header)", "rule: tenants.acme.cors[0]",
             "decision: ALLOWED by websvc.plugins.cors_rules",
             "  Access-Control-Allow-Origin: https://mydomain.com",
             "  Access-Control-Allow-Headers: x-custom-header"],
            id="allowed",
        ),
        pytest.param(["--origin", "https://other.com", "--method", "GET"],
                     ["decision: REFUSED by websvc.plugins.cors_rules: origin_not_listed"], id="origin"),
        pytest.param(["--origin", "https://MyDomain.com", "--method", "GET"],
                     ["REFUSED by websvc.plugins.cors_rules: origin_invalid"], id="origin-invalid"),
        pytest.param(["--origin", "http://mydomain.com", "--method", "GET"],
                     ["REFUSED by websvc.plugins.cors_rules: protocol"], id="protocol"),
        pytest.param(["--origin", "https://mydomain.com:9443", "--method", "GET"],
                     ["REFUSED by websvc.plugins.cors_rules: port"], id="port"),
        pytest.param(["--origin", "https://mydomain.com", "--method", "PATCH"],
                     ["rule: tenants.acme.cors[0]", "REFUSED by websvc.plugins.cors_rules: method: "
                      "method PATCH is not in tenants.acme.cors[0].methods"], id="method"),
        pytest.param(["--origin", "https://mydomain.com", "--method", "GET", "--header", "X-Other"],
                     ["REFUSED by websvc.plugins.cors_rules: header:x-other: header x-other is not in "
                      "tenants.acme.cors[0].request_headers"], id="header"),
        pytest.param(["--origin", "https://mydomain.com", "--method", "GET", "--path", "/elsewhere"],
                     ["REFUSED by websvc.plugins.cors_rules: path"], id="path"),
    ],
)  # fmt: skip
def test_explain(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: list[str]
) -> None:
    path = _write(tmp_path, GOOD)
    argv = ["--host", "acme.test", "--path", "/ws/rest/echo", *args]
    code, out = _explain(capsys, path, *argv)
    for line in expected:
        assert line in out, out
    assert code == (0 if any("ALLOWED" in e for e in expected) else 1)
    assert "Vary: Origin, Access-Control-Request-Method, Access-Control-Request-Headers" in out
    if code == 1:
        assert "Access-Control-Allow-Origin" not in out


def test_explain_without_tenant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, GOOD)
    code, out = _explain(capsys, path, "--origin", "https://mydomain.com", "--method", "GET")
    assert code == 1
    assert "tenant: none identified" in out
    assert "REFUSED by websvc.plugins.cors_rules: no_tenant" in out


def test_explain_forced_tenant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, GOOD)
    code, out = _explain(capsys, path, "--tenant", "acme", "--path", "/ws/rest/x",
                         "--origin", "https://mydomain.com:8443", "--method", "DELETE")  # fmt: skip
    assert code == 0 and "tenant: acme (identified by --tenant)" in out
    code, out = _explain(
        capsys, path, "--tenant", "nobody", "--origin", "https://a.com", "--method", "GET"
    )
    assert code == 2 and "no tenant named 'nobody'" in out


def test_token_prints_hash_lines(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _run(capsys, "token", "--tenant", "acme", "--user", "bob")
    assert code == 0
    # The token on stderr, the TOML alone on stdout (tests/test_cli_process.py appends it).
    token = re.fullmatch(r"token \(shown once; .* websvc keeps only its hash\): (\S+)\n", err)
    digest = re.search(r'token_sha256 = "([0-9a-f]{64})"', out)
    assert token and digest
    assert hashlib.sha256(token.group(1).encode()).hexdigest() == digest.group(1)
    assert out == f'\n[[tenants.acme.users]]\nname = "bob"\ntoken_sha256 = "{digest.group(1)}"\n'
    assert len(token.group(1)) >= 40
    code, again, again_err = _run(capsys, "token")
    assert token.group(1) not in again + again_err, "every token is fresh"


def test_console_script_and_module_entry_point(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    script = Path(sys.executable).with_name("websvc")
    for cmd in ([str(script)], [sys.executable, "-m", "websvc"]):
        done = subprocess.run(
            [*cmd, "check", "--config", str(path)], capture_output=True, text=True, timeout=60
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert "ok (2 tenants" in done.stdout


def test_serve_demo_answers_a_preflight(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "websvc", "serve", "--port", str(port), "--admin-port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PATH": "/usr/bin:/bin", "WEBSVC_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first == f"websvc: serving the demo at http://127.0.0.1:{port}/ {DEMO_NOTE}\n"
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/ws/rest/echo",
            method="OPTIONS",
            headers={"Origin": "http://localhost:5173", "Access-Control-Request-Method": "PUT"},
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    assert (
                        response.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"
                    )
                    assert (
                        response.headers["Access-Control-Allow-Methods"] == "GET, POST, PUT, DELETE"
                    )
                    break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_explain_names_a_tenant_plugin_and_the_same_origin_exemption(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write(
        tmp_path,
        GOOD.replace('[tenants.acme]\nhosts = ["acme.test"]', '[tenants.acme]\nhosts = ["acme.test"]\nplugins = ["tests.test_manager:override"]')
        .replace('[server]\n', "[server]\nreject_disallowed = true\n"),
    )  # fmt: skip
    code, out = _explain(
        capsys, path, "--host", "acme.test", "--origin", "https://mydomain.com", "--method", "GET"
    )
    assert code == 1
    assert "decision: REFUSED by tests.test_manager:override: origin_not_listed" in out
    assert "response: 403" in out
    code, out = _explain(
        capsys, path, "--host", "acme.test", "--origin", "http://acme.test", "--method", "GET"
    )
    assert "response: 200" in out, "same-origin requests are never rejected"
