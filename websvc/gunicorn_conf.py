"""gunicorn settings for websvc, shipped in the package.

Use them with ``-c python:websvc.gunicorn_conf`` (the recommended command,
which works from any directory and from a wheel install)::

    gunicorn -c python:websvc.gunicorn_conf 'websvc:create_app("/etc/websvc/websvc.toml")'

The repository's ``gunicorn.conf.py`` imports this module, so
``gunicorn wsgi:app`` from the repository root uses the same settings.

The master process loads and compiles the config once (``preload_app``) and
workers are forked from it. ``kill -HUP <master>`` re-reads the config in the
master (:func:`on_reload`): a valid one is swapped in before the new workers
are forked, an invalid one is refused with a log line naming every problem,
and the last good config keeps serving. Old workers finish their requests
before they exit. Without these settings websvc still never lets a bad file
take the server down (docs/deploy.md, "Reloads without these settings").
"""

from __future__ import annotations

import os
from typing import Any

from websvc.logutil import install_handler

__all__ = ["bind", "child_exit", "graceful_timeout", "on_reload", "preload_app", "workers"]

bind = os.environ.get("WEBSVC_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("WEBSVC_WORKERS", "2"))
preload_app = True  # the master validates and compiles the config once, workers share it
graceful_timeout = 30

# gunicorn configures only its own loggers; a logconfig_dict would also switch
# its access log on, so websvc's logger gets a stderr handler of its own,
# formatted like gunicorn's lines, at $WEBSVC_LOG_LEVEL (default INFO).
install_handler(os.environ.get("WEBSVC_LOG_LEVEL", "INFO"))


def on_reload(server: Any) -> None:
    """Re-read the config of every websvc app in the master before new workers fork.

    A refused config is logged with every problem and the last good one keeps
    serving; nothing here raises.
    """
    from websvc.app import live_apps

    for app in live_apps():
        app.reload()


def child_exit(server: Any, worker: Any) -> None:
    """With PROMETHEUS_MULTIPROC_DIR set, drop a dead worker's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]
