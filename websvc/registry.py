"""The compiled config: a :class:`Site` of :class:`Tenant` tables and hooks.

:func:`build_site` runs once per config load (and on every reload). It
validates the config, builds the plugin manager, compiles every tenant's
rules into a :class:`~websvc.cors.RuleTable`, indexes users and hosts, and
mounts the APIs. What it returns is read-only: the request path only looks
things up in it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

import pluggy
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from websvc.config import (
    BUILTIN_AUTHENTICATION,
    Config,
    ConfigError,
    ConfigSource,
    ServerConfig,
    TenantConfig,
    UserConfig,
    describe,
    key_path,
    load_config,
    render,
)
from websvc.cors import RuleTable, compile_rule
from websvc.manager import Hooks, extend_plugin_manager, get_plugin_manager

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from websvc.credentials import Credential


@dataclass(frozen=True, slots=True)
class Tenant:
    """One tenant (account), compiled: rules, users and its hooks."""

    name: str
    rules: RuleTable = field(repr=False)
    users: Mapping[str, UserConfig] = field(repr=False)
    config: TenantConfig = field(repr=False)
    hooks: Hooks = field(repr=False)  # the site's hooks plus the tenant's plugins


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


@dataclass(frozen=True, slots=True)
class Site:
    """Everything a running server needs, compiled from one config."""

    config: Config
    server: ServerConfig
    tenants: Mapping[str, Tenant]
    users: Mapping[str, tuple[Tenant, UserConfig]]
    hosts: Mapping[str, Tenant]
    only: Tenant | None
    hooks: Hooks
    #: Shared answers of the default identification (identities are immutable).
    host_identities: Mapping[str, Identity] = field(repr=False)
    only_identity: Identity | None = field(repr=False)
    router: WSGIApplication = field(repr=False)


def build_site(
    source: ConfigSource,
    *,
    fallback: WSGIApplication | None = None,
    plugins: Iterable[object] = (),
    autoload: bool | None = None,
    text: str | None = None,
) -> Site:
    """Load, validate and compile *source*; raise ConfigError on any problem.

    *text* is the file's content when it was read already (a kept copy).
    """
    # Compiling makes many small objects and no garbage cycles: pausing the
    # cyclic collector halves the time for large configs.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build_site(source, fallback=fallback, plugins=plugins, autoload=autoload, text=text)
    finally:
        if collecting:
            gc.enable()


def _build_site(
    source: ConfigSource,
    *,
    fallback: WSGIApplication | None,
    plugins: Iterable[object],
    autoload: bool | None,
    text: str | None = None,
) -> Site:
    pm = get_plugin_manager(plugins, autoload=autoload)
    hooks = Hooks(pm)
    names = set(BUILTIN_AUTHENTICATION) | hooks.authentication_names()
    # A wrapped app gets every path, so the demo's [[apis]] are left out there.
    config = load_config(source, authentication_names=names, demo_apis=fallback is None, text=text)
    problems: list[str] = []
    if fallback is not None and config.apis:
        problems.append(
            f"{config.source}: apis: {render([a.path for a in config.apis])} is not used by "
            "wrap(): every path reaches the wrapped app (remove [[apis]])"
        )
    tenants: dict[str, Tenant] = {}
    shared: dict[Any, Any] = {}
    for tconf in config.tenants:
        tenant_hooks = hooks
        if tconf.plugins:
            why = _register_problem(pm, tconf)
            if why is None:
                try:
                    named = zip(tconf.plugin_refs, tconf.plugins, strict=True)
                    tenant_hooks = Hooks(extend_plugin_manager(pm, named))
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:  # whatever a plugin object does is a config problem
                    why = f"{_culprit(tconf, exc)} cannot be registered: {describe(exc)}"
            if why is not None:
                path = key_path(key_path("tenants", tconf.name), "plugins")
                problems.append(f"{config.source}: {path}: {why}")
        tenants[tconf.name] = _compile_tenant(config, tconf, tenant_hooks, shared)
    if problems:
        raise ConfigError(problems)
    users = {u.name: (tenants[t.name], u) for t in config.tenants for u in t.users}
    hosts = {h: tenants[t.name] for t in config.tenants for h in t.hosts}
    only = next(iter(tenants.values())) if len(tenants) == 1 else None
    return Site(
        config=config,
        server=config.server,
        tenants=MappingProxyType(tenants),
        users=MappingProxyType(users),
        hosts=MappingProxyType(hosts),
        only=only,
        hooks=hooks,
        host_identities=MappingProxyType({h: Identity(t, "host") for h, t in hosts.items()}),
        only_identity=Identity(only, "only") if only is not None else None,
        router=_router(config, fallback),
    )


def _register_problem(pm: pluggy.PluginManager, tconf: TenantConfig) -> str | None:
    """Why *tconf*'s plugins cannot join *pm*'s (an object registered twice), or None.

    pluggy refuses a plugin object registered under two names; say which
    instead of its multi-line message. Compared by identity: a plugin need
    not be hashable or comparable.
    """
    taken = [(name, plugin) for name, plugin in pm.list_name_plugin() if plugin is not None]
    for ref, plugin in zip(tconf.plugin_refs, tconf.plugins, strict=True):
        for name, other in taken:
            if other is plugin:
                return f"{render(ref)} is already registered (as {render(name)})"
        taken.append((ref, plugin))
    return None


def _culprit(tconf: TenantConfig, exc: BaseException) -> str:
    """The plugin reference *exc* is about (pluggy says), else every reference, rendered."""
    plugin = getattr(exc, "plugin", None) if isinstance(exc, pluggy.PluginValidationError) else None
    for ref, candidate in zip(tconf.plugin_refs, tconf.plugins, strict=True):
        if plugin is not None and candidate is plugin:
            return render(ref)
    return render(list(tconf.plugin_refs))


def _compile_tenant(
    config: Config, tconf: TenantConfig, hooks: Hooks, shared: dict[Any, Any]
) -> Tenant:
    label = f"tenants.{tconf.name}.cors"
    rules = [
        compile_rule(
            rule,
            tenant=tconf.name,
            label=f"{label}[{i}]",
            default_request_headers=config.defaults.request_headers,
            default_expose_headers=config.defaults.expose_headers,
            shared=shared,
        )
        for i, rule in enumerate(tconf.cors)
    ]
    return Tenant(
        name=tconf.name,
        rules=RuleTable(rules),
        users=MappingProxyType({u.name: u for u in tconf.users}),
        config=tconf,
        hooks=hooks,
    )


def _router(config: Config, fallback: WSGIApplication | None) -> WSGIApplication:
    if fallback is not None:
        return fallback
    if not config.apis:
        return not_found
    mounts: dict[str, Any] = {api.path: api.app for api in config.apis if api.path != "/"}
    root = next((api.app for api in config.apis if api.path == "/"), None)
    return DispatcherMiddleware(root or not_found, mounts)


def not_found(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """websvc's own 404 for a path where no API is mounted."""
    body = b"404 Not Found: no API is mounted at this path\n"
    start_response(
        "404 Not Found",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
