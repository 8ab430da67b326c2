"""Merging websvc's CORS headers into the headers of an API's answer.

websvc owns the ``Access-Control-*`` response headers (SPEC §4): any the
API set are dropped, websvc's are added, and ``Origin`` is merged into the
API's ``Vary``. The app's ``start_response`` first looks for a header that
could need this (:data:`PLAIN` names never do) and calls :func:`with_cors`
only then: most answers have neither ``Vary`` nor ``Access-Control-*``.
"""

from __future__ import annotations

#: Common response headers that are neither ``Vary`` nor ``Access-Control-*``.
PLAIN = frozenset(
    [
        "Content-Type",
        "Content-Length",
        "Cache-Control",
        "ETag",
        "Last-Modified",
        "Date",
        "Expires",
        "Location",
        "Set-Cookie",
        "Server",
        "Content-Encoding",
        "Content-Disposition",
    ]
)


def with_cors(
    api_headers: list[tuple[str, str]], cors: tuple[tuple[str, str], ...]
) -> list[tuple[str, str]]:
    """The API's headers without its ``Access-Control-*``, plus *cors* and a merged ``Vary``.

    *cors* ends with ``Vary: Origin`` (a :data:`~websvc.pipeline.Plan`'s
    headers), which is merged into any ``Vary`` the API set.
    """
    vary: list[str] = []
    out = []
    for header in api_headers:
        lower = header[0].lower()
        if lower.startswith("access-control-"):
            continue
        if lower == "vary":
            vary.append(header[1])
            continue
        out.append(header)
    out += cors[:-1]
    out.append(("Vary", merge_vary(vary)))
    return out


def merge_vary(values: list[str]) -> str:
    if not values:
        return "Origin"
    tokens = [t.strip() for v in values for t in v.split(",") if t.strip()]
    if "*" in tokens:
        return "*"
    if "origin" not in (t.lower() for t in tokens):
        tokens.append("Origin")
    return ", ".join(dict.fromkeys(tokens))
