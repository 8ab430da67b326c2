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
    from websvc.registry import AuthResult, Identity, Site, Tenant

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
        self.identify_tenant = _firstresult(self._resolve("websvc_identify_tenant"))
        auth = self._resolve("websvc_authenticate")
        #: The plugin that answers authentication when only one does ("" otherwise:
        #: then :attr:`authenticate` names the refusing plugin in ``AuthResult.plugin``).
        self.auth_plugin = auth[0][0] if len(auth) == 1 else ""
        self.authenticate = _firstresult(auth) if len(auth) == 1 else _named_auth(auth)
        self.lookup_rule = _firstresult(self._resolve("websvc_lookup_rule"))
        self.emit_headers = _every(self._resolve("websvc_emit_headers"))

    def authentication_names(self) -> set[str]:
        names: set[str] = set()
        for answer in self.pm.hook.websvc_authentication_names():
            names.update(answer or ())
        return names

    def deciders(self, hook: str, *args: object) -> tuple[object, str | None]:
        """Call a firstresult hook and also say which plugin answered (explain)."""
        for plugin_name, impl in self._resolve(hook):
            result = impl(*args)
            if result is not None:
                return result, plugin_name
        return None, None

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


def _firstresult(impls: list[tuple[str, _Impl]]) -> Any:
    """One callable with firstresult semantics over *impls*."""
    if len(impls) == 1:
        return impls[0][1]
    functions = tuple(impl for _, impl in impls)

    def first(*args: object) -> object:
        for impl in functions:
            result = impl(*args)
            if result is not None:
                return result
        return None

    return first


def _named_auth(impls: list[tuple[str, _Impl]]) -> Any:
    """Authentication over several plugins; a refusal names the plugin that gave it."""
    named = tuple(impls)

    def first(*args: object) -> object:
        for name, impl in named:
            result = impl(*args)
            if result is not None:
                if not result.ok and not result.plugin:
                    return result._replace(plugin=name)
                return result
        return None

    return first


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
