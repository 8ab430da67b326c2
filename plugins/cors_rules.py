"""Default rule lookup: the tenant's most specific rule decides (SPEC §6)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from websvc import hookimpl
from websvc.cors import Decision

if TYPE_CHECKING:
    from websvc.cors import CorsRequest
    from websvc.site import Site, Tenant

_NO_TENANT = Decision.refuse("no_tenant", "no tenant was identified for this request")


@hookimpl(trylast=True)
def websvc_lookup_rule(request: CorsRequest, tenant: Tenant | None, site: Site) -> Decision:
    if tenant is None:
        return _NO_TENANT
    return tenant.rules.lookup(request)
