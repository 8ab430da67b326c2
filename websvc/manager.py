"""The plugin manager factory and the typed hook façade.

One :class:`pluggy.PluginManager` per app (never module-global): add the
specs, register :data:`DEFAULT_PLUGINS`, load the ``websvc`` entry points
(unless ``WEBSVC_DISABLE_PLUGIN_AUTOLOAD`` is set), register the caller's
extra plugins, check.

:class:`Hooks` is how the app calls hooks: one typed method per hook. It
resolves each hook's implementations once and calls them directly, in
pluggy's order and with pluggy's firstresult semantics; when a hook has a
wrapper it hands the call to pluggy itself. Call :meth:`Hooks.refresh`
after registering or unregistering plugins on :attr:`Hooks.pm`.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import pluggy

from websvc import hookspecs

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from websvc.cors import CorsRequest, Decision
    from websvc.site import AuthResult, Identity, Site, Tenant

#: The default plugin set, registered ``trylast`` in this order.
DEFAULT_PLUGINS = (
    "websvc.plugins.identify",
    "websvc.plugins.auth_basic",
    "websvc.plugins.cors_rules",
    "websvc.plugins.cors_headers",
)
ENTRY_POINT_GROUP = "websvc"
#: Set this environment variable (to anything non-empty) to skip entry points.
AUTOLOAD_ENV = "WEBSVC_DISABLE_PLUGIN_AUTOLOAD"

_Impl = Callable[..., Any]


def get_plugin_manager(
    plugins: Iterable[object] = (), *, autoload: bool | None = None
) -> pluggy.PluginManager:
    """Build a plugin manager: specs, defaults, entry points, *plugins*."""
    pm = pluggy.PluginManager("websvc")
    pm.add_hookspecs(hookspecs)
    for name in DEFAULT_PLUGINS:
        pm.register(importlib.import_module(name), name=name)
    if autoload is None:
        autoload = not os.environ.get(AUTOLOAD_ENV)
    if autoload:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in plugins:
        pm.register(plugin)
    pm.check_pending()
    return pm


def extend_plugin_manager(
    base: pluggy.PluginManager, plugins: Iterable[tuple[str, object]]
) -> pluggy.PluginManager:
    """A new manager with every plugin of *base*, then *plugins* (a tenant's).

    *plugins* are ``(name, plugin)`` pairs; the name (the config's
    ``module:attribute``) is what ``websvc explain`` reports as the decider.
    """
    pm = pluggy.PluginManager("websvc")
    pm.add_hookspecs(hookspecs)
    for name, plugin in base.list_name_plugin():
        if plugin is not None:
            pm.register(plugin, name=name)
    for name, plugin in plugins:
        pm.register(plugin, name=name)
    pm.check_pending()
    return pm


class Hooks:
    """Typed, pre-resolved access to the hooks of one plugin manager.

    Each hook is an attribute holding a plain callable: the sole
    implementation itself when only one plugin implements the hook (the
    common case: a default), or a small loop with pluggy's semantics over
    the implementations in pluggy's call order.
    """

    identify_tenant: Callable[[WSGIEnvironment, Site], Identity | None]
    authenticate: Callable[[WSGIEnvironment, Identity | None, Site], AuthResult | None]
    lookup_rule: Callable[[CorsRequest, Tenant | None, Site], Decision | None]
    emit_headers: Callable[[CorsRequest, Decision, list[tuple[str, str]]], None]

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self.refresh()

    def refresh(self) -> None:
        """Re-resolve every hook's implementations (after (un)registering)."""
        identify = self._resolve("websvc_identify_tenant")
        self.identify_tenant = _firstresult(identify)
        # With one implementation (the common case) it is called directly and
        # named here; with several, each answer names its plugin itself
        # (a refused AuthResult, every Decision).
        auth = self._resolve("websvc_authenticate")
        self.auth_plugin = auth[0][0] if len(auth) == 1 else ""
        self.authenticate = _firstresult(auth, _name_refusal)
        rules = self._resolve("websvc_lookup_rule")
        self.rule_plugin = rules[0][0] if len(rules) == 1 else ""
        self.lookup_rule = _firstresult(rules, _name_decision)
        emit = self._resolve("websvc_emit_headers")
        self.emit_headers = _every(emit)
        # Which steps the default plugins alone answer (the pipeline memoizes those).
        self.pure_identify = [name for name, _ in identify] == [DEFAULT_PLUGINS[0]]
        self.pure_auth = self.auth_plugin == DEFAULT_PLUGINS[1]
        self.pure_cors = [name for name, _ in rules + emit] == list(DEFAULT_PLUGINS[2:])

    def authentication_names(self) -> set[str]:
        names: set[str] = set()
        for answer in self.pm.hook.websvc_authentication_names():
            names.update(answer or ())
        return names

    # -- private ------------------------------------------------------------

    def _resolve(self, name: str) -> list[tuple[str, _Impl]]:
        caller: pluggy.HookCaller = getattr(self.pm.hook, name)
        impls = caller.get_hookimpls()
        argnames = tuple(caller.spec.argnames) if caller.spec else ()
        if any(impl.wrapper or impl.hookwrapper for impl in impls):
            # Let pluggy run wrappers; it calls every implementation itself.
            return [("(pluggy)", _via_pluggy(caller, argnames))]
        return [
            (impl.plugin_name, _adapt(impl.function, impl.argnames, argnames))
            for impl in reversed(impls)
        ]


def _firstresult(
    impls: list[tuple[str, _Impl]], tag: Callable[[Any, str], Any] | None = None
) -> Any:
    """One callable with firstresult semantics over *impls*.

    With several implementations, *tag* (when given) lets the answer name
    the plugin that gave it (see :func:`_name_refusal`, :func:`_name_decision`).
    """
    if len(impls) == 1:
        return impls[0][1]
    named = tuple(impls)

    def first(*args: object) -> object:
        for name, impl in named:
            result = impl(*args)
            if result is not None:
                return result if tag is None else tag(result, name)
        return None

    return first


def _name_refusal(result: Any, name: str) -> Any:
    """An ``AuthResult`` that refuses names its plugin (a pass stays as it is)."""
    return result if result.ok or result.plugin else result._replace(plugin=name)


def _name_decision(result: Any, name: str) -> Any:
    """A ``Decision`` names the plugin that made it."""
    return result if result.plugin else result._replace(plugin=name)


def _every(impls: list[tuple[str, _Impl]]) -> Any:
    """One callable that calls each of *impls* (results are not used)."""
    if len(impls) == 1:
        return impls[0][1]
    functions = tuple(impl for _, impl in impls)

    def every(*args: object) -> None:
        for impl in functions:
            impl(*args)

    return every


def _adapt(function: _Impl, wanted: tuple[str, ...], spec: tuple[str, ...]) -> _Impl:
    """Make *function* (which takes some of the spec's args) take them all."""
    if wanted == spec:
        return function
    index = tuple(spec.index(name) for name in wanted)

    def call(*args: object) -> Any:
        return function(*[args[i] for i in index])

    return call


def _via_pluggy(caller: pluggy.HookCaller, argnames: tuple[str, ...]) -> _Impl:
    def call(*args: object) -> Any:
        result = caller(**dict(zip(argnames, args, strict=True)))
        # A non-firstresult hook returns a list; an empty one means "no answer".
        return result if result != [] else None

    return call
