"""The ``[[apis]]`` router: each request to the API mounted at the longest matching prefix.

:class:`Mounts` routes exactly as werkzeug's
:class:`~werkzeug.middleware.dispatcher.DispatcherMiddleware` (a test holds
the two equal over a table of paths): the longest mount path that is the
whole of ``PATH_INFO`` or ends where one of its ``/`` starts wins, moves from
``PATH_INFO`` to ``SCRIPT_NAME``, and anything else goes to the root app.
It differs in cost only: werkzeug strips one segment at a time from the end
of the path, building a string per segment; this looks up the prefixes of
the few depths (numbers of ``/``) that mount paths have, longest first --
usually one dictionary lookup per request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


class Mounts:
    """WSGI app: dispatch to *mounts* (``{"/path": app}``) by path prefix, else to *root*."""

    __slots__ = ("depths", "mounts", "root")

    def __init__(self, root: WSGIApplication, mounts: Mapping[str, WSGIApplication]) -> None:
        self.root = root
        self.mounts = dict(mounts)
        #: The numbers of "/" in the mount paths, deepest first.
        self.depths = tuple(sorted({path.count("/") for path in self.mounts}, reverse=True))

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        path: str = environ.get("PATH_INFO", "")
        mounts = self.mounts
        for depth in self.depths:
            end = _prefix_end(path, depth)
            if end:
                app = mounts.get(path[:end])
                if app is not None:
                    environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + path[:end]
                    environ["PATH_INFO"] = path[end:]
                    return app(environ, start_response)
        if path[:1] != "/" and path:  # not a WSGI path: as werkzeug, up to a "/" is script
            end = path.find("/")
            end = len(path) if end < 0 else end
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + path[:end]
            environ["PATH_INFO"] = path[end:]
        return self.root(environ, start_response)


def _prefix_end(path: str, depth: int) -> int:
    """Where the prefix of *path* with *depth* slashes ends (0: *path* has fewer)."""
    if depth == 1:  # the common case: "/api"
        if path[:1] != "/":
            return 0
        end = path.find("/", 1)
        return len(path) if end < 0 else end
    end = -1
    for _ in range(depth):
        end = path.find("/", end + 1)
        if end < 0:
            return 0
    following = path.find("/", end + 1)
    return len(path) if following < 0 else following
