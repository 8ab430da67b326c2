"""The apps gunicorn serves for the load part of bench/run.py.

``bench.served:app`` is ``create_app`` on the bench config (API at /api),
``bench.served:wrapped`` is ``wrap(bench.apps:raw)`` on the same config
without the mount, ``bench.served:wrapped_noauth`` the same with
``authentication = "none"`` (the fair peer of wsgicors, which does no auth);
``bench.served:minimal`` is the hand-written minimal middleware around the
same raw app (context: what any CORS layer costs under gunicorn);
``bench.served:wsgicors`` is wsgicors around the same raw app
(bench/wsgicors_app.py; ``None`` when wsgicors is not installed);
``bench.apps:raw`` is the raw floor.
"""

from __future__ import annotations

from bench.apps import raw
from bench.scenarios import main_config, minimal_app
from websvc import create_app, wrap

app = create_app(main_config())
wrapped = wrap(raw, main_config(apis=False))
wrapped_noauth = wrap(raw, main_config(authentication="none", apis=False))
minimal = minimal_app(raw)

try:
    from bench.wsgicors_app import wsgicors_app
except ImportError:  # bench/run.py skips the wsgicors rows
    wsgicors = None
else:
    wsgicors = wsgicors_app(raw)
