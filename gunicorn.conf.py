"""gunicorn settings for ``gunicorn wsgi:app`` run from the repository root.

gunicorn reads this file from the current directory; the settings themselves
ship in the package, so the same ones work anywhere with
``-c python:websvc.gunicorn_conf`` (docs/deploy.md).
"""

from websvc.gunicorn_conf import *  # noqa: F403
