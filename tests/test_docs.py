"""The docs stay true to the code: hooks, config keys, commands, examples, sample output.

Conventions the docs follow so that this file can check them:

* a fenced ``toml`` block whose first line is ``# snippet`` is a partial example
  and is skipped; every other ``toml`` block in README.md and docs/config.md is
  a complete config that must load;
* a fenced block whose first line is ``# file: NAME`` is saved as ``NAME`` next
  to the commands of the same page (``toml`` configs, ``python`` modules);
* in a ``console`` block, every ``$ websvc check`` and ``$ websvc explain``
  command is run and its output compared with the lines below it, and
  ``$ echo $?`` with its exit status; other commands are not run;
* in docs/plugins.md, the ``python`` files named ``test_*.py`` are run;
* a block whose first line is ``# snippet: PATH`` (optionally followed by a
  parenthesised note) quotes the repository file ``PATH`` verbatim.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import re
import shlex
import sys
from pathlib import Path
from typing import NamedTuple

import pytest
from pydantic import BaseModel

from websvc import cli, hookspecs, schema
from websvc.config import load_config, render
from websvc.cors import REASONS
from websvc.manager import AUTOLOAD_ENV, DEFAULT_PLUGINS, ENTRY_POINT_GROUP

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
_FILE = re.compile(r"# file: (\S+)")
_QUOTE = re.compile(r"# snippet: (\S+)(?: \(.*\))?")
_RUN = ("websvc check", "websvc explain")


class Block(NamedTuple):
    page: Path
    line: int
    lang: str
    text: str

    @property
    def first(self) -> str:
        return self.text.split("\n", 1)[0].strip()

    @property
    def id(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def _blocks(page: Path, lang: str) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    return [
        Block(page, text.count("\n", 0, m.start()) + 1, m.group(1), m.group(2))
        for m in _FENCE.finditer(text)
        if m.group(1) == lang
    ]


def _files(page: Path) -> dict[str, str]:
    """The ``# file: NAME`` blocks of a page, by name."""
    out: dict[str, str] = {}
    for m in _FENCE.finditer(page.read_text(encoding="utf-8")):
        named = _FILE.fullmatch(m.group(2).split("\n", 1)[0].strip())
        if named:
            out[named.group(1)] = m.group(2)
    return out


def _doc(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


# -- reference pages name everything the code has ---------------------------------


HOOKS = sorted(
    name
    for name, func in inspect.getmembers(hookspecs, inspect.isfunction)
    if name.startswith("websvc_")
)


def test_hookspecs_found() -> None:
    assert "websvc_lookup_rule" in HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_section_in_hooks_md(hook: str) -> None:
    documented = f"## `{hook}`" in _doc("hooks.md")
    assert documented, f"docs/hooks.md has no section for {hook}"


@pytest.mark.parametrize(
    "name",
    [*DEFAULT_PLUGINS, *REASONS, AUTOLOAD_ENV, ENTRY_POINT_GROUP, "websvc.tenant", "websvc.user"],
)
def test_plugins_reasons_and_switches_are_in_hooks_md(name: str) -> None:
    documented = f"`{name}`" in _doc("hooks.md")
    assert documented, f"docs/hooks.md does not name `{name}`"


#: Each table's heading in docs/config.md, and the model that declares its keys.
KEY_TABLES = {
    "`[server]`": schema.ServerTable,
    "`[cors.defaults]`": schema.CorsDefaultsTable,
    "`[[apis]]`": schema.ApiTable,
    "`[tenants.NAME]`": schema.TenantTable,
    "`[[tenants.NAME.users]]`": schema.UserTable,
    "`[[tenants.NAME.cors]]`": schema.CorsRuleTable,
    "`[store]`": schema.StoreTable,
    "`[admin]`": schema.AdminTable,
}
_ROW = re.compile(r"^\| `(\w+)` \| .*? \| (.*?) \| (.*?) \|$", re.MULTILINE)


def _key_rows(heading: str) -> dict[str, tuple[str, str]]:
    """The rows of the key table under *heading*: key -> (default cell, meaning cell)."""
    parts = re.split(r"^#{2,3} (.*)$", _doc("config.md"), flags=re.MULTILINE)
    (body,) = [
        text
        for head, text in zip(parts[1::2], parts[2::2], strict=True)
        if head.startswith(heading)
    ]
    return {key: (default, meaning) for key, default, meaning in _ROW.findall(body)}


def _plain(markdown: str) -> str:
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", markdown)
    return text.replace("`", "").replace("**", "")


@pytest.mark.parametrize(
    ("heading", "model"), list(KEY_TABLES.items()), ids=[m.__name__ for m in KEY_TABLES.values()]
)
def test_config_md_key_table_is_the_declaration(heading: str, model: type[BaseModel]) -> None:
    rows = _key_rows(heading)
    assert list(rows) == list(model.model_fields), f"docs/config.md {heading}: keys differ"
    for key, info in model.model_fields.items():
        default_cell, meaning = rows[key]
        if info.is_required():
            assert "required" in default_cell, (heading, key)
        elif (default := info.get_default(call_default_factory=True)) is not None:
            assert f"`{render(default)}`" in default_cell, (heading, key, default)
        doc = (info.description or "").rstrip(".")
        assert doc and _plain(meaning).lower().startswith(doc.lower()), (heading, key, doc)


@pytest.mark.parametrize("key", [*schema.ConfigTable.model_fields, *schema.CorsTable.model_fields])
def test_every_section_is_in_config_md(key: str) -> None:
    assert f"`{key}`" in _doc("config.md")


def _subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli._parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("websvc has no subcommands")


COMMANDS = sorted(_subcommands())


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_and_flag_is_in_cli_md(command: str) -> None:
    page = _doc("cli.md")
    documented = f"## `websvc {command}`" in page
    assert documented, f"docs/cli.md has no section for websvc {command}"
    flags = [
        flag
        for action in _subcommands()[command]._actions
        for flag in action.option_strings
        if flag not in ("-h", "--help")
    ]
    missing = [flag for flag in flags if f"`{flag}" not in page]
    assert not missing, f"docs/cli.md does not name websvc {command} {missing}"


def test_readme_starts_with_serve_and_test() -> None:
    top = "\n".join(README.read_text(encoding="utf-8").splitlines()[:30])
    assert "scripts/serve" in top
    assert "scripts/test" in top


@pytest.mark.parametrize("page", sorted(DOCS.glob("*.md")), ids=lambda p: p.name)
def test_readme_links_every_page(page: Path) -> None:
    linked = f"(docs/{page.name})" in README.read_text(encoding="utf-8")
    assert linked, f"README.md does not link docs/{page.name}"


# -- examples work ------------------------------------------------------------------


TOML_PAGES = (README, DOCS / "config.md")
TOML_BLOCKS = [block for page in TOML_PAGES for block in _blocks(page, "toml")]


@pytest.mark.parametrize("page", TOML_PAGES, ids=lambda p: p.name)
def test_page_has_a_complete_toml_example(page: Path) -> None:
    assert any(block.first != "# snippet" for block in _blocks(page, "toml"))


@pytest.mark.parametrize("block", TOML_BLOCKS, ids=lambda b: b.id)
def test_toml_example_loads(block: Block, tmp_path: Path) -> None:
    if block.first == "# snippet":
        pytest.skip("marked # snippet")
    path = tmp_path / "example.toml"
    path.write_text(block.text, encoding="utf-8")
    load_config(path)  # raises ConfigError naming every problem


QUOTES = [
    block
    for page in (README, *sorted(DOCS.glob("*.md")))
    for lang in ("python", "toml", "sh")
    for block in _blocks(page, lang)
    if _QUOTE.fullmatch(block.first)
]


def test_plugins_md_quotes_the_example_plugin() -> None:
    assert any(block.page.name == "plugins.md" for block in QUOTES)


@pytest.mark.parametrize("block", QUOTES, ids=lambda b: b.id)
def test_quoted_snippet_is_verbatim(block: Block) -> None:
    match = _QUOTE.fullmatch(block.first)
    assert match is not None
    body = block.text.split("\n", 1)[1]
    source = (ROOT / match.group(1)).read_text(encoding="utf-8")
    assert body in source, f"{block.id} no longer matches {match.group(1)}"


TRANSCRIPTS = [
    block
    for page in (README, DOCS / "config.md", DOCS / "cli.md")
    for block in _blocks(page, "console")
    if any(line.startswith(tuple(f"$ {run}" for run in _RUN)) for line in block.text.splitlines())
]


def test_cli_md_has_transcripts() -> None:
    assert sum(block.page.name == "cli.md" for block in TRANSCRIPTS) >= 3


@pytest.mark.parametrize("block", TRANSCRIPTS, ids=lambda b: b.id)
def test_console_transcript_matches_real_output(
    block: Block,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for name, text in _files(block.page).items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WEBSVC_CONFIG", raising=False)
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    status: int | None = None
    for command, shown in _commands(block.text):
        if command == "echo $?":
            assert status is not None, f"{block.id}: echo $? after no websvc command"
            assert shown == [str(status)], f"{block.id}: exit status of the command above"
        elif command.startswith(_RUN):
            capsys.readouterr()
            try:
                status = cli.main(shlex.split(command)[1:])
            except SystemExit as exc:  # argparse usage errors
                status = int(exc.code or 0)
            out = capsys.readouterr().out.rstrip("\n").splitlines()
            assert out == shown, f"{block.id}: $ {command}"


def _commands(text: str) -> list[tuple[str, list[str]]]:
    """Split a console block into (command, output lines) pairs."""
    out: list[tuple[str, list[str]]] = []
    for line in text.rstrip("\n").splitlines():
        if line.startswith("$ "):
            out.append((line[2:].strip(), []))
        elif out:
            out[-1][1].append(line.rstrip())
    return out


PLUGIN_TESTS = sorted(name for name in _files(DOCS / "plugins.md") if name.startswith("test_"))


def test_plugins_md_has_tests() -> None:
    assert "test_apikey_auth.py" in PLUGIN_TESTS


@pytest.mark.parametrize("filename", PLUGIN_TESTS)
def test_plugin_example_tests_pass(
    filename: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = _files(DOCS / "plugins.md")
    modules = [name.removesuffix(".py") for name in files if name.endswith(".py")]
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    for name in modules:
        monkeypatch.delitem(sys.modules, name, raising=False)
    try:
        module = importlib.import_module(filename.removesuffix(".py"))
        tests = [
            func
            for name, func in inspect.getmembers(module, inspect.isfunction)
            if name.startswith("test_") and func.__module__ == module.__name__
        ]
        assert tests, f"{filename} defines no test"
        for test in tests:
            test()
    finally:
        for name in modules:
            sys.modules.pop(name, None)
