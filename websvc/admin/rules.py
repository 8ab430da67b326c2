"""A tenant's rules in the admin API's forms: filled in, in Boomi's shape, from a body.

``GET .../cors`` answers every rule with every key filled in (ADMIN-API §3):
the effective protocols, ``ports`` (``["*"]`` for any port), ``paths``
(``["/*"]`` for every path) and each default. One case cannot be written as
one ``ports`` list without changing its meaning: both protocols on their own
default ports (http:80 and https:443, not http:443); ``ports`` is then left
out, which means exactly that (SPEC §3). ``?format=boomi`` gives Boomi's
``corsConfiguration.origins``; a ``PUT`` may send that shape (or a whole
SharedWebServer object) and its problems are then named by Boomi's fields.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from websvc.admin.bodies import RulesBody
from websvc.config import DEFAULT_METHODS, RuleConfig, check_rules
from websvc.problems import Problem

#: Every key of a RULE, in the order GET answers them.
KEYS = (
    "domain",
    "protocols",
    "ports",
    "paths",
    "methods",
    "request_headers",
    "expose_headers",
    "allow_credentials",
    "allow_caching",
    "max_age",
    "allow_any_origin",
    "allow_private_network",
)
_DEFAULTS: dict[str, Any] = {
    "paths": ["/*"],
    "methods": list(DEFAULT_METHODS),
    "request_headers": [],
    "expose_headers": [],
    "allow_credentials": False,
    "allow_caching": False,
    "max_age": 600,
    "allow_any_origin": False,
    "allow_private_network": False,
}


class Checked(NamedTuple):
    """Rules that passed the checks, and the warnings they raised (as JSON)."""

    values: list[dict[str, Any]]
    warnings: list[dict[str, object]]


def filled(rules: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """*rules* (stored, so valid) with every key filled in (see the module docstring)."""
    checked = check_rules(list(rules), conflicts=False).rules
    return [_filled(raw, rule) for raw, rule in zip(rules, checked, strict=True)]


def to_boomi(rules: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Filled-in *rules* as Boomi's ``corsConfiguration.origins`` entries."""
    out = []
    for rule in rules:
        origin: dict[str, Any] = {
            "domain": rule["domain"],
            "EnableHTTPRequestHandling": "http" in rule["protocols"],
            "EnableHTTPSRequestHandling": "https" in rule["protocols"],
            "allowMethods": ", ".join(rule["methods"]),
            "allowRequestHeaders": ", ".join(rule["request_headers"]),
            "allowResponseHeaders": ", ".join(rule["expose_headers"]),
            "allowCredentials": rule["allow_credentials"],
            "cacheTimeout": rule["max_age"] if rule["allow_caching"] else 0,
        }
        if "ports" in rule:
            origin["ports"] = "*" if rule["ports"] == ["*"] else rule["ports"]
        out.append(origin)
    return out


def from_body(body: RulesBody | dict[str, Any]) -> tuple[list[dict[str, Any]], list[Problem]]:
    """The rules a ``PUT`` body holds, and (for Boomi's shape) every problem in Boomi's terms."""
    if isinstance(body, RulesBody):
        return body.rules, []
    from websvc.tools.boomi import boomi_rules

    return boomi_rules(body)


def _filled(raw: dict[str, Any], rule: RuleConfig | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key in KEYS:
        if key in raw:
            out[key] = raw[key]
        elif key in _DEFAULTS:
            out[key] = _DEFAULTS[key]
        elif rule is not None and key == "protocols":
            out[key] = sorted({scheme for scheme, _ in rule.pairs})
        elif rule is not None and key == "ports":
            ports = _ports(rule)
            if ports is not None:
                out[key] = ports
    return out


def _ports(rule: RuleConfig) -> list[int | str] | None:
    if any(port is None for _, port in rule.pairs):
        return ["*"]
    by_scheme: dict[str, set[int]] = {}
    for scheme, port in rule.pairs:
        by_scheme.setdefault(scheme, set()).add(port or 0)
    sets = list(by_scheme.values())
    if all(s == sets[0] for s in sets):
        return sorted(sets[0])
    return None  # http:80 and https:443: left out, which means exactly that
