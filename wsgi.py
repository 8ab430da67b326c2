"""gunicorn entry point: ``gunicorn wsgi:app``.

The app is built from the TOML file named by ``$WEBSVC_CONFIG`` (the
built-in demo config when it is unset). The factory form works too:
``gunicorn 'websvc:create_app("websvc.toml")'``.

A config refused at start-up is printed one problem per line and the
process exits with status 3, gunicorn's "worker failed to boot", so a new
server never starts on a bad file (a running one keeps its last good config
on ``HUP``: docs/deploy.md).
"""

from __future__ import annotations

import os
import sys

from websvc import ConfigError, create_app

try:
    app = application = create_app(os.environ.get("WEBSVC_CONFIG") or None)
except ConfigError as exc:
    for problem in exc.problems:
        print(f"websvc: config refused: {problem}", file=sys.stderr, flush=True)
    raise SystemExit(3) from None
