"""werkzeug's development server, as ``websvc serve`` and ``websvc demo`` run it.

:func:`listen` binds before anything is announced, so a printed address is
one that already answers, and a taken port is one line
(:class:`CannotListen`), not werkzeug's two lines and exit 1. The access log
is one escaped line per request on the ``websvc.access`` logger.

Usage::

    server = listen("127.0.0.1", 8080, app)  # raises CannotListen
    stop_on_sigterm()
    print(f"serving at http://127.0.0.1:{server.server_port}/")
    server.serve_forever()

Nothing here knows about the CLI or the playground; both import it.
"""

from __future__ import annotations

import logging
import signal
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, ThreadedWSGIServer, WSGIRequestHandler

from websvc.logutil import safe

if TYPE_CHECKING:
    from types import FrameType

    from _typeshed.wsgi import WSGIApplication


class CannotListen(OSError):
    """A server cannot listen on ``host:port``; ``str()`` says why in one line."""

    def __init__(self, host: str, port: int, reason: str) -> None:
        super().__init__(reason)
        self.host = host
        self.port = port
        self.reason = reason

    def __str__(self) -> str:
        address = f"[{self.host}]" if ":" in self.host else self.host
        return f"cannot listen on {address}:{self.port}: {self.reason}"


def listen(host: str, port: int, app: WSGIApplication) -> BaseWSGIServer:
    """Bind werkzeug's threaded development server to *host*:*port* (0: any free port).

    The server listens when this returns (``server_port`` is the real port);
    ``serve_forever()`` then serves. A taken, unknown or forbidden address
    raises :class:`CannotListen`, with nothing printed (werkzeug alone would
    print two lines and exit 1).
    """
    if not 0 <= port <= 65535:  # werkzeug would take it modulo 65536
        raise CannotListen(host, port, "not a port (0-65535)")
    try:
        return _DevServer(host, port, app, _AccessLog)
    except _BindError as exc:
        reason = exc.error.strerror or str(exc.error)
        raise CannotListen(host, port, reason[:1].lower() + reason[1:]) from exc.error
    except SystemExit as exc:  # a werkzeug that prints the problem and exits after all
        raise CannotListen(host, port, "the address is not available") from exc


def stop_on_sigterm() -> None:
    """Make SIGTERM stop a server as Ctrl-C does (KeyboardInterrupt in the main thread)."""

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


class _BindError(Exception):
    """An OSError of bind/listen, carried past werkzeug's print-and-exit handler."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error)
        self.error = error


class _DevServer(ThreadedWSGIServer):
    """werkzeug's threaded server; a bind or listen error is raised, not printed."""

    def server_bind(self) -> None:
        try:
            super().server_bind()
        except OSError as exc:
            raise _BindError(exc) from exc

    def server_activate(self) -> None:
        try:
            super().server_activate()
        except OSError as exc:
            raise _BindError(exc) from exc


class _AccessLog(WSGIRequestHandler):
    """The dev server's access log, one plain line per request, escaped."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        logging.getLogger("websvc.access").info(
            '%s "%s" %s %s', self.address_string(), safe(self.requestline, 2000), code, size
        )

    def log(self, type: str, message: str, *args: Any) -> None:
        logging.getLogger("websvc.access").log(
            logging.ERROR if type == "error" else logging.INFO,
            "%s %s",
            self.address_string(),
            safe(message % args, 2000),
        )
