"""The validated config: frozen dataclasses, every value normalised.

:func:`websvc.config.load_config` builds them; :mod:`websvc.registry`
compiles them. ``[store]`` and ``[admin]`` stay the schema's own (frozen)
tables, :class:`~websvc.schema.StoreTable` and :class:`~websvc.schema.AdminTable`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from websvc.schema import DEFAULT_REQUEST_HEADERS, AdminTable, StoreTable


@dataclass(frozen=True, slots=True)
class ServerConfig:
    api_type: str = "advanced"
    authentication: str = "none"
    preflight_status: int = 200
    reject_disallowed: bool = False
    log_format: str = "text"
    debug_header: bool = False
    metrics_path: str | None = None
    status_path: str | None = None
    metrics_token_sha256: bytes | None = field(default=None, repr=False)


@dataclass(frozen=True, slots=True)
class CorsDefaults:
    request_headers: tuple[str, ...] = DEFAULT_REQUEST_HEADERS
    expose_headers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ApiConfig:
    path: str
    app_ref: str
    app: Callable[..., Any] = field(compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class UserConfig:
    name: str
    tenant: str
    token_sha256: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """One validated CORS rule; ``pairs`` are the accepted (scheme, port)s."""

    domain: str  # normalised: "a.com", "*.a.com", "[::1]" or "*"
    pairs: frozenset[tuple[str, int | None]]  # port None = any port
    paths: tuple[str, ...] | None
    methods: tuple[str, ...]
    request_headers: tuple[str, ...]
    expose_headers: tuple[str, ...]
    allow_credentials: bool = False
    allow_caching: bool = False
    max_age: int = 600
    allow_private_network: bool = False
    allow_any_origin: bool = False


@dataclass(frozen=True, slots=True)
class TenantConfig:
    name: str
    hosts: tuple[str, ...]
    plugin_refs: tuple[str, ...]
    plugins: tuple[object, ...] = field(compare=False, repr=False)
    users: tuple[UserConfig, ...]
    cors: tuple[RuleConfig, ...]


@dataclass(frozen=True, slots=True)
class Config:
    source: str
    server: ServerConfig
    defaults: CorsDefaults
    apis: tuple[ApiConfig, ...]
    tenants: tuple[TenantConfig, ...]
    warnings: tuple[str, ...] = ()
    #: The file's text as read and validated (None for a dict or the demo).
    text: str | None = field(default=None, repr=False, compare=False)
    #: ``[store]`` (store mode: tenants live there), or None (file mode).
    store: StoreTable | None = None
    #: ``[admin]``: the admin API's settings.
    admin: AdminTable = field(default_factory=AdminTable)
