"""The CORS engine: request parsing per the Fetch standard and compiled rules.

Everything here is split in two halves:

* **compile time** (:func:`compile_rule`, and :class:`websvc.rules.RuleTable`): a tenant's
  validated rules become lookup tables and pre-rendered header values, once,
  when the config is loaded;
* **request time** (:meth:`CorsRequest.from_environ`, :meth:`websvc.rules.RuleTable.lookup`):
  dictionary lookups and bounded, linear string work (the parsing itself is
  in :mod:`websvc.syntax`), nothing that could have been done at load.

The decision protocol is rs/cors's: the matcher answers *allowed or not, and
why*. Every refusal carries a reason code (see :data:`REASONS`) that
``websvc explain``, the logs and the tests share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

from websvc.syntax import normalize_method, parse_origin, parse_request_headers

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
    index: int  # its place in the tenant's rules (0 is the first)
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
    """The answer of a rule lookup: allowed or not, which rule, and why.

    ``plugin`` names the plugin that decided; websvc fills it in.
    """

    allowed: bool
    reason: str  # one of REASONS; "allowed" when allowed
    rule: CompiledRule | None = None
    detail: str = ""  # human-readable, for explain and logs
    plugin: str = ""

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


# -- compile ---------------------------------------------------------------


def compile_rule(
    rule: RuleConfig,
    *,
    tenant: str,
    label: str,
    index: int = 0,
    default_request_headers: tuple[str, ...],
    default_expose_headers: tuple[str, ...],
    shared: dict[Any, Any] | None = None,
) -> CompiledRule:
    """Compile one validated rule into lookup sets and pre-rendered headers.

    *shared* (one dict per config build) makes equal sets and header tuples
    of different rules one object, and computes them once per shape: 100k
    rules mostly repeat a few shapes.
    """
    shape = (
        "rule shape",  # keys of their own in *shared*, which also holds the parts
        rule.methods,
        default_request_headers + rule.request_headers,
        default_expose_headers + rule.expose_headers,
        rule.allow_credentials,
        rule.max_age if rule.allow_caching else None,
    )
    parts = shared.get(shape) if shared is not None else None
    if parts is None:
        parts = _shape_parts(*shape[1:])
        if shared is not None:
            parts = tuple(p if isinstance(p, bool) else _one_copy(shared, p) for p in parts)
            shared[shape] = parts
    methods, request_headers, any_header, preflight, actual = parts
    return CompiledRule(
        label=label,
        index=index,
        tenant=tenant,
        domain=rule.domain,
        any_origin=rule.allow_any_origin,
        pairs=_one_copy(shared, rule.pairs),
        paths=_one_copy(shared, rule.paths),
        methods=methods,
        request_headers=request_headers,
        any_header=any_header,
        allow_credentials=rule.allow_credentials,
        allow_private_network=rule.allow_private_network,
        preflight_headers=preflight,
        actual_headers=actual,
    )


def _shape_parts(
    methods_listed: tuple[str, ...],
    request_headers: tuple[str, ...],
    expose_headers: tuple[str, ...],
    credentials: bool,
    max_age: int | None,
) -> tuple[Any, ...]:
    """The lookup sets and header tuples of a rule of this shape (see compile_rule)."""
    methods = tuple(dict.fromkeys(methods_listed))
    names = [h.lower() for h in request_headers]
    expose = tuple({h.lower(): h for h in expose_headers}.values())
    preflight: list[tuple[str, str]] = [("Access-Control-Allow-Methods", ", ".join(methods))]
    actual: list[tuple[str, str]] = []
    if credentials:
        preflight.append(("Access-Control-Allow-Credentials", "true"))
        actual.append(("Access-Control-Allow-Credentials", "true"))
    preflight.append(("Access-Control-Max-Age", str(max_age) if max_age is not None else "0"))
    if expose:
        actual.append(("Access-Control-Expose-Headers", ", ".join(expose)))
    return (
        frozenset(methods),
        frozenset(n for n in names if n != "*"),
        "*" in names,
        tuple(preflight),
        tuple(actual),
    )


# -- private helpers -------------------------------------------------------


_T = TypeVar("_T")


def _one_copy(shared: dict[Any, Any] | None, value: _T) -> _T:
    """*value*, or the equal object already in *shared* (one copy per build)."""
    if shared is None:
        return value
    kept: _T = shared.setdefault(value, value)
    return kept
