"""Log lines: making request-controlled text safe, and a handler when no one set one."""

from __future__ import annotations

import logging
import sys

#: gunicorn's own line format, so websvc's lines sit well among its lines.
FORMAT = "[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"
DATE_FORMAT = "%Y-%m-%d %H:%M:%S %z"


def safe(value: object, limit: int = 200) -> str:
    """Escape control and non-ASCII characters and truncate to *limit* chars.

    The result never contains CR, LF or any other raw control character, so
    an attacker cannot forge log lines through a path, Origin or header.
    """
    text = value if isinstance(value, str) else repr(value)
    escaped = text.encode("ascii", "backslashreplace").decode("ascii")
    escaped = "".join(c if " " <= c <= "~" else f"\\x{ord(c):02x}" for c in escaped)
    if len(escaped) > limit:
        return escaped[:limit] + f"...(+{len(escaped) - limit})"
    return escaped


def install_handler(level: str | int = "INFO") -> None:
    """Give the ``websvc`` logger a stderr handler of its own (once), at *level*."""
    logger = logging.getLogger("websvc")
    if not any(getattr(h, "websvc", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT, DATE_FORMAT))
        handler.websvc = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.propagate = False
    logger.setLevel(level.upper() if isinstance(level, str) else level)


def ensure_handler() -> None:
    """Make websvc's INFO lines visible when the host program configured no logging.

    A WSGI server that sets no handler (gunicorn started without websvc's
    settings, say) would otherwise drop the reload and refusal lines.
    """
    logger = logging.getLogger("websvc")
    if logger.handlers or logging.getLogger().handlers:
        return
    install_handler(logger.level or logging.INFO)
