"""``websvc store init|import|export`` and ``websvc admin token|serve`` (ADMIN-API §2).

Real SQLite files in tmp_path; the first half calls ``websvc.cli.main`` in
this process, the second runs ``python -m websvc`` as a user would (the
admin server on a real socket, stopped with SIGTERM).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from websvc.cli import main
from websvc.config import parse_toml
from websvc.store import SQLiteStore, Store, open_store

ROOT = Path(__file__).resolve().parents[1]
OPERATOR_TOKEN = "operator-token-for-tests"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# A store-mode config: its [server] and [cors] are what tenants are checked with.
STORE_CONFIG = f"""\
[server]
authentication = "basic"

[cors.defaults]
request_headers = ["Content-Type"]

[store]
url = "sqlite:///websvc.db"

[admin]
operator_tokens_sha256 = ["{sha(OPERATOR_TOKEN)}"]
"""

TENANTS = f"""\
[tenants.acme]
hosts = ["acme.example.net"]

[[tenants.acme.users]]
name = "acme-123"
token_sha256 = "{sha("acme")}"

[[tenants.acme.cors]]
domain = "app.acme.example"
methods = ["GET", "POST", "PUT", "DELETE"]
request_headers = ["X-Custom-Header"]
allow_credentials = true

[[tenants.acme.cors]]
domain = "*.acme.example"
paths = ["/ws/rest/*"]

[tenants.beta]
hosts = ["beta.example.net"]

[[tenants.beta.cors]]
domain = "app.beta.example"
ports = [443, 8443]
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """tmp_path as the current directory (``sqlite:///websvc.db`` is relative to it)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WEBSVC_CONFIG", raising=False)
    (tmp_path / "websvc.toml").write_text(STORE_CONFIG)
    (tmp_path / "tenants.toml").write_text(TENANTS)
    return tmp_path


@pytest.fixture
def ready(here: Path) -> Path:
    """An initialised, empty store next to websvc.toml."""
    assert main(["store", "init", "--config", "websvc.toml"]) == 0
    return here


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def db() -> SQLiteStore:
    return SQLiteStore("websvc.db")


def versions() -> tuple[int, dict[str, int]]:
    with db() as store:
        return store.change_seq(), dict(store.list_tenants())


# -- init ---------------------------------------------------------------------------


def test_init_creates_the_schema_and_is_idempotent(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for _ in range(2):
        code, out, err = run(capsys, "store", "init", "--config", "websvc.toml")
        assert (code, out, err) == (
            0,
            "websvc.toml: store sqlite:///websvc.db ready (schema 1)\n",
            "",
        )
    assert (here / "websvc.db").is_file()
    assert versions() == (0, {})


def test_init_upgrades_an_older_schema(ready: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from websvc.store.schema import MIGRATIONS, Migration

    newer = (*MIGRATIONS, Migration(len(MIGRATIONS) + 1, "test", ("CREATE TABLE t (x {int})",)))
    with SQLiteStore("websvc.db", migrations=newer) as store:
        assert store.init() == len(newer)
    code, out, err = run(capsys, "store", "export", "--config", "websvc.toml")
    assert (code, out) == (2, "")  # this websvc knows fewer migrations: refuses a newer schema
    assert "was created by a newer websvc" in err


def test_a_newer_schema_is_one_line_and_exit_2(
    ready: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with sqlite3.connect("websvc.db") as conn:
        conn.execute("INSERT INTO schema_version VALUES (99, '2099-01-01T00:00:00.000Z', 'x')")
    conn.close()
    for argv in (
        ["store", "init"],
        ["store", "export"],
        ["store", "import", "tenants.toml"],
        ["admin", "token", "--tenant", "acme"],
    ):
        code, out, err = run(capsys, *argv, "--config", "websvc.toml")
        assert (code, out) == (2, ""), argv
        assert err.count("\n") == 1 and "newer websvc (schema 99)" in err, argv
        assert err.startswith(f"websvc {argv[0]} {argv[1]}: "), argv


def test_a_missing_folder_or_file_is_unavailable_exit_3(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "elsewhere.toml").write_text('[store]\nurl = "sqlite:///no/such/dir/x.db"\n')
    code, out, err = run(capsys, "store", "init", "--config", "elsewhere.toml")
    assert (code, out) == (3, "")
    assert err == (
        "websvc store init: store unavailable: sqlite:///no/such/dir/x.db: cannot open "
        f"{here}/no/such/dir/x.db: its folder does not exist\n"
    )
    # Only init creates the file: every other command says the store is not there.
    for argv in (
        ["store", "export"],
        ["store", "import", "tenants.toml"],
        ["admin", "token", "--tenant", "acme"],
    ):
        code, out, err = run(capsys, *argv, "--config", "websvc.toml")
        assert (code, out) == (3, ""), argv
        assert err.count("\n") == 1 and "no such file" in err, argv
    assert not (here / "websvc.db").exists()


@pytest.mark.parametrize(
    ("url", "why"),
    [
        (
            "postgresql://websvc:s3cret@db/websvc?colour=blue",
            'postgresql://websvc:***@db/websvc?colour=blue: invalid URI query parameter: "colour"',
        ),
        ("sqlite:///x.db?mode=ro", "unknown option 'mode'"),
    ],
)
def test_a_url_the_store_refuses_is_one_line_and_exit_2(
    here: Path, capsys: pytest.CaptureFixture[str], url: str, why: str
) -> None:
    (here / "other.toml").write_text(f'[store]\nurl = "{url}"\n')
    for argv in (["store", "init"], ["store", "import", "tenants.toml"], ["store", "export"]):
        code, out, err = run(capsys, *argv, "--config", "other.toml")
        assert (code, out) == (2, ""), argv
        assert err.count("\n") == 1 and why in err and "s3cret" not in err, argv


COMMANDS = [
    ["store", "init"],
    ["store", "import", "tenants.toml"],
    ["store", "export"],
    ["admin", "token", "--tenant", "acme"],
    ["admin", "serve", "--port", "1"],
]


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_a_config_without_store_is_one_line_naming_the_file(
    here: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    (here / "file-mode.toml").write_text('[server]\nauthentication = "basic"\n' + TENANTS)
    code, out, err = run(capsys, *argv, "--config", "file-mode.toml")
    assert (code, out) == (2, "")
    assert err == (
        f"file-mode.toml: store: missing: websvc {argv[0]} {argv[1]} needs store mode"
        ' ([store] url = "sqlite:///PATH")\n'
    )
    assert not (here / "websvc.db").exists()


@pytest.mark.parametrize("argv", COMMANDS, ids=" ".join)
def test_config_from_the_environment_or_one_line(
    here: Path, capsys: pytest.CaptureFixture[str], argv: list[str]
) -> None:
    code, out, err = run(capsys, *argv)
    assert (code, out, err) == (
        2,
        "",
        f"websvc {argv[0]} {argv[1]}: --config is required (or set $WEBSVC_CONFIG)\n",
    )


def test_config_from_websvc_config(
    here: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEBSVC_CONFIG", "websvc.toml")
    assert run(capsys, "store", "init")[0] == 0


def test_a_refused_config_prints_its_problems(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (here / "bad.toml").write_text('[store]\nurl = "sqlite:///x.db"\npoll_interval = 0\n')
    code, out, err = run(capsys, "store", "init", "--config", "bad.toml")
    assert (code, out) == (2, "")
    assert (
        err == "bad.toml: store.poll_interval: 0 is not a number of seconds above 0, at most 60\n"
    )


# -- import -------------------------------------------------------------------------


def test_import_writes_each_changed_tenant_as_a_new_version(
    ready: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "store", "import", "--config", "websvc.toml", "tenants.toml")
    assert (code, out, err) == (0, "imported: acme (version 1), beta (version 1)\n", "")
    assert versions() == (2, {"acme": 1, "beta": 1})

    (ready / "tenants.toml").write_text(TENANTS.replace("8443", "9443"))
    code, out, _ = run(capsys, "store", "import", "--config", "websvc.toml", "tenants.toml")
    assert (code, out) == (0, "imported: acme (unchanged), beta (version 2)\n")
    assert versions() == (3, {"acme": 1, "beta": 2})
    with db() as store:
        beta = store.tenant("beta")
        assert beta is not None
        assert beta.rules == ({"domain": "app.beta.example", "ports": [443, 9443]},)
        assert beta.hosts == ("beta.example.net",)
        assert [(r.action, r.actor) for r in store.revisions("beta")] == [
            ("import", "cli"),
            ("import", "cli"),
        ]
        entry = store.audit_entries(limit=1)[0]
        assert (entry.actor, entry.tenant, entry.outcome) == ("cli", "beta", "ok")


def test_import_keeps_tenants_it_does_not_name(
    ready: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "store", "import", "--config", "websvc.toml", "tenants.toml")
    (ready / "one.toml").write_text('[tenants.gamma]\nhosts = ["gamma.example.net"]\n')
    code, out, _ = run(capsys, "store", "import", "--config", "websvc.toml", "one.toml")
    assert (code, out) == (0, "imported: gamma (version 1)\n")
    assert versions() == (3, {"acme": 1, "beta": 1, "gamma": 1})


def _check_lines(here: Path, capsys: pytest.CaptureFixture[str], tenants: str) -> list[str]:
    """What `websvc check` prints for a file-mode config: the store config's tables + *tenants*."""
    server = STORE_CONFIG.split("[store]")[0]
    (here / "file-mode.toml").write_text(server + tenants)
    code, out, _ = run(capsys, "check", "--config", "file-mode.toml")
    assert code == 2
    return [line.replace("file-mode.toml: ", "tenants.toml: ", 1) for line in out.splitlines()]


BAD_TENANTS = """\
[tenants.acme]
hosts = ["acme.example.net:8443"]
plugins = ["no_such_module_websvc:plugin"]

[[tenants.acme.users]]
name = "a:b"
token_sha256 = "nothex"

[[tenants.acme.cors]]
domain = "*"
allow_credentials = true

[[tenants.acme.cors]]
domain = "app.acme.example"
methods = ["GET", "TRACE"]
max_age = 100000
colour = "blue"

[tenants.beta]
hosts = ["ACME.example.net"]
"""


def test_import_checks_tenants_as_check_does_and_writes_nothing(
    ready: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "store", "import", "--config", "websvc.toml", "tenants.toml")
    before = versions()
    (ready / "tenants.toml").write_text(BAD_TENANTS)
    code, out, err = run(capsys, "store", "import", "--config", "websvc.toml", "tenants.toml")
    assert (code, out) == (2, "")
    expected = _check_lines(ready, capsys, BAD_TENANTS)
    assert len(expected) >= 8
    assert err.splitlines() == expected
    assert versions() == before


def test_import_is_checked_against_the_configs_server_table(
    ready: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (ready / "websvc.toml").write_text(
        STORE_CONFIG.replace("[server]", '[server]\napi_type = "basic"')
    )
    code, out, err = run(capsys, "store", "import", "--config", "websvc.toml", "tenants.toml")
    assert (code, out) == (2, "")
    assert err == (
        'websvc.toml: server.api_type: "basic" does not allow CORS rules'
        ' (tenants acme, beta have some); use "advanced"\n'
    )
    assert versions() == (0, {})


def test_import_is_all_or_nothing(ready: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(capsys, "store", "import", "--config", "websvc.toml", "tenants.toml")
    before = versions()
    # gamma is valid, but delta takes a host that acme (not in this file) keeps.
    (ready / "two.toml").write_text(
        '[tenants.gamma]\nhosts = ["gamma.example.net"]\n'
        '[tenants.delta]\nhosts = ["acme.example.net"]\n'
    )
    code, out, err = run(capsys, "store", "import", "--config", "websvc.toml", "two.toml")
    assert (code, out) == (2, "")
    assert err == (
        "websvc store import: host 'acme.example.net' already belongs to tenant 'acme';"
        " nothing was written\n"
    )
    assert versions() == before


def test_import_keeps_only_the_sha256_of_a_plain_token(
    ready: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (ready / "plain.toml").write_text(
        '[tenants.acme]\n[[tenants.acme.users]]\nname = "u1"\ntoken = "s3cret"\n'
        '[[tenants.acme.users]]\nname = "u2"\ntoken_sha256 = "' + sha("x").upper() + '"\n'
    )
    code, out, err = run(capsys, "store", "import", "--config", "websvc.toml", "plain.toml")
    assert (code, out) == (0, "imported: acme (version 1)\n")
    assert err == (
        "warning: plain.toml: tenants.acme.users[0].token: plain token in the config;"
        " store token_sha256 instead (websvc token prints it)\n"
    )
    with db() as store:
        acme = store.tenant("acme")
        assert acme is not None
        assert acme.users == (
            {"name": "u1", "token_sha256": sha("s3cret")},
            {"name": "u2", "token_sha256": sha("x")},
        )


def test_import_of_a_whole_file_mode_config_takes_its_tenants(
    ready: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (ready / "old.toml").write_text(
        '[server]\nauthentication = "basic"\n[[apis]]\npath = "/x"\napp = "websvc.demo:echo"\n'
        + TENANTS
    )
    code, out, err = run(capsys, "store", "import", "--config", "websvc.toml", "old.toml")
    assert (code, out) == (0, "imported: acme (version 1), beta (version 1)\n")
    assert err == "warning: old.toml: only [tenants] is imported; ignored: apis, server\n"


@pytest.mark.parametrize(
    ("text", "err"),
    [
        (
            "[tenants.acme\n",
            "bad.toml: invalid TOML: Expected ']' at the end of a table declaration",
        ),
        ('tenants = "acme"\n', 'bad.toml: tenants: "acme" is not a table of tenants'),
    ],
)
def test_import_of_a_file_that_is_not_tenants(
    ready: Path, capsys: pytest.CaptureFixture[str], text: str, err: str
) -> None:
    (ready / "bad.toml").write_text(text)
    code, out, got = run(capsys, "store", "import", "--config", "websvc.toml", "bad.toml")
    assert (code, out) == (2, "")
    assert got.startswith(err) and got.count("\n") == 1
    code, _, got = run(capsys, "store", "import", "--config", "websvc.toml", "missing.toml")
    assert code == 2
    assert got.startswith("missing.toml: cannot read: ") and got.count("\n") == 1
    assert versions() == (0, {})


# -- export -------------------------------------------------------------------------


def test_export_prints_every_tenant_in_todays_format(
    ready: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "store", "import", "--config", "websvc.toml", "tenants.toml")
    code, out, err = run(capsys, "store", "export", "--config", "websvc.toml")
    assert (code, err) == (0, "")
    assert out == (
        "# websvc store export of sqlite:///websvc.db: 2 tenants (change 2)\n"
        "\n"
        "[tenants.acme]\n"
        'hosts = ["acme.example.net"]\n'
        "plugins = []\n"
        "\n"
        "[[tenants.acme.users]]\n"
        'name = "acme-123"\n'
        f'token_sha256 = "{sha("acme")}"\n'
        "\n"
        "[[tenants.acme.cors]]\n"
        'domain = "app.acme.example"\n'
        'methods = ["GET", "POST", "PUT", "DELETE"]\n'
        'request_headers = ["X-Custom-Header"]\n'
        "allow_credentials = true\n"
        "\n"
        "[[tenants.acme.cors]]\n"
        'domain = "*.acme.example"\n'
        'paths = ["/ws/rest/*"]\n'
        "\n"
        "[tenants.beta]\n"
        'hosts = ["beta.example.net"]\n'
        "plugins = []\n"
        "\n"
        "[[tenants.beta.cors]]\n"
        'domain = "app.beta.example"\n'
        "ports = [443, 8443]\n"
    )


def _fill(store: Store) -> None:
    """Tenants as the admin API writes them: odd names, every rule key, plugins, no rules."""
    from websvc.store import Audit

    who = Audit("operator:ops", "PUT", "/admin/v1/tenants/x")
    every_key: dict[str, Any] = {
        "allow_private_network": True,
        "max_age": 0,
        "domain": "app.example.com",
        "protocols": ["https"],
        "ports": ["*"],
        "paths": ["/ws/*", "/api"],
        "methods": ["GET", "PATCH"],
        "request_headers": ["X-A", "authorization"],
        "expose_headers": ["X-Total"],
        "allow_credentials": True,
        "allow_caching": True,
    }
    names = ["acme", "globex corp", 'qu"ote\\d', "zürich", "é.dotted"]
    for i, name in enumerate(names):
        store.put_tenant(
            name,
            hosts=[f"h{i}.example.net", f"H{i}.Example.org"],
            users=[{"name": f"user {i}", "token_sha256": sha(name)}],
            plugins=["tests.test_manager:override"] if i == 1 else [],
            audit=who,
        )
    store.put_rules(
        "acme", [every_key, {"domain": "*", "allow_any_origin": True}], if_match=1, audit=who
    )
    store.put_rules(
        "zürich", [{"domain": "*.zürich.example", "ports": [8443]}], if_match=1, audit=who
    )
    store.put_tenant("empty", hosts=[], users=[], plugins=[], audit=who)


def test_import_of_an_export_changes_nothing(
    ready: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with db() as store:
        _fill(store)
        before_revisions = {name: store.revisions(name) for name, _ in store.list_tenants()}
        before_audit = len(store.audit_entries(limit=1000))
    before = versions()
    code, exported, _ = run(capsys, "store", "export", "--config", "websvc.toml")
    assert code == 0
    (ready / "export.toml").write_text(exported)
    code, out, err = run(capsys, "store", "import", "--config", "websvc.toml", "export.toml")
    assert (code, err) == (0, "")
    assert out == (
        "imported: acme (unchanged), empty (unchanged), globex corp (unchanged), "
        'qu"ote\\d (unchanged), zürich (unchanged), é.dotted (unchanged)\n'
    )
    assert versions() == before  # no version changed, the change sequence did not move
    with db() as store:
        assert {name: store.revisions(name) for name, _ in store.list_tenants()} == before_revisions
        entries = store.audit_entries(limit=1000)
        assert len(entries) == before_audit + 1  # the import itself, about no tenant
        assert (entries[0].actor, entries[0].tenant) == ("cli", None)
    # ... and exporting again gives the very same text
    assert run(capsys, "store", "export", "--config", "websvc.toml")[1] == exported


def test_export_keeps_each_rules_keys_exactly_as_stored(
    ready: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with db() as store:
        _fill(store)
        stored = store.snapshot().tenants
    code, exported, _ = run(capsys, "store", "export", "--config", "websvc.toml")
    assert code == 0
    parsed = parse_toml("export", exported)["tenants"]
    assert set(parsed) == set(stored)
    for name, state in stored.items():
        assert parsed[name].get("cors", []) == list(state.rules)
        assert parsed[name].get("users", []) == list(state.users)
        assert parsed[name]["hosts"] == list(state.hosts)
        assert parsed[name]["plugins"] == list(state.plugins)
    assert list(parsed["acme"]["cors"][0]) == [  # in the order of the config reference
        "domain",
        "protocols",
        "ports",
        "methods",
        "request_headers",
        "expose_headers",
        "allow_credentials",
        "allow_caching",
        "max_age",
        "paths",
        "allow_private_network",
    ]


def test_export_passes_check_in_a_file_mode_config(
    ready: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with db() as store:
        _fill(store)
    run(capsys, "store", "import", "--config", "websvc.toml", "tenants.toml")
    code, exported, _ = run(capsys, "store", "export", "--config", "websvc.toml")
    assert code == 0
    server = STORE_CONFIG.split("[store]")[0]
    (ready / "file-mode.toml").write_text(server + exported)
    code, out, err = run(capsys, "check", "--config", "file-mode.toml")
    assert (code, out, err) == (0, "file-mode.toml: ok (7 tenants, 4 CORS rules, 0 APIs)\n", "")


def test_export_of_an_empty_store_imports_as_nothing(
    ready: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, exported, _ = run(capsys, "store", "export", "--config", "websvc.toml")
    assert (code, exported) == (
        0,
        "# websvc store export of sqlite:///websvc.db: 0 tenants (change 0)\n",
    )
    (ready / "export.toml").write_text(exported)
    code, out, err = run(capsys, "store", "import", "--config", "websvc.toml", "export.toml")
    assert (code, out, err) == (
        0,
        "imported: nothing (no [tenants.NAME] table in export.toml)\n",
        "",
    )
    assert versions() == (0, {})


# -- admin token --------------------------------------------------------------------


def test_admin_token_prints_the_token_alone_and_its_id_on_stderr(
    ready: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run(capsys, "store", "import", "--config", "websvc.toml", "tenants.toml")
    code, out, err = run(capsys, "admin", "token", "--config", "websvc.toml", "--tenant", "beta")
    assert code == 0
    token = out.removesuffix("\n")
    assert out == token + "\n" and len(token) >= 40 and token.isprintable() and " " not in token
    assert err.startswith("token id: ") and err.count("\n") == 1
    token_id = err.removeprefix("token id: ").strip()
    with db() as store:
        assert store.find_admin_token(sha(token)) == ("beta", token_id)
        assert [t.id for t in store.admin_tokens("beta")] == [token_id]
        entry = store.audit_entries(limit=1)[0]
        assert (entry.actor, entry.tenant, entry.status) == ("cli", "beta", 201)
    assert versions() == (2, {"acme": 1, "beta": 1})  # a token is not config
    # a new token every time
    code, again, _ = run(capsys, "admin", "token", "--config", "websvc.toml", "--tenant", "beta")
    assert code == 0 and again != out


def test_admin_token_for_an_unknown_tenant(ready: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "admin", "token", "--config", "websvc.toml", "--tenant", "nope")
    assert (code, out, err) == (
        2,
        "",
        "websvc admin token: no tenant named 'nope' in sqlite:///websvc.db\n",
    )
    code, _, err = run(capsys, "admin", "token", "--config", "websvc.toml")
    assert code == 2 and "--tenant" in err  # argparse: required


# -- admin serve (in process: refusals before serving) --------------------------------


@pytest.mark.parametrize("port", ["0", "65536", "http", "-1"])
def test_admin_serve_refuses_a_bad_port(
    ready: Path, capsys: pytest.CaptureFixture[str], port: str
) -> None:
    code, out, err = run(capsys, "admin", "serve", "--config", "websvc.toml", f"--port={port}")
    assert (code, out, err) == (
        2,
        "",
        f"websvc admin serve: --port {port} is not a port (1-65535)\n",
    )


def test_admin_serve_refuses_a_store_it_cannot_open(
    here: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "admin", "serve", "--config", "websvc.toml", "--port", "1")
    assert (code, out) == (3, "")
    assert err.startswith("websvc admin serve: store unavailable: ") and err.count("\n") == 1


# -- real processes -------------------------------------------------------------------


def _env() -> dict[str, str]:
    env = {**os.environ, "WEBSVC_DISABLE_PLUGIN_AUTOLOAD": "1", "PYTHONPATH": str(ROOT)}
    env.pop("WEBSVC_CONFIG", None)
    return env


def _websvc(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "websvc", *args],
        capture_output=True,
        encoding="utf-8",
        timeout=60,
        env=_env(),
        cwd=cwd,
    )


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "websvc.toml").write_text(STORE_CONFIG)
    (tmp_path / "tenants.toml").write_text(TENANTS)
    return tmp_path


def test_the_store_commands_as_processes(folder: Path) -> None:
    done = _websvc(folder, "store", "init", "--config", "websvc.toml")
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "websvc.toml: store sqlite:///websvc.db ready (schema 1)\n",
        "",
    )
    assert (folder / "websvc.db").is_file()  # relative to the current directory

    done = _websvc(folder, "store", "import", "--config", "websvc.toml", "tenants.toml")
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        "imported: acme (version 1), beta (version 1)\n",
        "",
    )

    done = _websvc(folder, "store", "export", "--config", "websvc.toml")
    assert (done.returncode, done.stderr) == (0, "")
    assert done.stdout.startswith("# websvc store export of sqlite:///websvc.db: 2 tenants")
    (folder / "export.toml").write_text(done.stdout)
    with SQLiteStore(folder / "websvc.db") as store:
        seq = store.change_seq()
    done = _websvc(folder, "store", "import", "--config", "websvc.toml", "export.toml")
    assert (done.returncode, done.stdout) == (0, "imported: acme (unchanged), beta (unchanged)\n")
    with SQLiteStore(folder / "websvc.db") as store:
        assert store.change_seq() == seq
        assert store.list_tenants() == [("acme", 1), ("beta", 1)]

    done = _websvc(folder, "admin", "token", "--config", "websvc.toml", "--tenant", "acme")
    assert done.returncode == 0
    token = done.stdout.removesuffix("\n")
    assert "\n" not in token and len(token) >= 40
    assert done.stderr.startswith("token id: ") and done.stderr.count("\n") == 1
    with SQLiteStore(folder / "websvc.db") as store:
        assert store.find_admin_token(sha(token)) == ("acme", done.stderr[10:].strip())

    done = _websvc(folder, "admin", "token", "--config", "websvc.toml", "--tenant", "nope")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "websvc admin token: no tenant named 'nope' in sqlite:///websvc.db\n"


def test_store_commands_without_store_as_processes(folder: Path) -> None:
    (folder / "file.toml").write_text(TENANTS)
    done = _websvc(folder, "store", "init", "--config", "file.toml")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.startswith("file.toml: store: missing") and done.stderr.count("\n") == 1


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _get(port: int, path: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


@pytest.fixture
def admin_server(folder: Path) -> Iterator[tuple[subprocess.Popen[str], int, str]]:
    """``websvc admin serve`` on a free port of a store with acme and beta, and a token of beta."""
    assert _websvc(folder, "store", "init", "--config", "websvc.toml").returncode == 0
    assert (
        _websvc(folder, "store", "import", "--config", "websvc.toml", "tenants.toml").returncode
        == 0
    )
    token = _websvc(folder, "admin", "token", "--config", "websvc.toml", "--tenant", "beta").stdout
    port = _free_port()
    with open(folder / "serve.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "websvc", "admin", "serve", "--config", "websvc.toml",
             "--port", str(port)],
            stdout=subprocess.PIPE, stderr=log, text=True, env=_env(), cwd=folder,
        )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # printed once the socket listens
        assert line == (
            "websvc admin: serving the admin API of websvc.toml (sqlite:///websvc.db)"
            f" at http://127.0.0.1:{port}/admin/v1/\n"
        ), (folder / "serve.log").read_text()
        yield proc, port, token.strip()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        assert proc.stdout is not None
        proc.stdout.close()


def test_admin_serve_answers_and_stops_on_sigterm(
    admin_server: tuple[subprocess.Popen[str], int, str], folder: Path
) -> None:
    proc, port, beta_token = admin_server
    status, document = _get(port, "/admin/v1/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.1")
    assert _get(port, "/admin/v1/whoami", OPERATOR_TOKEN) == (
        200,
        {"role": "operator", "tenant": None},
    )
    assert _get(port, "/admin/v1/whoami", beta_token) == (200, {"role": "tenant", "tenant": "beta"})
    assert _get(port, "/admin/v1/whoami", "wrong")[0] == 401
    status, body = _get(port, "/admin/v1/tenants/beta/cors", beta_token)
    assert (status, body["version"], len(body["rules"])) == (200, 1, 1)

    # a second server on the same port: one line, exit 2, before serving
    done = _websvc(folder, "admin", "serve", "--config", "websvc.toml", "--port", str(port))
    assert (done.returncode, done.stdout, done.stderr) == (
        2,
        "",
        f"websvc admin serve: cannot listen on 127.0.0.1:{port}: address already in use\n",
    )

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=15) == 0
    log = (folder / "serve.log").read_text()
    assert '"GET /admin/v1/whoami HTTP/1.1" 200' in log
    assert "Traceback" not in log
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the port is free again
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                time.sleep(0.1)
        except OSError:
            break
    else:
        pytest.fail("the port still answers after SIGTERM")


def test_open_store_url_is_relative_to_the_current_directory(here: Path) -> None:
    # the doc's note, as the commands rely on it
    with open_store("sqlite:///websvc.db") as store:
        assert isinstance(store, SQLiteStore)
        assert store.path == str(here / "websvc.db")
