"""Checks between keys: what no key's type can say, one small function each.

Like django-cors-headers' ``checks.py``: each check reads tables that
:mod:`websvc.schema` validated and returns a :class:`~websvc.problems.Problem`
(or, for the ``warn_*`` ones, a warning) in websvc's words; :class:`Checker`
runs them all. A table with a problem of its own arrives with its refused keys
at their defaults (``model_fields_set`` still names them): every problem is
named in one run. docs/config.md ("Checks beyond the schema") lists them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from functools import lru_cache
from typing import NamedTuple, Protocol, TypeVar

from websvc import syntax
from websvc.domains import Domain
from websvc.problems import NO_VALUE, Problem, Report, key_path, render
from websvc.schema import (
    ConfigTable,
    CorsRuleTable,
    Memo,
    ServerTable,
    TenantTable,
    UserTable,
)
from websvc.syntax import (
    FORBIDDEN_RESPONSE_HEADERS,
    is_forbidden_request_header,
    is_loopback,
    is_public_suffix,
    normalise_host,
)

Pairs = frozenset[tuple[str, int | None]]
Found = Iterator[Problem]
Loc = tuple[str | int, ...]


class Rule(Protocol):
    """What conflict detection reads of a rule (a RuleConfig, or a :class:`Matching`)."""

    @property
    def domain(self) -> str: ...
    @property
    def pairs(self) -> Pairs: ...
    @property
    def paths(self) -> tuple[str, ...] | None: ...


# -- one key ---------------------------------------------------------------------


def pairs(rule: CorsRuleTable, domain: Domain) -> Pairs:
    """The (scheme, port) pairs a rule accepts (port None: any), its defaults resolved.

    ``protocols``: as written, else the scheme in the domain, else http and https
    for the loopback names and ``*``, else https. ``ports``: as written, else the
    port in the domain, else any port for those names, else each protocol's own.
    Equal answers are one object (a large config repeats a few).
    """
    broad = domain.name in syntax.LOOPBACK_HOSTS or domain.name == "*"
    protocols = tuple(rule.protocols) if rule.protocols is not None else None
    ports = tuple(rule.ports) if rule.ports is not None else None
    return _pairs(broad, domain.scheme, domain.port, protocols, ports)


@lru_cache(maxsize=1024)
def _pairs(
    broad: bool,
    scheme: str | None,
    port: int | None,
    protocols: tuple[str, ...] | None,
    ports: tuple[int | str, ...] | None,
) -> Pairs:
    if protocols is None:
        protocols = (scheme,) if scheme else ("http", "https") if broad else ("https",)
    chosen: list[int | None]
    if ports is not None:
        chosen = [None] if ports == ("*",) else [p for p in ports if isinstance(p, int)]
    elif port is not None or broad:
        chosen = [port]
    else:
        return frozenset((p, syntax.DEFAULT_PORTS[p]) for p in protocols)
    return frozenset((p, one) for p in protocols for one in chosen)


# -- one rule --------------------------------------------------------------------


def star_needs_allow_any_origin(at: str, rule: CorsRuleTable, domain: Domain) -> Problem | None:
    if domain.name == "*" and not rule.allow_any_origin:
        return Problem(
            f"{at}.domain",
            rule.domain,
            "matches any origin: set allow_any_origin = true to mean it",
        )
    return None


def allow_any_origin_only_on_star(at: str, rule: CorsRuleTable, domain: Domain) -> Problem | None:
    if domain.name != "*" and rule.allow_any_origin:
        return Problem(f"{at}.allow_any_origin", NO_VALUE, 'is only allowed on the domain "*"')
    return None


def no_credentials_on_star(at: str, rule: CorsRuleTable, domain: Domain) -> Problem | None:
    if domain.name == "*" and rule.allow_credentials:
        return Problem(
            f"{at}.allow_credentials",
            NO_VALUE,
            'must be false on the "*" domain (never * with credentials)',
        )
    return None


def no_credentials_on_public_suffix(at: str, rule: CorsRuleTable, domain: Domain) -> Problem | None:
    if rule.allow_credentials and _public_wildcard(domain):
        return Problem(
            f"{at}.domain",
            rule.domain,
            "covers every site under a public suffix: refused with allow_credentials "
            "(anyone can register a name there)",
        )
    return None


def no_expose_star_with_credentials(at: str, rule: CorsRuleTable, domain: Domain) -> Problem | None:
    if "*" in rule.expose_headers and rule.allow_credentials:
        return Problem(
            f"{at}.expose_headers",
            "*",
            "is not allowed with allow_credentials (browsers read it as a header name)",
        )
    return None


def protocols_agree_with_domain(at: str, rule: CorsRuleTable, domain: Domain) -> Problem | None:
    if rule.protocols is not None and domain.scheme and set(rule.protocols) != {domain.scheme}:
        return Problem(
            f"{at}.protocols",
            rule.protocols,
            f"contradicts the scheme {domain.scheme} in domain",
        )
    return None


def ports_agree_with_domain(at: str, rule: CorsRuleTable, domain: Domain) -> Problem | None:
    if rule.ports is not None and domain.port is not None and set(rule.ports) != {domain.port}:
        return Problem(f"{at}.ports", rule.ports, f"contradicts the port {domain.port} in domain")
    return None


RULE_CHECKS = (
    star_needs_allow_any_origin,
    allow_any_origin_only_on_star,
    no_credentials_on_star,
    no_credentials_on_public_suffix,
    no_expose_star_with_credentials,
    protocols_agree_with_domain,
    ports_agree_with_domain,
)


def warn_public_suffix(
    at: str, rule: CorsRuleTable, domain: Domain, pairs: Pairs
) -> Problem | None:
    if not rule.allow_credentials and _public_wildcard(domain):
        return Problem(f"{at}.domain", rule.domain, "covers every site under a public suffix")
    return None


def warn_http_with_credentials(
    at: str, rule: CorsRuleTable, domain: Domain, pairs: Pairs
) -> Problem | None:
    if (
        rule.allow_credentials
        and not is_loopback(domain.name)
        and any(s == "http" for s, _ in pairs)
    ):
        key, value = ("protocols", rule.protocols) if rule.protocols else ("domain", rule.domain)
        return Problem(
            f"{at}.{key}",
            value,
            "allows http together with allow_credentials on a host that is not loopback: "
            "cookies and responses travel in clear text, and a network attacker can "
            "forge that origin (allow https only)",
        )
    return None


RULE_WARNINGS = (warn_public_suffix, warn_http_with_credentials)


def warn_headers(at: str, names: Iterable[str], owner: str) -> Found:
    """Header names a browser never sends (request) or never shows (expose)."""
    for name in names:
        low, why = name.lower(), ""
        if at.endswith("expose_headers"):
            if low in FORBIDDEN_RESPONSE_HEADERS:
                why = "never expose to a page (a forbidden response-header name); {} exposes"
        elif is_forbidden_request_header(low):
            why = "never let a page send (a forbidden request-header name); {} allows"
        elif low.startswith("access-control-"):
            yield Problem(
                at,
                name,
                "is a CORS protocol header (the browser or websvc sets it), not one a "
                f"page sends; {owner} allows it for nothing",
            )
        if why:
            yield Problem(at, name, f"is a header browsers {why.format(owner)} it for nothing")


# -- rules of one tenant ---------------------------------------------------------


def share_pair(a: Rule, b: Rule) -> bool:
    """Whether one (protocol, port) is accepted by both rules (port None: any)."""
    return any(
        scheme == other and (port is None or other_port is None or port == other_port)
        for scheme, port in a.pairs
        for other, other_port in b.pairs
    )


def conflict(a: Rule, b: Rule) -> bool:
    """Same domain, a shared (protocol, port), and a shared path (or both every path)."""
    if a.domain != b.domain:
        return False
    if a.paths is None or b.paths is None:
        if a.paths is not b.paths:
            return False
    elif not set(a.paths) & set(b.paths):
        return False
    return share_pair(a, b)


R = TypeVar("R", bound=Rule)


def no_conflicts(
    at: str, rules: Iterable[tuple[int, R]]
) -> tuple[list[tuple[int, R]], list[Problem]]:
    """The (index, rule)s at *at* (``tenants.NAME.cors``) but those that conflict with an earlier one."""
    kept: list[tuple[int, R]] = []
    problems: list[Problem] = []
    by_domain: dict[str, list[tuple[int, R]]] = {}  # a conflict needs one domain
    name = at.rsplit(".", 1)[-1]
    for i, rule in rules:
        same = by_domain.setdefault(rule.domain, [])
        j = next((j for j, other in same if conflict(rule, other)), None)
        if j is not None:
            problems.append(
                Problem(
                    f"{at}[{i}]",
                    NO_VALUE,
                    f"conflicts with {name}[{j}]: same domain {render(rule.domain)}, "
                    "a shared protocol/port and a shared path",
                )
            )
        else:
            kept.append((i, rule))
            same.append((i, rule))
    return kept, problems


# -- users, hosts, apis, server --------------------------------------------------


def one_token(at: str, table: ServerTable | UserTable, key: str = "token") -> Found:
    """``KEY_sha256`` or (with a warning) a plain ``KEY``: one of them, not both."""
    given = table.model_fields_set
    hashed = f"{key}_sha256"
    if hashed in given and key in given:
        yield Problem(f"{at}.{key}", NO_VALUE, f"set together with {hashed} (keep only {hashed})")
    elif hashed not in given and key not in given:
        yield Problem(f"{at}.{hashed}", NO_VALUE, f"missing (websvc token prints a {hashed} line)")


def warn_plain_token(at: str, table: ServerTable | UserTable, key: str = "token") -> Found:
    if key in table.model_fields_set and f"{key}_sha256" not in table.model_fields_set:
        yield Problem(
            f"{at}.{key}",
            NO_VALUE,
            f"plain token in the config; store {key}_sha256 instead (websvc token prints it)",
        )


def metrics_token_with_path(server: ServerTable) -> Found:
    given = server.model_fields_set
    if "metrics_path" in given:
        yield from one_token("server", server, "metrics_token")
    elif given & {"metrics_token_sha256", "metrics_token"}:
        yield Problem(
            "server.metrics_path", NO_VALUE, "missing (a metrics token is set without it)"
        )


def user_once(at: str, name: str, tenant: str, seen: dict[str, str]) -> Found:
    """A user name is unique across the config (it identifies its tenant); *seen*: name -> tenant."""
    if name in seen:
        yield Problem(at, name, f"is already a user of tenant {render(seen[name])}")
    else:
        seen[name] = tenant


def host_once(at: str, host: str, norm: str, tenant: str, seen: dict[str, str]) -> Found:
    """A host (*norm*, normalised) belongs to one tenant; *seen*: host -> tenant."""
    first = seen.setdefault(norm, tenant)
    if first != tenant:
        yield Problem(at, host, f"already belongs to tenant {render(first)}")


def mounted_once(at: str, path: str, seen: dict[str, int], index: int) -> Found:
    first = seen.setdefault(path, index)
    if first != index:
        yield Problem(at, path, f"is already mounted by apis[{first}]")


def api_type_allows_rules(server: ServerTable, ruled: list[str]) -> Found:
    if server.api_type != "advanced" and ruled:
        yield Problem(
            "server.api_type",
            server.api_type,
            f'does not allow CORS rules (tenants {", ".join(ruled)} have some); use "advanced"',
        )


# -- running them ----------------------------------------------------------------


class Matching(NamedTuple):
    """What decides which requests a rule matches (for conflicts)."""

    domain: str
    pairs: Pairs
    paths: tuple[str, ...] | None


class Checker(Report):
    """Runs every check over validated tables, those with a problem of their own
    included; *flawed* (their paths) are checked, not compared with the others."""

    def __init__(self, memo: Memo, flawed: set[Loc]) -> None:
        super().__init__()
        self.memo = memo
        self.flawed = flawed

    def config(self, table: ConfigTable) -> None:
        server = table.server
        self.problems += metrics_token_with_path(server)
        if "metrics_path" in server.model_fields_set:
            self.warnings += warn_plain_token("server", server, "metrics_token")
        for key in ("request_headers", "expose_headers"):
            names = getattr(table.cors.defaults, key)
            self.warnings += warn_headers(f"cors.defaults.{key}", names, "[cors.defaults]")
        mounted: dict[str, int] = {}
        for i, api in enumerate(table.apis):
            if api is not None:
                self.problems += mounted_once(f"apis[{i}].path", api.path, mounted, i)
        users: dict[str, str] = {}  # user name or host -> its tenant
        hosts: dict[str, str] = {}
        for name, tenant in table.tenants.items():
            self.tenant(key_path("tenants", name), name, tenant, users, hosts)
        ruled = [name for name, tenant in table.tenants.items() if tenant.cors]
        self.problems += api_type_allows_rules(server, ruled)

    def tenant(
        self, at: str, name: str, tenant: TenantTable, users: dict[str, str], hosts: dict[str, str]
    ) -> None:
        for host in tenant.hosts:
            norm = normalise_host(host) or host
            self.problems += host_once(f"{at}.hosts", host, norm, name, hosts)
        for i, user in enumerate(tenant.users):
            if user is not None:
                self.problems += user_once(f"{at}.users[{i}].name", user.name, name, users)
                self.problems += one_token(f"{at}.users[{i}]", user)
                self.warnings += warn_plain_token(f"{at}.users[{i}]", user)
        self.rules(f"{at}.cors", tenant.cors, ("tenants", name, "cors"))

    def rules(
        self, at: str, rules: Sequence[CorsRuleTable | None], loc: Loc = (), conflicts: bool = True
    ) -> list[int]:
        """The indices of the rules at *at* that pass every check."""
        found = [
            (i, got)
            for i, rule in enumerate(rules)
            if rule is not None and (got := self.rule(f"{at}[{i}]", (*loc, i), rule))
        ]
        if conflicts:
            found, problems = no_conflicts(at, found)
            self.problems += problems
        return [i for i, _ in found]

    def rule(self, at: str, loc: Loc, rule: CorsRuleTable) -> Matching | None:
        domain = self.memo.domain(rule.domain)
        assert isinstance(domain, Domain)  # a rule whose domain is refused is left out
        found = [p for check in RULE_CHECKS if (p := check(at, rule, domain))]
        self.problems += found
        if found or loc in self.flawed:
            return None
        rule_pairs = pairs(rule, domain)
        self.warnings += warn_headers(f"{at}.request_headers", rule.request_headers, "the rule")
        self.warnings += warn_headers(f"{at}.expose_headers", rule.expose_headers, "the rule")
        self.warnings += [w for warn in RULE_WARNINGS if (w := warn(at, rule, domain, rule_pairs))]
        paths = tuple(rule.paths) if rule.paths is not None else None
        return Matching(domain.name, rule_pairs, paths)


# -- private helpers -------------------------------------------------------


def _public_wildcard(domain: Domain) -> bool:
    return domain.name.startswith("*.") and is_public_suffix(domain.name[2:])
