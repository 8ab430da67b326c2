"""``python -m websvc``: the websvc command line."""

from __future__ import annotations

import sys

from websvc.cli import main

sys.exit(main())
