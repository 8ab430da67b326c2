"""Default tenant identification (SPEC §3): boomi_auth, Basic user, Host, only tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING

from websvc import hookimpl
from websvc.credentials import basic_credential, boomi_auth_credential
from websvc.site import Identity
from websvc.syntax import host_name

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from websvc.site import Site


@hookimpl(trylast=True)
def websvc_identify_tenant(environ: WSGIEnvironment, site: Site) -> Identity | None:
    users = site.users
    if users:
        query = environ.get("QUERY_STRING")
        if query and "boomi_auth" in query:
            credential = boomi_auth_credential(environ)
            if credential is not None:
                known = users.get(credential.user)
                if known is not None:
                    return Identity(known[0], "boomi_auth", credential)
        if "HTTP_AUTHORIZATION" in environ:
            credential = basic_credential(environ)
            if credential is not None:
                known = users.get(credential.user)
                if known is not None:
                    return Identity(known[0], "basic", credential)
    by_host = site.host_identities
    if by_host:
        host = environ.get("HTTP_HOST")
        if host:
            identity = by_host.get(host) or by_host.get(host_name(host))
            if identity is not None:
                return identity
    return site.only_identity
