"""gunicorn entry point: ``gunicorn wsgi:app``.

The app is built from the TOML file named by ``$WEBSVC_CONFIG`` (the
built-in demo config when it is unset). The factory form works too:
``gunicorn 'websvc:create_app("websvc.toml")'``.
"""

from __future__ import annotations

import os

from websvc import create_app

app = application = create_app(os.environ.get("WEBSVC_CONFIG") or None)
