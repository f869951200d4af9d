"""The bridge with real peers: the simulator's OPC UA server, mosquitto, ingestion and a SQLite store.

Readings, parts, states and machine facts the bridge carries are stored, in wire format v1 and as Sparkplug B
(ingestion's Sparkplug host); killing the server with SIGKILL and starting it again, the bridge reconnects and its
readings after the restart are stored too.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.sparkplug import SparkplugEdgeNodes
from smartfactory.opcua.bridge import BridgeOptions
from smartfactory.opcua.outbox import Outbox
from smartfactory.services import RunningIngest, RunningSimulator, start_simulator
from smartfactory.settings import Settings, load_settings
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import MessageClass, QualityPayload, StatePayload, Topic, parse_ts
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


class _Tap:
    """A sink in front of another that keeps the wire-v1 messages it forwards: what the bridge made of the server's
    values, as the wire v1 bridge would publish them."""

    def __init__(self, sink: SparkplugEdgeNodes) -> None:
        self.sink = sink
        self.messages: list[tuple[Topic, bytes]] = []

    def __call__(self, topic: str, payload: bytes, retain: bool) -> None:
        self.messages.append((Topic.parse(topic), payload))
        self.sink(topic, payload, retain)

    def close(self) -> None:
        self.sink.close()

    def readings(self) -> dict[str, dict[int, float]]:
        """series → {ts: value} of the telemetry messages."""
        out: dict[str, dict[int, float]] = {}
        for topic, payload in self.messages:
            if topic.cls is MessageClass.TELEMETRY:
                body = json.loads(payload)
                for sample in body.get("batch", (body,)):
                    for name, value in sample["values"].items():
                        out.setdefault(topic.path.series(name), {})[parse_ts(sample["ts"])] = value
        return out

    def parts(self) -> set[tuple[str, int, str, bool]]:
        return {
            (str(t.path), q.ts, q.part_id, q.verdict == "good")
            for t, q in ((t, QualityPayload.from_bytes(p)) for t, p in self.messages if t.cls is MessageClass.QUALITY)
        }

    def states(self) -> set[tuple[str, int, str]]:
        return {
            (str(t.path), s.ts, s.state)
            for t, s in ((t, StatePayload.from_bytes(p)) for t, p in self.messages if t.cls is MessageClass.STATE)
        }


Carried = tuple[dict[str, dict[int, float]], set[tuple[str, int, str, bool]], set[tuple[str, int, str]]]


def _stored(store: SqliteStorage) -> Carried:
    """What the store holds, in `_Tap`'s terms: readings by series, parts and states."""
    readings = {}
    for info in store.list_series():
        frame = store.read_series(info.series)
        readings[info.series] = {
            ts.value // 1_000_000: float(v) for ts, v in zip(frame["ts"], frame["value"], strict=True)
        }
    parts = {(p.machine, p.ts_ms, p.part_id, p.good) for p in store.read_parts()}
    states = {(s.machine, s.ts_ms, s.state) for s in store.read_states()}
    return readings, parts, states


def test_as_sparkplug_b_the_bridged_readings_land_under_the_same_series_as_wire_v1(
    simulator: RunningSimulator,
    ingest: RunningIngest,
    broker: RunningBroker,
    bridge_options: BridgeOptions,
    pipeline_settings: Settings,
) -> None:
    """`bridge opcua --format sparkplug`: edge nodes and devices made from the bridge's births; ingestion's Sparkplug
    host stores exactly the readings, parts and states the wire v1 messages carried, under the same series."""
    nodes = SparkplugEdgeNodes(broker.address, adopt=True, client_prefix="smartfactory-test-opcua-spb")
    nodes.connect()
    tap = _Tap(nodes)
    outbox = Outbox.of(tap)
    bridge = BridgeThread(bridge_options, outbox)
    store = SqliteStorage(pipeline_settings.store)
    try:
        try:
            assert wait_until(lambda: store.count_readings() >= 50 and len(store.read_parts()) >= 2, 30)
        finally:
            bridge.stop()
            outbox.close()  # the machines' DDEATHs, then each node's NDEATH
        expected: Carried = (tap.readings(), tap.parts(), tap.states())
        wait_until(lambda: _stored(store) == expected, 10)  # until what is on its way is stored
        readings, parts, states = _stored(store)
        infos = store.read_machine_info()
    finally:
        store.close()
    assert bridge.error is None
    assert outbox.dropped == 0
    assert nodes.dropped == 0
    assert len(nodes.nodes) == len({m.path.line_id for m in simulator.simulation.machines})  # an edge node per line
    assert set(infos) == {str(m.path) for m in simulator.simulation.machines}  # each DBIRTH's `_sf/status`
    assert infos[CNC].signals["diameter"].lsl == simulator.simulation.machines[0].info.signals["diameter"].lsl
    process = {CNC + "/telemetry/" + name for name, s in infos[CNC].signals.items() if s.kind == "process"}
    assert process
    assert all(readings.get(series) for series in process)  # values for each sensor of the machine
    assert readings == expected[0]  # the same series, instants and values as the wire v1 messages
    assert len(parts) >= 2
    assert parts == expected[1]
    assert states
    assert states == expected[2]


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
