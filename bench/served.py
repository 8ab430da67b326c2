"""The apps gunicorn serves for the load part of bench/run.py.

``bench.served:app`` is ``create_app`` on the bench config (API at /api),
``bench.served:wrapped`` is ``wrap(bench.apps:raw)`` on the same config
without the mount, ``bench.served:wrapped_noauth`` the same with
``authentication = "none"`` (the fair peer of wsgicors, which does no auth);
``bench.served:minimal`` is the hand-written minimal middleware around the
same raw app (context: what any CORS layer costs under gunicorn);
``bench.served:wsgicors`` is wsgicors around the same raw app
(bench/wsgicors_app.py); ``bench.apps:raw`` is the raw floor.

Each is built when gunicorn asks for it (a module ``__getattr__``), so a
server loads only what it serves: the wsgicors and minimal servers do not
import websvc, just as the raw floor does not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def _app() -> Any:
    from bench.scenarios import main_config
    from websvc import create_app

    return create_app(main_config())


def _wrapped() -> Any:
    from bench.apps import raw
    from bench.scenarios import main_config
    from websvc import wrap

    return wrap(raw, main_config(apis=False))


def _wrapped_noauth() -> Any:
    from bench.apps import raw
    from bench.scenarios import main_config
    from websvc import wrap

    return wrap(raw, main_config(authentication="none", apis=False))


def _minimal() -> Any:
    from bench.apps import raw
    from bench.scenarios import minimal_app

    return minimal_app(raw)


def _wsgicors() -> Any:
    from bench.apps import raw
    from bench.wsgicors_app import wsgicors_app

    return wsgicors_app(raw)


_BUILDERS: dict[str, Callable[[], Any]] = {
    "app": _app,
    "wrapped": _wrapped,
    "wrapped_noauth": _wrapped_noauth,
    "minimal": _minimal,
    "wsgicors": _wsgicors,
}


def __getattr__(name: str) -> Any:
    builder = _BUILDERS.get(name)
    if builder is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = builder()
    globals()[name] = value
    return value
