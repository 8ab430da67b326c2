"""Explain what websvc answers to a request, and why.

Used by ``websvc explain`` and the playground. The request is built as a
browser would send it and handed to :func:`websvc.pipeline.decide`, the very
function the server runs: the explanation's status and headers are the
wire's, byte for byte. It names the tenant and how it was identified, the
plugin that decided, the rule that matched, or the exact check that failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from werkzeug.test import EnvironBuilder

from websvc.pipeline import IDENTIFY, Outcome, decide
from websvc.site import Identity

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from websvc.cors import CompiledRule, Decision
    from websvc.site import Site

_VIA = {
    "boomi_auth": "the boomi_auth user",
    "basic": "the Basic user",
    "host": "the Host header",
    "only": "the only tenant",
    "forced": "--tenant",
}


@dataclass(frozen=True, slots=True)
class Explanation:
    """A request, what websvc decided for it, and what it sends.

    ``method`` is the ``Access-Control-Request-Method`` of a preflight (as
    sent) and the request method otherwise. ``status`` is websvc's own
    answer, or 0 when the request goes on to the API: ``headers`` are then
    the ones websvc adds to the API's answer.
    """

    method: str
    path: str
    origin: str | None
    outcome: Outcome

    @property
    def decision(self) -> Decision | None:
        return self.outcome.decision

    @property
    def request_headers(self) -> tuple[str, ...]:
        request = self.outcome.request
        return (request.request_headers or ()) if request is not None else ()

    @property
    def allowed(self) -> bool:
        """Whether CORS allows the request (False without ``Origin``)."""
        decision = self.outcome.decision
        return decision is not None and decision.allowed

    @property
    def identity(self) -> Identity | None:
        return self.outcome.identity

    @property
    def decided_by(self) -> str | None:
        return self.outcome.decided_by

    @property
    def status(self) -> int:
        return self.outcome.status

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        return tuple(self.outcome.headers)

    def lines(self) -> list[str]:
        outcome, request = self.outcome, self.outcome.request
        if request is not None and request.preflight:
            out = [f"preflight: OPTIONS {self.path}", f"  Origin: {request.origin}"]
            out.append(f"  Access-Control-Request-Method: {self.method}")
            if request.request_headers:
                names = ", ".join(request.request_headers)
                out.append(f"  Access-Control-Request-Headers: {names}")
        else:
            out = [f"request: {self.method} {self.path}"]
            if request is not None:
                out.append(f"  Origin: {request.origin}")
        if outcome.identity is None:
            out.append("tenant: none identified (no boomi_auth/Basic user, Host or single tenant)")
        else:
            via = _VIA.get(outcome.identity.via, outcome.identity.via)
            out.append(f"tenant: {outcome.identity.tenant.name} (identified by {via})")
        decision = outcome.decision
        if decision is not None:
            if decision.rule is not None:
                out.append(f"rule: {decision.rule.label} ({describe_rule(decision.rule)})")
            by = f" by {outcome.decided_by}" if outcome.decided_by else ""
            if decision.allowed:
                out.append(f"decision: ALLOWED{by}")
            else:
                out.append(f"decision: REFUSED{by}: {decision.reason}: {decision.detail}")
        auth = outcome.auth
        if auth is not None and not auth.ok:
            out.append(f"authentication: REFUSED by {outcome.refused_by or '-'}: {auth.reason}")
        if outcome.status:
            out.append(f"response: {outcome.status}")
        else:
            out.append("response: the API's, with these headers added")
        out.extend(f"  {name}: {value}" for name, value in outcome.headers)
        return out


def describe_rule(rule: CompiledRule) -> str:
    """One line summary of a compiled rule."""
    pairs = ", ".join(
        f"{scheme}:{'*' if port is None else port}"
        for scheme, port in sorted(rule.pairs, key=lambda p: (p[0], p[1] or 0))
    )
    paths = ", ".join(rule.paths) if rule.paths else "every path"
    return f"domain {rule.domain}, {pairs}, {paths}"


def explain(
    site: Site,
    *,
    origin: str,
    method: str,
    headers: Sequence[str] = (),
    path: str = "/",
    tenant: str | None = None,
    host: str | None = None,
) -> Explanation:
    """What the server answers to this preflight, and why.

    *tenant* skips identification (raises KeyError when there is no such
    tenant); *host* is the ``Host`` header, for identification by host.
    """
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request_headers["Access-Control-Request-Headers"] = ",".join(headers)
    environ = EnvironBuilder(
        path=path,
        method="OPTIONS",
        headers=list(request_headers.items()),
        base_url=f"http://{host or 'localhost'}",
    ).get_environ()
    return explain_environ(site, environ, tenant=tenant)


def explain_environ(
    site: Site, environ: WSGIEnvironment, *, tenant: str | None = None
) -> Explanation:
    """What the server answers to the request *environ*, and why (any request)."""
    identity = IDENTIFY
    if tenant is not None:
        found = site.tenants.get(tenant)
        if found is None:
            raise KeyError(tenant)
        identity = Identity(found, "forced")
    outcome = decide(site, dict(environ), identity, memo=False)
    method = environ.get("REQUEST_METHOD", "GET")
    if outcome.request is not None and outcome.request.preflight:
        method = environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"]
    return Explanation(method, environ.get("PATH_INFO", ""), environ.get("HTTP_ORIGIN"), outcome)
