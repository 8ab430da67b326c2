"""The reference: a hand-written minimal CORS middleware.

One dict maps each allowed Origin to its pre-rendered headers; a preflight
is answered here (origin, method and requested headers checked), a normal
request gets ``Access-Control-Allow-Origin`` and ``Vary`` appended. No
tenants, no plugins, no path rules: the least work a correct CORS layer does.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping


class MinimalCors:
    def __init__(self, app, origins: Mapping[str, Mapping[str, object]]) -> None:
        self.app = app
        self.rules = {}
        for origin, rule in origins.items():
            base = [("Access-Control-Allow-Origin", origin)]
            if rule.get("credentials"):
                base.append(("Access-Control-Allow-Credentials", "true"))
            pre = [*base, ("Access-Control-Allow-Methods", ", ".join(rule["methods"]))]
            pre.append(("Access-Control-Max-Age", str(rule.get("max_age", 0))))
            allowed = frozenset(h.lower() for h in rule.get("headers", ()))
            self.rules[origin] = (frozenset(rule["methods"]), allowed, pre, base)

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        rule = self.rules.get(environ.get("HTTP_ORIGIN", ""))
        method = environ.get("HTTP_ACCESS_CONTROL_REQUEST_METHOD")
        if method is not None and environ["REQUEST_METHOD"] == "OPTIONS":
            headers = [("Vary", "Origin"), ("Content-Length", "0")]
            acrh = environ.get("HTTP_ACCESS_CONTROL_REQUEST_HEADERS", "")
            names = [n.strip().lower() for n in acrh.split(",") if n.strip()]
            if rule is not None and method in rule[0] and rule[1].issuperset(names):
                headers += rule[2]
                if names:
                    headers.append(("Access-Control-Allow-Headers", ", ".join(names)))
            start_response("200 OK", headers)
            return [b""]
        if rule is None:
            return self.app(environ, start_response)

        def add_cors(status, headers, exc_info=None):
            return start_response(status, [*headers, *rule[3], ("Vary", "Origin")], exc_info)

        return self.app(environ, add_cors)


class VaryOnly:
    """Context, not a CORS layer: adds ``Vary: Origin`` to every answer and does nothing else.

    SPEC §4 asks for ``Vary: Origin`` on every response, a request without
    ``Origin`` included, so a shared cache never hands one origin's answer
    to another. Adding a header means wrapping ``start_response``: this is
    the least that costs (no lookup, no merge with the API's own ``Vary``,
    no removal of its ``Access-Control-*``), the floor under websvc's
    no-Origin and refused GET rows; wsgicors sends no ``Vary`` there.
    """

    def __init__(self, app) -> None:
        self.app = app

    def __call__(self, environ, start_response) -> Iterable[bytes]:
        def add_vary(status, headers, exc_info=None):
            return start_response(status, [*headers, ("Vary", "Origin")], exc_info)

        return self.app(environ, add_vary)
