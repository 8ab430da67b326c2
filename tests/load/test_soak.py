"""Reloads of every kind of bad file and a killed worker under wrk load (bench/soak.py, short).

The same run for each way docs/deploy.md starts gunicorn: ``wsgi:app`` from the
repository root (websvc's settings), the factory form from another directory
and a legacy project's ``wrap()`` module, both without any websvc setting.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.soak import soak, verdict


@pytest.mark.parametrize("form", ["root", "factory", "legacy"])
def test_reloads_and_a_killed_worker_under_load(form: str, tmp_path: Path) -> None:
    result = soak(
        duration=8, reloads=100, connections=16, kill_worker=True, folder=tmp_path, form=form
    )
    print(result)  # the figures, for the record (pytest -s)
    assert verdict(result) == [], result
    assert result["reloads"] == {"valid": 50, "invalid": 50}
    assert set(result["invalid_by_kind"]) == {
        "value", "not UTF-8", "truncated", "directory", "plugin raising at import"
    }  # fmt: skip
    assert result["sampled"]["A"] > 0 and result["sampled"]["B"] > 0, "both configs were served"
    assert result["wrk"]["requests"] > 1000
    assert result["master_alive"]
