"""Every route of the admin API, declared once: the URL map and ``openapi.json`` come from here.

``who`` says which tokens may call a route: ``anyone`` (no token),
``any`` (any valid token), ``operator``, or ``tenant`` (an operator, or the
token of the tenant named in the path: any other tenant's token gets the
same ``404`` as a tenant that does not exist).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel
from werkzeug.routing import Map, Rule

from websvc.admin import bodies

PREFIX = "/admin/v1"
Who = Literal["anyone", "any", "operator", "tenant"]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str  # werkzeug rule syntax: <tenant>, <int:version>, <token_id>
    endpoint: str
    who: Who
    summary: str
    body: type[BaseModel] | None = None
    answers: dict[int, tuple[str, type[BaseModel] | None]] = field(default_factory=dict)
    if_match: bool = False  # a write that needs If-Match: 428 without it, 412 when stale
    query: tuple[str, ...] = ()  # the query parameters it takes: any other is a 400


T = f"{PREFIX}/tenants/<tenant>"
_OK = "OK"

ROUTES: tuple[Route, ...] = (
    Route("GET", f"{PREFIX}/openapi.json", "openapi", "anyone", "This document (OpenAPI 3.1).",
          answers={200: (_OK, None)}),
    Route("GET", f"{PREFIX}/whoami", "whoami", "any", "Who the token belongs to.",
          answers={200: (_OK, bodies.WhoamiAnswer)}),
    Route("GET", f"{PREFIX}/tenants", "list_tenants", "operator", "Every tenant and its version.",
          answers={200: (_OK, bodies.TenantsAnswer)}),
    Route("PUT", T, "put_tenant", "operator", "Create or update a tenant's settings.",
          body=bodies.TenantBody,
          answers={200: ("Updated", bodies.TenantAnswer), 201: ("Created", bodies.TenantAnswer),
                   409: ("A host or user belongs to another tenant", bodies.ErrorAnswer)}),
    Route("DELETE", T, "delete_tenant", "operator", "Delete a tenant.", answers={204: ("Deleted", None)}),
    Route("POST", f"{T}/tokens", "add_token", "operator", "Create a tenant admin token (shown once).",
          answers={201: ("Created", bodies.TokenAnswer)}),
    Route("DELETE", f"{T}/tokens/<token_id>", "revoke_token", "operator",
          "Revoke a tenant admin token; it stops working at once.", answers={204: ("Revoked", None)}),
    Route("GET", f"{T}/cors", "get_rules", "tenant",
          "The tenant's CORS rules (?format=boomi for Boomi's corsConfiguration); ETag: the version.",
          query=("format",), answers={200: (_OK, bodies.RulesAnswer)}),
    Route("PUT", f"{T}/cors", "put_rules", "tenant",
          "Replace the tenant's CORS rules (websvc's or Boomi's shape).",
          body=bodies.RulesBody, if_match=True,
          answers={200: ("Saved", bodies.SavedAnswer)}),
    Route("GET", f"{T}/cors/revisions", "revisions", "tenant", "The tenant's versions, newest first.",
          answers={200: (_OK, bodies.RevisionsAnswer)}),
    Route("GET", f"{T}/cors/revisions/<int:version>", "revision", "tenant",
          "One version of the tenant's rules.", answers={200: (_OK, bodies.RevisionAnswer)}),
    Route("POST", f"{T}/cors/rollback", "rollback", "tenant",
          "Write a new version whose rules equal an earlier one's.",
          body=bodies.RollbackBody, if_match=True, answers={200: ("Rolled back", bodies.SavedAnswer)}),
    Route("POST", f"{T}/cors/evaluate", "evaluate", "tenant",
          "What the data plane answers to a request, against the saved rules or a draft.",
          body=bodies.EvaluateBody, answers={200: (_OK, bodies.EvaluateAnswer)}),
    Route("GET", f"{PREFIX}/audit", "audit", "any",
          "The audit log, newest first (a tenant sees its own entries); ?tenant= and ?limit=.",
          query=("tenant", "limit"), answers={200: (_OK, bodies.AuditAnswer)}),
)  # fmt: skip

BY_ENDPOINT = {route.endpoint: route for route in ROUTES}
URL_MAP = Map(
    [Rule(route.path, methods=[route.method], endpoint=route.endpoint) for route in ROUTES],
    strict_slashes=False,
)
