"""The benchmark's in-process environ is the one gunicorn builds (bench/scenarios.py).

websvc adds two keys to every environ it passes on; whether that costs a
dict resize depends on how many keys the dict already has, so an in-process
row is only a fair model of a gunicorn worker when its environ has
gunicorn's keys.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bench import scenarios


def test_the_bench_environ_has_exactly_gunicorns_keys(gunicorn: Callable[..., Any]) -> None:
    server = gunicorn("tests.gunicorn.pid_api:environ_keys", access_log=False)
    # The bench GET's headers; http.client adds Accept-Encoding to any request.
    sent = {"Host": scenarios.HOST, "User-Agent": "bench", "Accept": "*/*"}
    sent["Origin"] = scenarios.ORIGIN
    reply = server.request("GET", scenarios.PATH, sent)
    assert reply.status == 200
    built_by_gunicorn = set(reply.body.decode().splitlines()) - {"HTTP_ACCEPT_ENCODING"}
    assert set(scenarios.get(authorization=None)) == built_by_gunicorn
