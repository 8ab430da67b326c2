"""A tenant's compiled rules, chosen by Origin and path: :class:`RuleTable`.

Built once per tenant from its :class:`~websvc.cors.CompiledRule` list; a
lookup is dictionary lookups on the Origin's host (then each parent domain,
for ``*.`` rules), its (scheme, port) and the path, and the chosen rule
alone decides (:func:`websvc.cors.check_rule`). Rule choice follows SPEC §6:
exact domain before the deepest ``*.`` wildcard before ``*``; exact path
before the longest ``/*`` prefix before a rule without ``paths``.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from websvc.cors import CompiledRule, CorsRequest, Decision, check_rule

if TYPE_CHECKING:
    from websvc.syntax import Origin


class _PathTable:
    """The rules of one domain and (scheme, port), chosen by request path."""

    __slots__ = ("default", "exact", "prefixes", "simple")

    def __init__(self, rules: list[CompiledRule]) -> None:
        exact: dict[str, CompiledRule] = {}
        prefixes: dict[str, CompiledRule] = {}
        self.default: CompiledRule | None = None
        for rule in rules:
            if rule.paths is None:
                self.default = self.default or rule
                continue
            for pattern in rule.paths:
                if pattern.endswith("/*"):
                    prefixes.setdefault(pattern[:-1], rule)
                else:
                    exact.setdefault(pattern, rule)
        self.exact = exact or _NO_PATHS
        self.prefixes = tuple(sorted(prefixes.items(), key=lambda kv: -len(kv[0])))
        #: No ``paths`` anywhere: the default rule decides every path.
        self.simple = not exact and not prefixes

    def find(self, path: str) -> CompiledRule | None:
        if self.simple:
            return self.default
        rule = self.exact.get(path)
        if rule is not None:
            return rule
        for prefix, rule in self.prefixes:
            if path.startswith(prefix):
                return rule
        return self.default


class _Bucket:
    """All rules of one tenant for one normalised domain."""

    __slots__ = ("tables",)

    def __init__(self, rules: list[CompiledRule]) -> None:
        any_port: dict[str, list[CompiledRule]] = {}
        fixed: dict[tuple[str, int], list[CompiledRule]] = {}
        for rule in rules:
            for scheme, port in rule.pairs:  # the order of keys does not matter
                if port is None:
                    any_port.setdefault(scheme, []).append(rule)
                else:
                    fixed.setdefault((scheme, port), []).append(rule)
        self.tables: dict[tuple[str, int | None], _PathTable] = {}
        for (scheme, port), bucket_rules in fixed.items():
            merged = _dedupe(bucket_rules + any_port.get(scheme, []))
            self.tables[(scheme, port)] = _PathTable(merged)
        for scheme, bucket_rules in any_port.items():
            self.tables[(scheme, None)] = _PathTable(_dedupe(bucket_rules))

    def find(self, origin: Origin, path: str) -> CompiledRule | None:
        """The rule for this Origin's scheme and port and *path*, if any."""
        table = self.tables.get(origin.key) or self.tables.get(origin.any_key)
        return table.find(path) if table is not None else None

    def why_not(self, origin: Origin) -> str:
        """Why :meth:`find` found nothing: ``protocol``, ``port`` or ``path``."""
        if origin.key in self.tables or origin.any_key in self.tables:
            return "path"
        schemes = {scheme for scheme, _ in self.tables}
        return "protocol" if origin.scheme not in schemes else "port"


class RuleTable:
    """A tenant's rules compiled for lookup by Origin and path.

    ``exact`` maps a host to its bucket, ``wildcard`` maps the suffix of a
    ``*.suffix`` rule to its bucket (looked up from the deepest parent domain
    of the Origin's host upwards), ``any_origin`` is the ``*`` rule.
    """

    __slots__ = ("any_null", "any_origin", "exact", "rules", "uses_paths", "wildcard")

    def __init__(self, rules: list[CompiledRule]) -> None:
        exact: dict[str, list[CompiledRule]] = {}
        wildcard: dict[str, list[CompiledRule]] = {}
        self.rules = tuple(rules)
        #: Whether a rule has ``paths`` (else the path never changes a decision).
        self.uses_paths = any(rule.paths is not None for rule in rules)
        self.any_origin: _Bucket | None = None
        self.any_null: _PathTable | None = None
        for rule in rules:
            if rule.any_origin:
                continue
            if rule.domain.startswith("*."):
                wildcard.setdefault(rule.domain[2:], []).append(rule)
            else:
                exact.setdefault(rule.domain, []).append(rule)
        any_rules = [rule for rule in rules if rule.any_origin]
        if any_rules:
            self.any_origin = _Bucket(any_rules)
            self.any_null = _PathTable(any_rules)  # `null` has no scheme or port
        self.exact = {host: _Bucket(rs) for host, rs in exact.items()}
        self.wildcard = {suffix: _Bucket(rs) for suffix, rs in wildcard.items()}

    def find(self, request: CorsRequest) -> CompiledRule | None:
        """The most specific rule for *request*'s Origin and path (not yet checked)."""
        origin = request.parsed
        if origin is None:
            if request.origin == "null" and self.any_null is not None:
                return self.any_null.find(request.path)
            return None
        path = request.path
        bucket = self.exact.get(origin.host)
        if bucket is not None:
            rule = bucket.find(origin, path)
            if rule is not None:
                return rule
        if self.wildcard:
            host = origin.host
            dot = host.find(".")
            while dot >= 0:
                bucket = self.wildcard.get(host[dot + 1 :])
                if bucket is not None:
                    rule = bucket.find(origin, path)
                    if rule is not None:
                        return rule
                dot = host.find(".", dot + 1)
        if self.any_origin is not None:
            return self.any_origin.find(origin, path)
        return None

    def lookup(self, request: CorsRequest) -> Decision:
        """Choose the rule for *request* and let it decide (method, headers).

        A refusal by the chosen rule never falls back to a less specific one.
        """
        rule = self.find(request)
        if rule is not None:
            return check_rule(rule, request)
        return self.refusal(request)

    def refusal(self, request: CorsRequest) -> Decision:
        """Why no rule is a candidate for *request* (the refused path only)."""
        origin = request.parsed
        if origin is None:
            if request.origin == "null":
                return _NULL_PATH if self.any_null is not None else _NULL_ORIGIN
            return _INVALID_ORIGIN
        host = origin.host
        bucket = self.exact.get(host)
        if bucket is None and self.wildcard:
            dot = host.find(".")
            while bucket is None and dot >= 0:
                bucket = self.wildcard.get(host[dot + 1 :])
                dot = host.find(".", dot + 1)
        if bucket is None:
            bucket = self.any_origin
        reason = bucket.why_not(origin) if bucket is not None else "origin_not_listed"
        return _refused(reason, origin)


# -- private helpers -------------------------------------------------------

_NO_PATHS: dict[str, CompiledRule] = {}  # shared, never written to


def _dedupe(rules: list[CompiledRule]) -> list[CompiledRule]:
    return list({id(rule): rule for rule in rules}.values())


_NULL_ORIGIN = Decision(
    False, "origin_invalid", None, "the origin null never matches a domain rule"
)
_NULL_PATH = Decision(False, "path", None, "no rule for this origin applies to the request path")
_INVALID_ORIGIN = Decision(
    False,
    "origin_invalid",
    None,
    "the Origin is not a canonical serialized origin (scheme://host[:port])",
)


@lru_cache(maxsize=1024)
def _refused(reason: str, origin: Origin) -> Decision:
    """The refusal for a parsed Origin (immutable, so shared while cached)."""
    if reason == "protocol":
        detail = f"no rule for this domain allows the protocol {origin.scheme}"
    elif reason == "port":
        detail = f"no rule for this domain allows port {origin.port} over {origin.scheme}"
    elif reason == "path":
        detail = "no rule for this origin applies to the request path"
    else:
        detail = f"no rule matches the domain {origin.host}"
    return Decision(False, reason, None, detail)
