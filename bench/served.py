"""The apps gunicorn serves for the load part of bench/run.py.

``bench.served:app`` is ``create_app`` on the bench config (API at /api),
``bench.served:wrapped`` is ``wrap(bench.apps:raw)`` on the same config
without the mount; ``bench.served:minimal`` is the hand-written minimal
middleware around the same raw app (context: what any CORS layer costs under
gunicorn); ``bench.apps:raw`` is the raw floor.
"""

from __future__ import annotations

from bench.apps import raw
from bench.scenarios import main_config, minimal_app
from websvc import create_app, wrap

app = create_app(main_config())
wrapped = wrap(raw, main_config(apis=False))
minimal = minimal_app(raw)
