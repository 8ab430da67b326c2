"""``openapi.json``: generated from the route table and the body models, never written by hand."""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from pydantic import BaseModel

from websvc.admin import bodies
from websvc.admin.routes import ROUTES, Route

_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")
_ERRORS = {
    400: "Invalid: every problem at once, with its path",
    401: "No valid bearer token",
    403: "A tenant token on an operator route",
    404: "No such tenant (or not yours), route or revision",
    412: "If-Match is not the current version; nothing was written",
    413: "Body over max_body_bytes, or more rules than max_rules_per_tenant",
    415: "The body is not application/json",
    428: "If-Match is required",
    503: "The store is unreachable; nothing was written (see Retry-After)",
}

#: ``GET .../cors?format=boomi``: Boomi's field names (websvc/admin/rules.py, to_boomi).
_BOOMI_RULES: dict[str, Any] = {
    "type": "object",
    "description": "?format=boomi: the rules as Boomi's corsConfiguration",
    "required": ["corsConfiguration"],
    "additionalProperties": False,
    "properties": {
        "corsConfiguration": {
            "type": "object",
            "required": ["origins"],
            "properties": {"origins": {"type": "array", "items": {"type": "object"}}},
        }
    },
}


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every admin route."""
    from websvc import __version__

    schemas: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    for route in ROUTES:
        path = _PARAM.sub(lambda m: "{" + m.group(2) + "}", route.path)
        paths.setdefault(path, {})[route.method.lower()] = _operation(route, schemas)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "websvc admin API",
            "version": __version__,
            "description": "Tenant self-service: the rule store, versions, rollback, "
            "dry runs and the audit log (docs/admin.md).",
        },
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _operation(route: Route, schemas: dict[str, Any]) -> dict[str, Any]:
    operation: dict[str, Any] = {"operationId": route.endpoint, "summary": route.summary}
    if route.who != "anyone":
        operation["security"] = [{"bearer": []}]
    parameters = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1} if kind == "int" else {"type": "string"},
        }
        for kind, name in _PARAM.findall(route.path)
    ]
    if route.if_match:
        parameters.append(
            {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"}}
        )
    if route.endpoint == "get_rules":
        parameters.append(
            {"name": "format", "in": "query", "required": False, "schema": {"enum": ["boomi"]}}
        )
    if route.endpoint == "audit":
        parameters += [
            {"name": "tenant", "in": "query", "required": False, "schema": {"type": "string"}},
            {"name": "limit", "in": "query", "required": False,
             "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
        ]  # fmt: skip
    if parameters:
        operation["parameters"] = parameters
    if route.body is not None:
        body_schema: dict[str, Any] = _ref(route.body, schemas)
        if route.endpoint == "put_rules":
            body_schema = {"oneOf": [body_schema, {"type": "object", "description":
                "Boomi's {\"corsConfiguration\": ...} or a whole SharedWebServer object"}]}  # fmt: skip
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": body_schema}},
        }
    responses: dict[str, Any] = {}
    for status, (text, model) in sorted(route.answers.items()):
        entry: dict[str, Any] = {"description": text}
        if model is not None:
            schema: dict[str, Any] = _ref(model, schemas)
            if route.endpoint == "get_rules" and status == 200:
                schema = {"oneOf": [schema, _BOOMI_RULES]}
            entry["content"] = {"application/json": {"schema": schema}}
        elif status == 200:
            entry["content"] = {"application/json": {"schema": {"type": "object"}}}
        responses[str(status)] = entry
    for status, text in _ERRORS.items():
        if _applies(route, status):
            responses.setdefault(
                str(status),
                {
                    "description": text,
                    "content": {"application/json": {"schema": _ref(bodies.ErrorAnswer, schemas)}},
                },
            )
    operation["responses"] = responses
    return operation


def _applies(route: Route, status: int) -> bool:
    if status in (401, 403, 503):
        return route.who != "anyone" and (status != 403 or route.who == "operator")
    if status == 404:
        return route.who != "anyone"
    if status == 400:  # a bad body, or a bad query parameter
        return route.who != "anyone"  # a bad body or query parameter; any unknown parameter
    if status in (413, 415):
        return route.body is not None
    if status in (412, 428):
        return route.if_match
    return False


def _ref(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, str]:
    generated = _without_null_defaults(
        model.model_json_schema(ref_template="#/components/schemas/{model}")
    )
    for name, schema in generated.pop("$defs", {}).items():
        schemas.setdefault(name, schema)
    schemas.setdefault(model.__name__, generated)
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _without_null_defaults(schema: Any) -> Any:
    """*schema* without ``"default": null`` (a config key's "absent", which no value may be)."""
    if isinstance(schema, dict):
        return {
            key: _without_null_defaults(value)
            for key, value in schema.items()
            if not (key == "default" and value is None)
        }
    if isinstance(schema, list):
        return [_without_null_defaults(item) for item in schema]
    return schema
