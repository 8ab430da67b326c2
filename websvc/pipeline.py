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

from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from websvc.cors import VARY_PREFLIGHT, CorsRequest, Decision
from websvc.logutil import safe
from websvc.site import AuthResult
from websvc.syntax import same_origin

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from websvc.site import HookCalls, Identity, Site, Tenant

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
#: The environ of a memoized request, shared by many (an empty, read-only mapping).
SHARED: WSGIEnvironment = MappingProxyType({})  # type: ignore[assignment]
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

    An outcome may be memoized (see "the memos" below) and shared by many
    requests: it is immutable (``headers`` is a tuple: copy it to send it),
    and a shared ``request`` has an empty ``environ`` and the first
    request's ``path``; read the request's own environ instead.
    """

    identity: Identity | None
    hooks: HookCalls
    request: CorsRequest | None
    decision: Decision | None
    auth: AuthResult | None
    status: int
    headers: tuple[tuple[str, str], ...]
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


#: Answers kept per site (then the memo starts again): bounds its memory.
MEMO_SIZE = 16384
#: A request with a longer Host, Origin, path, preflight header or Authorization is not memoized.
MEMO_MAX_VALUE = 256


class _Cors(NamedTuple):
    """The CORS part of an outcome: everything but authentication."""

    request: CorsRequest
    decision: Decision
    headers: tuple[tuple[str, str], ...]
    status: int  # 0: on to authentication and the API
    body: bytes


def decide(
    site: Site,
    environ: WSGIEnvironment,
    identity: Identity | None = IDENTIFY,
    *,
    authenticate: bool = True,
    memo: bool = True,
) -> Outcome:
    """Run the hooks for *environ* and say what websvc answers (see the module docstring).

    *identity*, when given, skips identification (``websvc explain --tenant``);
    *authenticate* False treats a normal request as authenticated (the admin
    API's ``evaluate``, which asks about CORS, not about credentials);
    *memo* False computes every answer afresh (see "the memos" below).
    """
    return _decide(site, environ, identity, authenticate, memo)


#: An :class:`Outcome` in the form the app sends it (see :func:`prepare`):
#: ``(outcome, status, headers, body, tenant, user, refused)``.
#:
#: ``status`` is websvc's own status line (``headers`` its whole header
#: list, ``body`` its body) or ``""``: the request goes to the API, whose
#: answer gets ``headers`` (the CORS headers, then ``Vary: Origin``) added,
#: and ``tenant`` and ``user`` are what the API finds in the environ.
#: ``refused``: the outcome refused something (:func:`websvc.events.log_refusals`).
#:
#: A plain tuple, not a NamedTuple: the app unpacks one per request, and
#: Python unpacks an exact tuple in one step but a subclass through its
#: iterator (about 45 ns more).
Plan = tuple[
    Outcome, str, tuple[tuple[str, str], ...], list[bytes], "str | None", "str | None", bool
]


def prepare(
    site: Site, environ: WSGIEnvironment, key: tuple[str | None, ...] | None, *, memo: bool = True
) -> Plan:
    """:func:`decide` for a request the app serves, as a :data:`Plan`.

    *key* is the request's key in ``site.plans``, or None for a request
    with ``boomi_auth`` (its query string would be the key): the app looks
    the key up first and calls this on a miss; the plan is kept when it
    depends on the key alone (see "the memos"). *memo* False computes every
    answer afresh and keeps nothing.
    """
    outcome = _decide(site, environ, IDENTIFY, True, memo)
    plan = _plan(outcome)
    if memo and key is not None and _is_open(site, outcome) and _short(key):
        _remember(site.plans, key, plan, outcome.request)
    return plan


_EMPTY_BODY: list[bytes] = [b""]  # shared: a WSGI server only iterates it
_VARY_ORIGIN = ("Vary", "Origin")


def _plan(outcome: Outcome) -> Plan:
    identity, _, _, decision, auth, status, headers, body = outcome
    refused = (decision is not None and not decision.allowed) or status == 401
    if status:
        return (
            outcome,
            STATUS_LINES[status],
            headers,
            [body] if body else _EMPTY_BODY,
            None,
            None,
            refused,
        )
    tenant = identity.tenant.name if identity is not None else None
    user = auth.user if auth is not None else None
    return (outcome, "", (*headers, _VARY_ORIGIN), _EMPTY_BODY, tenant, user, refused)


def _decide(
    site: Site,
    environ: WSGIEnvironment,
    identity: Identity | None,
    authenticate: bool,
    memo: bool,
) -> Outcome:
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
    key = _cors_key(environ, origin, tenant) if memo and hooks.pure_cors else None
    cors = site.answers.get(key) if key is not None else None
    if cors is None:
        cors = _cors(site, hooks, tenant, environ, origin)
        # A refusal under reject_disallowed depends on Host (same-origin): never kept.
        if (
            key is not None
            and (cors.decision.allowed or not site.server.reject_disallowed)
            and _short(key[1:])
        ):
            _remember(site.answers, key, cors, cors.request)
    request, decision, headers, status, body = cors
    if status:
        return _new(Outcome, (identity, hooks, request, decision, None, status, headers, body))
    auth = (hooks.authenticate(environ, identity, site) or _NO_AUTH) if authenticate else _ASSUMED
    if auth.ok:
        return _new(Outcome, (identity, hooks, request, decision, auth, 0, headers, b""))
    return _unauthorized(identity, hooks, request, decision, auth, headers)


# -- the memos --------------------------------------------------------------
#
# Where only the default plugins answer a step, their answer is a function of
# a few request values; the pipeline keeps it per site (a new site starts
# empty), so a repeated request costs a dictionary lookup. What is kept is what
# the one implementation above computed: nothing is decided a second way, and
# the tests run the spec table with the memos cold, warm and off.


def _short(key: tuple[str | None, ...]) -> bool:
    """Whether no value of *key* is too long to keep (bounds the memos' memory)."""
    return all(value is None or len(value) <= MEMO_MAX_VALUE for value in key)


def _is_open(site: Site, outcome: Outcome) -> bool:
    """Whether *outcome* depended on its request's memo key alone.

    That key (built by :meth:`websvc.app.WebsvcApp.pipeline`, the hot path;
    a request with ``boomi_auth`` has none) is Host, Origin, the method, for
    a preflight its ``Access-Control-Request-*`` headers, and
    ``Authorization``: all that the default identification reads (Host and
    the Basic credential), the default authentication (that credential, and
    the users of the site the memo belongs to), and the CORS answer of a
    tenant whose rules have no ``paths`` (see :func:`_cors_key`). A 401 is
    never kept: each failed attempt runs the whole check again.
    """
    identity, hooks, _, decision, auth, status, _, _ = outcome
    if not (site.hooks.pure_identify and hooks.pure_cors) or status == 401:
        return False
    if identity is not None and identity.tenant.rules.uses_paths:
        return False
    if auth is not None and not hooks.pure_auth:
        return False  # a plugin authenticated: it may read more than the key
    return decision is None or decision.allowed or not site.server.reject_disallowed


def _cors_key(environ: WSGIEnvironment, origin: str, tenant: Tenant | None) -> tuple[Any, ...]:
    """What the default plugins' CORS answer depends on (``hooks.pure_cors``).

    The tenant's compiled rules (a recompiled tenant is a new key), the
    Origin, the method, the preflight's request headers and private-network
    flag, and the path when a rule of the tenant has ``paths``; the site's
    settings are fixed for the site the memo belongs to.
    """
    rules = tenant.rules if tenant is not None else None
    method = environ.get("REQUEST_METHOD", "GET")
    acrm = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
    if acrm is not None and method == "OPTIONS":
        key: tuple[Any, ...] = (
            rules,
            origin,
            acrm,
            environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
            environ.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK"),
        )
    else:
        key = (rules, origin, method)
    if rules is not None and rules.uses_paths:
        return (*key, environ.get("PATH_INFO", ""))
    return key


def _remember(
    memo: dict[Any, Any], key: tuple[object, ...], value: _Cors | Plan, request: CorsRequest | None
) -> None:
    """Keep *value* for *key*; its *request* forgets its environ (no request outlives its own)."""
    if len(memo) >= MEMO_SIZE:
        memo.clear()
    if request is not None:
        request.environ = SHARED
    memo[key] = value


def _cors(
    site: Site, hooks: HookCalls, tenant: Tenant | None, environ: WSGIEnvironment, origin: str
) -> _Cors:
    """Ask the rule lookup and header hooks about a request with *origin*."""
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
        return _Cors(request, decision, tuple(headers), status, b"")
    if reject:
        headers += _FORBIDDEN_TAIL
        return _Cors(request, decision, tuple(headers), 403, FORBIDDEN_BODY)
    return _Cors(request, decision, tuple(headers), 0, b"")


def _unauthorized(
    identity: Identity | None,
    hooks: HookCalls,
    request: CorsRequest | None,
    decision: Decision | None,
    auth: AuthResult,
    cors: tuple[tuple[str, str], ...],
) -> Outcome:
    """A normal request authentication refused: websvc's 401, with the CORS headers."""
    headers = (*cors, ("WWW-Authenticate", auth.challenge), *_UNAUTHORIZED_TAIL)
    return _new(
        Outcome, (identity, hooks, request, decision, auth, 401, headers, UNAUTHORIZED_BODY)
    )


def _plain(body: bytes) -> tuple[tuple[str, str], ...]:
    """The headers after the CORS ones of websvc's own plain-text answer."""
    return (("Vary", "Origin"), _TEXT, ("Content-Length", str(len(body))))


_FORBIDDEN_TAIL = _plain(FORBIDDEN_BODY)
_UNAUTHORIZED_TAIL = _plain(UNAUTHORIZED_BODY)
