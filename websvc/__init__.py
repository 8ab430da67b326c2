"""websvc: a multi-tenant shared web server for WSGI web-service APIs.

The public surface::

    websvc.create_app(config=None)        # the WSGI app
    websvc.wrap(legacy_app, config=None)  # the pipeline in front of a WSGI app
    websvc.hookimpl                       # marker for plugin hook implementations
"""

from __future__ import annotations

import pluggy

#: Marker for plugin hook implementations: ``@websvc.hookimpl``.
hookimpl = pluggy.HookimplMarker("websvc")

from websvc.app import WebsvcApp, create_app, wrap  # noqa: E402
from websvc.config import ConfigError, load_config  # noqa: E402
from websvc.cors import CorsRequest, Decision  # noqa: E402
from websvc.registry import AuthResult, Identity  # noqa: E402

__version__ = "0.1.0"
__all__ = [
    "AuthResult",
    "ConfigError",
    "CorsRequest",
    "Decision",
    "Identity",
    "WebsvcApp",
    "create_app",
    "hookimpl",
    "load_config",
    "wrap",
]
