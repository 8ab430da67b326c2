"""Prometheus metrics (opt-in with ``[server] metrics_path``), as a middleware.

:class:`MetricsMiddleware` wraps the pipeline of a :class:`~websvc.app.WebsvcApp`:
it answers scrapes at ``metrics_path`` (to requests that carry
``Authorization: Bearer <metrics token>``) and, for every other request,
counts what the pipeline left in ``environ["websvc.outcome"]`` -- by tenant,
kind and CORS outcome, refused authentications by reason -- and the time
until the response started, in the Prometheus text format. Under gunicorn, set
``PROMETHEUS_MULTIPROC_DIR`` to an empty directory before starting it: every
worker then writes its figures there and a scrape, whichever worker answers
it, adds them up (prometheus-client's multiprocess mode).

Nothing here runs when metrics are off: the app's ``wsgi_app`` is then
the pipeline itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Iterable
from time import perf_counter
from typing import TYPE_CHECKING, Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from websvc.logutil import safe

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

    from websvc.pipeline import Outcome
    from websvc.site import Site


class _App(Protocol):
    """What the middleware needs of a :class:`~websvc.app.WebsvcApp`."""

    site: Site

    def handle(
        self, environ: WSGIEnvironment, start_response: StartResponse
    ) -> Iterable[bytes]: ...


#: Latency buckets in seconds: websvc answers preflights in microseconds.
BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5)


class Metrics:
    """The counters and histogram of one app (kept across config reloads)."""

    def __init__(self) -> None:
        self.multiprocess = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        # One registry per app; in multiprocess mode values live in files and
        # are collected at scrape time instead.
        self.registry = CollectorRegistry()
        owner = None if self.multiprocess else self.registry
        self.requests = Counter(
            "websvc_requests",
            "Requests by tenant, kind (preflight, normal, plain) and CORS outcome.",
            ["tenant", "kind", "outcome", "reason"],
            registry=owner,
        )
        self.auth_failures = Counter(
            "websvc_auth_failures",
            "Normal requests refused by authentication (401), by tenant and reason.",
            ["tenant", "reason"],
            registry=owner,
        )
        self.latency = Histogram(
            "websvc_request_duration_seconds",
            "Time websvc spends on a request until the response starts (API time included).",
            ["kind"],
            buckets=BUCKETS,
            registry=owner,
        )

        # Under gunicorn each worker reports its own; a scrape shows the oldest
        # version and the longest staleness of all live workers.
        self.config_version = Gauge(
            "websvc_config_version",
            "The store's change number the serving config was built from (0 in file mode).",
            registry=owner,
            multiprocess_mode="livemin",
        )
        self.config_stale = Gauge(
            "websvc_config_stale_seconds",
            "Seconds since the store was last reached (0 while it answers).",
            registry=owner,
            multiprocess_mode="livemax",
        )

    def config(self, version: int, stale_seconds: float) -> None:
        """Record the serving config's version and how stale it is."""
        self.config_version.set(version)
        self.config_stale.set(stale_seconds)

    def count(self, tenant: str, kind: str, outcome: str, reason: str, seconds: float) -> None:
        """Record one request; *reason* is a reason code (its class is the label)."""
        self.requests.labels(tenant, kind, outcome, reason.partition(":")[0]).inc()
        self.latency.labels(kind).observe(seconds)

    def auth_failure(self, tenant: str, reason: str) -> None:
        """Record one refused authentication; a plugin's free-text reason is cut to 60 chars."""
        self.auth_failures.labels(tenant, safe(reason, 60)).inc()

    def exposition(self) -> bytes:
        """The current figures in the Prometheus text format."""
        if self.multiprocess:
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

    def serve(
        self, environ: WSGIEnvironment, start_response: StartResponse, token_sha256: bytes | None
    ) -> Iterable[bytes]:
        """Answer a scrape: 401 without the metrics token, else the figures."""
        header = environ.get("HTTP_AUTHORIZATION", "")
        scheme, _, token = header.partition(" ")
        digest = hashlib.sha256(token.strip().encode("utf-8", "surrogateescape")).digest()
        if (
            token_sha256 is None
            or scheme.lower() != "bearer"
            or not hmac.compare_digest(digest, token_sha256)
        ):
            body = b"401 Unauthorized: the metrics token is required\n"
            start_response(
                "401 Unauthorized",
                [
                    ("WWW-Authenticate", 'Bearer realm="websvc metrics"'),
                    ("Content-Type", "text/plain; charset=utf-8"),
                    ("Content-Length", str(len(body))),
                ],
            )
            return [body]
        data = self.exposition()
        start_response(
            "200 OK", [("Content-Type", CONTENT_TYPE_LATEST), ("Content-Length", str(len(data)))]
        )
        return [data]


class MetricsMiddleware:
    """Answer scrapes at ``metrics_path``; count every other request of *app*'s pipeline."""

    def __init__(self, app: _App, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        server = self.app.site.server  # read per request: a reload may move the path
        if server.metrics_path is not None and environ.get("PATH_INFO") == server.metrics_path:
            follower = getattr(self.app, "follower", None)
            stale = follower.staleness() if follower is not None else 0.0
            self.metrics.config(self.app.site.version, stale)
            return self.metrics.serve(environ, start_response, server.metrics_token_sha256)
        started = perf_counter()
        result = self.app.handle(environ, start_response)
        outcome: Outcome | None = environ.get("websvc.outcome")
        if outcome is not None:
            self.record(outcome, perf_counter() - started)
        return result

    def record(self, outcome: Outcome, seconds: float) -> None:
        """Count one request from its outcome."""
        tenant = outcome.identity.tenant.name if outcome.identity is not None else ""
        decision, request = outcome.decision, outcome.request
        if decision is None or request is None:
            kind, result, reason = "plain", "none", ""
        else:
            kind = "preflight" if request.preflight else "normal"
            result = "allowed" if decision.allowed else "refused"
            reason = "" if decision.allowed else decision.reason
        if outcome.auth is not None and not outcome.auth.ok:
            self.metrics.auth_failure(tenant, outcome.auth.reason or "refused")
        self.metrics.count(tenant, kind, result, reason, seconds)


class StatusMiddleware:
    """Answer ``[server] status_path`` with the config version and the store's health.

    ``{"config_version", "stale_seconds", "store": "ok" | "unreachable"}`` and
    nothing else, without authentication: a health check for load balancers.
    """

    def __init__(self, app: _App, inner: WSGIApplication) -> None:
        self.app = app
        self.inner = inner

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        site = self.app.site
        if environ.get("PATH_INFO") != site.server.status_path:
            return self.inner(environ, start_response)
        follower = getattr(self.app, "follower", None)
        stale = follower.staleness() if follower is not None else 0.0
        body = json.dumps(
            {
                "config_version": site.version,
                "stale_seconds": round(stale, 3),
                "store": "ok" if stale == 0.0 else "unreachable",
            }
        ).encode()
        start_response(
            "200 OK",
            [
                ("Content-Type", "application/json"),
                ("Content-Length", str(len(body))),
                ("Cache-Control", "no-store"),
            ],
        )
        return [body]
