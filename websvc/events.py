"""The log lines of a request websvc refused: CORS and authentication.

One INFO line per refusal on the ``websvc`` logger, as text or JSON
(``[server] log_format``). Every request-controlled value (Origin, path,
method, user name, a plugin's free-text reason) is escaped and truncated by
:func:`websvc.logutil.safe`, so no one can forge a log line; a token is never
logged.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING

from websvc.credentials import basic_credential, boomi_auth_credential
from websvc.logutil import safe

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from websvc.pipeline import Outcome
    from websvc.site import Site

log = logging.getLogger("websvc")


def log_refusals(site: Site, outcome: Outcome, environ: WSGIEnvironment) -> None:
    """Log what *outcome* refused, if anything (call only when INFO is enabled)."""
    decision, request = outcome.decision, outcome.request
    tenant = outcome.identity.tenant.name if outcome.identity is not None else None
    if decision is not None and request is not None and not decision.allowed:
        _log_event(
            site,
            {
                "event": "cors_refused",
                "tenant": safe(tenant) if tenant is not None else None,
                "origin": safe(request.origin),
                "kind": "preflight" if request.preflight else "normal",
                "method": safe(request.method or ""),
                "path": safe(request.path),
                "reason": safe(decision.reason),
                "detail": safe(decision.detail),
            },
            "cors refused: tenant={tenant} origin={origin} {kind} {method} {path}"
            " reason={reason} ({detail})",
        )
    auth = outcome.auth
    if auth is not None and not auth.ok:
        credential = outcome.identity.credential if outcome.identity is not None else None
        if credential is None:
            credential = basic_credential(environ) or boomi_auth_credential(environ)
        user = auth.user or (credential.user if credential is not None else None)
        _log_event(
            site,
            {
                "event": "auth_refused",
                "tenant": safe(tenant) if tenant is not None else None,
                "user": safe(user) if user is not None else None,
                "plugin": safe(outcome.refused_by or "-"),
                "method": safe(environ.get("REQUEST_METHOD", "")),
                "path": safe(environ.get("PATH_INFO", "")),
                "reason": safe(auth.reason or "refused"),
            },
            "auth refused: tenant={tenant} user={user} plugin={plugin} {method} {path}"
            " reason={reason}",
        )


def _log_event(site: Site, fields: dict[str, str | None], text: str) -> None:
    """Log *fields* (already escaped) at INFO as JSON or as the *text* template (None: -)."""
    if site.server.log_format == "json":
        log.info("%s", json.dumps(fields, ensure_ascii=True, separators=(",", ":")))
    else:
        log.info("%s", text.format_map({k: "-" if v is None else v for k, v in fields.items()}))
