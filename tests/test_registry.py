"""API mounts: longest prefix wins, SCRIPT_NAME/PATH_INFO as DispatcherMiddleware sets them."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client

import websvc
from websvc.registry import ROUTE_MAX_PATH, ROUTES_KEPT, Mounts

ORIGIN = "https://app.example.com"


def _config(*mounts: str) -> dict[str, Any]:
    return {
        "apis": [{"path": m, "app": "websvc.demo:echo"} for m in mounts],
        "tenants": {"t": {"cors": [{"domain": "app.example.com"}]}},
    }


@pytest.mark.parametrize(
    ("mounts", "path", "script_name", "path_info"),
    [
        pytest.param(["/ws/rest"], "/ws/rest/echo/x", "/ws/rest", "/echo/x", id="prefix"),
        pytest.param(["/ws/rest", "/ws/rest/echo"], "/ws/rest/echo/x", "/ws/rest/echo", "/x", id="longest-prefix-wins"),
        pytest.param(["/ws/rest/echo", "/ws/rest"], "/ws/rest/echo", "/ws/rest/echo", "", id="longest-whatever-order"),
        pytest.param(["/ws/rest/echo"], "/ws/rest/echo/", "/ws/rest/echo", "/", id="trailing-slash"),
        pytest.param(["/"], "/any/where", "", "/any/where", id="root-mount"),
    ],
)  # fmt: skip
def test_mounts(mounts: list[str], path: str, script_name: str, path_info: str) -> None:
    response = Client(websvc.create_app(_config(*mounts))).get(path)
    assert response.status_code == 200
    body = json.loads(response.get_data())
    assert (body["script_name"], body["path"]) == (script_name, path_info)


@pytest.mark.parametrize("path", ["/ws/rest/echoes", "/ws", "/other"])
def test_unmounted_path_is_404_with_cors_headers(path: str) -> None:
    response = Client(websvc.create_app(_config("/ws/rest/echo"))).get(
        path, headers={"Origin": ORIGIN}
    )
    assert response.status_code == 404
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Vary"] == "Origin"


def test_environ_carries_tenant_and_user() -> None:
    config = _config("/e") | {"server": {"authentication": "basic"}}
    config["tenants"]["t"]["users"] = [{"name": "u1", "token": "tok"}]
    response = Client(websvc.create_app(config)).get(
        "/e", headers={"Authorization": "Basic dTE6dG9r"}
    )
    assert response.status_code == 200
    body = json.loads(response.get_data())
    assert (body["tenant"], body["user"]) == ("t", "u1")


def _generator_raises(environ: Any, start_response: Any) -> Any:
    raise RuntimeError("before the first line")
    yield b""  # a generator: nothing runs until the server iterates it


def _generator_ok(environ: Any, start_response: Any) -> Any:
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"one "
    yield b"two"


@pytest.mark.parametrize(
    ("app", "status", "body"),
    [
        pytest.param(
            _generator_raises, 500, b"500 Internal Server Error\n", id="raises-before-start"
        ),
        pytest.param(_generator_ok, 200, b"one two", id="streams"),
    ],
)
def test_generator_apis(app: Any, status: int, body: bytes) -> None:
    wrapped = websvc.wrap(app, {"tenants": {"t": {"cors": [{"domain": "app.example.com"}]}}})
    response = Client(wrapped).get("/", headers={"Origin": ORIGIN})
    assert (response.status_code, response.get_data()) == (status, body)
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_wrap_refuses_apis() -> None:
    with pytest.raises(websvc.ConfigError) as info:
        websvc.wrap(_generator_ok, _config("/ws/rest"))
    assert info.value.problems == [
        '<dict>: apis: ["/ws/rest"] is not used by wrap(): every path reaches the wrapped app '
        "(remove [[apis]])"
    ]


def test_wrap_without_config_uses_the_demo_rules_without_its_apis() -> None:
    app = websvc.wrap(_generator_ok)
    assert app.site.config.source == "<demo>" and app.site.config.apis == ()
    response = Client(app).get(
        "/anything",
        headers={"Origin": "http://localhost:5173", "Authorization": "Basic ZGVtbzpkZW1vLXRva2Vu"},
    )
    assert response.get_data() == b"one two"
    assert response.headers["Access-Control-Allow-Origin"] == "http://localhost:5173"


# -- the mount table remembers werkzeug's answer per path --------------------

_SEGMENTS = st.sampled_from(["", "ws", "rest", "echo", "a", "x.y", "%2F", "é"])
_PATHS = st.lists(_SEGMENTS, max_size=5).map(lambda parts: "/".join(["", *parts]) if parts else "")


def _tagged(name: str) -> Any:
    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return [name.encode(), environ["SCRIPT_NAME"].encode(), environ["PATH_INFO"].encode()]

    return app


@settings(max_examples=300, deadline=None)
@given(
    mounts=st.lists(_PATHS.filter(lambda p: p not in ("", "/")), max_size=4, unique=True),
    paths=st.lists(st.tuples(_PATHS, st.sampled_from(["", "/base"])), min_size=1, max_size=8),
)
def test_mounts_route_every_path_as_werkzeug_does(mounts: list[str], paths: list[Any]) -> None:
    apps = {m: _tagged(m) for m in mounts}
    root = _tagged("root")
    ours = Mounts(root, apps)
    werkzeugs = DispatcherMiddleware(root, apps)
    for path, script_name in paths * 2:  # each path cold, then remembered
        ours_env = {"PATH_INFO": path, "SCRIPT_NAME": script_name}
        theirs_env = dict(ours_env)
        assert ours(ours_env, None) == werkzeugs(theirs_env, None)  # type: ignore[arg-type]
        assert ours_env == theirs_env
    assert set(ours.routes) == {path for path, _ in paths}


def test_mounts_keep_a_bounded_number_of_short_paths() -> None:
    ours = Mounts(_tagged("root"), {"/ws": _tagged("ws")})
    long_path = "/ws/" + "x" * ROUTE_MAX_PATH
    assert ours({"PATH_INFO": long_path}, None) == [b"ws", b"/ws", long_path[3:].encode()]  # type: ignore[arg-type]
    assert not ours.routes  # routed, not kept
    for i in range(ROUTES_KEPT + 10):
        ours({"PATH_INFO": f"/ws/{i}"}, None)  # type: ignore[arg-type]
    assert 0 < len(ours.routes) <= ROUTES_KEPT
