"""Load and validate a websvc config (TOML file or dict of the same shape).

:func:`load_config` returns a :class:`Config` of frozen dataclasses, every
value normalised (domains lower-cased and IDNA-encoded, methods normalised,
ports and protocols resolved into ``(scheme, port)`` pairs), or raises
:class:`ConfigError` naming **every** problem at once, one line each::

    websvc.toml: tenants.acme.cors[2].ports: 70000 is not a port (1-65535)

The keys are declared in :mod:`websvc.schema` (which checks each key) and the
checks between keys are in :mod:`websvc.checks`; this module reads the file,
runs both and builds the result. Nothing here runs per request:
:mod:`websvc.registry` compiles the result.
"""

from __future__ import annotations

import codecs
import hashlib
import importlib
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from websvc import checks
from websvc.checks import Checker
from websvc.configtypes import (
    ApiConfig,
    Config,
    CorsDefaults,
    RuleConfig,
    ServerConfig,
    TenantConfig,
    UserConfig,
)
from websvc.domains import Domain
from websvc.problems import NO_VALUE as NO_VALUE
from websvc.problems import Problem as Problem
from websvc.problems import describe as describe
from websvc.problems import key_path as key_path
from websvc.problems import place, validated
from websvc.problems import render as render
from websvc.schema import API_TYPES as API_TYPES
from websvc.schema import BUILTIN_AUTHENTICATION as BUILTIN_AUTHENTICATION
from websvc.schema import DEFAULT_METHODS as DEFAULT_METHODS
from websvc.schema import DEFAULT_REQUEST_HEADERS as DEFAULT_REQUEST_HEADERS
from websvc.schema import LOG_FORMATS as LOG_FORMATS
from websvc.schema import MAX_MAX_AGE as MAX_MAX_AGE
from websvc.schema import ConfigTable, CorsRuleTable, Memo, ServerTable, TenantTable
from websvc.syntax import normalise_host, normalize_method

__all__ = [
    "ApiConfig",
    "Config",
    "ConfigError",
    "ConfigSource",
    "CorsDefaults",
    "RuleConfig",
    "ServerConfig",
    "TenantConfig",
    "UserConfig",
    "check_rules",
    "decode_text",
    "import_object",
    "load_config",
    "parse_toml",
    "read_config_text",
]

if sys.version_info >= (3, 11):  # pragma: no cover - version dependent
    import tomllib
else:  # pragma: no cover - version dependent
    import tomli as tomllib

_V = TypeVar("_V")


class ConfigError(Exception):
    """A config was refused: ``problems`` holds one line per problem, ``items`` the
    :class:`~websvc.problems.Problem` objects (for the admin API's JSON)."""

    def __init__(self, problems: list[str], items: list[Problem] | None = None) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
        self.items = items if items is not None else [Problem("", NO_VALUE, p) for p in problems]

    @classmethod
    def of(cls, label: str, items: list[Problem]) -> ConfigError:
        """The error for *items*, found in the file (or ``<dict>``) *label*."""
        return cls([item.line(label) for item in items], items)


ConfigSource = str | Path | Mapping[str, Any] | None


def load_config(
    source: ConfigSource,
    *,
    authentication_names: Iterable[str] = BUILTIN_AUTHENTICATION,
    demo_apis: bool = True,
    text: str | None = None,
) -> Config:
    """Read and validate *source*: a TOML path, a dict, or None for the demo.

    With *text*, that string is taken as the content of the file *source*
    (which is then not read). Raises :class:`ConfigError` listing every
    problem, each line starting with the file name (``<dict>`` for a dict)
    and the key path; no other exception escapes.
    """
    if source is None:
        from websvc.demo import DEMO_CONFIG

        label, data, text = "<demo>", dict(DEMO_CONFIG), None
        if not demo_apis:
            del data["apis"]
    elif isinstance(source, Mapping):
        label, data, text = "<dict>", dict(source), None
    else:
        label = str(source)
        if text is None:
            text = read_config_text(source)
        data = parse_toml(label, text)
    loader = _Loader(Memo(authentication_names))
    try:
        config = loader.config(label, data, text)
    except RecursionError:
        raise _error(label, "the config is nested too deeply") from None
    except Exception as exc:  # pragma: no cover - a bug; still one line, never a traceback
        why = f"cannot be validated: internal error ({describe(exc)}); please report it"
        raise _error(label, why) from None
    if loader.problems:
        raise ConfigError.of(label, loader.problems)
    return config


class Rules(NamedTuple):
    """What :func:`check_rules` found: each rule (None when refused), problems, warnings."""

    rules: list[RuleConfig | None]
    problems: list[Problem]
    warnings: list[Problem]


def check_rules(rules: object, *, at: str = "rules", conflicts: bool = True) -> Rules:
    """Validate a list of rules (``[[tenants.NAME.cors]]`` tables) as :func:`load_config` does.

    Problems are named from *at* (``rules[2].max_age``); with *conflicts*,
    two rules that conflict are a problem too. For the admin API and the
    Boomi importer.
    """
    loader = _Loader(Memo())
    checked = validated(list[CorsRuleTable], rules, loader.memo, (at,))
    tables: list[CorsRuleTable | None] = checked.value or []
    checker = Checker(loader.memo, checked.bad)
    ok = set(checker.rules(at, tables, conflicts=conflicts))
    out = [loader.rule(rule) if i in ok and rule else None for i, rule in enumerate(tables)]
    return Rules(out, checked.problems + checker.problems, checker.warnings)


def read_config_text(source: str | Path) -> str:
    """The text of the config file *source*, read at once; ConfigError (one line) if it cannot be.

    The bytes are read with one ``read`` (a file replaced meanwhile is seen
    whole, old or new) and must be UTF-8; a leading byte-order mark is dropped.
    """
    label = str(source)
    try:
        with open(source, "rb") as fh:
            raw = fh.read()
    except OSError as exc:  # missing, a directory, no permission, an I/O error
        raise _error(label, f"cannot read: {exc.strerror or exc}") from None
    except (ValueError, MemoryError) as exc:  # a NUL in the name; a file too large to hold
        raise _error(label, f"cannot read: {describe(exc)}") from None
    try:
        return decode_text(raw)
    except ValueError as exc:
        raise _error(label, str(exc)) from None


def decode_text(raw: bytes) -> str:
    """*raw* as UTF-8 text, without a leading byte-order mark.

    Raises ValueError naming the line and column (from 1, in characters, as
    TOML errors count) of the first byte that is not UTF-8.
    """
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8) :]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8")
        line = before.count("\n") + 1
        column = len(before) - before.rfind("\n")
        where = f"line {line}, column {column}"
        byte = raw[exc.start]
        if exc.reason == "unexpected end of data":
            raise ValueError(
                f"{where}: the file ends inside a UTF-8 character (byte 0x{byte:02x}):"
                " a truncated file? (save the file as UTF-8)"
            ) from None
        raise ValueError(
            f"{where}: byte 0x{byte:02x} is not UTF-8 (save the file as UTF-8)"
        ) from None


def import_object(ref: str) -> object:
    """Resolve ``"module:attribute"`` (attribute may be dotted); raise ValueError.

    Whatever the module raises while it is imported (even SystemExit), or
    an attribute while it is looked up, becomes the ValueError's one-line
    reason; only KeyboardInterrupt goes through.
    """
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError("is not of the form module:attribute")
    try:
        obj: object = importlib.import_module(module_name)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # any import-time error is a config problem
        raise ValueError(f"cannot be imported: {describe(exc)}") from None
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ValueError(f"cannot be imported: {module_name} has no {attr}") from None
        except KeyboardInterrupt:
            raise
        except BaseException as exc:
            raise ValueError(f"cannot be imported: {module_name}.{attr}: {describe(exc)}") from None
    return obj


def parse_toml(label: str, text: str) -> dict[str, Any]:
    """Parse config *text* (from the file *label*); ConfigError (one line) if it is not a config."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise _error(label, f"invalid TOML: {exc}") from None
    except RecursionError:
        raise _error(label, "invalid TOML: nested too deeply") from None
    except ValueError as exc:  # an integer over Python's digit limit
        why = describe(exc, name=False).split(":", 1)[0]
        raise _error(label, f"invalid TOML: {why}") from None
    if not data:
        # Also what a file truncated by a half-finished write holds: never swap it in.
        raise _error(label, "the file is empty (no settings at all)")
    return data


# -- private helpers -------------------------------------------------------


def _error(label: str, why: str) -> ConfigError:
    return ConfigError.of(label, [Problem("", NO_VALUE, why)])


class _Loader:
    """Validates tables, runs the checks, imports the objects named, builds the Config."""

    def __init__(self, memo: Memo) -> None:
        self.memo = memo
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.imported: dict[str, object] = {}
        # Equal values of different rules become one object (large configs
        # repeat a few shapes: 100k rules, a handful of method lists).
        self.shared: dict[Any, Any] = {}

    def config(self, label: str, data: object, text: str | None) -> Config:
        checked = validated(ConfigTable, data, self.memo)
        table: ConfigTable = checked.value if checked.value is not None else ConfigTable()
        checker = Checker(self.memo, checked.bad)
        checker.config(table)
        self.problems = checked.problems + checker.problems
        self.warnings = checker.warnings
        if table.store is not None and table.tenants:
            why = (
                "cannot be in the file with [store]: in store mode tenants live in the store "
                "(move them there with: websvc store import --config FILE TENANTS.toml)"
            )
            self.problems.append(Problem("tenants", NO_VALUE, why))
        for i, api in enumerate(table.apis):
            if api is not None:
                self.load(f"apis[{i}].app", api.app, wsgi=True)
        for name, tenant in table.tenants.items():
            for ref in dict.fromkeys(tenant.plugins):
                self.load(key_path(key_path("tenants", name), "plugins"), ref)
        if self.problems:
            self.problems.sort(key=lambda problem: place(data, problem.path))
            return Config(label, ServerConfig(), CorsDefaults(), (), (), (), text)
        return Config(
            label,
            self.server(table.server),
            CorsDefaults(
                self.names("headers", table.cors.defaults.request_headers),
                self.names("headers", table.cors.defaults.expose_headers),
            ),
            tuple(ApiConfig(a.path, a.app, self.imported[a.app]) for a in table.apis if a),  # type: ignore[arg-type]
            tuple(self.tenant(name, tenant) for name, tenant in table.tenants.items()),
            tuple(warning.line(label) for warning in self.warnings),
            text,
            table.store,
            table.admin,
        )

    def load(self, at: str, ref: str, *, wsgi: bool = False) -> None:
        """Import the object *ref* names, or say why it cannot be."""
        try:
            obj = self.imported.get(ref) or import_object(ref)
        except ValueError as exc:
            self.problems.append(Problem(at, ref, str(exc)))
            return
        if wsgi and not callable(obj):
            self.problems.append(Problem(at, ref, "is not a WSGI callable"))
        self.imported[ref] = obj

    def one_copy(self, value: _V) -> _V:
        """*value*, or the equal object this config already holds."""
        kept: _V = self.shared.setdefault(value, value)
        return kept

    def names(self, kind: str, names: list[str]) -> tuple[str, ...]:
        """Methods normalised, or header names without case-insensitive repeats (one copy)."""
        key = (kind, *names)
        got: tuple[str, ...] | None = self.shared.get(key)
        if got is None:
            if kind == "methods":
                got = tuple(dict.fromkeys(normalize_method(m) or m for m in names))
            else:
                got = tuple({n.lower(): n for n in names}.values())
            got = self.shared[key] = self.one_copy(got)
        return got

    def server(self, server: ServerTable) -> ServerConfig:
        token = _digest(server.metrics_token_sha256, server.metrics_token)
        keys = server.model_dump(exclude={"metrics_token_sha256", "metrics_token"})
        return ServerConfig(**keys, metrics_token_sha256=token)

    def tenant(self, name: str, tenant: TenantTable) -> TenantConfig:
        refs = tuple(dict.fromkeys(tenant.plugins))
        return TenantConfig(
            name,
            tuple(dict.fromkeys(normalise_host(host) or host for host in tenant.hosts)),
            refs,
            tuple(self.imported[ref] for ref in refs),
            tuple(
                UserConfig(u.name, name, _digest(u.token_sha256, u.token) or b"")
                for u in tenant.users
                if u is not None
            ),
            tuple(self.rule(rule) for rule in tenant.cors if rule is not None),
        )

    def rule(self, rule: CorsRuleTable) -> RuleConfig:
        domain = self.memo.domain(rule.domain)
        assert isinstance(domain, Domain)
        return RuleConfig(
            domain=domain.name,
            pairs=self.one_copy(checks.pairs(rule, domain)),
            paths=tuple(dict.fromkeys(rule.paths)) if rule.paths is not None else None,
            methods=self.names("methods", rule.methods),
            request_headers=self.names("headers", rule.request_headers),
            expose_headers=self.names("headers", rule.expose_headers),
            allow_credentials=rule.allow_credentials,
            allow_caching=rule.allow_caching,
            max_age=rule.max_age,
            allow_private_network=rule.allow_private_network,
            allow_any_origin=rule.allow_any_origin,
        )


def _digest(hashed: str | None, plain: str | None) -> bytes | None:
    """A token's sha256: from its hex digest, or (a plain token) computed."""
    if hashed is not None:
        return bytes.fromhex(hashed)
    return hashlib.sha256(plain.encode("utf-8")).digest() if plain is not None else None
