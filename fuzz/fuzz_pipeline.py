"""Coverage-guided fuzzing of the whole websvc pipeline with atheris.

Each input is split into request fields (method, path, query, Origin,
Access-Control-Request-Method/-Headers, Host, Authorization) and sent
through ``websvc.create_app`` as a raw WSGI environ. The invariants are
those of tests/test_properties.py: websvc never raises and never answers
500, sends at most one Access-Control-Allow-Origin, which is the request's
Origin byte for byte (or ``*`` from the allow-any-origin rule), sends
Access-Control-Allow-Credentials only from a credentials rule, always sends
Vary, and never sends one tenant's headers for another tenant's origin.

    python fuzz/fuzz_pipeline.py -runs=100000          # bounded
    python fuzz/fuzz_pipeline.py -max_total_time=600   # longer
"""

from __future__ import annotations

import hashlib
import sys
from io import BytesIO
from pathlib import Path
from typing import Any

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

with atheris.instrument_imports():
    import websvc
    import websvc.app
    import websvc.credentials
    import websvc.plugins.identify
    import websvc.syntax

_DIGEST = hashlib.sha256(b"tok").hexdigest()
CONFIG: dict[str, Any] = {
    "server": {"authentication": "basic"},
    "apis": [{"path": "/api", "app": "websvc.demo:echo"}],
    "tenants": {
        "a": {
            "hosts": ["a.test"],
            "users": [{"name": "ua", "token_sha256": _DIGEST}],
            "cors": [
                {"domain": "cred.example", "allow_credentials": True, "request_headers": ["X-A"]},
                {"domain": "*.wild.example", "methods": ["GET", "PUT"], "paths": ["/api/*"]},
                {"domain": "*", "allow_any_origin": True, "paths": ["/api/public/*"]},
            ],
        },
        "b": {
            "hosts": ["b.test"],
            "users": [{"name": "ub", "token_sha256": _DIGEST}],
            "cors": [{"domain": "b-only.example", "allow_credentials": True}],
        },
    },
}
#: Both refusal modes: answered without CORS headers, and 403 (reject_disallowed).
APPS = (
    websvc.create_app(CONFIG),
    websvc.create_app({**CONFIG, "server": {**CONFIG["server"], "reject_disallowed": True}}),
)
TENANT_DOMAINS = {"a": ("cred.example", "wild.example"), "b": ("b-only.example",)}
FIELDS = ("REQUEST_METHOD", "PATH_INFO", "QUERY_STRING", "HTTP_ORIGIN",
          "HTTP_ACCESS_CONTROL_REQUEST_METHOD", "HTTP_ACCESS_CONTROL_REQUEST_HEADERS",
          "HTTP_HOST", "HTTP_AUTHORIZATION")  # fmt: skip


def one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    environ: dict[str, Any] = {
        "wsgi.url_scheme": "http",
        "wsgi.input": BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "SERVER_NAME": "fuzz",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    for name in FIELDS:
        if fdp.ConsumeBool():
            # WSGI strings are latin-1 decoded bytes.
            environ[name] = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 64)).decode("latin-1")
    environ.setdefault("REQUEST_METHOD", "GET")
    if fdp.ConsumeBool():
        environ["REQUEST_METHOD"] = "OPTIONS"
    check(APPS[fdp.ConsumeIntInRange(0, 1)], environ)


def check(app: Any, environ: dict[str, Any]) -> None:
    seen: list[tuple[str, list[tuple[str, str]]]] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen.append((status, headers))
        return lambda data: None

    origin = environ.get("HTTP_ORIGIN")
    body = app(dict(environ), start_response)
    b"".join(body)
    close = getattr(body, "close", None)
    if close is not None:
        close()
    assert len(seen) == 1, seen
    status, headers = seen[0]
    assert not status.startswith("5"), (status, environ)
    names = [name.lower() for name, _ in headers]
    assert names.count("vary") == 1, headers
    acao = [value for name, value in headers if name.lower() == "access-control-allow-origin"]
    assert len(acao) <= 1, headers
    if acao:
        assert acao[0] == origin or acao[0] == "*", (acao, origin)
        host = websvc.syntax.parse_origin(acao[0]) if acao[0] != "*" else None
        if "access-control-allow-credentials" in names:
            assert host is not None and host.host in ("cred.example", "b-only.example"), headers
        if host is not None:
            owner = [t for t, domains in TENANT_DOMAINS.items()
                     if any(host.host == d or host.host.endswith("." + d) for d in domains)]  # fmt: skip
            assert len(owner) == 1, (host, owner)
            # The request must name that tenant: its Host, or its user (base64 "ua:"/"ub:").
            marker = {"a": ("a.test", "dWE6"), "b": ("b.test", "dWI6")}[owner[0]]
            named = environ.get("HTTP_HOST", "").lower().startswith(marker[0]) or any(
                marker[1] in environ.get(key, "") for key in ("QUERY_STRING", "HTTP_AUTHORIZATION")
            )
            assert named, ("cross-tenant headers", environ, headers)


def main() -> None:
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
