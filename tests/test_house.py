"""The house rules of docs/architecture.md, checked over the imports of every module (parsed, not run)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "smartfactory"
DASHBOARD = ROOT / "dashboard"


def _modules(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(path: Path) -> set[str]:
    """Every module name imported by `path`, absolute (relative imports are resolved against the package)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                raise AssertionError(f"{path}: use absolute imports (found a relative import)")
            base = node.module or ""
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _rel(path: Path) -> str:
    return path.relative_to(ROOT).as_posix()


def _offenders(paths: list[Path], forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in paths:
        if _rel(path) in allowed:
            continue
        bad = sorted(n for n in _imports(path) if any(n == f or n.startswith(f + ".") for f in forbidden))
        if bad:
            found.append(f"{_rel(path)} imports {', '.join(bad)}")
    return found


READERS = _modules(DASHBOARD) + _modules(SRC / "query") + _modules(SRC / "cli")
#: The process assembly: the only reader-side modules that may start a simulator; and `simulators list`, the
#: producer's own tool, which loads the simulator files to describe them.
ASSEMBLY = ("src/smartfactory/cli/run.py", "src/smartfactory/services.py", "src/smartfactory/cli/simulators.py")


def test_readers_never_import_the_simulator() -> None:
    assert _offenders(READERS, ("smartfactory.sim",), ASSEMBLY) == []


@pytest.mark.parametrize("wing", ["spc", "kpi"])
def test_pure_engines_import_no_io_or_plotting(wing: str) -> None:
    forbidden = ("sqlite3", "paho", "influxdb_client", "streamlit", "plotly", "socket", "smartfactory.storage",
                 "smartfactory.edge", "smartfactory.ingest", "smartfactory.sim", "smartfactory.query")
    assert _offenders(_modules(SRC / wing), forbidden) == []


def test_the_core_is_pure() -> None:
    core = [SRC / name for name in ("wire.py", "model.py", "plant.py", "errors.py", "durations.py", "retry.py")]
    forbidden = ("sqlite3", "paho", "influxdb_client", "streamlit", "plotly", "smartfactory.storage",
                 "smartfactory.edge", "smartfactory.ingest", "smartfactory.sim", "smartfactory.query",
                 "smartfactory.cli")
    assert _offenders([p for p in core if p.exists()], forbidden) == []


@pytest.mark.parametrize(
    ("library", "door"),
    [
        ("paho", "src/smartfactory/edge/"),
        ("influxdb_client", "src/smartfactory/storage/influx"),
        ("sqlite3", "src/smartfactory/storage/sqlite"),
        ("streamlit", "dashboard/"),
        ("google.protobuf", "src/smartfactory/sparkplug/"),
        ("asyncua", "src/smartfactory/opcua/"),
    ],
)
def test_each_outside_library_has_one_door(library: str, door: str) -> None:
    users = [p for p in _modules(SRC) + _modules(DASHBOARD) if _offenders([p], (library,))]
    assert [_rel(p) for p in users if not _rel(p).startswith(door)] == []


def test_sparkplug_is_pure() -> None:
    """The Sparkplug B codec and sessions do no I/O: the MQTT client, sockets and stores are ingestion's."""
    forbidden = ("paho", "socket", "sqlite3", "influxdb_client", "asyncua", "threading", "asyncio",
                 "smartfactory.edge", "smartfactory.ingest", "smartfactory.storage", "smartfactory.sim",
                 "smartfactory.query", "smartfactory.cli")
    assert _offenders(_modules(SRC / "sparkplug"), forbidden) == []


def test_opcua_knows_no_simulator_and_no_consumer() -> None:
    """The OPC UA server takes the simulator's wire messages (services.py wires it), the bridge speaks MQTT."""
    forbidden = ("smartfactory.sim", "smartfactory.ingest", "smartfactory.storage", "smartfactory.query")
    assert _offenders(_modules(SRC / "opcua"), forbidden) == []


def test_producers_do_not_know_consumers() -> None:
    forbidden = ("smartfactory.ingest", "smartfactory.storage", "smartfactory.query")
    assert _offenders(_modules(SRC / "sim"), forbidden) == []


def test_storage_knows_nothing_of_mqtt() -> None:
    forbidden = ("smartfactory.ingest", "smartfactory.edge", "paho", "smartfactory.sim")
    assert _offenders(_modules(SRC / "storage"), forbidden) == []


def test_the_dashboard_reads_through_query() -> None:
    """Pages and view modules get their data from `smartfactory.query`; only the connection module opens a store."""
    allowed = ("dashboard/data.py",)
    assert _offenders(_modules(DASHBOARD), ("smartfactory.storage",), allowed) == []


def test_recording_is_a_broker_client_only() -> None:
    """`record`/`replay` capture and republish the broker's bytes: no simulator, ingestion, store or read side."""
    forbidden = ("smartfactory.sim", "smartfactory.ingest", "smartfactory.storage", "smartfactory.query")
    assert _offenders(_modules(SRC / "recording"), forbidden) == []
