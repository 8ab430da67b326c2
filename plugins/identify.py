"""Default tenant identification (SPEC §3): boomi_auth, Basic user, Host, only tenant."""

from __future__ import annotations

from typing import TYPE_CHECKING

from websvc import hookimpl
from websvc.credentials import basic_credential, boomi_auth_credential
from websvc.registry import Identity

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from websvc.registry import Site


@hookimpl(trylast=True)
def websvc_identify_tenant(environ: WSGIEnvironment, site: Site) -> Identity | None:
    users = site.users
    if users:
        for credential in (boomi_auth_credential(environ), basic_credential(environ)):
            if credential is not None:
                known = users.get(credential.user)
                if known is not None:
                    return Identity(known[0], credential.source, credential)
    if site.hosts:
        host = environ.get("HTTP_HOST")
        if host:
            tenant = site.hosts.get(host) or site.hosts.get(_host_name(host))
            if tenant is not None:
                return Identity(tenant, "host")
    if site.only is not None:
        return Identity(site.only, "only")
    return None


def _host_name(host: str) -> str:
    """The Host header without its port, lower-cased."""
    if host.startswith("["):
        return host[: host.find("]") + 1].lower()
    return host.partition(":")[0].lower()
