"""The one decision path: what websvc does with a request, before any API runs.

:func:`decide` takes a WSGI environ and a compiled :class:`~websvc.site.Site`
and runs the hooks in order -- identify the tenant; with ``Origin``, look up
the CORS rule and collect the headers; for anything but a preflight,
authenticate -- and returns an :class:`Outcome`: who, which decision by which
plugin, and either the whole answer websvc gives itself (a preflight, a
``403`` under ``reject_disallowed``, a ``401``) or the headers to add to the
API's answer. The app (:class:`websvc.app.WebsvcApp`) sends exactly that;
``websvc explain`` prints exactly that. Nothing here logs, counts or calls an
API.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from websvc.cors import VARY_PREFLIGHT, CorsRequest, Decision
from websvc.logutil import safe
from websvc.site import AuthResult
from websvc.syntax import same_origin

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from websvc.site import HookCalls, Identity, Site

#: The status line of each status websvc answers itself.
STATUS_LINES = {
    200: "200 OK",
    204: "204 No Content",
    401: "401 Unauthorized",
    403: "403 Forbidden",
}
FORBIDDEN_BODY = b"403 Forbidden: cross-origin request refused\n"
UNAUTHORIZED_BODY = b"401 Unauthorized\n"
_TEXT = ("Content-Type", "text/plain; charset=utf-8")
_NO_HEADERS: tuple[tuple[str, str], ...] = ()
_UNDECIDED = Decision.refuse("no_tenant", "no plugin made a decision")
_NO_AUTH = AuthResult(False, reason="no authentication plugin answered")
_ASSUMED = AuthResult(True, reason="not asked (authenticate=False)")
#: Marks "identify the tenant with the hooks" (explain may force one instead).
IDENTIFY: Identity | None = object()  # type: ignore[assignment]


class Outcome(NamedTuple):
    """What websvc does with one request (see :func:`decide`).

    ``status`` is websvc's own answer (``headers`` is then the whole header
    list and ``body`` the body), or 0: the request goes to the API, whose
    answer gets ``headers`` (the CORS headers) added. ``request`` and
    ``decision`` are None without ``Origin``; ``auth`` is None when
    authentication was not asked (a preflight, a rejected request).
    """

    identity: Identity | None
    hooks: HookCalls
    request: CorsRequest | None
    decision: Decision | None
    auth: AuthResult | None
    status: int
    headers: list[tuple[str, str]] | tuple[tuple[str, str], ...]
    body: bytes = b""

    @property
    def decided_by(self) -> str | None:
        """The plugin whose ``websvc_lookup_rule`` answered (None without a decision)."""
        if self.decision is None or self.decision is _UNDECIDED:
            return None
        return self.decision.plugin or self.hooks.rule_plugin or None

    @property
    def refused_by(self) -> str | None:
        """The plugin that refused authentication (None when it passed or was not asked)."""
        if self.auth is None or self.auth.ok:
            return None
        return self.auth.plugin or self.hooks.auth_plugin or None


#: ``tuple.__new__``: builds an Outcome without NamedTuple's Python-level ``__new__``
#: (every request makes one; this is a third of the cost).
_new = tuple.__new__


def decide(
    site: Site,
    environ: WSGIEnvironment,
    identity: Identity | None = IDENTIFY,
    *,
    authenticate: bool = True,
) -> Outcome:
    """Run the hooks for *environ* and say what websvc answers (see the module docstring).

    *identity*, when given, skips identification (``websvc explain --tenant``);
    *authenticate* False treats a normal request as authenticated (the admin
    API's ``evaluate``, which asks about CORS, not about credentials).
    """
    hooks = site.hooks
    if identity is IDENTIFY:
        identity = hooks.identify_tenant(environ, site)
    tenant = None
    if identity is not None:
        tenant = identity.tenant
        hooks = tenant.hooks
    origin = environ.get("HTTP_ORIGIN")
    if origin is None:
        auth = hooks.authenticate(environ, identity, site) or _NO_AUTH
        if auth.ok:
            return _new(Outcome, (identity, hooks, None, None, auth, 0, _NO_HEADERS, b""))
        return _unauthorized(identity, hooks, None, None, auth, _NO_HEADERS)
    request = CorsRequest.from_environ(environ, origin)
    decision = hooks.lookup_rule(request, tenant, site) or _UNDECIDED
    headers: list[tuple[str, str]] = []
    hooks.emit_headers(request, decision, headers)
    server = site.server
    reject = False
    if not decision.allowed:
        if server.debug_header:
            # A plugin's reason is free text: never let it break the header.
            headers.append(("X-Websvc-Cors-Reason", safe(decision.reason, 100)))
        if server.reject_disallowed and not same_origin(
            origin, environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST")
        ):
            reject = True
            headers = [h for h in headers if h[0][:15].lower() != "access-control-"]
    if request.preflight:
        status = 403 if reject else server.preflight_status
        headers.append(("Vary", VARY_PREFLIGHT))
        if status != 204:
            headers.append(("Content-Length", "0"))
        return _new(Outcome, (identity, hooks, request, decision, None, status, headers, b""))
    if reject:
        headers += _FORBIDDEN_TAIL
        return _new(
            Outcome, (identity, hooks, request, decision, None, 403, headers, FORBIDDEN_BODY)
        )
    auth = (hooks.authenticate(environ, identity, site) or _NO_AUTH) if authenticate else _ASSUMED
    if auth.ok:
        return _new(Outcome, (identity, hooks, request, decision, auth, 0, headers, b""))
    return _unauthorized(identity, hooks, request, decision, auth, headers)


def _unauthorized(
    identity: Identity | None,
    hooks: HookCalls,
    request: CorsRequest | None,
    decision: Decision | None,
    auth: AuthResult,
    cors: list[tuple[str, str]] | tuple[tuple[str, str], ...],
) -> Outcome:
    """A normal request authentication refused: websvc's 401, with the CORS headers."""
    headers = [*cors, ("WWW-Authenticate", auth.challenge), *_UNAUTHORIZED_TAIL]
    return _new(
        Outcome, (identity, hooks, request, decision, auth, 401, headers, UNAUTHORIZED_BODY)
    )


def _plain(body: bytes) -> tuple[tuple[str, str], ...]:
    """The headers after the CORS ones of websvc's own plain-text answer."""
    return (("Vary", "Origin"), _TEXT, ("Content-Length", str(len(body))))


_FORBIDDEN_TAIL = _plain(FORBIDDEN_BODY)
_UNAUTHORIZED_TAIL = _plain(UNAUTHORIZED_BODY)
