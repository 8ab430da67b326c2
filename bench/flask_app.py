"""Flask + flask-cors configured to the bench rule (needs bench/requirements.txt)."""

from __future__ import annotations

from flask import Flask
from flask_cors import CORS

from bench.apps import BODY
from bench.scenarios import (
    CUSTOM_HEADER,
    DEFAULT_REQUEST_HEADERS,
    EXPOSE_HEADERS,
    MAX_AGE,
    METHODS,
    ORIGIN,
)


def flask_app() -> Flask:
    """``/api/<path>`` answering like ``bench.apps:raw``, behind flask-cors with the same rule."""
    app = Flask("bench_flask")

    @app.route("/api/<path:rest>", methods=list(METHODS))
    def api(rest: str) -> tuple[bytes, int, dict[str, str]]:
        return BODY, 200, {"Content-Type": "text/plain"}

    CORS(
        app,
        origins=[ORIGIN],
        methods=list(METHODS),
        allow_headers=[*DEFAULT_REQUEST_HEADERS, CUSTOM_HEADER],
        expose_headers=list(EXPOSE_HEADERS),
        supports_credentials=True,
        max_age=MAX_AGE,
    )
    return app
