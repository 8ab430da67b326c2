"""Fixtures that run real gunicorn masters on 127.0.0.1 ports of their own."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers import Server, start_gunicorn


@pytest.fixture
def gunicorn(tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start gunicorn: ``gunicorn(app="wsgi:app", config=PATH, workers=1, env={})``."""
    servers: list[Server] = []

    def start(app: str = "wsgi:app", **options: Any) -> Server:
        server = start_gunicorn(tmp_path / f"gunicorn-{len(servers)}.log", app, **options)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()
