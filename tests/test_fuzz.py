"""Run the atheris pipeline fuzzer for a bounded number of iterations."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUNS = 50_000


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="atheris ships wheels for CPython 3.11+ only (CI runs 3.11)"
)
def test_atheris_pipeline_fuzzer(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "fuzz" / "fuzz_pipeline.py"), f"-runs={RUNS}", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert f"Done {RUNS} runs" in output, output[-2000:]
