"""docs/store.md stays true to the code: every table, column and store method is in it."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from websvc.store import SQLiteStore, Store

DOC = Path(__file__).resolve().parents[2] / "docs" / "store.md"


def _columns(tmp_path: Path) -> dict[str, list[str]]:
    SQLiteStore(tmp_path / "w.db").init()
    with sqlite3.connect(tmp_path / "w.db") as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")] for t in tables}


def test_every_table_and_column_is_documented(tmp_path: Path) -> None:
    text = DOC.read_text(encoding="utf-8")
    sections = dict(re.findall(r"^### `(\w+)`\n(.*?)(?=^#)", text, re.S | re.M))
    missing = [
        f"{table}.{column}"
        for table, columns in _columns(tmp_path).items()
        for column in columns
        if f"`{column}`" not in sections.get(table, "")
    ]
    assert missing == []


@pytest.mark.parametrize(
    "method", sorted(m for m in vars(Store) if not m.startswith("_") and m != "url")
)
def test_every_store_method_is_documented(method: str) -> None:
    shown = f"`{method}`" if isinstance(vars(Store)[method], property) else f"`{method}("
    assert shown in DOC.read_text(encoding="utf-8")


def test_the_usage_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    [example] = re.findall(
        r"```python\n(import hashlib.*?)```", DOC.read_text(encoding="utf-8"), re.S
    )
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(example, str(DOC), "exec"), scope)
    assert (scope["created"], scope["version"]) == (True, 2)
    scope["store"].close()  # type: ignore[attr-defined]
