"""The admin API's request and answer bodies, declared once.

The same pydantic models validate a request body (every problem at once,
with its path) and describe it in ``openapi.json``. A RULE is the config's
own ``[[tenants.NAME.cors]]`` table (:class:`websvc.schema.CorsRuleTable`),
so the API and ``websvc check`` accept exactly the same rules.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from websvc.schema import CorsRuleTable


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class UserBody(_Body):
    name: str = Field(description="The user name: non-empty, no colon.")
    token_sha256: str = Field(description="64 hex digits: the sha256 of the user's token.")


class TenantBody(_Body):
    """``PUT /admin/v1/tenants/{t}``: a tenant's settings (its rules are under ``/cors``)."""

    hosts: list[str] = Field(default_factory=list, description="Host names of the tenant.")
    users: list[UserBody] = Field(default_factory=list, description="The tenant's users.")
    plugins: list[str] = Field(default_factory=list, description='"module:attribute" plugins.')


class RulesBody(_Body):
    """``PUT /admin/v1/tenants/{t}/cors`` in websvc's shape (Boomi's is accepted too)."""

    rules: list[dict[str, Any]] = Field(description="The tenant's CORS rules, in order.")


#: The highest version a store can hold (a 64-bit integer).
MAX_VERSION = 2**63 - 1


class RollbackBody(_Body):
    version: int = Field(
        ge=1, le=MAX_VERSION, description="The revision whose rules the new version gets."
    )


#: What no header value or request path can hold (HTTP has no way to send it); a
#: pattern also refuses a lone surrogate (``"\\ud800"`` in JSON), which no request holds.
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"


class EvaluateBody(_Body):
    """``POST .../cors/evaluate``: a request to decide, against the saved rules or a draft."""

    origin: str = Field(pattern=NO_CONTROL, description="The Origin header, as a browser sends it.")
    method: str = Field(
        pattern=NO_CONTROL,
        description="Access-Control-Request-Method of a preflight, else the request method.",
    )
    path: str = Field("/", pattern=NO_CONTROL, description="The request path (PATH_INFO).")
    request_headers: list[Annotated[str, Field(pattern=NO_CONTROL)]] = Field(
        default_factory=list, description="Access-Control-Request-Headers of a preflight."
    )
    preflight: bool = Field(True, description="A preflight (OPTIONS) or the request itself.")
    rules: list[dict[str, Any]] | None = Field(
        None, description="A draft of the rules to evaluate instead of the saved ones."
    )


# -- answers (documented in openapi.json) ----------------------------------


class ErrorAnswer(BaseModel):
    error: str
    problems: list[dict[str, Any]] | None = None
    version: int | None = None


class WhoamiAnswer(BaseModel):
    role: Literal["operator", "tenant"]
    tenant: str | None


class TenantsAnswer(BaseModel):
    tenants: list[dict[str, Any]]


class TenantAnswer(BaseModel):
    name: str
    version: int


class TokenAnswer(BaseModel):
    id: str
    token: str


class RulesAnswer(BaseModel):
    tenant: str
    version: int
    rules: list[CorsRuleTable]


class SavedAnswer(BaseModel):
    version: int
    warnings: list[dict[str, Any]] = []


class RevisionsAnswer(BaseModel):
    revisions: list[dict[str, Any]]


class RevisionAnswer(BaseModel):
    version: int
    actor: str
    at: str
    action: str
    rules: list[dict[str, Any]]


class EvaluateAnswer(BaseModel):
    allowed: bool
    rule: int | None
    reason: str
    detail: str
    status: int | None
    headers: list[list[str]]


class AuditAnswer(BaseModel):
    entries: list[dict[str, Any]]
