"""The tenant's CORS configuration panel (ADMIN-API §5), served by the admin app at ``/admin/``.

Plain files shipped as package data (``static/``): ``index.html``, the
stylesheet, ES modules and an icon. No CDN, no build step, nothing inline:
the page signs in with an admin token (kept in ``sessionStorage``, sent as
``Authorization: Bearer``; no cookies) and talks to the JSON API under
``/admin/v1`` on the same origin. Every file is read once, when the app is
made, and served with :data:`CONTENT_SECURITY_POLICY`.

Routes (GET and HEAD only; no token: the files hold no data)::

    /admin              -> 308 to /admin/
    /admin/             -> index.html
    /admin/static/NAME  -> one of STATIC_FILES
"""

from __future__ import annotations

import json
from importlib import resources

from werkzeug.wrappers import Response

PAGE = "/admin/"
STATIC = "/admin/static/"

#: The files under ``/admin/static/`` and their media types; nothing else is served.
STATIC_FILES = {
    "panel.js": "text/javascript",
    "api.js": "text/javascript",
    "dom.js": "text/javascript",
    "rules.js": "text/javascript",
    "panel.css": "text/css",
    "icon.svg": "image/svg+xml",
}

#: Scripts, styles, connections and images from the admin app's own origin only;
#: no inline code, no plugins, no forms posting anywhere, never framed. Trusted
#: Types with no policy make any HTML-parsing sink (innerHTML) throw: the
#: panel builds its DOM with textContent and createElement only.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
        "img-src 'self' data:",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    ]
)

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class Panel:
    """The panel's files, read once; :meth:`response` answers a path under ``/admin/`` that is not the API."""

    def __init__(self) -> None:
        folder = resources.files(__name__) / "static"
        self.files: dict[str, tuple[bytes, str]] = {
            PAGE: ((folder / "index.html").read_bytes(), "text/html")
        }
        for name, media_type in STATIC_FILES.items():
            self.files[STATIC + name] = ((folder / name).read_bytes(), media_type)

    @staticmethod
    def serves(path: str) -> bool:
        """Whether *path* is the panel's (``/admin``, ``/admin/``, ``/admin/static/...``)."""
        return path in ("/admin", PAGE) or path.startswith(STATIC)

    def response(self, method: str, path: str) -> Response:
        """The answer to *method* on the panel path *path* (see :meth:`serves`)."""
        if method not in ("GET", "HEAD"):
            response = _error(405, "method not allowed")
            response.headers["Allow"] = "GET, HEAD"
        elif path == "/admin":
            response = Response(status=308, headers={"Location": PAGE})
        elif path in self.files:
            body, media_type = self.files[path]
            response = Response(body, mimetype=media_type)
        else:
            response = _error(404, "no such file")
        for name, value in _HEADERS.items():
            response.headers[name] = value
        return response


def _error(status: int, message: str) -> Response:
    return Response(json.dumps({"error": message}), status, mimetype="application/json")
