"""An example websvc plugin: authenticate by an ``X-API-Key`` header.

Register it for one tenant only::

    [tenants.acme]
    hosts = ["acme.example.net"]
    plugins = ["examples.apikey_auth:plugin"]

    [[tenants.acme.cors]]
    domain = "app.acme.example"
    request_headers = ["X-API-Key"]     # let browsers send the header

A request of tenant ``acme`` with ``X-API-Key`` is let in when the key's
sha256 is one of the known keys (compared in constant time) and refused with
401 when it is not; without the header this plugin says nothing (returns
None) and the default Basic authentication decides. Other tenants never
reach this plugin. ``docs/plugins.md`` walks through it.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import TYPE_CHECKING

from websvc import AuthResult, hookimpl

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from websvc.site import Identity, Site

#: The documented example key (sha256 below); never use it for real.
EXAMPLE_KEY = "example-key-123"


class ApiKeyAuth:
    """Accept an ``X-API-Key`` whose sha256 names a user."""

    def __init__(self, keys: dict[str, str]) -> None:
        # sha256 hex digest of the key -> user name reported to the API
        self.keys = {bytes.fromhex(digest): user for digest, user in keys.items()}

    @classmethod
    def from_env(cls) -> ApiKeyAuth:
        """Keys from ``$APIKEY_SHA256`` as ``user=sha256hex,...``, else the example key."""
        raw = os.environ.get("APIKEY_SHA256")
        if not raw:
            return cls({hashlib.sha256(EXAMPLE_KEY.encode()).hexdigest(): "apikey-user"})
        pairs = (item.split("=", 1) for item in raw.split(",") if item)
        return cls({digest: user for user, digest in pairs})

    @hookimpl
    def websvc_authenticate(
        self, environ: WSGIEnvironment, identity: Identity | None, site: Site
    ) -> AuthResult | None:
        key = environ.get("HTTP_X_API_KEY")
        if key is None:
            return None  # no key: let the next plugin (Basic) decide
        digest = hashlib.sha256(key.encode("utf-8", "surrogateescape")).digest()
        user = None
        for known, name in self.keys.items():  # check every key: no early exit
            if hmac.compare_digest(digest, known):
                user = name
        if user is None:
            return AuthResult(False, reason="unknown API key", challenge='ApiKey realm="websvc"')
        return AuthResult(True, user)


plugin = ApiKeyAuth.from_env()
