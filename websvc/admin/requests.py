"""What the admin API knows of one request, and its error answers.

:class:`ApiError` is every error answer: ``{"error": "<one line>", ...}`` with
its status, audited as ``denied`` or ``invalid``; :class:`AdminRequest` is a
werkzeug request with its route, path arguments, caller and request id.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Request, Response

from websvc.logutil import safe
from websvc.store import Audit

if TYPE_CHECKING:
    from websvc.admin.routes import Route

JSON = "application/json"


class ApiError(HTTPException):
    """An error answer: ``{"error": message, **fields}`` with *code*, audited as *outcome*."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        outcome: str = "invalid",
        headers: dict[str, str] | None = None,
        **fields: Any,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.status = code
        self.message = message
        self.outcome = outcome
        self.fields = fields
        self.extra_headers = headers or {}

    def get_response(self, environ: Any = None, scope: Any = None) -> Response:
        body = {"error": self.message, **self.fields}
        response = Response(json.dumps(body, ensure_ascii=True), self.code, mimetype=JSON)
        for name, value in self.extra_headers.items():
            response.headers[name] = value
        return response


def no_such_tenant() -> ApiError:
    """The one answer for a tenant that does not exist *or* is not the caller's."""
    return ApiError(404, "no such tenant", outcome="denied")


class Principal:
    """Who called: an operator (``id`` from its token digest) or a tenant's token."""

    __slots__ = ("id", "role", "tenant")

    def __init__(self, role: str, tenant: str | None, id: str) -> None:
        self.role = role
        self.tenant = tenant
        self.id = id

    @property
    def actor(self) -> str:
        return f"operator:{self.id}" if self.role == "operator" else f"tenant:{self.tenant}"

    def may_see(self, tenant: str) -> bool:
        return self.role == "operator" or self.tenant == tenant


class AdminRequest(Request):
    """A request with what the pipeline found out about it."""

    max_content_length = None  # checked by the app, with its own 413

    route: Route
    path_args: dict[str, Any]
    principal: Principal | None
    request_id: str

    def audit(self, status: int | None = None, outcome: str = "ok") -> Audit:
        """The audit record of this request (the store fills in the time)."""
        principal = getattr(self, "principal", None)
        tenant = getattr(self, "path_args", {}).get("tenant")
        return Audit(
            actor=principal.actor if principal is not None else "anonymous",
            method=self.method,
            path=safe(self.path, 500),
            request_id=self.request_id,
            remote_addr=self.remote_addr,
            tenant=tenant,
            status=status,
            outcome=outcome,
        )
