"""The ``websvc`` command line: serve, check, explain, token, import-boomi.

Exit codes: 0 success (``explain``: allowed), 1 ``explain`` refused,
2 a bad config or bad arguments (``import-boomi``: a Boomi object it refuses).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import os
import secrets
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from werkzeug.serving import WSGIRequestHandler

from websvc.config import ConfigError, ConfigSource, import_object
from websvc.logutil import safe
from websvc.registry import Site, build_site

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    handler = {
        "serve": _serve,
        "check": _check,
        "explain": _explain,
        "token": _token,
        "import-boomi": _import_boomi,
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
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT})"
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

    demo = sub.add_parser("demo", help="serve the demo API and the in-browser CORS playground")
    demo.add_argument("--api-port", type=int, default=8080, help="demo API port (default 8080)")
    demo.add_argument("--page-port", type=int, default=8081, help="playground port (default 8081)")
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
    from werkzeug.serving import run_simple

    from websvc.app import WebsvcApp

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
    try:
        app = WebsvcApp(source, fallback=cast("WSGIApplication | None", fallback))
    except ConfigError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    label = app.site.config.source
    print(f"websvc: serving {label} at http://{args.host}:{args.port}/", flush=True)
    if label == "<demo>":
        print(
            "websvc: demo: echo API at /ws/rest/echo (user demo, token demo-token), "
            "CORS rule for http(s)://localhost on any port",
            flush=True,
        )
    run_simple(args.host, args.port, app, threaded=True, request_handler=_AccessLog)
    return 0


class _AccessLog(WSGIRequestHandler):
    """The dev server's access log, one plain line per request, escaped."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logging.getLogger("websvc.access").info(
            '%s "%s" %s %s', self.address_string(), safe(self.requestline, 2000), code, size
        )

    def log(self, type: str, message: str, *args: Any) -> None:
        logging.getLogger("websvc.access").log(
            logging.ERROR if type == "error" else logging.INFO,
            "%s %s",
            self.address_string(),
            safe(message % args, 2000),
        )


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
    from websvc.explain import explain

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
    token = secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    print(f"token (shown once; give it to the user, websvc keeps only its hash): {token}")
    print()
    print(f"[[tenants.{args.tenant}.users]]")
    print(f'name = "{args.user}"')
    print(f'token_sha256 = "{digest}"')
    return 0


def _demo(args: argparse.Namespace) -> int:
    from websvc.playground import run_demo

    return run_demo(DEFAULT_HOST, args.api_port, args.page_port)


def _import_boomi(args: argparse.Namespace) -> int:
    from websvc.boomi import BoomiImportError, convert, read_json

    try:
        text = convert(read_json(args.file), tenant=args.tenant, source=args.file)
    except BoomiImportError as exc:
        for problem in exc.problems:
            print(problem)
        return 2
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
