"""Default authentication: ``authentication = "none"`` and ``"basic"`` (SPEC §3).

``basic`` checks the credential that identified the tenant -- from the
``boomi_auth`` parameter or ``Authorization: Basic`` -- against the user's
``token_sha256`` in constant time. When the tenant was identified without a
credential (by Host, or as the only tenant), the request's own Basic or
``boomi_auth`` credential is checked, and it must name a user of that tenant.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from websvc import hookimpl
from websvc.credentials import basic_credential, boomi_auth_credential
from websvc.site import AuthResult

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from websvc.site import Identity, Site

_PASS = AuthResult(True)


@hookimpl(trylast=True)
def websvc_authentication_names() -> list[str]:
    return ["none", "basic"]


@hookimpl(trylast=True)
def websvc_authenticate(
    environ: WSGIEnvironment, identity: Identity | None, site: Site
) -> AuthResult | None:
    mode = site.server.authentication
    if mode == "none":
        return _PASS
    if mode != "basic":
        return None  # another plugin's scheme
    if identity is None:
        return AuthResult(False, reason="no tenant identified")
    credential = identity.credential
    if credential is None:
        credential = basic_credential(environ) or boomi_auth_credential(environ)
        if credential is None:
            return AuthResult(False, reason="no credentials")
    user = identity.tenant.users.get(credential.user)
    if user is None:
        return AuthResult(False, reason="unknown user")
    if not credential.matches(user.token_sha256):
        return AuthResult(False, reason="wrong token")
    return _passed(user.name)


@lru_cache(maxsize=4096)
def _passed(user: str) -> AuthResult:
    return AuthResult(True, user)  # immutable: one per user, shared
