"""``websvc store init|import|export`` and ``websvc admin token|serve`` (ADMIN-API §2).

Every command reads a store-mode config (``--config F``, else
``$WEBSVC_CONFIG``) and opens the store its ``[store] url`` names. stdout
carries only the result (a status line, the exported TOML, the token);
problems go to stderr, one line each.

Exit codes: 0 success (``admin serve``: stopped by Ctrl-C or SIGTERM);
2 a bad config or bad arguments (a config without ``[store]``, tenants
``websvc check`` would refuse, an unknown ``--tenant``, a port that is not
1-65535 or cannot be listened on) or a store error an operator has to fix
(a bad URL, a file that is not a websvc store, a schema from a newer
websvc); 3 the store is unavailable (no such file or folder, locked for
longer than its timeout, an I/O error): nothing was written, try again.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import secrets
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

from websvc.config import Config, ConfigError, load_config, parse_toml, read_config_text
from websvc.devserver import CannotListen, listen, stop_on_sigterm
from websvc.logutil import safe
from websvc.problems import NO_VALUE, Problem
from websvc.schema import CorsRuleTable, StoreTable
from websvc.store import (
    Audit,
    NoSuchTenant,
    Store,
    StoreError,
    StoreUnavailable,
    Taken,
    TenantData,
    open_store,
)
from websvc.tools.boomi_toml import toml_key, toml_value

DEFAULT_ADMIN_PORT = 8081
#: Exit status when the store cannot be reached (or stayed locked): retry later.
UNAVAILABLE = 3
#: The order ``export`` writes a rule's keys in (any other key last, by name).
_RULE_KEYS = tuple(CorsRuleTable.model_fields)

_T = TypeVar("_T")
_Handler = Callable[[str, argparse.Namespace], int]


class _Failed(Exception):
    """The command stops: *lines* go to stderr, and it exits *status*."""

    def __init__(self, status: int, *lines: str) -> None:
        super().__init__(*lines)
        self.status = status
        self.lines = lines


def add_parsers(sub: Any, default_host: str) -> None:
    """Add ``store`` and ``admin`` to the ``websvc`` subcommands *sub*."""
    store_p = sub.add_parser("store", help="the tenant store: init, import, export (store mode)")
    actions = store_p.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = actions.add_parser("init", help="create or upgrade the store's schema (idempotent)")
    imp = actions.add_parser("import", help="load [tenants.*] from a TOML file, all or nothing")
    imp.add_argument("file", metavar="TENANTS.toml", help="tenants in the config file's format")
    export = actions.add_parser("export", help="print every tenant as TOML ([tenants.*])")

    admin_p = sub.add_parser("admin", help="the admin API: tenant admin tokens, the server")
    admin_actions = admin_p.add_subparsers(dest="action", required=True, metavar="ACTION")
    token = admin_actions.add_parser("token", help="create a tenant admin token (shown once)")
    token.add_argument("--tenant", required=True, help="the tenant the token acts for")
    serve = admin_actions.add_parser("serve", help="serve the admin API (development server)")
    serve.add_argument("--host", default=default_host, help=f"address (default {default_host})")
    serve.add_argument(
        "--port",
        default=str(DEFAULT_ADMIN_PORT),
        help=f"port, 1-65535 (default {DEFAULT_ADMIN_PORT})",
    )
    for parser in (init, imp, export, token, serve):
        parser.add_argument("--config", help="store-mode TOML config (default: $WEBSVC_CONFIG)")


def store(args: argparse.Namespace) -> int:
    return _run(f"store {args.action}", args, _STORE[args.action])


def admin(args: argparse.Namespace) -> int:
    return _run(f"admin {args.action}", args, _ADMIN[args.action])


def _run(command: str, args: argparse.Namespace, handler: _Handler) -> int:
    try:
        return handler(command, args)
    except _Failed as exc:
        for line in exc.lines:
            print(line, file=sys.stderr)
        return exc.status


# -- the commands ---------------------------------------------------------------------


def _init(command: str, args: argparse.Namespace) -> int:
    config, table = _config(command, args.config)
    with _opened(command, table) as db:
        schema = _guard(command, db.init)
    print(f"{config.source}: store {db.url} ready (schema {schema})")
    return 0


def _import(command: str, args: argparse.Namespace) -> int:
    config, table = _config(command, args.config)
    label = str(args.file)
    with _opened(command, table) as db:
        states = _checked_tenants(config, label)
        if not states:
            print(f"imported: nothing (no [tenants.NAME] table in {label})")
            return 0
        audit = Audit("cli", "CLI", "websvc store import")
        try:
            changed = set(_guard(command, lambda: db.import_tenants(states, audit=audit)))
        except Taken as exc:
            raise _Failed(2, f"websvc {command}: {exc}; nothing was written") from None
        now = _guard(command, lambda: db.tenants(states))
    done = [
        f"{name} (version {state.version})" if name in changed and state else f"{name} (unchanged)"
        for name, state in sorted(now.items())
    ]
    print(f"imported: {', '.join(done)}")
    return 0


def _export(command: str, args: argparse.Namespace) -> int:
    _, table = _config(command, args.config)
    with _opened(command, table) as db:
        snapshot = _guard(command, db.snapshot)
    count = len(snapshot.tenants)
    lines = [
        f"# websvc store export of {db.url}: {count} tenant{'' if count == 1 else 's'}"
        f" (change {snapshot.seq})"
    ]
    try:
        for name in sorted(snapshot.tenants):
            lines += _tenant_toml(name, snapshot.tenants[name])
    except (TypeError, ValueError) as exc:  # a stored value TOML cannot hold
        raise _Failed(2, f"websvc {command}: tenant {name!r}: {exc}") from None
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _token(command: str, args: argparse.Namespace) -> int:
    _, table = _config(command, args.config)
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    with _opened(command, table) as db:
        audit = Audit("cli", "CLI", "websvc admin token")
        try:
            token_id = _guard(command, lambda: db.add_admin_token(args.tenant, digest, audit=audit))
        except NoSuchTenant:
            raise _Failed(
                2, f"websvc {command}: no tenant named {args.tenant!r} in {db.url}"
            ) from None
    print(token, flush=True)
    print(f"token id: {token_id}", file=sys.stderr)
    return 0


def _serve(command: str, args: argparse.Namespace) -> int:
    from websvc.admin import create_app

    port = _port(command, args.port)
    config, table = _config(command, args.config)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not config.admin.operator_tokens_sha256:
        print(
            f"warning: {config.source}: admin.operator_tokens_sha256 is empty: only tenant"
            " admin tokens (websvc admin token) are accepted",
            file=sys.stderr,
        )
    with _opened(command, table) as db:
        _guard(command, db.change_seq)  # refuse to start on a store it cannot use
        try:
            app = create_app(_source(command, args.config), store=db)
        except ConfigError as exc:  # pragma: no cover - loaded above already
            raise _Failed(2, *exc.problems) from None
        try:
            server = listen(args.host, port, app)
        except CannotListen as exc:
            raise _Failed(2, f"websvc {command}: {exc}") from None
        stop_on_sigterm()
        try:
            host = f"[{args.host}]" if ":" in args.host else args.host
            address = f"{host}:{server.server_port}"
            print(
                f"websvc admin: serving the admin API of {config.source} ({db.url})"
                f" at http://{address}/admin/v1/",
                flush=True,
            )
            server.log_startup()
            logging.getLogger("werkzeug").info("Press CTRL+C to quit")
            server.serve_forever()  # returns on Ctrl-C (or SIGTERM), the socket closed
        except KeyboardInterrupt:  # before it served
            server.server_close()
    return 0


_STORE: dict[str, _Handler] = {"init": _init, "import": _import, "export": _export}
_ADMIN: dict[str, _Handler] = {"token": _token, "serve": _serve}


# -- helpers ----------------------------------------------------------------------------


def _port(command: str, value: str) -> int:
    """*value* as a port, checked and worded as ``websvc serve`` does."""
    if value.isascii() and value.isdecimal() and 1 <= int(value) <= 65535:
        return int(value)
    raise _Failed(2, f"websvc {command}: --port {safe(value, 40)} is not a port (1-65535)")


def _source(command: str, path: str | None) -> str:
    source = path or os.environ.get("WEBSVC_CONFIG")
    if not source:
        raise _Failed(2, f"websvc {command}: --config is required (or set $WEBSVC_CONFIG)")
    return source


def _config(command: str, path: str | None) -> tuple[Config, StoreTable]:
    """The store-mode config at *path*, and its ``[store]`` table."""
    try:
        config = load_config(_source(command, path))
    except ConfigError as exc:
        raise _Failed(2, *exc.problems) from None
    for warning in config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if config.store is None:
        why = f'missing: websvc {command} needs store mode ([store] url = "sqlite:///PATH")'
        raise _Failed(2, Problem("store", NO_VALUE, why).line(config.source))
    return config, config.store


@contextmanager
def _opened(command: str, table: StoreTable) -> Iterator[Store]:
    """The store *table* names, closed at the end; a bad URL is one line and exit 2."""
    db = _guard(command, lambda: open_store(table.url))
    try:
        yield db
    finally:
        db.close()


def _guard(command: str, call: Callable[[], _T]) -> _T:
    """``call()``; a StoreError becomes one line, exit 3 when unavailable, else 2."""
    try:
        return call()
    except StoreUnavailable as exc:
        raise _Failed(UNAVAILABLE, f"websvc {command}: store unavailable: {exc}") from None
    except (NoSuchTenant, Taken):  # the caller's to word
        raise
    except StoreError as exc:
        raise _Failed(2, f"websvc {command}: {exc}") from None


def _read_tenants(label: str) -> dict[str, Any]:
    """The tables of the TOML file *label*; ``{}`` for one with nothing but comments."""
    text = read_config_text(label)
    try:
        return parse_toml(label, text)
    except ConfigError:
        if _is_empty(text):
            return {}
        raise


def _is_empty(text: str) -> bool:
    """Whether *text* holds nothing but blank lines and comments (an empty export)."""
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())


def _checked_tenants(config: Config, label: str) -> dict[str, TenantData]:
    """The tenants of the TOML file *label*, checked as `websvc check` checks a file-mode config.

    The config is the file's ``[tenants]`` table with *config*'s ``[server]``
    and ``[cors]`` tables; every problem is a line on stderr (exit 2).
    """
    try:
        data = _read_tenants(label)
    except ConfigError as exc:
        raise _Failed(2, *exc.problems) from None
    ignored = sorted(key for key in data if key != "tenants")
    if ignored:
        names = ", ".join(ignored)
        print(f"warning: {label}: only [tenants] is imported; ignored: {names}", file=sys.stderr)
    if data.get("tenants", {}) == {}:
        return {}
    try:
        checked = load_config({**_base(config), "tenants": data["tenants"]})
    except ConfigError as exc:  # each problem in the file it is about
        mine = (p.path == "" or p.path.startswith("tenants") for p in exc.items)
        lines = (
            p.line(label if m else config.source) for p, m in zip(exc.items, mine, strict=True)
        )
        raise _Failed(2, *lines) from None
    for warning in checked.warnings:
        print(f"warning: {label}: {warning.removeprefix('<dict>: ')}", file=sys.stderr)
    tenants: dict[str, Any] = data["tenants"]
    _warn_limits(config, label, tenants)
    return {name: _tenant_data(tenant) for name, tenant in tenants.items()}


def _base(config: Config) -> dict[str, Any]:
    """The config file's ``[server]`` and ``[cors]`` tables, as written."""
    raw = parse_toml(config.source, config.text) if config.text is not None else {}
    return {key: raw[key] for key in ("server", "cors") if key in raw}


def _warn_limits(config: Config, label: str, tenants: Mapping[str, Any]) -> None:
    limit = config.admin.max_rules_per_tenant
    for name, tenant in tenants.items():
        count = len(tenant.get("cors", []))
        if count > limit:
            print(
                f"warning: {label}: tenants.{toml_key(name)}.cors: {count} rules, more than"
                f" admin.max_rules_per_tenant ({limit}): the admin API will refuse to save them",
                file=sys.stderr,
            )


def _tenant_data(tenant: Mapping[str, Any]) -> TenantData:
    """A tenant table (valid: checked before) as the store keeps it: tokens as sha256 only."""
    users = [
        {
            "name": user["name"],
            "token_sha256": (
                user["token_sha256"].lower()
                if "token_sha256" in user
                else hashlib.sha256(user["token"].encode("utf-8")).hexdigest()
            ),
        }
        for user in tenant.get("users", [])
    ]
    return TenantData.of(
        hosts=tenant.get("hosts", []),
        users=users,
        plugins=tenant.get("plugins", []),
        rules=tenant.get("cors", []),
    )


def _tenant_toml(name: str, state: TenantData) -> list[str]:
    """Tenant *name* as the config file writes it; rules with their keys as stored."""
    key = toml_key(name)
    lines = ["", f"[tenants.{key}]"]
    lines.append(f"hosts = {toml_value(list(state.hosts))}")
    lines.append(f"plugins = {toml_value(list(state.plugins))}")
    for user in state.users:
        lines += ["", f"[[tenants.{key}.users]]"]
        lines += [f"{toml_key(k)} = {toml_value(user[k])}" for k in ("name", "token_sha256")]
    for rule in state.rules:
        lines += ["", f"[[tenants.{key}.cors]]"]
        order = sorted(rule, key=lambda k: (k not in _RULE_KEYS, _rank(k), k))
        lines += [f"{toml_key(k)} = {toml_value(rule[k])}" for k in order]
    return lines


def _rank(key: str) -> int:
    return _RULE_KEYS.index(key) if key in _RULE_KEYS else 0
