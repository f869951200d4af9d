"""The bridge with real peers: the simulator's OPC UA server, mosquitto, ingestion and a SQLite store.

Readings, parts, states and machine facts the bridge carries are stored; killing the server with SIGKILL and
starting it again, the bridge reconnects and its readings after the restart are stored too.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartfactory.opcua.bridge import BridgeOptions
from smartfactory.opcua.outbox import Outbox
from smartfactory.services import RunningIngest, RunningSimulator, start_simulator
from smartfactory.settings import Settings, load_settings
from smartfactory.storage.sqlite import SqliteStorage
from tests.conftest import wait_until
from tests.opcua.conftest import BridgeThread, ServerProcess

pytestmark = pytest.mark.integration
CNC = "acme/plant1/machining/line-1/cnc-01"


def _newest(store_url: str, series: str) -> int | None:
    store = SqliteStorage(store_url)
    try:
        frame = store.read_series(series)
    finally:
        store.close()
    return None if frame.empty else int(frame["ts"].max().value // 1_000_000)  # a pandas Timestamp, in ns


@pytest.fixture
def simulator(endpoint: str, tmp_path: Path) -> Iterator[RunningSimulator]:
    running = start_simulator(load_settings(data_dir=tmp_path / "sim"), speed=20, opcua_endpoint=endpoint, mqtt=False)
    yield running
    running.stop()


@pytest.fixture
def bridge_options(endpoint: str) -> BridgeOptions:
    return BridgeOptions(endpoint=endpoint, flush_s=0.05)


def test_the_bridges_readings_parts_and_states_reach_the_store(
    simulator: RunningSimulator,
    ingest: RunningIngest,
    outbox: Outbox,
    bridge_options: BridgeOptions,
    pipeline_settings: Settings,
) -> None:
    bridge = BridgeThread(bridge_options, outbox)
    try:
        store = SqliteStorage(pipeline_settings.store)
        try:
            assert wait_until(lambda: store.count_readings() >= 50 and len(store.read_parts()) >= 2, 60)
            infos = store.read_machine_info()
            series = {s.series for s in store.list_series()}
            states = store.read_states(CNC)
        finally:
            store.close()
    finally:
        bridge.stop()
    assert bridge.error is None
    machines = {str(m.path) for m in simulator.simulation.machines}
    assert set(infos) == machines  # every machine's birth, with its facts from the OPC UA properties
    assert infos[CNC].signals["diameter"].lsl == simulator.simulation.machines[0].info.signals["diameter"].lsl
    assert f"{CNC}/telemetry/spindle_temp" in series
    assert states
    assert states[0].state in {"running", "idle", "setup", "down", "planned"}
    stats = bridge.bridge.stats
    assert stats.readings >= 50
    assert stats.parts >= 2
    assert stats.outages == 0


@pytest.mark.slow
def test_after_a_kill_9_and_restart_of_the_server_the_bridge_resumes(
    server_process: ServerProcess,
    ingest: RunningIngest,
    outbox: Outbox,
    bridge_options: BridgeOptions,
    pipeline_settings: Settings,
) -> None:
    series = f"{CNC}/telemetry/spindle_temp"
    server_process.start()
    bridge = BridgeThread(bridge_options, outbox)
    try:
        assert wait_until(lambda: _newest(pipeline_settings.store, series) is not None, 60)
        server_process.kill()
        killed_ms = int(time.time() * 1000)  # any reading stamped later comes from the restarted server
        assert wait_until(lambda: bridge.bridge.stats.outages == 1 and not bridge.bridge.stats.connected, 30)
        server_process.start()  # listening again: the bridge must be back within 20 s
        assert wait_until(lambda: (_newest(pipeline_settings.store, series) or 0) > killed_ms, 20), (
            f"no reading from the restarted server within 20 s; bridge: {bridge.bridge.stats}"
        )
    finally:
        bridge.stop()
    stats = bridge.bridge.stats
    assert bridge.error is None
    assert stats.connects == 2
    assert stats.outages == 1
    assert stats.last_gap is not None
    assert stats.last_gap["no_session_s"] > 0
