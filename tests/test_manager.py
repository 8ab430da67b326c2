"""The plugin manager and hook façade: defaults, order, tenant scoping, entry points."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pluggy
import pytest
from werkzeug.test import Client

import websvc
from websvc import Decision, hookimpl
from websvc.manager import (
    AUTOLOAD_ENV,
    DEFAULT_PLUGINS,
    Hooks,
    get_plugin_manager,
)

PREFLIGHT = {"Access-Control-Request-Method": "GET"}


def _config(**tenant_a: Any) -> dict[str, Any]:
    rule = {"domain": "app.example.com", "methods": ["GET"]}
    return {
        "tenants": {
            "a": {"hosts": ["a.test"], "cors": [rule], **tenant_a},
            "b": {"hosts": ["b.test"], "cors": [rule]},
        }
    }


class AllowEverything:
    """A tenant plugin overriding rule lookup: allows any origin, no rule."""

    calls = 0

    @hookimpl
    def websvc_lookup_rule(self, request: websvc.CorsRequest) -> Decision:
        AllowEverything.calls += 1
        return Decision.refuse("origin_not_listed", "override says no")


override = AllowEverything()


def _preflight(app: websvc.WebsvcApp, host: str, origin: str) -> dict[str, str]:
    response = Client(app).options("/x", headers={"Origin": origin, "Host": host, **PREFLIGHT})
    return dict(response.headers)


def test_defaults_are_registered_trylast_in_order() -> None:
    pm = get_plugin_manager(autoload=False)
    names = [name for name, _ in pm.list_name_plugin()]
    assert names[: len(DEFAULT_PLUGINS)] == list(DEFAULT_PLUGINS)
    for hook in ("websvc_identify_tenant", "websvc_authenticate", "websvc_lookup_rule"):
        impls = getattr(pm.hook, hook).get_hookimpls()
        assert impls and all(impl.trylast for impl in impls), hook


def test_tenant_plugin_overrides_lookup_for_that_tenant_only() -> None:
    app = websvc.create_app(_config(plugins=["tests.test_manager:override"]))
    before = AllowEverything.calls
    refused = _preflight(app, "a.test", "https://app.example.com")
    assert "Access-Control-Allow-Origin" not in refused
    assert AllowEverything.calls == before + 1
    allowed = _preflight(app, "b.test", "https://app.example.com")
    assert allowed["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert AllowEverything.calls == before + 1, "tenant b must never reach a's plugin"


def test_tenant_without_plugins_shares_the_site_hooks() -> None:
    app = websvc.create_app(_config(plugins=["tests.test_manager:override"]))
    site = app.site
    assert site.tenants["b"].hooks is site.hooks
    assert site.tenants["a"].hooks is not site.hooks


def test_deployment_plugin_is_asked_before_the_default() -> None:
    app = websvc.WebsvcApp(_config(), plugins=[AllowEverything()], autoload=False)
    assert "Access-Control-Allow-Origin" not in _preflight(app, "b.test", "https://app.example.com")


class Wrapper:
    seen: ClassVar[list[str]] = []

    @hookimpl(wrapper=True)
    def websvc_lookup_rule(self, request: websvc.CorsRequest) -> Iterator[None]:
        decision = yield
        Wrapper.seen.append(decision.reason)
        return decision


def test_a_wrapper_is_run_through_pluggy() -> None:
    Wrapper.seen.clear()
    app = websvc.WebsvcApp(_config(), plugins=[Wrapper()], autoload=False)
    headers = _preflight(app, "b.test", "https://app.example.com")
    assert headers["Access-Control-Allow-Origin"] == "https://app.example.com"
    assert Wrapper.seen == ["allowed"]


def test_refresh_picks_up_a_plugin_registered_later() -> None:
    hooks = Hooks(get_plugin_manager(autoload=False))
    assert hooks.authentication_names() == {"none", "basic"}

    class Token:
        @hookimpl
        def websvc_authentication_names(self) -> list[str]:
            return ["token"]

    hooks.pm.register(Token())
    hooks.refresh()
    assert hooks.authentication_names() == {"none", "basic", "token"}


def test_unknown_hook_in_tenant_plugin_is_a_config_error() -> None:
    with pytest.raises(websvc.ConfigError) as info:
        websvc.create_app(_config(plugins=["tests.test_manager:bad_plugin"]))
    assert "tenants.a.plugins" in str(info.value)
    assert "websvc_lookup_rules" in str(info.value)


class BadPlugin:
    @hookimpl
    def websvc_lookup_rules(self) -> None:  # typo: no such hook
        pass


bad_plugin = BadPlugin()


@pytest.fixture
def entry_point_plugin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A real installed distribution exposing a ``websvc`` entry point."""
    (tmp_path / "ep_plugin.py").write_text(
        textwrap.dedent(
            """
            import websvc

            @websvc.hookimpl
            def websvc_authentication_names():
                return ["from-entry-point"]
            """
        )
    )
    dist = tmp_path / "ep_plugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ep-plugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[websvc]\nep = ep_plugin\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(AUTOLOAD_ENV, raising=False)
    yield "from-entry-point"
    sys.modules.pop("ep_plugin", None)


def test_entry_point_plugins_are_loaded(entry_point_plugin: str) -> None:
    assert entry_point_plugin in Hooks(get_plugin_manager()).authentication_names()


def test_autoload_switch_turns_entry_points_off(
    entry_point_plugin: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(AUTOLOAD_ENV, "1")
    assert entry_point_plugin not in Hooks(get_plugin_manager()).authentication_names()


def test_one_plugin_manager_per_app() -> None:
    first, second = websvc.create_app(_config()), websvc.create_app(_config())
    assert first.site.hooks.pm is not second.site.hooks.pm
    assert isinstance(first.site.hooks.pm, pluggy.PluginManager)
