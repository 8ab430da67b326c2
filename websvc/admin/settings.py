"""What the admin API knows of the config file: ``[admin]``, and the base tenants are checked against.

A tenant's settings and rules are checked as ``websvc check`` checks a file
holding the config's ``[server]`` and ``[cors]`` tables and that tenant
alone; ``evaluate`` compiles such a site. Problems are answered with key
paths relative to the body (``hosts[0]``, ``rules[2].max_age``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from websvc.config import ConfigError, load_config
from websvc.registry import build_site

if TYPE_CHECKING:
    from websvc.site import Site
    from websvc.store import TenantState

#: The data plane as ``evaluate`` pretends to reach it: never the same origin as a page.
EVALUATE_BASE_URL = "https://websvc.invalid"


@dataclass(frozen=True)
class AdminSettings:
    """The ``[admin]`` settings and the config tables tenants are checked with."""

    label: str
    #: The config's ``[server]`` and ``[cors]`` tables, as written.
    base: dict[str, Any] = field(repr=False)
    operator_tokens_sha256: tuple[str, ...] = field(default=(), repr=False)
    max_rules_per_tenant: int = 1000
    max_body_bytes: int = 1048576
    evaluate_base_url: str = EVALUATE_BASE_URL
    plugins: tuple[object, ...] = ()
    autoload: bool | None = None

    def check_tenant(self, name: str, data: dict[str, Any]) -> list[dict[str, object]]:
        """The problems of tenant *name*'s settings (hosts, users, plugins), as JSON."""
        try:
            load_config({**self.base, "tenants": {name: data}})
        except ConfigError as exc:
            return [_relative(p.as_json(), f"tenants.{name}.") for p in exc.items]
        return []

    def site_for(self, state: TenantState, rules: list[dict[str, Any]]) -> Site:
        """A site of this one tenant with *rules* (checked already), for ``evaluate``."""
        tenant = {
            "hosts": list(state.hosts),
            "users": [dict(user) for user in state.users],
            "plugins": list(state.plugins),
            "cors": rules,
        }
        return build_site(
            {**self.base, "tenants": {state.name: tenant}},
            plugins=self.plugins,
            autoload=self.autoload,
        )


def _relative(problem: dict[str, object], prefix: str) -> dict[str, object]:
    path = str(problem["path"])
    if path.startswith(prefix):
        problem["path"] = path[len(prefix) :]
    return problem
