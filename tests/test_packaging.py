"""What a wheel install gets: the package, its default plugins, and its gunicorn settings."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.servers import ROOT


def test_the_wheel_ships_the_gunicorn_settings_and_the_default_plugins(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
         "-w", str(tmp_path), str(ROOT)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = tmp_path.glob("websvc-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "websvc/gunicorn_conf.py" in names, "gunicorn -c python:websvc.gunicorn_conf"
    assert "websvc/lastgood.py" in names
    assert {f"websvc/plugins/{m}.py" for m in ("identify", "auth_basic", "cors_rules")} <= names
    assert not [n for n in names if n.startswith(("plugins/", "tests/", "gunicorn.conf"))]
    static = "websvc/tools/playground/static/"
    assert {static + f for f in ("index.html", "playground.js", "playground.css")} <= names
    sources = {str(path.relative_to(ROOT)) for path in ROOT.glob("websvc/**/*") if path.is_file()}
    shipped = {n for n in names if n.startswith("websvc/") and not n.startswith("websvc/plugins/")}
    missing = {s for s in sources if "__pycache__" not in s} - shipped
    assert not missing, f"source files the wheel leaves out: {sorted(missing)}"
