"""The shape of the code: layers point one way, no import circle, small modules.

The layers are declared once, as an import-linter contract in setup.cfg
(``[importlinter:contract:layers]``): primitives at the bottom, then config,
the engine, the hooks, the pipeline, the app, the tools and the CLI on top.
Imports under ``TYPE_CHECKING`` count too: a loop through annotations is
still a loop a reader has to untangle.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

from tests.servers import ROOT

#: A module longer than this is split (the hook specs, whose docstrings are
#: the hook reference, are the one exception).
MAX_LINES = 420


def test_the_layers_contract_is_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--config", str(ROOT / "setup.cfg")],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_no_import_circle_in_websvc_or_plugins() -> None:
    graph = grimp.build_graph("websvc", "plugins", exclude_type_checking_imports=False)
    circles = _strongly_connected(graph)
    assert circles == [], f"import circles: {circles}"


def test_no_module_is_too_long() -> None:
    long = {
        str(path.relative_to(ROOT)): lines
        for path in sorted([*ROOT.glob("websvc/**/*.py"), *ROOT.glob("plugins/*.py")])
        if path.name != "hookspecs.py" and (lines := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert long == {}


def _strongly_connected(graph: grimp.ImportGraph) -> list[list[str]]:
    """Tarjan's algorithm: every group of modules that import each other in a loop."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph.find_modules_directly_imported_by(module):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = []
            while True:
                other = stack.pop()
                on_stack.discard(other)
                group.append(other)
                if other == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found
