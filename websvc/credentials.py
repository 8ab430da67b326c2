"""Reading credentials from a request: HTTP Basic and the ``boomi_auth`` parameter.

Both carry ``base64(user:token)``. Anything malformed -- bad base64, bytes
that are not UTF-8, no colon -- reads as *no credential*, never as an error:
the caller then tries the next way to identify the tenant. Nothing here logs.
"""

from __future__ import annotations

import binascii
import hashlib
import hmac
from base64 import b64decode
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: Longer credentials than this are not decoded (bounded work per request).
MAX_CREDENTIAL_LENGTH = 4096


class Credential:
    """A user name and its token, as sent; ``repr`` never shows the token."""

    __slots__ = ("source", "token", "user")

    def __init__(self, user: str, token: str, source: str) -> None:
        self.user = user
        self.token = token
        self.source = source  # "boomi_auth" or "basic"

    def __repr__(self) -> str:
        return f"Credential(user={self.user!r}, source={self.source!r})"

    def matches(self, token_sha256: bytes) -> bool:
        """Constant-time check of the token against a stored sha256 digest."""
        digest = hashlib.sha256(self.token.encode("utf-8", "surrogatepass")).digest()
        return hmac.compare_digest(digest, token_sha256)


def decode_user_token(value: str, source: str) -> Credential | None:
    """Decode ``base64(user:token)``; None when it is not exactly that."""
    if not value or len(value) > MAX_CREDENTIAL_LENGTH:
        return None
    try:
        raw = b64decode(value.strip().replace(" ", "+"), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    user, sep, token = text.partition(":")
    if not sep or not user:
        return None
    return Credential(user, token, source)


def basic_credential(environ: WSGIEnvironment) -> Credential | None:
    """The ``Authorization: Basic`` credential of a request, if well-formed."""
    header = environ.get("HTTP_AUTHORIZATION")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    return decode_user_token(value, "basic")


def boomi_auth_credential(environ: WSGIEnvironment) -> Credential | None:
    """The credential in the ``boomi_auth`` query parameter, if well-formed."""
    query = environ.get("QUERY_STRING", "")
    if "boomi_auth" not in query or len(query) > 4 * MAX_CREDENTIAL_LENGTH:
        return None
    for name, value in parse_qsl(query, keep_blank_values=True, max_num_fields=64):
        if name == "boomi_auth":
            return decode_user_token(value, "boomi_auth")
    return None
