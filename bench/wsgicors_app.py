"""wsgicors (PyPI 0.7.0): the peer to beat, configured for the bench's one rule.

``wsgicors_app(app)`` wraps *app* in ``wsgicors.CORS`` with a direct
(single policy) config as close as wsgicors gets to the rule of
``bench/scenarios.py: main_config``: origin ``https://app.example.com``
only, methods GET/POST/PUT/DELETE, the default request headers plus
``X-Custom-Header``, expose ``X-Request-Id``, credentials, max-age 3600.

What wsgicors does, per request:

* a request is a preflight when it is ``OPTIONS`` with both ``Origin`` and
  ``Access-Control-Request-Method``; it is answered right there (status
  ``204 OK``, empty body, the wrapped app is never called), for any path;
* the policy lookup ``selectPolicy(origin, method)`` is a
  ``functools.lru_cache(maxsize=200)`` on the instance, keyed on
  (origin, method): after the first request from an origin, an allowed or
  refused preflight is a cache hit plus a handful of header appends. Past
  200 distinct (origin, method) pairs it misses and ``fnmatch``-es the
  origin against the pattern list;
* a normal request with an ``Origin`` gets its ``start_response`` wrapped
  (the lookup is done twice, both cache hits); without ``Origin`` the app
  is called untouched.

What it does not do that websvc does, so the rows compare less work with more:

* no tenants: one global policy, nothing looked up by ``Host``, no
  ``paths``, ``protocols`` or ``ports`` keys on a rule, no API mounts;
* no authentication (websvc's ``auth=none`` subjects are the fair peers);
* no check of the requested headers: ``Access-Control-Allow-Headers`` is
  the fixed configured list, whatever ``Access-Control-Request-Headers``
  asks for (websvc echoes only names it allows, and refuses the others);
* no check of the requested method with a direct config (``firstmatch``:
  ``methods`` is only echoed; the ``verbmatch`` strategy, named policies
  only, would check it, and costs the same on the cached path);
* a refused origin still gets a 204 preflight, with the methods, headers,
  credentials and max-age headers but no ``Access-Control-Allow-Origin``;
  websvc answers it with no CORS grant at all;
* no ``Vary`` on preflights, none on a normal request without a grant
  (websvc sends ``Vary`` on every response, granted or not, for shared
  caches);
* origins are ``fnmatch`` patterns on the lower-cased ``Origin`` string:
  no parsing into scheme/host/port (a glob matches the whole string, not
  a domain and its subdomains), no special handling of ``null``, no
  Private Network Access, no logging of refusals;
* no config validation: a misspelt key is silently ignored.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from wsgicors import CORS

from bench.scenarios import (
    CUSTOM_HEADER,
    DEFAULT_REQUEST_HEADERS,
    EXPOSE_HEADERS,
    MAX_AGE,
    METHODS,
    ORIGIN,
)

#: HTTP status of every preflight wsgicors answers, allowed or refused.
PREFLIGHT_STATUS = 204


def wsgicors_app(app: Callable[..., Any]) -> CORS:
    """*app* behind wsgicors, configured for the bench rule (direct config)."""
    return CORS(
        app,
        origin=ORIGIN,
        methods=", ".join(METHODS),
        # wsgicors cannot check the requested headers: it sends this list as is.
        headers=", ".join((*DEFAULT_REQUEST_HEADERS, CUSTOM_HEADER)),
        expose_headers=", ".join(EXPOSE_HEADERS),
        credentials="true",
        maxage=str(MAX_AGE),
    )
