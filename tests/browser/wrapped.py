"""A plain WSGI app wrapped by websvc, for gunicorn in the browser tests."""

from __future__ import annotations

import os

import websvc
from websvc.demo import echo

app = websvc.wrap(echo, os.environ["WRAPPED_CONFIG"])
