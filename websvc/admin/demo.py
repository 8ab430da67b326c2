"""The built-in demo in store mode: ``websvc serve`` without a config.

A fresh embedded SQLite store (in a temporary folder, gone when the demo
stops) seeded with the demo tenant of :mod:`websvc.demo` (user ``demo``,
token ``demo-token``, the ``localhost`` rule), the data plane on one port and
the admin API (and panel) on another, and a tenant admin token for ``demo``
that is the same every time, ``demo-admin-token``, so the README's curl lines
work as written. Demo credentials: never for production.
"""

from __future__ import annotations

import hashlib
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from websvc.admin import create_app as create_admin_app
from websvc.app import WebsvcApp
from websvc.demo import DEMO_CONFIG
from websvc.devserver import listen
from websvc.store import Audit, TenantData, open_store

#: The demo tenant's admin token (documented; demo only).
DEMO_ADMIN_TOKEN = "demo-admin-token"
DEFAULT_ADMIN_PORT = 8081


@dataclass
class StoreDemo:
    """The running demo: its data plane, its admin API and where the store lives."""

    app: WebsvcApp
    admin_server: Any
    folder: Path
    store_url: str

    def close(self) -> None:
        self.admin_server.shutdown()
        self.admin_server.server_close()
        if self.app.follower is not None:
            self.app.follower.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def demo_config(store_url: str) -> dict[str, Any]:
    """The demo's config in store mode: the file-mode demo minus its tenants, plus ``[store]``."""
    config = {key: value for key, value in DEMO_CONFIG.items() if key != "tenants"}
    config["store"] = {"url": store_url, "poll_interval": 0.25}
    return config


def start_store_demo(host: str, admin_port: int) -> StoreDemo:
    """Seed a new store, start the admin API in a thread; the caller serves ``app``.

    Raises :class:`websvc.devserver.CannotListen` when the admin port is taken.
    """
    folder = Path(tempfile.mkdtemp(prefix="websvc-demo-"))
    store_url = f"sqlite:///{folder / 'websvc.db'}"
    store = open_store(store_url)
    store.init()
    tenant = DEMO_CONFIG["tenants"]["demo"]
    cli = Audit(actor="cli", method="SEED", path="websvc serve (demo)")
    store.import_tenants(
        {"demo": TenantData.of(users=tenant["users"], rules=tenant["cors"])}, audit=cli
    )
    digest = hashlib.sha256(DEMO_ADMIN_TOKEN.encode()).hexdigest()
    store.add_admin_token("demo", digest, audit=cli)
    config = demo_config(store_url)
    try:
        admin_server = listen(host, admin_port, create_admin_app(config, store=store))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    threading.Thread(
        target=admin_server.serve_forever, name="websvc-demo-admin", daemon=True
    ).start()
    return StoreDemo(WebsvcApp(config), admin_server, folder, store_url)
