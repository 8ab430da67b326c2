"""gunicorn settings for websvc; ``gunicorn wsgi:app`` reads this file from the
current directory (or pass ``-c gunicorn.conf.py``).

The master process loads and compiles the config once (``preload_app``) and
workers are forked from it. ``kill -HUP <master>`` re-reads the config in the
master: a valid one is swapped in before the new workers are forked, an
invalid one is refused with a log line naming every problem, and the last good
config keeps serving. Old workers finish their requests before they exit.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

bind = os.environ.get("WEBSVC_BIND", "127.0.0.1:8080")
workers = int(os.environ.get("WEBSVC_WORKERS", "2"))
preload_app = True  # required for safe reloads: the master validates the config
graceful_timeout = 30


def _websvc_log_handler() -> None:
    """Send the ``websvc`` logger (refusals, reloads) to stderr, next to gunicorn's.

    gunicorn configures only its own loggers; a ``logconfig_dict`` would also
    switch its access log on, so websvc's logger gets a handler of its own.
    Level: ``$WEBSVC_LOG_LEVEL`` (default INFO: one line per refused request).
    """
    logger = logging.getLogger("websvc")
    if not logger.handlers:  # this file is read again on every reload
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(
            logging.Formatter(
                "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s",
                "%Y-%m-%d %H:%M:%S %z",
            )
        )
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(os.environ.get("WEBSVC_LOG_LEVEL", "INFO").upper())


_websvc_log_handler()


def on_reload(server: Any) -> None:
    """Re-validate the websvc config in the master before new workers fork."""
    from websvc.app import WebsvcApp

    app = server.app.wsgi()
    if isinstance(app, WebsvcApp):
        app.reload()  # logs "websvc: config reloaded ..." or "... reload refused ..."


def child_exit(server: Any, worker: Any) -> None:
    """With PROMETHEUS_MULTIPROC_DIR set, drop a dead worker's live gauges."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
