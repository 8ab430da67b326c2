"""Explain the decision websvc makes for a preflight, and why.

Used by ``websvc explain``. The request is built as a browser would send it
and goes through the same hooks as a served request: identification (unless
a tenant is forced), then rule lookup and header emission with the tenant's
own plugins. The explanation names the plugin that decided, the rule that
matched, or the exact check that failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from werkzeug.test import EnvironBuilder

from websvc.app import same_origin
from websvc.cors import VARY_PREFLIGHT, CompiledRule, CorsRequest, Decision
from websvc.registry import Identity, Site

_VIA = {
    "boomi_auth": "the boomi_auth user",
    "basic": "the Basic user",
    "host": "the Host header",
    "only": "the only tenant",
    "forced": "--tenant",
}


@dataclass(frozen=True, slots=True)
class Explanation:
    origin: str
    method: str
    request_headers: tuple[str, ...]
    path: str
    identity: Identity | None
    decision: Decision
    decided_by: str | None
    status: int
    headers: tuple[tuple[str, str], ...]

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    def lines(self) -> list[str]:
        out = [f"preflight: OPTIONS {self.path}", f"  Origin: {self.origin}"]
        out.append(f"  Access-Control-Request-Method: {self.method}")
        if self.request_headers:
            out.append(f"  Access-Control-Request-Headers: {', '.join(self.request_headers)}")
        if self.identity is None:
            out.append("tenant: none identified (no boomi_auth/Basic user, Host or single tenant)")
        else:
            via = _VIA.get(self.identity.via, self.identity.via)
            out.append(f"tenant: {self.identity.tenant.name} (identified by {via})")
        rule = self.decision.rule
        if rule is not None:
            out.append(f"rule: {rule.label} ({describe_rule(rule)})")
        by = f" by {self.decided_by}" if self.decided_by else ""
        if self.decision.allowed:
            out.append(f"decision: ALLOWED{by}")
        else:
            out.append(f"decision: REFUSED{by}: {self.decision.reason}: {self.decision.detail}")
        out.append(f"response: {self.status}")
        out.extend(f"  {name}: {value}" for name, value in self.headers)
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
    """What the server answers to this preflight, and why."""
    request_headers = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request_headers["Access-Control-Request-Headers"] = ",".join(headers)
    environ = EnvironBuilder(
        path=path,
        method="OPTIONS",
        headers=list(request_headers.items()),
        base_url=f"http://{host or 'localhost'}",
    ).get_environ()
    identity: Identity | None
    if tenant is not None:
        found = site.tenants.get(tenant)
        if found is None:
            raise KeyError(tenant)
        identity = Identity(found, "forced")
    else:
        result, _ = site.hooks.deciders("websvc_identify_tenant", environ, site)
        identity = result if isinstance(result, Identity) else None
    hooks = identity.tenant.hooks if identity is not None else site.hooks
    request = CorsRequest.from_environ(environ, origin)
    answer, decided_by = hooks.deciders(
        "websvc_lookup_rule", request, identity.tenant if identity else None, site
    )
    decision = answer if isinstance(answer, Decision) else Decision.refuse("no_tenant")
    out: list[tuple[str, str]] = []
    hooks.emit_headers(request, decision, out)
    status = site.server.preflight_status
    if not decision.allowed and site.server.reject_disallowed and not same_origin(environ, origin):
        status = 403
    out.append(("Vary", VARY_PREFLIGHT))
    return Explanation(
        origin=origin,
        method=method,
        request_headers=request.request_headers or (),
        path=path,
        identity=identity,
        decision=decision,
        decided_by=decided_by,
        status=status,
        headers=tuple(out),
    )
