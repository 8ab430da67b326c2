"""The admin API as a WSGI app: tokens, routing, JSON errors and the audit log.

One request: match the route (:mod:`websvc.admin.routes`), find who the
bearer token belongs to (operator tokens from ``[admin]``, compared in
constant time; tenant tokens from the store, by their sha256), check that
this token may call this route on this tenant, read and validate the body,
run the handler (:mod:`websvc.admin.handlers`). Every error is
``{"error": "<one line>", ...}`` with its status, and every error is written
to the audit log (``denied`` or ``invalid``); a write's ``ok`` entry is
written by the store in the write's own transaction.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import math
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound
from werkzeug.wrappers import Response

from websvc.admin.handlers import Handlers
from websvc.admin.panel import Panel
from websvc.admin.requests import JSON, AdminRequest, ApiError, Principal, no_such_tenant
from websvc.admin.routes import BY_ENDPOINT, URL_MAP
from websvc.logutil import safe
from websvc.problems import from_errors
from websvc.store import StoreError, StoreUnavailable

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger("websvc.admin")

#: Seconds a client should wait before retrying when the store is unreachable.
RETRY_AFTER = "5"


class AdminApp:
    """The admin API (ADMIN-API §3) over a store, for the settings of one config."""

    def __init__(self, handlers: Handlers) -> None:
        self.handlers = handlers
        self.store = handlers.store
        self.settings = handlers.settings
        self.operators = tuple(bytes.fromhex(h) for h in self.settings.operator_tokens_sha256)
        self.panel = Panel()

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = AdminRequest(environ)
        if self.panel.serves(request.path):  # the panel's static files: no token, not audited
            return self.panel.response(request.method, request.path)(environ, start_response)
        request.request_id = uuid.uuid4().hex
        try:
            response = self.dispatch(request)
        except ApiError as refused:
            response = refused.get_response()
            self._record(request, refused.status, refused.outcome)
        except StoreUnavailable as exc:
            log.warning("store unavailable: %s", safe(str(exc), 500))
            unavailable = ApiError(
                503,
                "the store is unavailable; nothing was written",
                headers={"Retry-After": RETRY_AFTER},
            )
            response = unavailable.get_response()
        except Exception:  # a bug: still one JSON line, and the traceback in the log
            log.exception("admin request %s failed", request.request_id)
            response = ApiError(500, "internal error (see the server log)").get_response()
            self._record(request, 500, "invalid")
        response.headers["X-Request-Id"] = request.request_id
        response.headers["Cache-Control"] = "no-store"
        return response(environ, start_response)

    def dispatch(self, request: AdminRequest) -> Response:
        adapter = URL_MAP.bind_to_environ(request.environ)
        try:
            endpoint, args = adapter.match()
        except MethodNotAllowed as exc:
            raise ApiError(
                405, "method not allowed", headers={"Allow": ", ".join(exc.valid_methods or ())}
            ) from None
        except (NotFound, HTTPException):
            raise ApiError(404, "no such route") from None
        request.route = BY_ENDPOINT[str(endpoint)]
        request.path_args = dict(args)
        request.principal = None
        if request.route.who != "anyone":
            request.principal = self.authenticate(request)
            self.authorize(request)
            unknown = sorted(set(request.args) - set(request.route.query))
            if unknown:  # a typo (?tenat=) is named, never silently ignored
                expected = ", ".join(request.route.query) or "none"
                raise ApiError(
                    400,
                    f"unknown query parameter {safe(unknown[0], 100)!r} (expected: {expected})",
                )
        body = self.read_body(request) if request.route.body is not None else None
        handler = getattr(self.handlers, request.route.endpoint)
        response: Response = handler(request, body) if body is not None else handler(request)
        return response

    def authenticate(self, request: AdminRequest) -> Principal:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > 512:
            raise self._unauthorized()
        digest = hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
        operator = None
        for known in self.operators:  # every compare runs: no early exit on a match
            if hmac.compare_digest(digest, known) and operator is None:
                operator = known
        if operator is not None:
            return Principal("operator", None, operator.hex()[:12])
        found = self.store.find_admin_token(digest.hex())
        if found is None:
            raise self._unauthorized()
        tenant, token_id = found
        return Principal("tenant", tenant, token_id)

    def authorize(self, request: AdminRequest) -> None:
        principal, route = request.principal, request.route
        assert principal is not None
        tenant = request.path_args.get("tenant")
        if tenant is not None and not principal.may_see(tenant):
            raise no_such_tenant()  # any route, operator routes too (ADMIN-API §3)
        if route.who == "operator" and principal.role != "operator":
            raise ApiError(403, "this route is for operators", outcome="denied")

    def read_body(self, request: AdminRequest) -> BaseModel | dict[str, Any]:
        limit = self.settings.max_body_bytes
        length = request.content_length
        if length is not None and length > limit:
            raise ApiError(413, f"the body is over {limit} bytes")
        if request.mimetype != JSON:
            raise ApiError(415, "the body must be application/json")
        raw = request.stream.read(limit + 1)
        if len(raw) > limit:
            raise ApiError(413, f"the body is over {limit} bytes")
        try:
            data = json.loads(raw, parse_constant=_not_json, parse_float=_finite)
        except (ValueError, RecursionError) as exc:
            raise ApiError(400, f"the body is not JSON: {safe(str(exc), 200)}") from None
        model = request.route.body
        assert model is not None
        if model.__name__ == "RulesBody" and isinstance(data, dict) and "rules" not in data:
            return data  # Boomi's shape: the handler maps it
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            problems = [p.as_json() for p in from_errors(exc, model)]
            raise ApiError(400, "the body is invalid", problems=problems) from None

    def _record(self, request: AdminRequest, status: int, outcome: str) -> None:
        try:
            self.store.record_audit(request.audit(status, outcome))
        except StoreError as exc:
            log.warning("cannot write the audit entry: %s", safe(str(exc), 500))

    @staticmethod
    def _unauthorized() -> ApiError:
        return ApiError(
            401,
            "a valid bearer token is required",
            outcome="denied",
            headers={"WWW-Authenticate": 'Bearer realm="websvc admin"'},
        )


def _not_json(constant: str) -> Any:
    """NaN, Infinity and -Infinity are Python's, not JSON's (RFC 8259): refused."""
    raise ValueError(f"{constant} is not a JSON value")


def _finite(text: str) -> float:
    """A JSON number as a float, refused when it is too large to be one (1e400)."""
    value = float(text)
    if value in (math.inf, -math.inf):
        raise ValueError(f"{text[:40]} is too large a number")
    return value
