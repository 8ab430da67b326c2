"""The websvc WSGI application: the request pipeline in front of the APIs.

Usage::

    from websvc import create_app, wrap

    app = create_app("websvc.toml")      # APIs mounted from [[apis]]
    app = wrap(legacy_wsgi_app, "websvc.toml")  # every path reaches legacy_wsgi_app

Per request, :func:`websvc.pipeline.decide` says what to do; this shell
sends it: websvc's own answer (a preflight, a 403, a 401), or the API's,
which gets the CORS headers, a merged ``Vary: Origin``, and loses any
``Access-Control-*`` header the API set itself. The shell also owns the
config's life: reloads that never swap in a bad config, and the last good
config of a gunicorn worker (:mod:`websvc.lastgood`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import weakref
from collections.abc import Callable, Iterable
from itertools import chain
from pathlib import Path
from time import monotonic
from typing import TYPE_CHECKING

from werkzeug.wrappers import Response
from werkzeug.wsgi import ClosingIterator

from websvc import lastgood
from websvc.config import ConfigError, ConfigSource
from websvc.events import REPEAT_WINDOW, log_refusals
from websvc.logutil import ensure_handler, safe
from websvc.merge import PLAIN, with_cors
from websvc.pipeline import prepare
from websvc.registry import build_site

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from websvc.follow import Follower
    from websvc.metrics import Metrics
    from websvc.site import Site

log = logging.getLogger("websvc")

#: The environ key where the pipeline leaves its :class:`~websvc.pipeline.Outcome`.
OUTCOME_KEY = "websvc.outcome"
_ERROR_BODY = b"500 Internal Server Error\n"


class WebsvcApp:
    """The websvc pipeline as a WSGI application.

    :param config: a TOML path, a dict of the same shape, or None for the
        built-in demo config.
    :param fallback: a WSGI app that every path reaches (:func:`wrap`
        passes the legacy app; a config with ``[[apis]]`` is then refused).
        When None, ``[[apis]]`` are mounted and other paths get websvc's 404.
    :param plugins: extra plugin objects registered for every tenant.
    :param autoload: load ``websvc`` entry-point plugins (default: unless
        ``WEBSVC_DISABLE_PLUGIN_AUTOLOAD`` is set).

    ``wsgi_app`` is what a request runs: the pipeline, or the metrics
    middleware around it when ``[server] metrics_path`` is set (wrap it
    like Flask's ``app.wsgi_app`` to add middleware of your own).
    """

    def __init__(
        self,
        config: ConfigSource = None,
        *,
        fallback: WSGIApplication | None = None,
        plugins: Iterable[object] = (),
        autoload: bool | None = None,
    ) -> None:
        self.source = config
        self.fallback = fallback
        self.plugins = tuple(plugins)
        self.autoload = autoload
        self.metrics: Metrics | None = None
        #: What a request runs at the heart: the pipeline (store mode: after
        #: making sure this process follows the store). Middleware wraps it.
        self.handle: WSGIApplication = self.pipeline
        self.wsgi_app: WSGIApplication = self.pipeline
        #: Store mode: keeps the site current with the store (websvc.follow).
        self.follower: Follower | None = None
        #: Leave each request's Outcome in ``environ["websvc.outcome"]`` (set by a
        #: middleware that reads it, such as the metrics; off, it costs nothing).
        self.keep_outcome = False
        #: The problems of the last refused reload (empty after a good one).
        self.reload_problems: tuple[str, ...] = ()
        #: What the config file held at the last load attempt, good or bad.
        self._attempted = _fingerprint(config)
        #: Built while a gunicorn worker boots: keep or use the last good copy.
        self._worker_boot = lastgood.worker_boot()
        ensure_handler()
        try:
            self.site: Site = self._build(config)
        except ConfigError as exc:
            self.site = self._last_good(exc)
        for warning in self.site.config.warnings:
            log.warning("%s", warning)
        _LIVE.add(self)

    def pipeline(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Decide (:func:`websvc.pipeline.prepare`), then send websvc's answer or the API's."""
        site = self.site
        query = environ.get("QUERY_STRING")
        if query and "boomi_auth" in query:
            plan = prepare(site, environ, None)
        else:
            # The request's memo key (websvc.pipeline, "the memos").
            method = environ.get("REQUEST_METHOD")
            if method == "OPTIONS" and "HTTP_ACCESS_CONTROL_REQUEST_METHOD" in environ:
                key: tuple[str | None, ...] = (
                    environ.get("HTTP_HOST"),
                    environ.get("HTTP_ORIGIN"),
                    environ["HTTP_ACCESS_CONTROL_REQUEST_METHOD"],
                    environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS"),
                    environ.get("HTTP_ACCESS_CONTROL_REQUEST_PRIVATE_NETWORK"),
                    environ.get("HTTP_AUTHORIZATION"),
                )
            else:
                key = (
                    environ.get("HTTP_HOST"),
                    environ.get("HTTP_ORIGIN"),
                    method,
                    environ.get("HTTP_AUTHORIZATION"),
                )
            plan = site.plans.get(key) or prepare(site, environ, key)
        outcome, status, headers, body, tenant, user, refused = plan  # one unpack: hot path
        if self.keep_outcome:
            environ[OUTCOME_KEY] = outcome
        if refused:
            # A repeat of a memoized refusal within the window is only counted
            # (inline: the common case); anything else is logged by the events.
            # The key is websvc.events.repeated_refusal_key's.
            entry = site.refusals.get((outcome.request, environ.get("PATH_INFO", "")))
            if entry is not None and monotonic() - entry[0] < REPEAT_WINDOW:
                entry[1] += 1
            else:
                log_refusals(site, outcome, environ)
        if status:
            start_response(status, list(headers))
            return body
        if tenant is not None:
            environ["websvc.tenant"] = tenant
        environ["websvc.user"] = user
        started = False

        def respond(
            status: str, api_headers: list[tuple[str, str]], exc_info: OptExcInfo | None = None
        ) -> Callable[[bytes], object]:
            """The API's ``start_response``: see :func:`with_cors`."""
            nonlocal started
            started = True
            for name, _ in api_headers:
                # Only Access-Control-* and Vary are touched: most answers have neither.
                if name not in PLAIN and name[:1] in "aAvV":
                    return start_response(status, with_cors(api_headers, headers), exc_info)
            return start_response(status, [*api_headers, *headers], exc_info)

        try:
            result = site.router(environ, respond)
            if started:
                return result
            # A generator API calls start_response when first iterated: start
            # it here, so an error before its first line still gets our 500.
            return _prefetched(result)
        except Exception:
            log.exception("API error on %s", safe(environ.get("PATH_INFO", "")))
            if started:
                raise
            error = Response(
                _ERROR_BODY,
                500,
                headers=list(headers),
                content_type="text/plain; charset=utf-8",
            )
            return error(environ, start_response)

    #: Without middleware a request runs the pipeline itself, one call less
    #: (every request pays it); with middleware the app becomes a
    #: :class:`_WithMiddleware`, whose ``__call__`` runs ``wsgi_app``.
    __call__ = pipeline

    def reload(self, config: ConfigSource | None = None) -> bool:
        """Load the config again (or *config*) and swap it in when valid.

        A refused config is logged with every problem and the last good one
        keeps serving; returns whether the new config was applied. Never raises.
        """
        source = self.source if config is None else config
        self._attempted = _fingerprint(source)
        try:
            site = self._build(source)
        except Exception as exc:  # a ConfigError; anything else must not stop a server either
            problems = exc.problems if isinstance(exc, ConfigError) else [_unexpected(exc)]
            self.reload_problems = tuple(problems)
            log.error(
                "config reload refused, still serving the last good config: %s",
                safe("; ".join(problems), 4000),
            )
            return False
        self.reload_problems = ()
        self.source = source
        self.site = site  # one reference swap: a request sees one whole config
        for warning in site.config.warnings:
            log.warning("%s", warning)
        log.info("config reloaded from %s", safe(site.config.source))
        return True

    # -- private ------------------------------------------------------------

    def _build(self, config: ConfigSource, text: str | None = None) -> Site:
        site = build_site(
            config, fallback=self.fallback, plugins=self.plugins, autoload=self.autoload, text=text
        )
        if site.config.store is not None:
            site = self._follow(site)
        self.wsgi_app = self._chain(site)
        if site.config.text is not None and text is None and self._worker_boot:
            lastgood.remember(str(config), site.config.text)
        return site

    def _chain(self, site: Site) -> WSGIApplication:
        """``handle`` wrapped in the middleware *site*'s settings ask for."""
        app = self.handle
        if site.server.metrics_path is not None or self.metrics is not None:
            from websvc.metrics import Metrics, MetricsMiddleware

            if self.metrics is None:
                self.metrics = Metrics()  # kept across reloads: counters never reset
            app = MetricsMiddleware(self, self.metrics)
            self.keep_outcome = True
        if site.server.status_path is not None:
            from websvc.metrics import StatusMiddleware

            app = StatusMiddleware(self, app)
        # A class, not a flag per request: see __call__.
        self.__class__ = WebsvcApp if app == self.handle else _WithMiddleware
        return app

    def _follow(self, base: Site) -> Site:
        """Store mode: the store's tenants now, and a follower that keeps them current."""
        from websvc.follow import Follower
        from websvc.registry import Compiler

        follower = Follower(base, Compiler(self.plugins, self.autoload), self._publish)
        site = follower.load()
        if self.follower is not None:
            self.follower.stop()
        self.follower = follower
        # Follow at once, in this process -- unless this is a gunicorn master
        # loading the app before it forks (preload_app): no thread may run
        # there; each worker starts its own right after the fork (_after_fork).
        if self._worker_boot or "gunicorn.arbiter" not in sys.modules:
            follower.ensure_started()
        return site

    def _publish(self, site: Site) -> None:
        self.site = site  # one reference swap: a request sees one whole site
        if self.metrics is not None:
            follower = self.follower
            self.metrics.config(site.version, follower.staleness() if follower else 0.0)

    def _last_good(self, error: ConfigError) -> Site:
        """At start, when the file is bad: the config this server's workers last loaded.

        Only a worker whose master already served a good config finds one (a
        new worker after ``HUP`` without ``preload_app``); otherwise *error*
        is raised, and a server never starts on a bad file.
        """
        source = self.source
        kept = None
        if self._worker_boot and isinstance(source, str | Path):
            kept = lastgood.recall(str(source))
        if kept is None:
            raise error
        text, where = kept
        site = self._build(source, text=text)
        self.reload_problems = tuple(error.problems)
        log.error(
            "config refused, serving the last good config (kept in %s): %s",
            where,
            safe("; ".join(error.problems), 4000),
        )
        return site

    def _after_fork(self) -> None:
        """In a new worker: load the file again if it changed since the last attempt.

        gunicorn forks new workers after ``HUP``; without websvc's
        ``on_reload`` (docs/deploy.md) the master did not read the file, so
        each new worker does, and keeps what it inherited if the file is bad.
        """
        if self._attempted is not None and _fingerprint(self.source) != self._attempted:
            self.reload()
        if self.follower is not None:  # a new worker follows the store from its first moment
            self.follower.after_fork()


class _WithMiddleware(WebsvcApp):
    """A :class:`WebsvcApp` whose requests go through its ``wsgi_app`` (middleware)."""

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        return self.wsgi_app(environ, start_response)


def _prefetched(result: Iterable[bytes]) -> Iterable[bytes]:
    """Pull the first chunk of *result* now; the WSGI iterable stays closable."""
    iterator = iter(result)
    try:
        first = [next(iterator)]
    except StopIteration:
        first = []
    except BaseException:
        close = getattr(result, "close", None)
        if close is not None:
            close()
        raise
    return ClosingIterator(chain(first, iterator), getattr(result, "close", None))


#: Every WebsvcApp alive in this process (weakly held): reloaded by the
#: gunicorn ``on_reload`` hook, and checked in each forked worker.
_LIVE: weakref.WeakSet[WebsvcApp] = weakref.WeakSet()


def live_apps() -> list[WebsvcApp]:
    """The websvc apps alive in this process."""
    return list(_LIVE)


def _after_fork_in_child() -> None:
    for app in list(_LIVE):
        try:
            app._after_fork()
        except Exception:  # a fork hook must never take a worker down
            log.exception("config check after fork failed")


os.register_at_fork(after_in_child=_after_fork_in_child)


def _fingerprint(source: ConfigSource) -> str | None:
    """A digest of what a config file holds now (None for a dict or the demo)."""
    if not isinstance(source, str | Path):
        return None
    try:
        with open(source, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError as exc:
        return f"unreadable: {exc.errno}"


def _unexpected(exc: BaseException) -> str:
    return f"unexpected error while loading the config: {type(exc).__name__}: {exc}"


def create_app(config: ConfigSource = None) -> WebsvcApp:
    """The websvc WSGI app for *config* (a TOML path, a dict, or None for the demo)."""
    return WebsvcApp(config)


def wrap(legacy_app: WSGIApplication, config: ConfigSource = None) -> WebsvcApp:
    """Put the websvc pipeline in front of an existing WSGI app.

    Every path reaches *legacy_app* (a config with ``[[apis]]`` is refused
    here); CORS, identification and authentication apply as for
    :func:`create_app`.
    """
    return WebsvcApp(config, fallback=legacy_app)
