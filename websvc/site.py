"""The shapes the hooks see: the compiled :class:`Site` and :class:`Tenant`,
and the hooks' value types, :class:`Identity` and :class:`AuthResult`.

Nothing here builds anything (:func:`websvc.registry.build_site` does) or
imports the plugin manager: the hook specs, the manager, the plugins and the
pipeline all refer to these types, so they sit below all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication, WSGIEnvironment

    from websvc.config import Config, ServerConfig, TenantConfig, UserConfig
    from websvc.cors import CorsRequest, Decision
    from websvc.credentials import Credential
    from websvc.rules import RuleTable


class HookCalls(Protocol):
    """The typed hook calls of one plugin set (implemented by :class:`websvc.manager.Hooks`).

    ``auth_plugin`` and ``rule_plugin`` name the plugin that answers
    authentication and rule lookup when only one does (``""`` otherwise: a
    refusal then names its plugin itself). ``pure_identify``, ``pure_auth``
    and ``pure_cors`` (rule lookup and header emission) are true when the
    default plugins alone answer that step: their answers depend on known
    parts of the request only, so the pipeline may memoize them.
    """

    identify_tenant: Callable[[WSGIEnvironment, Site], Identity | None]
    authenticate: Callable[[WSGIEnvironment, Identity | None, Site], AuthResult | None]
    lookup_rule: Callable[[CorsRequest, Tenant | None, Site], Decision | None]
    emit_headers: Callable[[CorsRequest, Decision, list[tuple[str, str]]], None]
    auth_plugin: str
    rule_plugin: str
    pure_identify: bool
    pure_auth: bool
    pure_cors: bool


@dataclass(frozen=True, slots=True)
class Tenant:
    """One tenant (account), compiled: rules, users and its hooks."""

    name: str
    rules: RuleTable = field(repr=False)
    users: Mapping[str, UserConfig] = field(repr=False)
    config: TenantConfig = field(repr=False)
    hooks: HookCalls = field(repr=False)  # the site's hooks plus the tenant's plugins


@dataclass(frozen=True, slots=True)
class Site:
    """Everything a running server needs, compiled from one config."""

    config: Config
    server: ServerConfig
    tenants: Mapping[str, Tenant]
    users: Mapping[str, tuple[Tenant, UserConfig]]
    hosts: Mapping[str, Tenant]
    only: Tenant | None
    hooks: HookCalls
    #: Shared answers of the default identification (identities are immutable).
    host_identities: Mapping[str, Identity] = field(repr=False)
    only_identity: Identity | None = field(repr=False)
    router: WSGIApplication = field(repr=False)
    #: The store's change number this site was built from (0 in file mode).
    version: int = 0
    #: The pipeline's memos (websvc.pipeline): new with each site.
    answers: dict[tuple[object, ...], Any] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )
    plans: dict[tuple[str | None, ...], Any] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )
    #: When each recent refusal was last logged, and its repeats (websvc.events).
    refusals: dict[tuple[object, ...], list[Any]] = field(
        init=False, default_factory=dict, repr=False, compare=False
    )


class Identity:
    """Who a request belongs to, and how that was decided.

    ``via`` is ``"boomi_auth"``, ``"basic"``, ``"host"`` or ``"only"`` for
    the default plugin (a plugin may use its own words). ``credential`` is
    the credential that identified the tenant, which authentication checks;
    it is None when the tenant was identified without one.
    """

    __slots__ = ("credential", "tenant", "via")

    def __init__(self, tenant: Tenant, via: str, credential: Credential | None = None) -> None:
        self.tenant = tenant
        self.via = via
        self.credential = credential

    def __repr__(self) -> str:
        return f"Identity(tenant={self.tenant.name!r}, via={self.via!r}, credential={self.credential!r})"


class AuthResult(NamedTuple):
    """The answer of authentication: pass (with a user name) or 401.

    ``reason`` says why a request was refused (logged and counted);
    ``plugin`` names the plugin that refused it, filled in by websvc.
    """

    ok: bool
    user: str | None = None
    reason: str = ""
    challenge: str = 'Basic realm="websvc"'
    plugin: str = ""
