"""The CORS engine: request parsing per the Fetch standard and compiled rules.

Everything here is split in two halves:

* **compile time** (:func:`compile_rule`, :class:`RuleTable`): a tenant's
  validated rules become lookup tables and pre-rendered header values, once,
  when the config is loaded;
* **request time** (:meth:`CorsRequest.from_environ`, :meth:`RuleTable.lookup`):
  dictionary lookups and bounded, linear string work (the parsing itself is
  in :mod:`websvc.syntax`), nothing that could have been done at load.

The decision protocol is rs/cors's: the matcher answers *allowed or not, and
why*. Every refusal carries a reason code (see :data:`REASONS`) that
``websvc explain``, the logs and the tests share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from websvc.syntax import Origin, normalize_method, parse_origin, parse_request_headers

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from websvc.config import RuleConfig

#: Reason codes of a decision; ``"allowed"`` is the only one that allows.
#: A refused request header is reported as ``header:<name>`` (the name
#: lower-cased, a valid token); ``header`` alone means the
#: Access-Control-Request-Headers value itself was malformed or too long.
REASONS = (
    "allowed",
    "no_tenant",
    "origin_invalid",
    "origin_not_listed",
    "protocol",
    "port",
    "path",
    "method",
    "header",
)

VARY_PREFLIGHT = "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"


class CorsRequest:
    """What the engine needs to know about one request with an ``Origin``.

    Built once per request by the app and handed to the rule lookup and
    header hooks. ``method`` is the normalised ``Access-Control-Request-Method``
    on a preflight and the request method otherwise; None when malformed.
    ``request_headers`` is None when ``Access-Control-Request-Headers`` is
    malformed or too long, ``()`` when absent or empty.
    """

    __slots__ = (
        "environ",
        "method",
        "origin",
        "parsed",
        "path",
        "preflight",
        "private_network",
        "request_headers",
    )

    def __init__(
        self,
        environ: WSGIEnvironment,
        origin: str,
        preflight: bool,
        method: str | None,
        request_headers: tuple[str, ...] | None,
        path: str,
        private_network: bool,
    ) -> None:
        self.environ = environ
        self.origin = origin
        self.parsed = parse_origin(origin) if origin != "null" else None
        self.preflight = preflight
        self.method = method
        self.request_headers = request_headers
        self.path = path
        self.private_network = private_network

    @classmethod
    def from_environ(cls, environ: WSGIEnvironment, origin: str) -> CorsRequest:
        """Parse the CORS-relevant parts of *environ* (which carries *origin*)."""
        acrm: str | None = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
        method: str = environ.get("REQUEST_METHOD", "GET")
        if acrm is not None and method == "OPTIONS":
            acrh = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS")
            return cls(
                environ,
                origin,
                True,
                normalize_method(acrm),
                parse_request_headers(acrh) if acrh else (),
                environ.get("PATH_INFO", ""),
                environ.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK") == "true",
            )
        return cls(environ, origin, False, method, (), environ.get("PATH_INFO", ""), False)


@dataclass(frozen=True, slots=True)
class CompiledRule:
    """One rule, normalised, with every constant header value pre-rendered."""

    label: str  # "tenants.acme.cors[0]": where the rule is in the config
    tenant: str
    domain: str
    any_origin: bool
    pairs: frozenset[tuple[str, int | None]]  # (scheme, port); None = any port
    paths: tuple[str, ...] | None
    methods: frozenset[str]
    request_headers: frozenset[str]  # lower-case, defaults included
    any_header: bool
    allow_credentials: bool
    allow_private_network: bool
    preflight_headers: tuple[tuple[str, str], ...]
    actual_headers: tuple[tuple[str, str], ...]
    #: The allowing decision of this rule, built once (decisions are immutable).
    allowed: Decision = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed", Decision(True, "allowed", self))

    def header_allowed(self, name: str) -> bool:
        """Whether a lower-cased request header name is allowed by this rule.

        ``*`` covers every name except ``authorization``, which must be listed
        (as in the Fetch standard's handling of a wildcard).
        """
        if name in self.request_headers:
            return True
        return self.any_header and name != "authorization"


class Decision(NamedTuple):
    """The answer of a rule lookup: allowed or not, which rule, and why."""

    allowed: bool
    reason: str  # one of REASONS; "allowed" when allowed
    rule: CompiledRule | None = None
    detail: str = ""  # human-readable, for explain and logs

    @classmethod
    def refuse(cls, reason: str, detail: str = "", rule: CompiledRule | None = None) -> Decision:
        """A refusal with a reason code (and the rule that refused, if any)."""
        return cls(False, reason, rule, detail)


def check_rule(rule: CompiledRule, request: CorsRequest) -> Decision:
    """Let the chosen *rule* decide on method and headers of *request*."""
    method = request.method
    if method is None:
        return Decision(False, "method", rule, "the requested method is not a single token")
    if method not in rule.methods:
        return Decision(False, "method", rule, f"method {method} is not in {rule.label}.methods")
    requested = request.request_headers
    if requested:
        allowed = rule.request_headers
        for name in requested:
            if name not in allowed and not rule.header_allowed(name):
                return Decision(
                    False,
                    f"header:{name}",
                    rule,
                    f"header {name} is not in {rule.label}.request_headers",
                )
    elif requested is None:
        return Decision(
            False, "header", rule, "Access-Control-Request-Headers is malformed or too long"
        )
    return rule.allowed


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
            for scheme, port in sorted(rule.pairs, key=str):
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

    __slots__ = ("any_null", "any_origin", "exact", "rules", "wildcard")

    def __init__(self, rules: list[CompiledRule]) -> None:
        exact: dict[str, list[CompiledRule]] = {}
        wildcard: dict[str, list[CompiledRule]] = {}
        self.rules = tuple(rules)
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


# -- compile ---------------------------------------------------------------


def compile_rule(
    rule: RuleConfig,
    *,
    tenant: str,
    label: str,
    default_request_headers: tuple[str, ...],
    default_expose_headers: tuple[str, ...],
    shared: dict[Any, Any] | None = None,
) -> CompiledRule:
    """Compile one validated rule into lookup sets and pre-rendered headers.

    *shared* (one dict per config build) makes equal sets and header tuples
    of different rules one object: 100k rules mostly repeat a few shapes.
    """
    methods = tuple(dict.fromkeys(rule.methods))
    names = [h.lower() for h in default_request_headers + rule.request_headers]
    any_header = "*" in names
    expose = tuple({h.lower(): h for h in default_expose_headers + rule.expose_headers}.values())
    preflight: list[tuple[str, str]] = [("Access-Control-Allow-Methods", ", ".join(methods))]
    actual: list[tuple[str, str]] = []
    if rule.allow_credentials:
        preflight.append(("Access-Control-Allow-Credentials", "true"))
        actual.append(("Access-Control-Allow-Credentials", "true"))
    preflight.append(("Access-Control-Max-Age", str(rule.max_age) if rule.allow_caching else "0"))
    if expose:
        actual.append(("Access-Control-Expose-Headers", ", ".join(expose)))
    return CompiledRule(
        label=label,
        tenant=tenant,
        domain=rule.domain,
        any_origin=rule.allow_any_origin,
        pairs=_one_copy(shared, rule.pairs),
        paths=_one_copy(shared, rule.paths),
        methods=_one_copy(shared, frozenset(methods)),
        request_headers=_one_copy(shared, frozenset(n for n in names if n != "*")),
        any_header=any_header,
        allow_credentials=rule.allow_credentials,
        allow_private_network=rule.allow_private_network,
        preflight_headers=_one_copy(shared, tuple(preflight)),
        actual_headers=_one_copy(shared, tuple(actual)),
    )


# -- private helpers -------------------------------------------------------


_NO_PATHS: dict[str, CompiledRule] = {}  # shared, never written to
_T = TypeVar("_T")


def _one_copy(shared: dict[Any, Any] | None, value: _T) -> _T:
    """*value*, or the equal object already in *shared* (one copy per build)."""
    if shared is None:
        return value
    kept: _T = shared.setdefault(value, value)
    return kept


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
