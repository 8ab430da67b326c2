"""Making request-controlled text safe for a log line."""

from __future__ import annotations


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
