"""The built-in demo: an echo API and a config that serves it to localhost pages.

``websvc serve`` without a config serves :data:`DEMO_CONFIG`: tenant
``demo`` with user ``demo`` (token ``demo-token``, for trying things out
only), the :func:`echo` API at ``/ws/rest/echo``, and a CORS rule for
``localhost`` on any port over http or https allowing GET, POST, PUT and
DELETE, the ``X-Custom-Header`` request header, and credentials.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

DEMO_USER = "demo"
DEMO_TOKEN = "demo-token"  # documented demo credential, never for production
MAX_ECHO_BODY = 64 * 1024

DEMO_CONFIG: dict[str, Any] = {
    "server": {"api_type": "advanced", "authentication": "basic"},
    "apis": [{"path": "/ws/rest/echo", "app": "websvc.demo:echo"}],
    "tenants": {
        "demo": {
            "users": [
                {
                    "name": DEMO_USER,
                    "token_sha256": hashlib.sha256(DEMO_TOKEN.encode()).hexdigest(),
                }
            ],
            "cors": [
                {
                    "domain": "localhost",
                    "methods": ["GET", "POST", "PUT", "DELETE"],
                    "request_headers": ["X-Custom-Header"],
                    "expose_headers": ["X-Echo-Method"],
                    "allow_credentials": True,
                }
            ],
        }
    },
}


def echo(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """A WSGI API that answers with what it received, as JSON."""
    try:
        length = min(int(environ.get("CONTENT_LENGTH") or 0), MAX_ECHO_BODY)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    payload = {
        "method": environ.get("REQUEST_METHOD"),
        "script_name": environ.get("SCRIPT_NAME", ""),
        "path": environ.get("PATH_INFO", ""),
        "query": environ.get("QUERY_STRING", ""),
        "tenant": environ.get("websvc.tenant"),
        "user": environ.get("websvc.user"),
        "body": body.decode("utf-8", "replace"),
        "headers": {
            key[5:].replace("_", "-").title(): value
            for key, value in environ.items()
            if key.startswith("HTTP_") and key != "HTTP_AUTHORIZATION"
        },
    }
    data = json.dumps(payload, indent=2, sort_keys=True).encode() + b"\n"
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(data))),
            ("X-Echo-Method", str(environ.get("REQUEST_METHOD"))),
            ("X-Echo-Tenant", str(environ.get("websvc.tenant"))),
        ],
    )
    return [data]
