"""Building the compiled config: a :class:`~websvc.site.Site` of tenants and hooks.

:func:`build_site` runs once per config load (and on every reload). It
validates the config, builds the plugin manager, compiles every tenant's
rules into a :class:`~websvc.rules.RuleTable`, indexes users and hosts, and
mounts the APIs. What it returns is read-only: the request path only looks
things up in it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import pluggy
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from websvc.config import (
    BUILTIN_AUTHENTICATION,
    Config,
    ConfigError,
    ConfigSource,
    TenantConfig,
    UserConfig,
    describe,
    key_path,
    load_config,
    render,
)
from websvc.cors import compile_rule
from websvc.manager import Hooks, extend_plugin_manager, get_plugin_manager
from websvc.rules import RuleTable
from websvc.site import AuthResult, Identity, Site, Tenant

__all__ = [
    "AuthResult",
    "Compiler",
    "Identity",
    "Site",
    "Tenant",
    "assemble",
    "indexes",
    "build_site",
    "not_found",
    "router_for",
]

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


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
    compiler = Compiler(plugins, autoload)
    # A wrapped app gets every path, so the demo's [[apis]] are left out there.
    config = load_config(
        source,
        authentication_names=compiler.authentication_names,
        demo_apis=fallback is None,
        text=text,
    )
    problems: list[str] = []
    if fallback is not None and config.apis:
        problems.append(
            f"{config.source}: apis: {render([a.path for a in config.apis])} is not used by "
            "wrap(): every path reaches the wrapped app (remove [[apis]])"
        )
    tenants: dict[str, Tenant] = {}
    for tconf in config.tenants:
        tenant, why = compiler.tenant(config, tconf)
        if why is not None:
            problems.append(f"{config.source}: {why}")
        tenants[tconf.name] = tenant
    if problems:
        raise ConfigError(problems)
    return assemble(config, tenants, compiler.hooks, _router(config, fallback))


class Compiler:
    """Compiles tenants for one plugin set: the plugin manager, its hooks, shared values.

    Built once per config load; store mode (:mod:`websvc.follow`) keeps it to
    compile each tenant the store changes, and only those.
    """

    def __init__(self, plugins: Iterable[object] = (), autoload: bool | None = None) -> None:
        self.pm = get_plugin_manager(plugins, autoload=autoload)
        self.hooks = Hooks(self.pm)
        self.authentication_names = set(BUILTIN_AUTHENTICATION) | self.hooks.authentication_names()
        # Equal sets and header tuples of different rules become one object.
        self.shared: dict[Any, Any] = {}

    def tenant(self, config: Config, tconf: TenantConfig) -> tuple[Tenant, str | None]:
        """*tconf* compiled, and why its plugins cannot be registered (``key: why``), if so."""
        tenant_hooks, why = self.hooks, None
        if tconf.plugins:
            why = _register_problem(self.pm, tconf)
            if why is None:
                try:
                    named = zip(tconf.plugin_refs, tconf.plugins, strict=True)
                    tenant_hooks = Hooks(extend_plugin_manager(self.pm, named))
                except KeyboardInterrupt:
                    raise
                except BaseException as exc:  # whatever a plugin object does is a config problem
                    why = f"{_culprit(tconf, exc)} cannot be registered: {describe(exc)}"
            if why is not None:
                why = f"{key_path(key_path('tenants', tconf.name), 'plugins')}: {why}"
        return _compile_tenant(config, tconf, tenant_hooks, self.shared), why


Indexes = tuple[dict[str, tuple[Tenant, UserConfig]], dict[str, Tenant], dict[str, Identity]]


def indexes(tenants: Mapping[str, Tenant]) -> Indexes:
    """The user, host and host-identity indexes of *tenants*."""
    users = {u.name: (t, u) for t in tenants.values() for u in t.config.users}
    hosts = {h: t for t in tenants.values() for h in t.config.hosts}
    return users, hosts, {h: Identity(t, "host") for h, t in hosts.items()}


def assemble(
    config: Config,
    tenants: dict[str, Tenant],
    hooks: Hooks,
    router: WSGIApplication,
    *,
    version: int = 0,
    maps: Indexes | None = None,
) -> Site:
    """A :class:`Site` over *tenants* and its indexes (read-only views of these dicts)."""
    users, hosts, host_ids = maps if maps is not None else indexes(tenants)
    only = next(iter(tenants.values())) if len(tenants) == 1 else None
    return Site(
        config=config,
        server=config.server,
        tenants=MappingProxyType(tenants),
        users=MappingProxyType(users),
        hosts=MappingProxyType(hosts),
        only=only,
        hooks=hooks,
        host_identities=MappingProxyType(host_ids),
        only_identity=Identity(only, "only") if only is not None else None,
        router=router,
        version=version,
    )


def router_for(config: Config, fallback: WSGIApplication | None) -> WSGIApplication:
    """The WSGI app requests are routed to: *fallback*, or the ``[[apis]]`` mounted."""
    return _router(config, fallback)


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
            index=i,
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
    # Its bound __call__: calling an object costs a lookup of __call__ per request.
    return Mounts(root or not_found, mounts).__call__


#: Paths whose route a :class:`Mounts` keeps (then it starts again): bounds its memory.
ROUTES_KEPT = 4096
#: A longer path is routed afresh each time, never kept.
ROUTE_MAX_PATH = 256


class Mounts:
    """The ``[[apis]]`` mounted by path: werkzeug's ``DispatcherMiddleware``, remembered.

    Where a path goes (the app, the part of the path that becomes
    ``SCRIPT_NAME``, the rest that stays ``PATH_INFO``) depends on the path
    alone. werkzeug's dispatcher answers it -- run over stand-ins that
    return the route instead of calling an API -- and the answer is kept
    per path, so a repeated path costs a dictionary lookup.
    """

    __slots__ = ("_dispatch", "routes")

    def __init__(self, root: WSGIApplication, mounts: Mapping[str, WSGIApplication]) -> None:
        self.routes: dict[str, tuple[WSGIApplication, str, str]] = {}
        stand_ins = {path: _route_to(app) for path, app in mounts.items()}
        self._dispatch = DispatcherMiddleware(_route_to(root), stand_ins).__call__

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        app, script, rest = self.routes.get(path) or self.route(path)
        environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + script
        environ["PATH_INFO"] = rest
        return app(environ, start_response)

    def route(self, path: str) -> tuple[WSGIApplication, str, str]:
        """The app for *path*, and *path* split into its mount point and the rest."""
        route: tuple[WSGIApplication, str, str]
        route = self._dispatch({"PATH_INFO": path, "SCRIPT_NAME": ""}, _never)  # type: ignore[assignment]
        if len(path) <= ROUTE_MAX_PATH:
            if len(self.routes) >= ROUTES_KEPT:
                self.routes.clear()
            self.routes[path] = route
        return route


def _route_to(app: WSGIApplication) -> WSGIApplication:
    """A stand-in for *app* in the dispatcher: returns the route instead of calling *app*."""

    def stand_in(environ: WSGIEnvironment, start_response: StartResponse) -> Any:
        return (app, environ["SCRIPT_NAME"], environ["PATH_INFO"])

    return stand_in


def _never(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    raise AssertionError("a route stand-in never starts a response")


def not_found(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
    """websvc's own 404 for a path where no API is mounted."""
    body = b"404 Not Found: no API is mounted at this path\n"
    start_response(
        "404 Not Found",
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
    )
    return [body]
