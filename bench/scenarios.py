"""Configs, requests and the interleaved timing loop of the benchmark.

Nothing here imports Flask: ``tests/test_perf_guard.py`` uses this module in
the normal test run. ``bench/run.py`` adds Flask, gunicorn and wrk on top.

Timing model: every subject is a WSGI app plus one or more prebuilt environ
dicts. A call copies the environ, calls the app with a no-op
``start_response``, consumes the iterable and calls its ``close()`` if any,
exactly as a server would. :func:`interleave` runs the subjects
round-robin (the order rotates each round) in batches of a calibrated size
and keeps one µs/request sample per subject per round; the median of the
rounds is the result. So drifts (CPU frequency, other processes) hit every
subject alike.
"""

from __future__ import annotations

import base64
import gc
import hashlib
import io
import statistics
import time
import tracemalloc
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import cycle, islice
from typing import Any

from werkzeug.wsgi import FileWrapper

from bench.apps import raw
from bench.minimal_cors import MinimalCors

# -- the one tenant, user, API and rule of the main comparison --------------

USER = "bench-user"
TOKEN = "bench-token"  # bench/wrk/get.lua sends the same credential
HOST = "api.acme.test"
ORIGIN = "https://app.example.com"
REFUSED_ORIGIN = "https://evil.example.org"
PATH = "/api/items"
METHODS = ("GET", "POST", "PUT", "DELETE")
CUSTOM_HEADER = "X-Custom-Header"
DEFAULT_REQUEST_HEADERS = ("Accept", "Accept-Language", "Content-Language", "Content-Type", "Range")
EXPOSE_HEADERS = ("X-Request-Id",)
MAX_AGE = 3600

BASIC_OK = "Basic " + base64.b64encode(f"{USER}:{TOKEN}".encode()).decode()
BASIC_BAD = "Basic " + base64.b64encode(f"{USER}:wrong-token".encode()).decode()


def main_config(
    *, authentication: str = "basic", apis: bool = True, extra_tenants: int = 0
) -> dict[str, Any]:
    """One tenant, one user (token_sha256), ``/api`` -> ``bench.apps:raw``, one rule.

    ``apis=False`` is the config for :func:`websvc.wrap`: no mount, so every
    path reaches the wrapped app directly. ``extra_tenants=N`` adds N other
    tenants before ``acme`` (tenant ``tI``: host ``tI.tenants.test``, its own
    user and one rule like acme's for ``https://app.tI.example.com``); acme,
    the tenant the requests reach, is unchanged.
    """
    tenants: dict[str, Any] = {
        f"t{i}": _tenant(
            f"t{i}.tenants.test", f"user{i}", f"token{i}", f"https://app.t{i}.example.com"
        )
        for i in range(extra_tenants)
    }
    tenants["acme"] = _tenant(HOST, USER, TOKEN, ORIGIN)
    config: dict[str, Any] = {"server": {"authentication": authentication}, "tenants": tenants}
    if apis:
        config["apis"] = [{"path": "/api", "app": "bench.apps:raw"}]
    return config


def _tenant(host: str, user: str, token: str, origin: str) -> dict[str, Any]:
    return {
        "hosts": [host],
        "users": [{"name": user, "token_sha256": hashlib.sha256(token.encode()).hexdigest()}],
        "cors": [
            {
                "domain": origin,
                "methods": list(METHODS),
                "request_headers": [CUSTOM_HEADER],
                "expose_headers": list(EXPOSE_HEADERS),
                "allow_credentials": True,
                "allow_caching": True,
                "max_age": MAX_AGE,
            }
        ],
    }


def minimal_app(app: Callable[..., Any] = raw) -> MinimalCors:
    """The reference middleware configured to the same rule."""
    return MinimalCors(
        app,
        {
            ORIGIN: {
                "methods": METHODS,
                "headers": (*DEFAULT_REQUEST_HEADERS, CUSTOM_HEADER),
                "credentials": True,
                "max_age": MAX_AGE,
            }
        },
    )


def environ(
    method: str = "GET",
    path: str = PATH,
    headers: Mapping[str, str] | None = None,
    *,
    host: str = HOST,
    query: str = "",
) -> dict[str, Any]:
    """A complete WSGI environ as gunicorn would build it (http, port 80).

    The same keys as gunicorn's (``gunicorn.socket`` is None: nothing here
    reads it), so the dict has the same size: a middleware that adds keys to
    the environ pays for a resize only where a real server's would.
    """
    env: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "RAW_URI": path + (f"?{query}" if query else ""),
        "SERVER_NAME": host,
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "REMOTE_PORT": "54321",
        "HTTP_HOST": host,
        "HTTP_USER_AGENT": "bench",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
        "wsgi.file_wrapper": FileWrapper,
        "wsgi.input_terminated": True,
        "wsgi.early_hints": _no_early_hints,
        "SERVER_SOFTWARE": "gunicorn",
        "gunicorn.socket": None,
    }
    for name, value in (headers or {}).items():
        env["HTTP_" + name.upper().replace("-", "_")] = value
    return env


def _no_early_hints(headers: list[tuple[str, str]]) -> None:
    return None


def preflight(origin: str = ORIGIN, *, host: str = HOST, path: str = PATH) -> dict[str, Any]:
    """An allowed-shaped preflight: PUT with one custom header, as Chromium sends it."""
    return environ(
        "OPTIONS",
        path,
        {
            "Origin": origin,
            "Access-Control-Request-Method": "PUT",
            "Access-Control-Request-Headers": CUSTOM_HEADER.lower(),
        },
        host=host,
    )


def get(origin: str | None = ORIGIN, *, authorization: str | None = BASIC_OK) -> dict[str, Any]:
    headers: dict[str, str] = {}
    if origin is not None:
        headers["Origin"] = origin
    if authorization is not None:
        headers["Authorization"] = authorization
    return environ("GET", PATH, headers)


# -- scaling: many origins over many tenants --------------------------------


def scaling_config(
    origins: int, tenants: int, *, wildcard: bool, mixed: bool = False
) -> dict[str, Any]:
    """*origins* rules spread evenly over *tenants*, each tenant found by Host.

    Tenant ``tN`` has host ``tN.tenants.test`` and rules for
    ``oR.tN.example.com`` (or ``*.oR.tN.example.com`` when *wildcard*;
    with *mixed*, the odd-numbered rules are wildcards and the even exact).
    """
    per = max(1, origins // tenants)
    out: dict[str, Any] = {}
    for t in range(tenants):
        rules = [
            {
                "domain": f"{'*.' if wildcard or (mixed and r % 2) else ''}o{r}.t{t}.example.com",
                "methods": ["GET", "POST", "PUT"],
                "request_headers": [CUSTOM_HEADER],
            }
            for r in range(per)
        ]
        out[f"t{t}"] = {"hosts": [f"t{t}.tenants.test"], "cors": rules}
    return {"tenants": out}


def scaling_preflight(tenant: int, rule: int, *, wildcard: bool) -> dict[str, Any]:
    """An allowed preflight for rule *rule* of tenant *tenant* of :func:`scaling_config`."""
    host = f"o{rule}.t{tenant}.example.com"
    return preflight(f"https://{'app.' if wildcard else ''}{host}", host=f"t{tenant}.tenants.test")


def scaling_preflights(
    origins: int, tenants: int, *, wildcard: bool, distinct: int = 1
) -> list[dict[str, Any]]:
    """*distinct* allowed preflights of :func:`scaling_config` (the last tenant first).

    With ``distinct > 1`` the (Host, Origin) pairs are spread over tenants,
    which defeats ``parse_origin``'s LRU cache past its size.
    """
    per = max(1, origins // tenants)
    if distinct == 1:
        return [scaling_preflight(tenants - 1, per - 1, wildcard=wildcard)]
    step = 7919  # prime: i -> (i * step) % tenants visits every tenant
    return [
        scaling_preflight((i * step) % tenants, i % per, wildcard=wildcard) for i in range(distinct)
    ]


def compile_stats(
    config: Mapping[str, Any], *, memory: bool
) -> tuple[float, float | None, float | None]:
    """Build a Site from *config*: (seconds, peak MB, retained MB).

    Memory comes from tracemalloc (which slows the build, so the seconds of
    a ``memory=True`` call are not the compile time): the peak and the
    retained allocations of ``build_site`` alone, the input dict excluded.
    """
    from websvc.registry import build_site

    gc.collect()
    if not memory:
        start = time.perf_counter()
        site = build_site(config, autoload=False)
        seconds = time.perf_counter() - start
        del site
        return seconds, None, None
    tracemalloc.start()
    try:
        base, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        start = time.perf_counter()
        site = build_site(config, autoload=False)
        seconds = time.perf_counter() - start
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del site
    return seconds, (peak - base) / 1e6, (current - base) / 1e6


# -- the timing loop --------------------------------------------------------


def _write(data: bytes) -> None:
    return None


def noop_start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
    return _write


@dataclass
class Subject:
    """One thing to time: *app* called with each of *environs* in turn."""

    name: str
    app: Callable[..., Any]
    environs: Sequence[dict[str, Any]]
    status: int | None = None  # expected status of the first environ, checked once
    acao: bool | None = None  # whether Access-Control-Allow-Origin is expected
    batch: int = 0  # calls per sample, set by calibrate()
    samples: list[float] = field(default_factory=list)  # µs per request, one per round

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def call(app: Callable[..., Any], env: Mapping[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    """Call *app* once like a server would and return (status, headers)."""
    seen: list[Any] = []

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        seen[:] = [status, list(headers)]
        return _write

    result = app(dict(env), start_response)
    try:
        for _ in result:
            pass
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return seen[0], seen[1]


def check(subject: Subject) -> None:
    """Fail loudly when a subject does not answer as it should (no timing of broken paths)."""
    for env in subject.environs[:1]:
        status, headers = call(subject.app, env)
        names = {name.lower() for name, _ in headers}
        if subject.status is not None and int(status.split()[0]) != subject.status:
            raise AssertionError(f"{subject.name}: status {status}, expected {subject.status}")
        if subject.acao is not None and ("access-control-allow-origin" in names) != subject.acao:
            raise AssertionError(
                f"{subject.name}: Access-Control-Allow-Origin "
                f"{'missing' if subject.acao else 'present'}: {headers}"
            )


def time_batch(app: Callable[..., Any], environs: Sequence[dict[str, Any]], n: int) -> float:
    """µs per request over *n* calls (environs cycled, each copied per call)."""
    start_response = noop_start_response
    envs = islice(cycle(environs), n)
    start = time.perf_counter()
    for env in envs:
        result = app(env.copy(), start_response)
        for _ in result:
            pass
        close = getattr(result, "close", None)
        if close is not None:
            close()
    return (time.perf_counter() - start) / n * 1e6


def calibrate(subject: Subject, batch_seconds: float) -> None:
    """Warm *subject* up and choose a batch size that takes about *batch_seconds*."""
    n = max(len(subject.environs), 16)
    time_batch(subject.app, subject.environs, n)  # warm-up: caches, lazy imports
    while True:
        us = time_batch(subject.app, subject.environs, n)
        if us * n >= batch_seconds * 1e6 / 4 or n >= 1 << 22:
            break
        n *= 4
    subject.batch = max(len(subject.environs), int(batch_seconds * 1e6 / us))


def interleave(
    subjects: Sequence[Subject],
    rounds: int,
    batch_seconds: float = 0.005,
    progress: Callable[[int], None] | None = None,
) -> None:
    """Round-robin over *subjects* for *rounds* rounds; fills each ``samples``."""
    for subject in subjects:
        check(subject)
        calibrate(subject, batch_seconds)
        subject.samples = []
    k = len(subjects)
    for r in range(rounds):
        for i in range(k):
            subject = subjects[(i + r) % k]
            subject.samples.append(time_batch(subject.app, subject.environs, subject.batch))
        if progress is not None:
            progress(r)


def ratios(samples: Iterable[float], baseline: Iterable[float]) -> float:
    """Median of the per-round ratios (pairs taken in the same round)."""
    return statistics.median(a / b for a, b in zip(samples, baseline, strict=True))
