"""The admin API (ADMIN-API §3): tenant self-service over the rule store.

Its own WSGI app, on its own listener (the data plane never answers
``/admin/...``)::

    gunicorn 'websvc.admin:create_app("/etc/websvc/websvc.toml")'
    websvc admin serve --config /etc/websvc/websvc.toml

The config must be in store mode (a ``[store]`` table); ``[admin]`` holds the
operator tokens and the limits. docs/admin.md is the reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from websvc.admin.app import AdminApp
from websvc.admin.handlers import Handlers
from websvc.admin.settings import AdminSettings
from websvc.config import ConfigError, load_config, parse_toml
from websvc.store import open_store

if TYPE_CHECKING:
    from websvc.config import Config, ConfigSource
    from websvc.store import Store

__all__ = ["AdminApp", "create_app", "settings_of"]


def create_app(
    config: ConfigSource = None, *, store: Store | None = None, **options: Any
) -> AdminApp:
    """The admin API for the store-mode *config* (a TOML path or a dict).

    *store* overrides the one ``[store] url`` names (tests); *options* go to
    :class:`~websvc.admin.settings.AdminSettings` (``plugins``, ``autoload``).
    """
    loaded = load_config(config)
    if loaded.store is None:
        raise ConfigError(
            [f"{loaded.source}: store: missing: the admin API needs store mode ([store] url = ...)"]
        )
    settings = settings_of(loaded, config, **options)
    return AdminApp(Handlers(store or open_store(loaded.store.url), settings))


def settings_of(loaded: Config, source: ConfigSource, **options: Any) -> AdminSettings:
    """The admin settings of a loaded store-mode config (and the tables tenants are checked with)."""
    if isinstance(source, dict):
        raw: dict[str, Any] = dict(source)
    else:
        raw = parse_toml(loaded.source, loaded.text) if loaded.text is not None else {}
    base: dict[str, Any] = {key: raw[key] for key in ("server", "cors") if key in raw}
    admin = loaded.admin
    return AdminSettings(
        label=loaded.source,
        base=base,
        operator_tokens_sha256=tuple(admin.operator_tokens_sha256),
        max_rules_per_tenant=admin.max_rules_per_tenant,
        max_body_bytes=admin.max_body_bytes,
        **options,
    )
