"""A foreign Sparkplug B edge node (pysparkplug 0.6.1, which pins paho-mqtt < 2, in a virtual environment of its own,
as a user's edge device would be) against our host application in ingestion: births and alias-only data are stored;
an edge node started before ingestion is asked for a rebirth and its later data is stored.

The venv is made once in the cache (`$XDG_CACHE_HOME` or ~/.cache, `smartfactory-tests/pysparkplug-0.6.1`) and
reused; the tests skip only when it cannot be made because PyPI is unreachable.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.services import RunningIngest, start_ingest
from smartfactory.settings import Settings, load_settings
from smartfactory.storage.sqlite import SqliteStorage
from tests.conftest import wait_until

pytestmark = pytest.mark.integration

VERSION = "0.6.1"
SCRIPT = Path(__file__).with_name("foreign") / "pysparkplug_edge.py"
GROUP, EDGE, DEVICE = "lab", "node1", "press-01"
MACHINE = f"{GROUP}/_/_/{EDGE}/{DEVICE}"  # foreign ids: group → enterprise, edge node → line (docs/wire.md)


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "smartfactory-tests" / f"pysparkplug-{VERSION}"


def _has_pysparkplug(python: Path) -> bool:
    check = f"import importlib.metadata as m, sys; sys.exit(m.version('pysparkplug') != {VERSION!r})"
    return python.exists() and subprocess.run([python, "-c", check], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def foreign_python() -> Path:
    """The python of a venv holding pysparkplug (made on first use, then reused)."""
    venv = _cache_dir()
    python = venv / "bin" / "python"
    if _has_pysparkplug(python):
        return python
    venv.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True, capture_output=True)
    install = subprocess.run(
        [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", f"pysparkplug=={VERSION}"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if install.returncode != 0:
        offline = ("connection", "network", "temporary failure", "no matching distribution", "could not find a version")
        if any(sign in install.stderr.lower() for sign in offline):
            pytest.skip(f"pysparkplug=={VERSION} cannot be installed (PyPI unreachable): {install.stderr[-300:]}")
        raise AssertionError(f"pip install pysparkplug=={VERSION} failed:\n{install.stderr[-2000:]}")
    assert _has_pysparkplug(python)
    return python


def _settings(broker: RunningBroker, tmp_path: Path) -> Settings:
    return load_settings(
        mqtt_url=broker.address.url(masked=False),
        store=f"sqlite:///{tmp_path / 'foreign.db'}",
        data_dir=tmp_path,
        ingest={"client_id": f"ingest-{tmp_path.name[-12:]}", "flush_interval": 0.05},
    )


def _edge(python: Path, broker: RunningBroker, *extra: str) -> subprocess.Popen[str]:
    address = broker.address
    command = [str(python), str(SCRIPT), address.host, str(address.port), GROUP, EDGE, DEVICE, *extra]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _report(process: subprocess.Popen[str]) -> dict[str, object]:
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, f"the foreign edge node failed ({process.returncode}): {out}\n{err[-2000:]}"
    report: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    return report


def _stored(store: SqliteStorage, sent: list[list[object]]) -> bool:
    """Whether every (metric, ts, value) the edge node sent is in the store, and nothing else."""
    for metric in {str(name) for name, _ts, _value in sent}:
        frame = store.read_series(f"{MACHINE}/telemetry/{metric}")
        want = sorted((int(str(ts)), float(str(value))) for name, ts, value in sent if name == metric)
        have = sorted(zip((int(t.value // 1_000_000) for t in frame["ts"]), frame["value"].astype(float), strict=True))
        if have != want:
            return False
    return True


def test_births_and_alias_only_data_of_a_foreign_edge_node_are_stored(
    foreign_python: Path, private_broker: RunningBroker, tmp_path: Path
) -> None:
    running: RunningIngest = start_ingest(_settings(private_broker, tmp_path))
    store = SqliteStorage(f"sqlite:///{tmp_path / 'foreign.db'}")
    try:
        report = _report(_edge(foreign_python, private_broker, "--count", "25"))
        sent = report["sent"]
        assert isinstance(sent, list)
        assert len(sent) == 5 * 26
        assert wait_until(lambda: _stored(store, sent), timeout=30)
        assert {name for name, _ts, _v in sent} == {"temperature", "parts", "level", "running", "offset"}
        assert store.read_series(f"{MACHINE}/telemetry/offset")["value"].min() == -25.0  # Int16, sign kept
        assert running.service.counters.rejected == {}
        assert report["rebirths"] == 0
    finally:
        running.stop()
        store.close()


def test_a_foreign_edge_node_started_first_is_asked_for_a_rebirth(
    foreign_python: Path, private_broker: RunningBroker, tmp_path: Path
) -> None:
    edge = _edge(foreign_python, private_broker, "--count", "10", "--data-first", "--timeout", "60")
    time.sleep(1.0)  # let it publish data no host has the births for
    running = start_ingest(_settings(private_broker, tmp_path))
    store = SqliteStorage(f"sqlite:///{tmp_path / 'foreign.db'}")
    try:
        report = _report(edge)
        assert isinstance(report["rebirths"], int)
        assert report["rebirths"] >= 1
        sent = report["sent"]
        assert isinstance(sent, list)
        assert len(sent) == 5 * 11
        assert wait_until(lambda: _stored(store, sent), timeout=30)
        counters = running.service.counters
        assert counters.contained["spb_rebirth_request"] >= 1
        assert counters.rejected["spb_no_birth"] >= 1  # the data before the birth: dead-lettered, not dropped
    finally:
        running.stop()
        store.close()
