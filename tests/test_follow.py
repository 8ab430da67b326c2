"""Store mode in one process: the data plane follows the store, and never asks it per request."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

import websvc
from websvc.admin import create_app as create_admin_app
from websvc.store import Audit, TenantData, open_store

OPERATOR = "op"
PRE = {"Origin": "https://app.example", "Access-Control-Request-Method": "PUT", "Host": "acme.test"}


def _config(tmp_path: Path, poll: float) -> dict[str, Any]:
    return {
        "store": {"url": f"sqlite:///{tmp_path / 's.db'}", "poll_interval": poll},
        "admin": {"operator_tokens_sha256": [hashlib.sha256(OPERATOR.encode()).hexdigest()]},
        "server": {"status_path": "/-/status"},
    }


@pytest.fixture
def seeded(tmp_path: Path) -> dict[str, Any]:
    config = _config(tmp_path, 0.05)
    store = open_store(config["store"]["url"])
    store.init()
    rule = {"domain": "app.example", "methods": ["GET"]}
    store.import_tenants(
        {"acme": TenantData.of(hosts=["acme.test"], rules=[rule])},
        audit=Audit(actor="cli", method="TEST", path="-"),
    )
    return config


class CountingStore:
    """The real store, with a count of every call made to it."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.calls = 0

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.store, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return attr(*args, **kwargs)

        return counted


def test_the_request_path_makes_no_store_query(seeded: dict[str, Any]) -> None:
    seeded["store"]["poll_interval"] = 60  # the follower sleeps through the whole test
    app = websvc.create_app(seeded)
    assert app.follower is not None
    counting = CountingStore(app.follower.store)
    app.follower.store = counting
    client = Client(app)
    for _ in range(500):
        assert client.options("/x", headers=PRE).status_code == 200
        client.get("/x", headers={"Origin": "https://app.example", "Host": "acme.test"})
    assert counting.calls == 0


def test_an_edit_is_applied_and_only_the_changed_tenant_is_compiled(seeded: dict[str, Any]) -> None:
    store = open_store(seeded["store"]["url"])
    store.import_tenants(
        {"other": TenantData.of(hosts=["other.test"], rules=[{"domain": "o.example"}])},
        audit=Audit(actor="cli", method="TEST", path="-"),
    )
    app = websvc.create_app(seeded)
    client = Client(app)
    before = app.site
    other, acme = before.tenants["other"], before.tenants["acme"]
    assert client.options("/x", headers=PRE).headers.get("Access-Control-Allow-Origin") is None
    admin = Client(create_admin_app(seeded))
    reply = admin.put(
        "/admin/v1/tenants/acme/cors",
        json={"rules": [{"domain": "app.example", "methods": ["GET", "PUT"]}]},
        headers={"Authorization": f"Bearer {OPERATOR}", "If-Match": '"1"'},
    )
    assert reply.status_code == 200, reply.get_json()
    deadline = time.monotonic() + 1.0
    while client.options("/x", headers=PRE).headers.get("Access-Control-Allow-Methods") != (
        "GET, PUT"
    ):
        assert time.monotonic() < deadline, "not applied within 1 s"
        time.sleep(0.01)
    after = app.site
    assert after is not before and after.version > before.version
    assert after.tenants["other"] is other, "the other tenant was not recompiled"
    assert after.tenants["acme"] is not acme
    status = client.get("/-/status").get_json()
    assert status == {"config_version": after.version, "stale_seconds": 0.0, "store": "ok"}


def test_a_tenant_the_store_holds_but_websvc_refuses_keeps_its_last_good_version(
    seeded: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    app = websvc.create_app(seeded)
    assert app.follower is not None
    good = app.site.tenants["acme"]
    store = open_store(seeded["store"]["url"])
    store.put_rules(
        "acme",
        [{"domain": "app.example", "max_age": 90000}],
        if_match=1,
        audit=Audit(actor="cli", method="TEST", path="-"),
    )  # fmt: skip  (written behind the admin API's back: the data plane must not take it)
    assert app.follower.poll()
    assert app.site.tenants["acme"] is good
    assert "tenant acme version 2 refused" in caplog.text


def test_metrics_report_the_config_version_and_staleness(seeded: dict[str, Any]) -> None:
    token = "scrape"
    seeded["server"] = {
        "metrics_path": "/-/metrics",
        "metrics_token_sha256": hashlib.sha256(token.encode()).hexdigest(),
    }
    app = websvc.create_app(seeded)
    text = (
        Client(app)
        .get("/-/metrics", headers={"Authorization": f"Bearer {token}"})
        .get_data(as_text=True)
    )
    assert f"websvc_config_version {float(app.site.version)}" in text
    assert "websvc_config_stale_seconds 0.0" in text
