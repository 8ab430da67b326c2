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
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import unquote

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

#: Longer credentials than this are not decoded (bounded work per request).
MAX_CREDENTIAL_LENGTH = 4096


class Credential:
    """A user name and the sha256 of the token sent with it.

    The token itself is not kept: only its digest, which is all that
    authentication compares. ``repr`` shows neither.
    """

    __slots__ = ("source", "token_sha256", "user")

    def __init__(self, user: str, token_sha256: bytes, source: str) -> None:
        self.user = user
        self.token_sha256 = token_sha256
        self.source = source  # "boomi_auth" or "basic"

    def __repr__(self) -> str:
        return f"Credential(user={self.user!r}, source={self.source!r})"

    def matches(self, token_sha256: bytes) -> bool:
        """Constant-time check of the token against a stored sha256 digest."""
        return hmac.compare_digest(self.token_sha256, token_sha256)


@lru_cache(maxsize=1024)
def decode_user_token(value: str, source: str) -> Credential | None:
    """Decode ``base64(user:token)``; None when it is not exactly that.

    Clients send the same header again and again, so recent answers are
    cached (bounded; a cached Credential holds the token's digest only).
    """
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
    return Credential(user, hashlib.sha256(token.encode("utf-8")).digest(), source)


def basic_credential(environ: WSGIEnvironment) -> Credential | None:
    """The ``Authorization: Basic`` credential of a request, if well-formed."""
    header = environ.get("HTTP_AUTHORIZATION")
    return _basic(header) if header else None


@lru_cache(maxsize=1024)
def _basic(header: str) -> Credential | None:
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    return decode_user_token(value, "basic")


def boomi_auth_credential(environ: WSGIEnvironment) -> Credential | None:
    """The credential in the ``boomi_auth`` query parameter, if well-formed."""
    query = environ.get("QUERY_STRING", "")
    if "boomi_auth=" not in query or len(query) > 4 * MAX_CREDENTIAL_LENGTH:
        return None
    for field in query.split("&"):  # the first boomi_auth=... wins, however many fields
        if field.startswith("boomi_auth="):
            # unquote, not unquote_plus: a "+" is base64, not a space.
            return decode_user_token(unquote(field[11:]), "boomi_auth")
    return None
