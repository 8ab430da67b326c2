"""Hook specifications: the reference for every websvc hook.

A request goes through four steps, each a hook whose default implementation
ships in ``websvc.plugins`` (the ``plugins/`` folder of the source tree):

1. :func:`websvc_identify_tenant` -- which tenant the request belongs to;
2. :func:`websvc_authenticate` -- whether a normal request may reach an API
   (never called for a preflight);
3. :func:`websvc_lookup_rule` -- the CORS decision for a request with ``Origin``;
4. :func:`websvc_emit_headers` -- the ``Access-Control-*`` response headers.

Plugins implement them with :data:`websvc.hookimpl`. Defaults are registered
``trylast``, so any deployment plugin (or a tenant's own, see
``tenants.NAME.plugins``) is asked first. For a *firstresult* hook the first
non-None answer wins and the rest are not called: return None to let the
next plugin decide.

Steps 2 to 4 run with the plugins of the identified tenant: a tenant's
plugins are never asked about another tenant's requests. Step 1 runs before
the tenant is known, so only deployment-wide plugins take part in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

    from websvc.cors import CorsRequest, Decision
    from websvc.site import AuthResult, Identity, Site, Tenant

#: Marker for hook specifications (this module's functions).
hookspec = pluggy.HookspecMarker("websvc")
#: Marker for plugin hook implementations: ``@websvc.hookimpl``.
hookimpl = pluggy.HookimplMarker("websvc")


@hookspec(firstresult=True)
def websvc_identify_tenant(environ: WSGIEnvironment, site: Site) -> Identity | None:
    """Identify the tenant a request belongs to.

    The default plugin tries, in order: the ``boomi_auth`` query parameter's
    user, the HTTP Basic user, the ``Host`` header against
    ``tenants.NAME.hosts``, and the only tenant when there is exactly one.
    Only user *names* identify; tokens are checked by authentication.

    :param environ: the WSGI environ of the request (read it, don't change it).
    :param site: the compiled config (``site.tenants``, ``site.users``,
        ``site.hosts``).
    :returns: an :class:`~websvc.site.Identity` (tenant, how it was
        identified, and the credential that identified it, if any), or None
        to let the next plugin try. When every plugin returns None the
        request belongs to no tenant and matches no CORS rule.

    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def websvc_authenticate(
    environ: WSGIEnvironment, identity: Identity | None, site: Site
) -> AuthResult | None:
    """Decide whether a normal (non-preflight) request may reach the API.

    Never called for a preflight. The default plugin implements
    ``[server] authentication = "none"`` (everyone passes) and ``"basic"``
    (the credential that identified the tenant must carry the user's token).

    :param environ: the WSGI environ of the request.
    :param identity: the result of :func:`websvc_identify_tenant`, or None
        when no tenant was identified.
    :param site: the compiled config; ``site.server.authentication`` names
        the configured scheme.
    :returns: an :class:`~websvc.site.AuthResult`: ``ok`` True lets the
        request through (``user`` is then put in ``environ["websvc.user"]``),
        ``ok`` False answers 401 with ``challenge`` as ``WWW-Authenticate``.
        None lets the next plugin decide.

    Stops at the first non-None result.
    """


@hookspec(firstresult=True)
def websvc_lookup_rule(request: CorsRequest, tenant: Tenant | None, site: Site) -> Decision | None:
    """Make the CORS decision for a request that carries ``Origin``.

    The default plugin chooses the tenant's most specific rule for the
    Origin and path (``tenant.rules.lookup(request)``) and lets it decide on
    method and headers. A tenant plugin can override the matching for its own
    requests by returning its own :class:`~websvc.cors.Decision`.

    :param request: the parsed CORS request (``origin``, ``parsed``,
        ``preflight``, ``method``, ``request_headers``, ``path``,
        ``private_network``, ``environ``).
    :param tenant: the identified tenant, or None.
    :param site: the compiled config.
    :returns: a :class:`~websvc.cors.Decision` (``allowed``, ``reason``,
        ``rule``, ``detail``), or None to let the next plugin decide.

    Stops at the first non-None result.
    """


@hookspec
def websvc_emit_headers(
    request: CorsRequest, decision: Decision, headers: list[tuple[str, str]]
) -> None:
    """Add response headers for a request with ``Origin``, given its decision.

    Called for every request with ``Origin``, allowed or refused, preflight
    or not. The default plugin appends the ``Access-Control-*`` headers of an
    allowed decision. ``Vary`` is added by websvc itself and must not be set
    here.

    :param request: the parsed CORS request.
    :param decision: the result of :func:`websvc_lookup_rule`.
    :param headers: the list of ``(name, value)`` pairs to send; append to it.
    :returns: nothing; every plugin is called.
    """


@hookspec
def websvc_authentication_names() -> list[str]:  # type: ignore[empty-body]
    """Name the ``[server] authentication`` values this plugin implements.

    Used when the config is validated, so that ``authentication = "mine"``
    is accepted only when a plugin answers it.

    :returns: a list of names; all plugins' lists are merged.
    """
