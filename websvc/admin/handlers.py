"""What each admin route does (:mod:`websvc.admin.routes` declares them).

Every rule that reaches the store has passed the same checks as
``websvc check`` (:func:`websvc.config.check_rules`); a tenant's settings
pass the config's own validation. ``evaluate`` runs the data plane's own
decision path (:func:`websvc.pipeline.decide`) on a site compiled from the
tenant's rules or a draft of them.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Response

from websvc.admin import rules as rule_forms
from websvc.admin.bodies import MAX_VERSION, RulesBody
from websvc.admin.openapi import openapi_document
from websvc.admin.requests import JSON, ApiError, no_such_tenant
from websvc.config import ConfigError, check_rules
from websvc.pipeline import decide
from websvc.site import Identity
from websvc.store import (
    AuditEntry,
    NoSuchRevision,
    NoSuchTenant,
    Taken,
    TenantState,
    VersionConflict,
)

if TYPE_CHECKING:
    from websvc.admin.bodies import EvaluateBody, RollbackBody, TenantBody
    from websvc.admin.requests import AdminRequest
    from websvc.admin.settings import AdminSettings
    from websvc.store import Store


def answer(data: object, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    body = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    return Response(body, status, headers=dict(headers or {}), mimetype=JSON)


def etag(version: int) -> dict[str, str]:
    return {"ETag": f'"{version}"'}


class Handlers:
    """The route handlers over one store, for one config's settings."""

    def __init__(self, store: Store, settings: AdminSettings) -> None:
        self.store = store
        self.settings = settings

    # -- who and which tenants ----------------------------------------------

    def openapi(self, request: AdminRequest) -> Response:
        return answer(openapi_document())

    def whoami(self, request: AdminRequest) -> Response:
        principal = request.principal
        assert principal is not None
        return answer({"role": principal.role, "tenant": principal.tenant})

    def list_tenants(self, request: AdminRequest) -> Response:
        listed = self.store.list_tenants()
        return answer({"tenants": [{"name": name, "version": v} for name, v in listed]})

    def put_tenant(self, request: AdminRequest, body: TenantBody) -> Response:
        name = request.path_args["tenant"]
        data = body.model_dump()
        problems = self.settings.check_tenant(name, data)
        if problems:
            raise ApiError(400, "the tenant is invalid", problems=problems)
        try:
            created, version = self.store.put_tenant(
                name,
                hosts=data["hosts"],
                # hex in either case passes the checks; the store keeps lower case
                users=[{**u, "token_sha256": u["token_sha256"].lower()} for u in data["users"]],
                plugins=data["plugins"],
                audit=request.audit(),  # the store fills in 201 (created) or 200
            )
        except Taken as exc:
            raise ApiError(409, str(exc)) from None
        return answer({"name": name, "version": version}, 201 if created else 200, etag(version))

    def delete_tenant(self, request: AdminRequest) -> Response:
        if not self.store.delete_tenant(request.path_args["tenant"], audit=request.audit(204)):
            raise no_such_tenant()
        return Response(status=204)

    def add_token(self, request: AdminRequest) -> Response:
        tenant = self._state(request).name
        token = secrets.token_urlsafe(32)
        digest = hashlib.sha256(token.encode()).hexdigest()
        token_id = self.store.add_admin_token(tenant, digest, audit=request.audit(201))
        return answer({"id": token_id, "token": token}, 201)

    def revoke_token(self, request: AdminRequest) -> Response:
        tenant = self._state(request).name
        if not self.store.revoke_admin_token(
            tenant, request.path_args["token_id"], audit=request.audit(204)
        ):
            raise ApiError(404, "no such token")
        return Response(status=204)

    # -- rules -------------------------------------------------------------

    def get_rules(self, request: AdminRequest) -> Response:
        state = self._state(request)
        filled = rule_forms.filled(state.rules)
        formats = request.args.getlist("format")
        if any(value != "boomi" for value in formats):
            raise ApiError(400, 'format is not "boomi"')
        if formats:
            body: dict[str, Any] = {"corsConfiguration": {"origins": rule_forms.to_boomi(filled)}}
        else:
            body = {"tenant": state.name, "version": state.version, "rules": filled}
        return answer(body, headers=etag(state.version))

    def put_rules(self, request: AdminRequest, body: Any) -> Response:
        state = self._state(request)
        if_match = self._if_match(request, state.version)
        rules = self._checked_rules(body)
        try:
            version = _written(
                lambda: self.store.put_rules(
                    state.name, rules.values, if_match=if_match, audit=request.audit(200)
                )
            )
        except NoSuchTenant:
            raise no_such_tenant() from None
        return answer({"version": version, "warnings": rules.warnings}, headers=etag(version))

    def revisions(self, request: AdminRequest) -> Response:
        state = self._state(request)
        listed = [
            {
                "version": r.version,
                "actor": r.actor,
                "at": r.at,
                "action": r.action,
                "summary": r.summary,
            }
            for r in self.store.revisions(state.name)
        ]
        return answer({"revisions": listed})

    def revision(self, request: AdminRequest) -> Response:
        state = self._state(request)
        version = request.path_args["version"]
        found = self.store.revision(state.name, version) if version <= MAX_VERSION else None
        if found is None:
            raise ApiError(404, "no such revision")
        return answer(
            {
                "version": found.version,
                "actor": found.actor,
                "at": found.at,
                "action": found.action,
                "rules": rule_forms.filled(found.rules),
            }
        )

    def rollback(self, request: AdminRequest, body: RollbackBody) -> Response:
        state = self._state(request)
        if_match = self._if_match(request, state.version)
        try:
            version = _written(
                lambda: self.store.rollback(
                    state.name, body.version, if_match=if_match, audit=request.audit(200)
                )
            )
        except NoSuchRevision:
            raise ApiError(404, "no such revision") from None
        return answer({"version": version}, headers=etag(version))

    def evaluate(self, request: AdminRequest, body: EvaluateBody) -> Response:
        state = self._state(request)
        draft = None if body.rules is None else RulesBody.model_construct(rules=body.rules)
        rules = list(state.rules) if draft is None else self._checked_rules(draft).values
        site = self.settings.site_for(state, rules)
        tenant = site.tenants[state.name]
        headers = [("Origin", body.origin)]
        if body.preflight:
            headers.append(("Access-Control-Request-Method", body.method))
            if body.request_headers:
                headers.append(("Access-Control-Request-Headers", ",".join(body.request_headers)))
        environ = EnvironBuilder(
            path=body.path if body.path.startswith("/") else "/" + body.path,
            method="OPTIONS" if body.preflight else body.method,
            headers=headers,
            base_url=self.settings.evaluate_base_url,
        ).get_environ()
        outcome = decide(
            site, environ, Identity(tenant, "evaluate"), authenticate=False, memo=False
        )
        decision = outcome.decision
        assert decision is not None
        rule = decision.rule
        return answer(
            {
                "allowed": decision.allowed,
                "rule": rule.index if rule is not None else None,
                "reason": decision.reason,
                "detail": decision.detail,
                "status": outcome.status or None,
                "headers": [list(h) for h in outcome.headers],
            }
        )

    def audit(self, request: AdminRequest) -> Response:
        principal = request.principal
        assert principal is not None
        limits = request.args.getlist("limit") or ["100"]
        if len(limits) != 1 or not limits[0].isdecimal() or not 1 <= int(limits[0]) <= 1000:
            raise ApiError(400, "limit is not a whole number from 1 to 1000")
        limit = int(limits[0])
        tenant = request.args.get("tenant") or None
        if principal.role == "operator":
            entries = self.store.audit_entries(tenant=tenant, limit=limit)
        else:
            if tenant is not None and tenant != principal.tenant:
                raise no_such_tenant()
            entries = self.store.audit_entries(visible_to=principal.tenant, limit=limit)
        return answer({"entries": [_entry(e) for e in entries]})

    # -- private ------------------------------------------------------------

    def _state(self, request: AdminRequest) -> TenantState:
        state = self.store.tenant(request.path_args["tenant"])
        if state is None:
            raise no_such_tenant()
        return state

    def _if_match(self, request: AdminRequest, current: int) -> int:
        header = request.headers.get("If-Match")
        if header is None:
            raise ApiError(428, "If-Match is required: send the ETag of what you edited")
        text = header.strip().removeprefix("W/").strip('"')
        # ASCII digits only ("²".isdigit()), and no more than a version can have
        if not (text.isascii() and text.isdecimal()) or len(text) > 19:
            raise ApiError(412, "If-Match is not a version this API gave", version=current)
        return int(text)

    def _checked_rules(self, body: Any) -> rule_forms.Checked:
        rules, problems = rule_forms.from_body(body)
        if len(rules) > self.settings.max_rules_per_tenant:
            raise ApiError(
                413, f"more than {self.settings.max_rules_per_tenant} rules (max_rules_per_tenant)"
            )
        if not problems:
            checked = check_rules(rules)
            problems = checked.problems
        if problems:
            raise ApiError(400, "the rules are invalid", problems=[p.as_json() for p in problems])
        return rule_forms.Checked(rules, [p.as_json() for p in checked.warnings])


__all__ = ["ConfigError", "Handlers", "answer"]


def _written(write: Callable[[], int]) -> int:
    """The new version *write* made, or 412 when another write came first (nothing written)."""
    try:
        return write()
    except VersionConflict as exc:
        raise ApiError(412, "someone else saved first: reload", version=exc.current) from None


def _entry(entry: AuditEntry) -> dict[str, Any]:
    """An audit entry as the API answers it: every field of the record but its row id."""
    fields = asdict(entry)
    del fields["id"]
    return fields
