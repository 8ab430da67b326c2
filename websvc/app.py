"""The websvc WSGI application: the request pipeline in front of the APIs.

Usage::

    from websvc import create_app, wrap

    app = create_app("websvc.toml")      # APIs mounted from [[apis]]
    app = wrap(legacy_wsgi_app, "websvc.toml")  # every path reaches legacy_wsgi_app

Per request: identify the tenant; with ``Origin``, make the CORS decision
and collect its headers; a preflight is answered here (never authenticated,
never reaching an API); any other request is authenticated and routed, and
the API's response gets the CORS headers, a merged ``Vary: Origin``, and
loses any ``Access-Control-*`` header the API set itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import weakref
from collections.abc import Callable, Iterable, Iterator
from itertools import chain
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING

from werkzeug.wsgi import ClosingIterator

from websvc import lastgood, syntax
from websvc.config import ConfigError, ConfigSource
from websvc.cors import VARY_PREFLIGHT, CorsRequest, Decision
from websvc.credentials import basic_credential, boomi_auth_credential
from websvc.logutil import ensure_handler, safe
from websvc.registry import AuthResult, Identity, Site, build_site

if TYPE_CHECKING:
    from _typeshed import OptExcInfo
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from websvc.manager import Hooks
    from websvc.metrics import Metrics
    from websvc.registry import Tenant

log = logging.getLogger("websvc")

_STATUS = {200: "200 OK", 204: "204 No Content", 403: "403 Forbidden"}
_NO_AUTH = AuthResult(False, reason="no authentication plugin answered")
_FORBIDDEN_BODY = b"403 Forbidden: cross-origin request refused\n"
_UNAUTHORIZED_BODY = b"401 Unauthorized\n"
_ERROR_BODY = b"500 Internal Server Error\n"
_EMPTY: list[bytes] = [b""]
_NO_HEADERS: tuple[tuple[str, str], ...] = ()


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

    def reload(self, config: ConfigSource | None = None) -> bool:
        """Load the config again (or *config*) and swap it in when valid.

        A refused config is logged with every problem and the last good one
        keeps serving; returns whether the new config was applied.
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

    def __call__(
        self,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        note: _Note | None = None,
    ) -> Iterable[bytes]:
        """The pipeline. With metrics on, :meth:`_measured` calls it with a *note*."""
        if note is None and self.metrics is not None:
            return self._measured(self.metrics, environ, start_response)
        site = self.site
        hooks = site.hooks
        identity = hooks.identify_tenant(environ, site)
        tenant = None
        if identity is not None:
            tenant = identity.tenant
            hooks = tenant.hooks
            if note is not None:
                note.tenant = tenant.name
        origin = environ.get("HTTP_ORIGIN")
        if origin is None:
            return self._serve(
                site, hooks, identity, environ, start_response, _NO_HEADERS, "Origin", note
            )
        request = CorsRequest.from_environ(environ, origin)
        decision = hooks.lookup_rule(request, tenant, site) or _UNDECIDED
        headers: list[tuple[str, str]] = []
        hooks.emit_headers(request, decision, headers)
        if note is not None:
            note.cors(request.preflight, decision)
        reject = False
        if not decision.allowed:
            if log.isEnabledFor(logging.INFO):
                _log_refusal(site, tenant, request, decision)
            if site.server.debug_header:
                # A plugin's reason is free text: never let it break the header.
                headers.append(("X-Websvc-Cors-Reason", safe(decision.reason, 100)))
            if site.server.reject_disallowed and not same_origin(environ, origin):
                reject = True
                headers = [h for h in headers if not _is_cors_header(h[0])]
        if request.preflight:
            status = 403 if reject else site.server.preflight_status
            headers.append(("Vary", VARY_PREFLIGHT))
            if status != 204:
                headers.append(("Content-Length", "0"))
            start_response(_STATUS[status], headers)
            return _EMPTY
        if reject:
            return _plain(start_response, "403 Forbidden", _FORBIDDEN_BODY, headers, "Origin")
        return self._serve(site, hooks, identity, environ, start_response, headers, "Origin", note)

    # -- private ------------------------------------------------------------

    def _build(self, config: ConfigSource, text: str | None = None) -> Site:
        site = build_site(
            config, fallback=self.fallback, plugins=self.plugins, autoload=self.autoload, text=text
        )
        if site.server.metrics_path is not None and self.metrics is None:
            from websvc.metrics import Metrics

            self.metrics = Metrics()  # kept across reloads: counters never reset
        if site.config.text is not None and text is None and self._worker_boot:
            lastgood.remember(str(config), site.config.text)
        return site

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

    def _measured(
        self, metrics: Metrics, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]:
        server = self.site.server
        if server.metrics_path is not None and environ.get("PATH_INFO") == server.metrics_path:
            return metrics.serve(environ, start_response, server.metrics_token_sha256)
        started = perf_counter()
        note = _Note()
        result = self(environ, start_response, note)
        if note.auth_failed:
            metrics.auth_failure(note.tenant, note.auth_failed)
        metrics.count(note.tenant, note.kind, note.outcome, note.reason, perf_counter() - started)
        return result

    def _serve(
        self,
        site: Site,
        hooks: Hooks,
        identity: Identity | None,
        environ: WSGIEnvironment,
        start_response: StartResponse,
        cors: tuple[tuple[str, str], ...] | list[tuple[str, str]],
        vary: str,
        note: _Note | None,
    ) -> Iterable[bytes]:
        """Authenticate a normal request and pass it to the API."""
        auth = hooks.authenticate(environ, identity, site) or _NO_AUTH
        if not auth.ok:
            if note is not None:
                note.auth_failed = auth.reason or "refused"
            if log.isEnabledFor(logging.INFO):
                _log_auth_refusal(site, hooks, identity, environ, auth)
            headers = [*cors, ("WWW-Authenticate", auth.challenge)]
            return _plain(start_response, "401 Unauthorized", _UNAUTHORIZED_BODY, headers, vary)
        if identity is not None:
            environ["websvc.tenant"] = identity.tenant.name
        environ["websvc.user"] = auth.user
        responder = _Responder(start_response, cors)
        try:
            result = site.router(environ, responder)
            if responder.started:
                return result
            # A generator API calls start_response when first iterated: start
            # it here, so an error before its first line still gets our 500.
            return _prefetched(result)
        except Exception:
            log.exception("API error on %s", safe(environ.get("PATH_INFO", "")))
            if responder.started:
                raise
            return _plain(
                start_response, "500 Internal Server Error", _ERROR_BODY, list(cors), vary
            )


class _Note:
    """What one request did, for metrics (only built when metrics are on)."""

    __slots__ = ("auth_failed", "kind", "outcome", "reason", "tenant")

    def __init__(self) -> None:
        self.kind = "plain"  # no Origin
        self.outcome = "none"
        self.reason = ""
        self.tenant = ""
        self.auth_failed = ""  # the refusal's reason when authentication refused

    def cors(self, preflight: bool, decision: Decision) -> None:
        self.kind = "preflight" if preflight else "normal"
        self.outcome = "allowed" if decision.allowed else "refused"
        self.reason = "" if decision.allowed else decision.reason


def _log_refusal(
    site: Site, tenant: Tenant | None, request: CorsRequest, decision: Decision
) -> None:
    """One INFO line per refused CORS request: tenant, origin, reason (escaped)."""
    fields = {
        "event": "cors_refused",
        "tenant": safe(tenant.name) if tenant is not None else None,
        "origin": safe(request.origin),
        "kind": "preflight" if request.preflight else "normal",
        "method": safe(request.method or ""),
        "path": safe(request.path),
        "reason": safe(decision.reason),
        "detail": safe(decision.detail),
    }
    _log_event(
        site,
        fields,
        "cors refused: tenant={tenant} origin={origin} {kind} {method} {path} reason={reason}"
        " ({detail})",
    )


def _log_auth_refusal(
    site: Site,
    hooks: Hooks,
    identity: Identity | None,
    environ: WSGIEnvironment,
    auth: AuthResult,
) -> None:
    """One INFO line per refused authentication: tenant, user name, plugin, reason (escaped).

    The user name is the one the request sent (never the token).
    """
    credential = identity.credential if identity is not None else None
    if credential is None:
        credential = basic_credential(environ) or boomi_auth_credential(environ)
    user = auth.user or (credential.user if credential is not None else None)
    fields = {
        "event": "auth_refused",
        "tenant": safe(identity.tenant.name) if identity is not None else None,
        "user": safe(user) if user is not None else None,
        "plugin": safe(auth.plugin or hooks.auth_plugin or "-"),
        "method": safe(environ.get("REQUEST_METHOD", "")),
        "path": safe(environ.get("PATH_INFO", "")),
        "reason": safe(auth.reason or "refused"),
    }
    _log_event(
        site,
        fields,
        "auth refused: tenant={tenant} user={user} plugin={plugin} {method} {path} reason={reason}",
    )


def _log_event(site: Site, fields: dict[str, str | None], text: str) -> None:
    """Log *fields* (already escaped) at INFO as JSON or as the *text* template (None: -)."""
    if site.server.log_format == "json":
        log.info("%s", json.dumps(fields, ensure_ascii=True, separators=(",", ":")))
    else:
        log.info("%s", text.format_map({k: "-" if v is None else v for k, v in fields.items()}))


class _Responder:
    """``start_response`` for an API: drop its ``Access-Control-*``, add ours, merge Vary."""

    __slots__ = ("cors", "start_response", "started")

    def __init__(self, start_response: StartResponse, cors: Iterable[tuple[str, str]]) -> None:
        self.start_response = start_response
        self.cors = cors
        self.started = False

    def __call__(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: OptExcInfo | None = None,
    ) -> Callable[[bytes], object]:
        out: list[tuple[str, str]] = []
        vary: list[str] = []
        for header in headers:
            if header[0][:1] in "aAvV":  # only Access-Control-* and Vary are touched
                lower = header[0].lower()
                if lower.startswith("access-control-"):
                    continue
                if lower == "vary":
                    vary.append(header[1])
                    continue
            out.append(header)
        out.extend(self.cors)
        out.append(("Vary", _merge_vary(vary)))
        self.started = True
        return self.start_response(status, out, exc_info)


_UNDECIDED = Decision.refuse("no_tenant", "no plugin made a decision")


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


def _is_cors_header(name: str) -> bool:
    return name[:15].lower() == "access-control-"


def _merge_vary(values: list[str]) -> str:
    if not values:
        return "Origin"
    tokens = [t.strip() for v in values for t in v.split(",") if t.strip()]
    if "*" in tokens:
        return "*"
    if "origin" not in (t.lower() for t in tokens):
        tokens.append("Origin")
    return ", ".join(dict.fromkeys(tokens))


def same_origin(environ: WSGIEnvironment, origin: str) -> bool:
    """Whether *origin* is the request's own scheme and Host (so not CORS)."""
    return syntax.same_origin(
        origin, environ.get("wsgi.url_scheme", "http"), environ.get("HTTP_HOST")
    )


def _plain(
    start_response: StartResponse,
    status: str,
    body: bytes,
    headers: list[tuple[str, str]],
    vary: str,
) -> Iterator[bytes]:
    start_response(
        status,
        [
            *headers,
            ("Vary", vary),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
        ],
    )
    return iter((body,))


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
