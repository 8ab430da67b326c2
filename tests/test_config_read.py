"""Reading a config file fails in one way only: a ConfigError, one line per problem (SPEC §5).

Each bad file below goes through the real command line, ``websvc check``,
``websvc serve`` and ``websvc explain`` in a subprocess: exit status 2,
exactly the expected line, and never a traceback. Plugin modules named by
the configs are written into ``tmp_path`` and put on ``PYTHONPATH``.
"""

from __future__ import annotations

import builtins
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pytest

from websvc.config import ConfigError, decode_text, load_config
from websvc.manager import AUTOLOAD_ENV
from websvc.tools.boomi import BoomiImportError, read_json

if sys.version_info >= (3, 11):  # pragma: no cover - version dependent
    import tomllib
else:  # pragma: no cover - version dependent
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
BOM = b"\xef\xbb\xbf"

#: Plugin modules the configs name, written to tmp_path/plugins.
PLUGINS = {
    "wsread_exit": "raise SystemExit(3)\n",
    "wsread_base": (
        'class Boom(BaseException):\n    pass\n\nraise Boom("first line\\nsecond line\\x1b[31m")\n'
    ),
    "wsread_hooks": """\
import pluggy

hookimpl = pluggy.HookimplMarker("websvc")


class WrongSignature:
    @hookimpl
    def websvc_lookup_rule(self, request, bogus):
        return None


class UnknownHook:
    @hookimpl
    def websvc_no_such_hook(self):
        return None


class Unhashable:
    __hash__ = None  # and comparing it raises

    def __eq__(self, other):
        raise RuntimeError("do not compare me")

    @hookimpl
    def websvc_lookup_rule(self, request):
        return None


wrong_signature = WrongSignature()
unknown_hook = UnknownHook()
unhashable = Unhashable()
""",
}


@dataclass(frozen=True)
class Bad:
    """A config file, what ``check`` prints for it, and how ``check`` exits."""

    id: str
    content: bytes | None  # None: make() builds the path
    line: str | re.Pattern[str]  # with {path} for the file's path
    status: int = 2
    make: Callable[[Path], None] | None = field(default=None, compare=False)
    unprivileged: bool = False  # run without the power to read a mode-000 file


def _toml_error(text: str) -> str:
    """tomllib's own words for *text* (they differ a little between versions)."""
    try:
        tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return f"{{path}}: invalid TOML: {exc}"
    raise AssertionError(f"{text!r} is valid TOML")


def _unreadable(path: Path) -> None:
    path.write_bytes(b"[server]\n")
    path.chmod(0)


def _plugins(ref: str) -> bytes:
    return f'[tenants.acme]\nplugins = ["{ref}"]\n'.encode()


def _registered(ref: str, why: str) -> re.Pattern[str]:
    prefix = f'{{path}}: tenants.acme.plugins: "{ref}" cannot be registered: '
    return re.compile(re.escape(prefix) + why)


CASES = [
    Bad(
        "latin-1",
        b'[server]\napi_type = "advanced"\n# G\xfcnter, Z\xfcrich\n',
        "{path}: line 3, column 4: byte 0xfc is not UTF-8 (save the file as UTF-8)",
    ),
    Bad(
        # columns count characters, not bytes: ü and ë are two bytes each
        "latin-1-after-utf-8",
        "[server]\n# ünë ".encode() + b"caf\xe9\n",
        "{path}: line 2, column 10: byte 0xe9 is not UTF-8 (save the file as UTF-8)",
    ),
    Bad(
        "truncated-inside-a-character",
        "[server]\n# Zü".encode()[:-1],
        "{path}: line 2, column 4: the file ends inside a UTF-8 character (byte 0xc3):"
        " a truncated file? (save the file as UTF-8)",
    ),
    Bad(
        "utf-16",
        "[server]\n".encode("utf-16"),
        "{path}: line 1, column 1: byte 0xff is not UTF-8 (save the file as UTF-8)",
    ),
    Bad(
        "bom-accepted",
        BOM + b"[server]\npreflight_status = 204\n",
        "{path}: ok (0 tenants, 0 CORS rules, 0 APIs)",
        0,
    ),
    Bad("empty", b"", "{path}: the file is empty (no settings at all)"),
    Bad("only-bom", BOM, "{path}: the file is empty (no settings at all)"),
    Bad(
        "only-comments",
        b"\n# websvc config\n   \n\t\n",
        "{path}: the file is empty (no settings at all)",
    ),
    Bad(
        "truncated-mid-line",
        b'[server]\napi_type = "adv',
        _toml_error('[server]\napi_type = "adv'),
    ),
    Bad(
        "truncated-mid-table",
        b"[server]\n[tenants.ac",
        _toml_error("[server]\n[tenants.ac"),
    ),
    Bad("bom-then-invalid-toml", BOM + b"[server\n", _toml_error("[server\n")),
    Bad(
        "nested-too-deeply",
        b"a = " + b"[" * 5000 + b"]" * 5000 + b"\n",
        "{path}: invalid TOML: nested too deeply",
    ),
    Bad(
        "integer-too-long",
        b"[server]\npreflight_status = 2" + b"0" * 5000 + b"\n",
        "{path}: invalid TOML: Exceeds the limit (4300 digits) for integer string conversion",
    ),
    Bad(
        "directory",
        None,
        "{path}: cannot read: Is a directory",
        make=lambda path: path.mkdir(),
    ),
    Bad("missing", None, "{path}: cannot read: No such file or directory", make=lambda _: None),
    Bad(
        "no-permission",
        b"[server]\n",
        "{path}: cannot read: Permission denied",
        make=_unreadable,
        unprivileged=True,
    ),
    Bad(
        "plugin-raises-SystemExit-at-import",
        _plugins("wsread_exit:plugin"),
        '{path}: tenants.acme.plugins: "wsread_exit:plugin" cannot be imported: SystemExit: 3',
    ),
    Bad(
        "plugin-raises-BaseException-at-import",
        _plugins("wsread_base:plugin"),
        '{path}: tenants.acme.plugins: "wsread_base:plugin" cannot be imported: '
        "Boom: first line; second line\\x1b[31m",
    ),
    Bad(
        "api-raises-SystemExit-at-import",
        b'[[apis]]\npath = "/x"\napp = "wsread_exit:app"\n',
        '{path}: apis[0].app: "wsread_exit:app" cannot be imported: SystemExit: 3',
    ),
    Bad(
        "plugin-wrong-hook-signature",
        _plugins("wsread_hooks:wrong_signature"),
        _registered(
            "wsread_hooks:wrong_signature",
            r"PluginValidationError: .*websvc_lookup_rule.*\{'bogus'\}.*",
        ),
    ),
    Bad(
        "plugin-unknown-hook",
        _plugins("wsread_hooks:unknown_hook"),
        _registered(
            "wsread_hooks:unknown_hook",
            r"PluginValidationError: unknown hook 'websvc_no_such_hook' in plugin .*",
        ),
    ),
    Bad(
        "plugin-unhashable-and-uncomparable",
        _plugins("wsread_hooks:unhashable"),
        '{path}: tenants.acme.plugins: ["wsread_hooks:unhashable"] cannot be registered: '
        "RuntimeError: do not compare me",
    ),
    Bad(
        "plugin-already-a-default",
        _plugins("websvc.plugins:identify"),
        '{path}: tenants.acme.plugins: "websvc.plugins:identify" is already registered '
        '(as "websvc.plugins.identify")',
    ),
]
BAD = [case for case in CASES if case.status == 2]


def _setup(tmp_path: Path, case: Bad) -> Path:
    plugins = tmp_path / "plugins"
    if not plugins.exists():
        plugins.mkdir()
        for name, text in PLUGINS.items():
            (plugins / f"{name}.py").write_text(text, encoding="utf-8")
    path = tmp_path / f"{case.id}.toml"
    if case.make is not None:
        case.make(path)
    else:
        assert case.content is not None
        path.write_bytes(case.content)
    return path


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("WEBSVC_CONFIG", "PYTHONPATH")}
    env[AUTOLOAD_ENV] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "plugins"), str(ROOT)])
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def _nobody_can_run_websvc(env: dict[str, str]) -> bool:
    probe = ["runuser", "-u", "nobody", "--", sys.executable, "-c", "import websvc.cli"]
    try:
        done = subprocess.run(probe, env=env, cwd="/", capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0


def _unprivileged(env: dict[str, str]) -> list[str]:
    """A command prefix under which a mode-000 file cannot be read.

    root reads any file whatever its mode, so as root the command runs as
    ``nobody`` (when nobody can run this Python and import websvc), or else
    as root without the capabilities that bypass file modes.
    """
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") and _nobody_can_run_websvc(env):
        return ["runuser", "-u", "nobody", "--"]
    if shutil.which("setpriv"):
        caps = "-dac_override,-dac_read_search"
        return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", "--"]
    pytest.fail("running as root with neither runuser (for nobody) nor setpriv")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _websvc(
    case: Bad, path: Path, command: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    args = {
        "check": ["check", "--config", str(path)],
        "serve": ["serve", "--config", str(path), "--port", str(_free_port())],
        "explain": [
            "explain",
            "--config",
            str(path),
            "--origin",
            "https://a.com",
            "--method",
            "GET",
        ],
    }[command]
    prefix = _unprivileged(env) if case.unprivileged else []
    return subprocess.run(
        [*prefix, sys.executable, "-m", "websvc", *args],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,  # a serve that listens would never end
    )


def _expected(case: Bad, path: Path) -> str | re.Pattern[str]:
    if isinstance(case.line, str):
        return case.line.format(path=path)
    return re.compile(case.line.pattern.replace(re.escape("{path}"), re.escape(str(path))))


def _problems(
    case: Bad, path: Path, command: str, done: subprocess.CompletedProcess[str]
) -> list[str]:
    """What is wrong with one run (empty when it behaved)."""
    # serve reports on stderr (its stdout is for "serving ..."), the others on stdout
    lines = (done.stdout + done.stderr if command == "serve" else done.stdout).splitlines()
    expected = _expected(case, path)
    wrong: list[str] = []
    if done.returncode != 2:
        wrong.append(f"exit status {done.returncode}, not 2")
    if "Traceback" in done.stdout + done.stderr:
        wrong.append("a traceback")
    if command == "serve" and "serving" in done.stdout:
        wrong.append("it started serving")
    one = len(lines) == 1 and (
        lines[0] == expected if isinstance(expected, str) else expected.fullmatch(lines[0])
    )
    if not one:
        wrong.append(f"printed {lines!r}, expected one line {expected!r}")
    return [f"{case.id} ({command}): {why}" for why in wrong]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_check_prints_one_line(case: Bad, tmp_path: Path) -> None:
    path = _setup(tmp_path, case)
    done = _websvc(case, path, "check", _env(tmp_path))
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert done.returncode == case.status, (done.stdout, done.stderr)
    expected = _expected(case, path)
    lines = done.stdout.splitlines()
    assert len(lines) == 1, lines
    if isinstance(expected, str):
        assert lines[0] == expected
    else:
        assert expected.fullmatch(lines[0]), (lines[0], expected.pattern)
    assert done.stderr == ""


@pytest.mark.parametrize("command", ["serve", "explain"])
def test_serve_and_explain_refuse_with_the_same_line(command: str, tmp_path: Path) -> None:
    env = _env(tmp_path)
    runs = [(case, _setup(tmp_path, case)) for case in BAD]
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(lambda run: _websvc(run[0], run[1], command, env), runs))
    wrong = [
        problem
        for (case, path), result in zip(runs, done, strict=True)
        for problem in _problems(case, path, command, result)
    ]
    assert not wrong, "\n".join(wrong)


def test_bom_is_dropped_and_the_file_read_normally(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(BOM + b'[server]\npreflight_status = 204\n[tenants."\xc3\xa9"]\n')
    config = load_config(path)
    assert config.server.preflight_status == 204
    assert [t.name for t in config.tenants] == ["\u00e9"]
    assert config.text == '[server]\npreflight_status = 204\n[tenants."\u00e9"]\n'


def test_the_file_is_opened_and_read_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "once.toml"
    path.write_text("[server]\npreflight_status = 204\n", encoding="utf-8")
    opened: list[str] = []
    real_open = builtins.open

    def counting_open(file: Any, *args: Any, **kwargs: Any) -> IO[Any]:
        if str(file) == str(path):
            opened.append(str(file))
        return real_open(file, *args, **kwargs)  # type: ignore[no-any-return]

    monkeypatch.setattr(builtins, "open", counting_open)
    assert load_config(path).server.preflight_status == 204
    assert opened == [str(path)]


def test_text_given_is_read_instead_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"  # never opened
    config = load_config(path, text="[server]\npreflight_status = 204\n")
    assert (config.source, config.server.preflight_status) == (str(path), 204)
    with pytest.raises(ConfigError) as info:
        load_config(path, text="# nothing\n")
    assert info.value.problems == [f"{path}: the file is empty (no settings at all)"]


def test_an_empty_dict_is_still_a_valid_config() -> None:
    assert load_config({}).tenants == ()


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        pytest.param(b"\xfc", "line 1, column 1: byte 0xfc", id="first-byte"),
        pytest.param(b"a\nbc\n\xfc", "line 3, column 1: byte 0xfc", id="after-newlines"),
        pytest.param(
            "a\n€€".encode() + b"\x80", "line 2, column 3: byte 0x80", id="after-3-byte-chars"
        ),
        pytest.param(BOM + b"ab\xff", "line 1, column 3: byte 0xff", id="bom-not-counted"),
        pytest.param(b"\xed\xa0\x80", "line 1, column 1: byte 0xed", id="encoded-surrogate"),
        pytest.param(b"\xc0\xaf", "line 1, column 1: byte 0xc0", id="overlong"),
    ],
)
def test_decode_text_names_the_first_bad_byte(raw: bytes, why: str) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(why) + " is not UTF-8"):
        decode_text(raw)


# -- websvc import-boomi reads its JSON the same way ----------------------------


def test_import_boomi_names_line_and_column_of_a_non_utf8_byte(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_bytes(b'{\n  "atomId": "Z\xfcrich"\n}\n')
    env = _env(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "websvc", "import-boomi", str(path), "--tenant", "acme"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == (
        f"{path}: line 2, column 15: byte 0xfc is not UTF-8 (save the file as UTF-8)\n"
    )
    assert "Traceback" not in done.stderr


def test_import_boomi_accepts_a_bom(tmp_path: Path) -> None:
    path = tmp_path / "in.json"
    path.write_bytes(BOM + (ROOT / "tests/data/boomi/minimal.json").read_bytes())
    assert read_json(str(path))["corsConfiguration"]["origins"] == [
        {"domain": "https://portal.example.org"}
    ]


def test_read_json_of_a_directory_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(BoomiImportError) as info:
        read_json(str(tmp_path))
    assert info.value.problems == [f"{tmp_path}: cannot read: Is a directory"]
