"""The read side never imports the simulator: plant facts come from the store (issue 11's "readers import the
producer" found `sim/` executing every student file inside the dashboard and `smartfactory oee`)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

READERS = [
    *sorted((ROOT / "src" / "smartfactory" / "query").glob("*.py")),
    *sorted((ROOT / "dashboard").rglob("*.py")),
    ROOT / "src" / "smartfactory" / "cli" / "oee.py",
    ROOT / "src" / "smartfactory" / "cli" / "report.py",
]


def imported(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_no_reader_module_imports_the_simulator() -> None:
    assert len(READERS) > 20
    offenders = {
        str(p.relative_to(ROOT)): sorted(n for n in imported(p) if n.startswith("smartfactory.sim")) for p in READERS
    }
    assert {p: names for p, names in offenders.items() if names} == {}


def test_the_dashboard_process_loads_no_simulator_module() -> None:
    """What the Streamlit process imports (the CLI's command group registers every command, the simulator's
    included, so only the direct imports of `cli/oee.py` and `cli/report.py` are checked, above)."""
    code = (
        "import sys\n"
        "import dashboard.data, dashboard.charts, dashboard.spcview, dashboard.oeeview, dashboard.tiles\n"
        "import dashboard.sidebar, smartfactory.query, smartfactory.query.figures\n"
        "print(sorted(m for m in sys.modules if m.startswith('smartfactory.sim')))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "[]"
