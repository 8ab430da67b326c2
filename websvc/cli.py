"""The ``websvc`` command line: serve, check, explain, token, import-boomi, demo.

The store-mode commands, ``store init|import|export`` and ``admin token|serve``,
are in :mod:`websvc.cli_store`.

Exit codes: 0 success (``explain``: allowed; ``serve`` and ``demo``: stopped
by Ctrl-C or SIGTERM), 1 ``explain`` refused, 2 a bad config or bad arguments
(a port outside 1-65535, a port that cannot be listened on, a ``token`` name
no config accepts; ``import-boomi``: a Boomi object it refuses), 3 the store
is unavailable (``store`` and ``admin``: nothing was written, try again).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import re
import secrets
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from websvc.config import ConfigError, ConfigSource, import_object, render
from websvc.devserver import CannotListen, listen, stop_on_sigterm
from websvc.logutil import safe
from websvc.registry import Site, build_site

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def main(argv: Sequence[str] | None = None) -> int:
    from websvc import cli_store

    parser = _parser()
    args = parser.parse_args(argv)
    handler = {
        "store": cli_store.store,
        "admin": cli_store.admin,
        "serve": _serve,
        "check": _check,
        "explain": _explain,
        "token": _token,
        "import-boomi": _import_boomi,
        "schema": _schema,
        "demo": _demo,
    }
    return handler[args.command](args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="websvc", description="A multi-tenant shared web server with a CORS engine."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="serve HTTP (built-in demo config without --config)")
    serve.add_argument("--config", help="TOML config (default: $WEBSVC_CONFIG, else the demo)")
    serve.add_argument("--host", default=DEFAULT_HOST, help=f"address (default {DEFAULT_HOST})")
    serve.add_argument(
        "--port", default=str(DEFAULT_PORT), help=f"port, 1-65535 (default {DEFAULT_PORT})"
    )
    serve.add_argument(
        "--admin-port",
        default="8081",
        help="the demo only: port of its admin API, 1-65535 or 0 for any (default 8081)",
    )
    serve.add_argument(
        "--wrap",
        metavar="MODULE:APP",
        help="put websvc in front of this WSGI app (every path reaches it)",
    )

    check = sub.add_parser("check", help="validate a config; exit 2 with one line per problem")
    check.add_argument("--config", required=True, help="TOML config to validate")

    explain = sub.add_parser("explain", help="explain the decision for a preflight")
    explain.add_argument("--config", help="TOML config (default: $WEBSVC_CONFIG, else the demo)")
    explain.add_argument("--origin", required=True, help="the Origin, e.g. https://app.example.com")
    explain.add_argument("--method", required=True, help="Access-Control-Request-Method")
    explain.add_argument(
        "--header", action="append", default=[], help="a requested header (repeatable)"
    )
    explain.add_argument("--path", default="/", help="request path (default /)")
    explain.add_argument("--tenant", help="decide for this tenant (skip identification)")
    explain.add_argument("--host", help="the Host header, for Host-based identification")

    token = sub.add_parser("token", help="mint a random token and print its config lines")
    token.add_argument("--tenant", default="NAME", help="tenant the user belongs to")
    token.add_argument("--user", default="USER", help="user name")

    boomi = sub.add_parser(
        "import-boomi",
        help="convert a Boomi SharedWebServer (JSON) into a websvc config on stdout",
    )
    boomi.add_argument("file", metavar="FILE", help="the SharedWebServer object, as JSON")
    boomi.add_argument("--tenant", required=True, help="tenant the CORS rules belong to")

    sub.add_parser("schema", help="print the config's JSON Schema (every key, with its doc)")

    demo = sub.add_parser("demo", help="serve the demo API and the in-browser CORS playground")
    demo.add_argument("--api-port", default="8080", help="demo API port (default 8080)")
    demo.add_argument("--page-port", default="8081", help="playground port (default 8081)")

    from websvc.cli_store import add_parsers

    add_parsers(sub, DEFAULT_HOST)
    return parser


def _config_source(path: str | None) -> ConfigSource:
    return path or os.environ.get("WEBSVC_CONFIG") or None


def _load(path: str | None) -> Site | None:
    try:
        site = build_site(_config_source(path))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem)
        return None
    for warning in site.config.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    return site


def _serve(args: argparse.Namespace) -> int:
    from websvc.app import WebsvcApp

    port = _port("serve", "--port", args.port)
    if port is None:
        return 2
    source = _config_source(args.config)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    fallback = None
    if args.wrap:
        try:
            fallback = import_object(args.wrap)
        except ValueError as exc:
            print(f"websvc serve: --wrap {args.wrap!r} {exc}", file=sys.stderr)
            return 2
        if not callable(fallback):
            print(f"websvc serve: --wrap {args.wrap!r} is not a WSGI callable", file=sys.stderr)
            return 2
    demo = None
    try:
        if source is None and fallback is None:  # the built-in demo, in store mode
            from websvc.admin.demo import start_store_demo

            # 0: any free port (the line printed says which)
            admin_port = (
                0 if args.admin_port == "0" else _port("serve", "--admin-port", args.admin_port)
            )
            if admin_port is None:
                return 2
            demo = start_store_demo(args.host, admin_port)
            app = demo.app
        else:
            app = WebsvcApp(source, fallback=cast("WSGIApplication | None", fallback))
        server = listen(args.host, port, app)
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    except CannotListen as exc:
        print(f"websvc serve: {exc}", file=sys.stderr)
        if demo is not None:
            demo.close()
        return 2
    stop_on_sigterm()
    try:
        label = app.site.config.source
        address = _address(args.host, server.server_port)
        if demo is not None:
            _announce_demo(address, _address(args.host, demo.admin_server.server_port))
        else:
            print(f"websvc: serving {label} at http://{address}/", flush=True)
        server.log_startup()
        logging.getLogger("werkzeug").info("Press CTRL+C to quit")
        server.serve_forever()  # returns on Ctrl-C (or SIGTERM), the socket closed
    except KeyboardInterrupt:  # before it served
        server.server_close()
    finally:
        if demo is not None:
            demo.close()
    return 0


def _announce_demo(address: str, admin: str) -> None:
    from websvc.admin.demo import DEMO_ADMIN_TOKEN

    for line in (
        f"websvc: serving the demo at http://{address}/ (store mode, an embedded SQLite store)",
        "websvc: demo: echo API at /ws/rest/echo (user demo, token demo-token), "
        "CORS rule for http(s)://localhost on any port",
        f"websvc: demo: admin API at http://{admin}/admin/v1/ and the CORS panel at"
        f" http://{admin}/admin/ (tenant demo's admin token: {DEMO_ADMIN_TOKEN})",
    ):
        print(line, flush=True)


def _check(args: argparse.Namespace) -> int:
    site = _load(args.config)
    if site is None:
        return 2
    rules = sum(len(t.cors) for t in site.config.tenants)
    print(
        f"{site.config.source}: ok ({len(site.tenants)} tenants, {rules} CORS rules, "
        f"{len(site.config.apis)} APIs)"
    )
    return 0


def _explain(args: argparse.Namespace) -> int:
    from websvc.tools.explain import explain

    site = _load(args.config)
    if site is None:
        return 2
    try:
        result = explain(
            site,
            origin=args.origin,
            method=args.method,
            headers=args.header,
            path=args.path,
            tenant=args.tenant,
            host=args.host,
        )
    except KeyError:
        print(f"websvc explain: no tenant named {args.tenant!r} in {site.config.source}")
        return 2
    print("\n".join(result.lines()))
    return 0 if result.allowed else 1


def _token(args: argparse.Namespace) -> int:
    problems = [
        f"websvc token: {flag} {render(value)} {why}"
        for flag, value, why in (
            ("--tenant", args.tenant, _name_problem(args.tenant, user=False)),
            ("--user", args.user, _name_problem(args.user, user=True)),
        )
        if why
    ]
    if problems:
        print("\n".join(problems), file=sys.stderr)
        return 2
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    print(
        f"token (shown once; give it to the user, websvc keeps only its hash): {token}",
        file=sys.stderr,
        flush=True,
    )
    # Only TOML on stdout, so that `websvc token ... >> websvc.toml` works; the
    # blank line first ends a last line that lacks its newline.
    print()
    print(f"[[tenants.{_toml_key(args.tenant)}.users]]")
    print(f"name = {_toml_string(args.user)}")
    print(f'token_sha256 = "{digest}"')
    return 0


def _demo(args: argparse.Namespace) -> int:
    from websvc.tools.playground import run_demo

    api_port = _port("demo", "--api-port", args.api_port)
    page_port = _port("demo", "--page-port", args.page_port)
    if api_port is None or page_port is None:
        return 2
    return run_demo(DEFAULT_HOST, api_port, page_port)


def _import_boomi(args: argparse.Namespace) -> int:
    from websvc.tools.boomi import BoomiImportError, convert, read_json

    try:
        text = convert(read_json(args.file), tenant=args.tenant, source=args.file)
    except BoomiImportError as exc:
        for problem in exc.problems:
            print(problem)
        return 2
    sys.stdout.write(text)
    return 0


def _schema(args: argparse.Namespace) -> int:
    from websvc.tools.schemadoc import schema_text

    sys.stdout.write(schema_text())
    return 0


# -- private helpers -------------------------------------------------------


def _port(command: str, flag: str, value: str) -> int | None:
    """*value* as a port, or None once stderr says why not (one line)."""
    if value.isascii() and value.isdecimal() and 1 <= int(value) <= 65535:
        return int(value)
    print(f"websvc {command}: {flag} {safe(value, 40)} is not a port (1-65535)", file=sys.stderr)
    return None


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # as websvc.config refuses them
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def _name_problem(name: str, *, user: bool) -> str | None:
    """Why no config accepts *name* as a tenant (or user) name, or None."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "is not valid UTF-8"
    if _CONTROL.search(name):
        return "contains a control character"
    if user and (not name or ":" in name):
        return "is not a user name (non-empty, no colon)"
    if not name:
        return "is not a tenant name (non-empty)"
    return None


def _toml_string(text: str) -> str:
    """*text* as a TOML basic string (control characters are refused before)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _toml_key(name: str) -> str:
    return name if _BARE_KEY.fullmatch(name) else _toml_string(name)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
