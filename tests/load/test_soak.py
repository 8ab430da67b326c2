"""Reloads and a killed worker under wrk load (the short CI profile of bench/soak.py)."""

from __future__ import annotations

from pathlib import Path

from bench.soak import soak, verdict


def test_reloads_and_a_killed_worker_under_load(tmp_path: Path) -> None:
    result = soak(duration=20, reloads=100, connections=16, kill_worker=True, folder=tmp_path)
    assert verdict(result) == [], result
    assert result["reloads"] == {"valid": 50, "invalid": 50}
    assert result["sampled"]["A"] > 0 and result["sampled"]["B"] > 0, "both configs were served"
    assert result["wrk"]["requests"] > 1000
