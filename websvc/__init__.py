"""websvc: a multi-tenant shared web server for WSGI web-service APIs.

The public surface::

    websvc.create_app(config=None)        # the WSGI app
    websvc.wrap(legacy_app, config=None)  # the pipeline in front of a WSGI app
    websvc.hookimpl                       # marker for plugin hook implementations
"""

from __future__ import annotations

from websvc.app import WebsvcApp, create_app, wrap
from websvc.config import ConfigError, load_config
from websvc.cors import CorsRequest, Decision
from websvc.hookspecs import hookimpl
from websvc.site import AuthResult, Identity, Site, Tenant

__version__ = "0.1.0"
__all__ = [
    "AuthResult",
    "ConfigError",
    "CorsRequest",
    "Decision",
    "Identity",
    "Site",
    "Tenant",
    "WebsvcApp",
    "create_app",
    "hookimpl",
    "load_config",
    "wrap",
]
