"""Map the origins of a Boomi SharedWebServer to websvc rules, and check them.

Part of ``websvc import-boomi`` (:mod:`websvc.tools.boomi`): each
``corsConfiguration.origins[]`` entry is read for what only Boomi has
(comma-separated lists, the HTTP and HTTPS switches, ``cacheTimeout``) and
mapped to a ``[[tenants.NAME.cors]]`` rule; websvc's own checks then run on
all the rules at once (:func:`websvc.config.check_rules`), and each
problem's key path is named by the Boomi field it came from
(``rules[2].methods`` is ``corsConfiguration.origins[2].allowMethods``), so
that every problem shows in one run. Last, the rule-order checks: Boomi
uses the first matching origin, websvc the most specific rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from contextlib import suppress
from typing import Any

from websvc import checks
from websvc.config import DEFAULT_METHODS, MAX_MAX_AGE, RuleConfig, check_rules
from websvc.problems import NO_VALUE, Problem, Report, key_path, render
from websvc.syntax import DEFAULT_PORTS, is_loopback_name, split_domain

#: The fields of one ``corsConfiguration.origins[]`` entry that are mapped.
ORIGIN_FIELDS = (
    "domain",
    "ports",
    "EnableHTTPRequestHandling",
    "EnableHTTPSRequestHandling",
    "allowMethods",
    "allowRequestHeaders",
    "allowResponseHeaders",
    "allowCredentials",
    "cacheTimeout",
)
#: websvc rule key -> the Boomi origin field it is mapped from (to name websvc's problems).
FIELD_OF = {
    "domain": "domain",
    "allow_any_origin": "domain",
    "protocols": "EnableHTTPSRequestHandling",
    "ports": "ports",
    "methods": "allowMethods",
    "request_headers": "allowRequestHeaders",
    "expose_headers": "allowResponseHeaders",
    "allow_credentials": "allowCredentials",
    "allow_caching": "cacheTimeout",
    "max_age": "cacheTimeout",
}
_TYPE_KEY = "@type"  # Boomi's JSON names each object's type; ignored everywhere
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
ORIGINS = "corsConfiguration.origins"
#: A key path of a rule that websvc checked: ``rules[2].methods[0]``.
_RULE_PATH = re.compile(r"rules\[(\d+)\](?:\.(\w+))?(.*)")


class OriginMapper(Report):
    """Reads Boomi fields, maps origins to rules, names every problem in Boomi's terms."""

    def __init__(self) -> None:
        super().__init__()
        self.refused: set[str] = set()  # Boomi fields not mapped because of a problem

    def refuse(self, path: str, value: object, why: str) -> None:
        self.bad(path, value, why)
        self.refused.add(path)

    def fields(self, path: str, value: Mapping[str, Any], known: Sequence[str], what: str) -> None:
        """Refuse every field of *value* that is not in *known* (or ``@type``)."""
        listed = f"known: {', '.join(known)}" if len(known) < 12 else "see docs/boomi.md"
        for name in value:
            if name != _TYPE_KEY and name not in known:
                self.fail(
                    key_path(path, name),
                    f"unknown field in {what}: websvc cannot map it ({listed})",
                )

    def text(self, path: str, value: object) -> str | None:
        if value is NO_VALUE or value is None:
            self.fail(path, "missing")
            self.refused.add(path)
            return None
        why = (
            "is not a string"
            if not isinstance(value, str)
            else text_problem(value) or ("is empty" if not value else None)
        )
        if why:
            self.refuse(path, value, why)
            return None
        assert isinstance(value, str)
        return value

    def flag(self, path: str, value: object) -> bool | None:
        """A boolean field: None when absent (or null)."""
        if value is NO_VALUE or value is None:
            return None
        if not isinstance(value, bool):
            self.refuse(path, value, "is not true or false")
            return None
        return value

    def items(self, path: str, value: object) -> list[str] | None:
        """A list of strings or one comma-separated string; None when absent."""
        if value is NO_VALUE or value is None:
            return None
        raw: list[tuple[str, object]]
        if isinstance(value, str):
            raw = [(path, value)]
        elif isinstance(value, list):
            raw = [(f"{path}[{i}]", item) for i, item in enumerate(value)]
        else:
            self.refuse(path, value, "is not a list of strings or a comma-separated string")
            return None
        out: list[str] = []
        for item_path, item in raw:
            why = "is not a string" if not isinstance(item, str) else text_problem(item)
            if why:
                self.bad(item_path, item, why)
                self.refused.add(path)
            elif isinstance(item, str):
                parts = item.split(",") if isinstance(value, str) else [item]
                out.extend(part.strip(" ") for part in parts if part.strip(" "))
        return None if path in self.refused else out

    def origin(self, path: str, value: object) -> dict[str, Any] | None:
        if not isinstance(value, Mapping):
            self.bad(path, value, "is not an object")
            return None
        self.fields(path, value, ORIGIN_FIELDS, "a CORS origin")
        get = value.get
        rule: dict[str, Any] = {}
        domain = self.text(f"{path}.domain", get("domain", NO_VALUE))
        credentials = self.flag(f"{path}.allowCredentials", get("allowCredentials"))
        parsed: tuple[str, str | None, int | None] | None = None
        if domain is not None:
            rule["domain"] = domain
            with suppress(ValueError):  # websvc names the problem
                parsed = ("*", None, None) if domain == "*" else split_domain(domain)
        if domain == "*":
            rule["allow_any_origin"] = True
            if credentials:
                self.refuse(
                    f"{path}.allowCredentials",
                    True,
                    'is not allowed with the domain "*" (a response to any origin never'
                    " carries credentials): list the domains instead",
                )
                credentials = None
        protocols = self.protocols(path, value, parsed, domain)
        if protocols is not None:
            rule["protocols"] = protocols
        ports = self.ports(f"{path}.ports", get("ports"), parsed, domain, protocols)
        if ports is not None:
            rule["ports"] = ports
        methods = self.methods(f"{path}.allowMethods", get("allowMethods"))
        if methods is not None:
            rule["methods"] = methods
        rule["request_headers"] = self.headers(
            f"{path}.allowRequestHeaders", get("allowRequestHeaders")
        )
        expose = self.headers(f"{path}.allowResponseHeaders", get("allowResponseHeaders"))
        if "*" in expose and credentials:
            self.bad(
                f"{path}.allowResponseHeaders",
                "*",
                "is not allowed with allowCredentials (browsers then read it as a header name)",
            )
            expose.remove("*")
        rule["expose_headers"] = expose
        rule["allow_credentials"] = bool(credentials)
        cache = self.cache_timeout(f"{path}.cacheTimeout", get("cacheTimeout"))
        rule["allow_caching"] = cache > 0
        if cache > 0:
            rule["max_age"] = cache
        return rule

    def protocols(
        self,
        path: str,
        value: Mapping[str, Any],
        parsed: tuple[str, str | None, int | None] | None,
        domain: str | None,
    ) -> list[str] | None:
        """EnableHTTP(S)RequestHandling -> protocols, consistent with a scheme in domain."""
        switches = [(p, f, self.flag(f"{path}.{f}", value.get(f))) for p, f in _SWITCHES]
        if parsed is None:
            return None
        host, scheme, _ = parsed
        if all(on is None for _, _, on in switches):
            if scheme is not None:
                return [scheme]
            broad = host == "*" or is_loopback_name(host)
            return ["http", "https"] if broad else ["https"]
        chosen = [name for name, _, on in switches if on]
        if not chosen:
            self.fail(
                path,
                "EnableHTTPRequestHandling and EnableHTTPSRequestHandling are both false"
                " (or absent): the origin accepts no protocol",
            )
            return None
        if scheme is not None and chosen != [scheme]:
            for name, field, on in switches:
                if bool(on) != (name == scheme):
                    self.bad(
                        f"{path}.{field}",
                        bool(on),
                        f"contradicts the scheme {scheme} in domain {render(domain)}"
                        " (a scheme in the domain fixes the protocol; write the domain"
                        " without it to choose protocols with these switches)",
                    )
            return None
        return chosen

    def ports(
        self,
        path: str,
        value: object,
        parsed: tuple[str, str | None, int | None] | None,
        domain: str | None,
        protocols: list[str] | None,
    ) -> list[int | str] | None:
        """A list of ports (websvc checks each), ``["*"]`` for any port, or None (the default)."""
        raw: list[object] = []
        if isinstance(value, int) and not isinstance(value, bool):
            raw = [value]
        elif isinstance(value, str):
            raw = [part.strip(" ") for part in value.split(",") if part.strip(" ")]
        elif isinstance(value, list):
            raw = [item.strip(" ") if isinstance(item, str) else item for item in value]
        elif value is not None:
            self.refuse(path, value, 'is not a list of ports, a comma-separated string or "*"')
            return None
        if "*" in raw and len(raw) > 1:
            self.refuse(path, "*", "must be alone (it means any port)")
            return None
        ports: list[Any] = [
            int(p) if isinstance(p, str) and p.isascii() and p.isdigit() else p for p in raw
        ]
        if all(type(p) is int for p in ports):
            ports = sorted(set(ports))
        fixed = parsed[2] if parsed else None
        if fixed is not None:
            if ports and all(type(p) is int for p in ports) and ports != [fixed]:
                self.refuse(path, value, f"contradicts the port {fixed} in domain {render(domain)}")
                return None
            return ports or [fixed]
        if not ports and protocols and parsed and (parsed[0] == "*" or is_loopback_name(parsed[0])):
            # websvc's default for these is any port; Boomi's is the default port.
            return sorted({DEFAULT_PORTS[p] for p in protocols})
        return ports or None

    def methods(self, path: str, value: object) -> list[str] | None:
        """The methods as written (websvc checks them), or None when none can be mapped."""
        items = self.items(path, value)
        if items is None:
            return None if path in self.refused else list(DEFAULT_METHODS)
        if not items:
            self.refuse(
                path,
                value,
                "allows no method, so no request from this origin could pass:"
                " list the methods, or remove the origin",
            )
            return None
        for item in items:
            if item == "*":
                self.bad(path, item, "is not a method (websvc has no method wildcard: list them)")
        return [item for item in items if item != "*"] or None

    def headers(self, path: str, value: object) -> list[str]:
        """Header names as first written, without case-insensitive repeats (websvc checks them)."""
        first: dict[str, str] = {}
        for item in self.items(path, value) or []:
            first.setdefault(item.lower(), item)
        return list(first.values())

    def cache_timeout(self, path: str, value: object) -> int:
        if value is None:
            return 0
        seconds: int | None = None
        if isinstance(value, int) and not isinstance(value, bool):
            seconds = value
        elif isinstance(value, str) and re.fullmatch(r"-?[0-9]+", value.strip(" ")):
            seconds = int(value)
        if seconds is None:
            self.refuse(path, value, "is not a whole number of seconds")
        elif seconds < 0:
            self.refuse(path, value, f"is negative (seconds, from 0 to {MAX_MAX_AGE})")
        elif seconds > MAX_MAX_AGE:
            self.refuse(
                path,
                value,
                f"is more than {MAX_MAX_AGE} seconds (one day), the most websvc sends as"
                " Access-Control-Max-Age (browsers cap it lower anyway)",
            )
        else:
            return seconds
        return 0

    # websvc's checks, and Boomi's rule order ----------------------------------------

    def check(self, rules: list[dict[str, Any] | None]) -> None:
        """Run websvc's checks on every rule; name their problems by Boomi's fields."""
        found = check_rules([rule or {} for rule in rules], conflicts=False)
        for problem in found.problems:
            m = _RULE_PATH.fullmatch(problem.path)
            assert m is not None, problem
            index, key, rest = int(m.group(1)), m.group(2), m.group(3)
            path = f"{ORIGINS}[{index}]"
            if key is not None:
                path = f"{path}.{FIELD_OF[key]}{rest if key in _SAME_SHAPE else ''}"
            if rules[index] is not None and path not in self.refused:
                self.problems.append(Problem(path, problem.value, problem.why))
        self.overlaps(rules)

    def overlaps(self, rules: list[dict[str, Any] | None]) -> None:
        """Refuse origins that Boomi (first match) and websvc (most specific) would treat apart.

        Only the fields that decide which requests an origin matches are read,
        so that an origin with another problem is still compared.
        """
        said = {problem.path for problem in self.problems}
        matching = [
            {k: v for k, v in (rule or {}).items() if k in _MATCHING_KEYS}
            if rule and not any(f"{ORIGINS}[{i}]{f}" in said for f in _MATCHING_FIELDS)
            else {}
            for i, rule in enumerate(rules)
        ]
        found = check_rules(matching, conflicts=False).rules
        valid = [(i, rule) for i, rule in enumerate(found) if rule is not None]
        for j, (index, later) in enumerate(valid):
            why = _duplicate(later, valid[:j], rules) or _shadowed(later, valid[:j], rules)
            if why:
                self.bad(f"{ORIGINS}[{index}].domain", _domain(rules, index), why)


_SWITCHES = (("http", "EnableHTTPRequestHandling"), ("https", "EnableHTTPSRequestHandling"))
_SAME_SHAPE = ("methods", "request_headers", "expose_headers", "ports")
_MATCHING_KEYS = ("domain", "allow_any_origin", "protocols", "ports")
_MATCHING_FIELDS = (
    "",
    ".domain",
    ".EnableHTTPRequestHandling",
    ".EnableHTTPSRequestHandling",
    ".ports",
)


def _duplicate(
    later: RuleConfig, earlier: list[tuple[int, RuleConfig]], rules: list[dict[str, Any] | None]
) -> str | None:
    for i, rule in earlier:
        if checks.conflict(later, rule):
            return (
                f"repeats the domain of origins[{i}] ({render(_domain(rules, i))}) with a"
                " protocol and port in common: Boomi uses only the first of them and websvc"
                " refuses such duplicates; merge them into one origin"
            )
    return None


def _shadowed(
    later: RuleConfig, earlier: list[tuple[int, RuleConfig]], rules: list[dict[str, Any] | None]
) -> str | None:
    for i, rule in reversed(earlier):  # the nearest broader origin
        if _covers(rule.domain, later.domain) and checks.share_pair(rule, later):
            return (
                f"comes after origins[{i}] ({render(_domain(rules, i))}), which also matches it:"
                " Boomi uses the first matching origin, so this one never applies there, while"
                " websvc uses the most specific one; list it first in Boomi (most specific"
                " first), or remove it"
            )
    return None


def _domain(rules: list[dict[str, Any] | None], index: int) -> object:
    return (rules[index] or {}).get("domain")


def emitted(rule: dict[str, Any]) -> dict[str, Any]:
    """The rule as written out: methods upper-cased (Boomi compares them so), once each."""
    out = dict(rule)
    if "methods" in out:
        out["methods"] = list(dict.fromkeys(method.upper() for method in out["methods"]))
    return out


def text_problem(value: str) -> str | None:
    if _SURROGATE.search(value):
        return "is not valid Unicode text (a lone surrogate)"
    if _CONTROL.search(value):
        return "contains a control character"
    return None


def _covers(broad: str, narrow: str) -> bool:
    """Whether every origin host of the normalised domain *narrow* matches *broad*."""
    if broad == "*":
        return narrow != "*"
    return broad.startswith("*.") and narrow.endswith(broad[1:])
