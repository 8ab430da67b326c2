"""The log lines of a request websvc refused: CORS and authentication.

One INFO line per refusal on the ``websvc`` logger, as text or JSON
(``[server] log_format``); the same refusal again within a minute is counted
and reported with its next line (:func:`log_refusals`). Every request-controlled value (Origin, path,
method, user name, a plugin's free-text reason) is escaped and truncated by
:func:`websvc.logutil.safe`, so no one can forge a log line; a token is never
logged.
"""

from __future__ import annotations

import json
import logging
from time import monotonic
from typing import TYPE_CHECKING

from websvc.credentials import basic_credential, boomi_auth_credential
from websvc.logutil import safe
from websvc.pipeline import SHARED

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from websvc.cors import CorsRequest, Decision
    from websvc.pipeline import Outcome
    from websvc.site import AuthResult, Site

log = logging.getLogger("websvc")


#: A refusal repeated within this many seconds is counted, not logged again.
REPEAT_WINDOW = 60.0
#: Distinct refusals remembered per site (then the memory starts again).
REPEAT_KEYS = 4096


def log_refusals(site: Site, outcome: Outcome, environ: WSGIEnvironment) -> None:
    """Log what *outcome* refused, if anything (when the ``websvc`` logger logs INFO).

    The same refusal (tenant, origin, kind, method, path, reason; for
    authentication: tenant, user, plugin, method, path, reason) is logged
    once per :data:`REPEAT_WINDOW`; its repeats are counted and the next
    line for it says how many there were (``repeated`` in JSON), so one
    misconfigured page or a password-guessing client cannot flood the log.
    The metrics count every refusal.
    """
    if not log.isEnabledFor(logging.INFO):
        return
    request, decision = outcome.request, outcome.decision
    path = environ.get("PATH_INFO", "")  # not request.path: a memoized request is shared
    if decision is not None and request is not None and not decision.allowed:
        if request.environ is SHARED:
            # A memoized request stands for its tenant, origin, kind, method and
            # decision: a cheaper key (kept alive by the entry, so never reused),
            # which the app checks first, inline (see repeated_refusal_key).
            key: tuple[object, ...] = repeated_refusal_key(request, path)
        else:
            key = (_tenant(outcome), request.origin, request.preflight, request.method, path)
            key += (decision.reason,)
        repeated = _repeats(site, key)
        if repeated is not None:
            _log_cors(site, outcome, request, decision, path, repeated)
    auth = outcome.auth
    if auth is not None and not auth.ok:
        _log_auth(site, outcome, auth, environ, path)


def repeated_refusal_key(request: CorsRequest | None, path: str) -> tuple[object, ...]:
    """The ``site.refusals`` key of a memoized CORS refusal of *request* on *path*.

    Its entry is ``[when it was last logged, repeats since]``. The app's hot
    path looks it up before calling :func:`log_refusals`: a repeat within
    :data:`REPEAT_WINDOW` is only counted there. Only a memoized request
    (shared, empty environ) is ever stored under such a key, so for any
    other request, or none, the lookup finds nothing.
    """
    return (request, path)


def _log_cors(
    site: Site,
    outcome: Outcome,
    request: CorsRequest,
    decision: Decision,
    path: str,
    repeated: int,
) -> None:
    tenant = _tenant(outcome)
    _log_event(
        site,
        {
            "event": "cors_refused",
            "tenant": safe(tenant) if tenant is not None else None,
            "origin": safe(request.origin),
            "kind": "preflight" if request.preflight else "normal",
            "method": safe(request.method or ""),
            "path": safe(path),
            "reason": safe(decision.reason),
            "detail": safe(decision.detail),
        },
        "cors refused: tenant={tenant} origin={origin} {kind} {method} {path}"
        " reason={reason} ({detail})",
        repeated,
    )


def _log_auth(
    site: Site, outcome: Outcome, auth: AuthResult, environ: WSGIEnvironment, path: str
) -> None:
    tenant = _tenant(outcome)
    credential = outcome.identity.credential if outcome.identity is not None else None
    if credential is None:
        credential = basic_credential(environ) or boomi_auth_credential(environ)
    user = auth.user or (credential.user if credential is not None else None)
    plugin = outcome.refused_by or "-"
    method = environ.get("REQUEST_METHOD", "")
    reason = auth.reason or "refused"
    repeated = _repeats(site, ("auth", tenant, user, plugin, method, path, reason))
    if repeated is None:
        return
    _log_event(
        site,
        {
            "event": "auth_refused",
            "tenant": safe(tenant) if tenant is not None else None,
            "user": safe(user) if user is not None else None,
            "plugin": safe(plugin),
            "method": safe(method),
            "path": safe(path),
            "reason": safe(reason),
        },
        "auth refused: tenant={tenant} user={user} plugin={plugin} {method} {path} reason={reason}",
        repeated,
    )


def _tenant(outcome: Outcome) -> str | None:
    return outcome.identity.tenant.name if outcome.identity is not None else None


def _repeats(site: Site, key: tuple[object, ...]) -> int | None:
    """None when *key* was logged within the window (now counted), else its repeats since."""
    seen = site.refusals
    now = monotonic()
    entry = seen.get(key)
    if entry is not None and now - entry[0] < REPEAT_WINDOW:
        entry[1] += 1
        return None
    if len(seen) >= REPEAT_KEYS:
        seen.clear()
    seen[key] = [now, 0]
    return entry[1] if entry is not None else 0


def _log_event(site: Site, fields: dict[str, str | None], text: str, repeated: int) -> None:
    """Log *fields* (already escaped) at INFO as JSON or as the *text* template (None: -)."""
    if site.server.log_format == "json":
        record: dict[str, object] = dict(fields)
        if repeated:
            record["repeated"] = repeated
        log.info("%s", json.dumps(record, ensure_ascii=True, separators=(",", ":")))
        return
    line = text.format_map({k: "-" if v is None else v for k, v in fields.items()})
    if repeated:
        line += f" [repeated {repeated} times in the last {REPEAT_WINDOW:.0f} s]"
    log.info("%s", line)
