"""websvc's ``[[apis]]`` router routes exactly as werkzeug's DispatcherMiddleware."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import EnvironBuilder

from websvc.mounts import Mounts

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment


def named(name: str) -> WSGIApplication:
    def app(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        start_response("200 OK", [])
        return [f"{name} {environ['SCRIPT_NAME']!r} {environ['PATH_INFO']!r}".encode()]

    return app


MOUNT_SETS = [
    ["/api"],
    ["/api", "/api/v2", "/ws/rest/api", "/ws"],
    ["/a/b/c", "/a"],
    ["/x.y", "/%20"],
]
PATHS = ["", "/", "/api", "/api/", "/api/items", "/apix", "/api/v2", "/api/v2/", "/api/v2x/y",
         "/api//v2", "//api", "/ws", "/ws/rest", "/ws/rest/api/x", "/ws/rest/apix", "/a", "/a/b",
         "/a/b/c", "/a/b/c/d", "/a/b/cd", "/x.y/z", "/%20/q", "api", "/API", "/api/\u00e9"]  # fmt: skip


def _call(app: Any, path: str, script: str) -> bytes:
    environ = EnvironBuilder(path="/", environ_overrides={"SCRIPT_NAME": script}).get_environ()
    environ["PATH_INFO"] = path
    return b"".join(app(environ, lambda s, h, e=None: None))


@pytest.mark.parametrize("mounts", MOUNT_SETS, ids="+".join)
@pytest.mark.parametrize("script", ["", "/base"])
def test_routes_as_werkzeug_does(mounts: list[str], script: str) -> None:
    apps = {path: named(path) for path in mounts}
    ours = Mounts(named("root"), apps)
    werkzeug = DispatcherMiddleware(named("root"), apps)
    for path in PATHS:
        assert _call(ours, path, script) == _call(werkzeug, path, script), path
