"""Node maps: browsing our server into one, its YAML round trip, bad files, and a bridge that follows a hand-made
map (a subset of the nodes, by namespace index as a foreign server's map would give them)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from smartfactory.errors import ConfigError
from smartfactory.opcua.bridge import BridgeOptions
from smartfactory.opcua.browse import browse_endpoint
from smartfactory.opcua.nodemap import NodeMap, load_node_map
from smartfactory.opcua.security import Security
from smartfactory.opcua.server import PlantServer
from smartfactory.wire import MachineInfo, MachinePath, MessageClass, SignalInfo
from tests.conftest import wait_until
from tests.opcua.conftest import BridgeThread

PATH = MachinePath("acme", "plant1", "area", "line-1", "m-01")
INFO = MachineInfo(
    machine_type="press",
    ideal_cycle_s=12.0,
    signals={
        "temp": SignalInfo(kind="process", unit="°C"),
        "force": SignalInfo(kind="process", unit="kN"),
        "width": SignalInfo(kind="quality", unit="mm", lsl=9.9, usl=10.1),
    },
)


@pytest.fixture
def server(endpoint: str) -> Iterator[PlantServer]:
    running = PlantServer(endpoint, [(PATH, INFO)])
    running.start()
    yield running
    running.close()


def test_browsing_our_server_gives_a_node_map_that_round_trips_through_yaml(server: PlantServer, endpoint: str) -> None:
    found = asyncio.run(browse_endpoint(endpoint, Security()))
    assert [m.path for m in found.machines] == [str(PATH)]
    machine = found.machines[0]
    assert machine.info() == INFO.model_copy(update={"faults": None})  # kinds, units, limits, type, cycle time
    assert machine.state is not None
    assert machine.part_id is not None
    assert machine.verdict is not None
    assert NodeMap.from_yaml(found.to_yaml()) == found


def test_a_bad_node_map_is_refused_with_the_reason(tmp_path: Path) -> None:
    bad = tmp_path / "nodes.yaml"
    bad.write_text("machines:\n  - path: not/a/machine\n    signals: {}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="enterprise/site/area/line/machine"):
        load_node_map(bad)
    bad.write_text("machines: [\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_node_map(bad)


def test_the_bridge_follows_a_hand_made_node_map(server: PlantServer, endpoint: str) -> None:
    index = server.node_id(PATH, "temp").NamespaceIndex
    node_map = NodeMap.from_yaml(
        f"""
machines:
  - path: lab/cell/area/line/press-7
    machine_type: press
    signals:
      temperature: {{node: "ns={index};s={PATH}/temp", unit: degC}}
      wrong: {{node: "ns={index};s={PATH}/Status"}}
"""
    )
    sent: list[tuple[str, bytes, bool]] = []
    bridge = BridgeThread(BridgeOptions(endpoint=endpoint, node_map=node_map, flush_s=0.05), lambda *m: sent.append(m))
    try:
        assert wait_until(lambda: bridge.bridge.stats.connected, 30)
        for ts, value in ((1_700_000_000_000, 20.5), (1_700_000_001_000, 20.5), (1_700_000_002_000, 21.0)):
            body = json.dumps({"ts": ts, "values": {"temp": value, "force": 3.0}}).encode()
            server(PATH.topic(MessageClass.TELEMETRY), body, False)
        server(PATH.topic(MessageClass.STATUS), b'{"status": "online", "ts": 1700000000000}', True)
        assert wait_until(lambda: bridge.bridge.stats.readings >= 3 and bridge.bridge.stats.bad >= 1, 20)
    finally:
        bridge.stop()
    mapped = MachinePath.parse("lab/cell/area/line/press-7")
    telemetry = [json.loads(p) for t, p, _ in sent if t == mapped.topic(MessageClass.TELEMETRY)]
    readings = [(sample["ts"], sample["values"]) for message in telemetry for sample in message.get("batch", [message])]
    values = [v for _, values in readings for v in values.values()]
    names = {name for _, values in readings for name in values}
    assert names == {"temperature"}  # only what the map names, under its name; `force` is not in it, and the
    # text of `Status` mapped as a signal is counted bad, not published
    assert bridge.error is None
    assert values == [20.5, 20.5, 21.0]  # a repeated value is a reading of its own (a new SourceTimestamp)
    assert all(t.startswith("lab/cell/area/line/press-7/") for t, _, _ in sent)


def test_the_command_writes_the_browsed_node_map(server: PlantServer, endpoint: str, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from smartfactory.cli import main

    out = tmp_path / "nodes.yaml"
    result = CliRunner().invoke(main, ["bridge", "opcua", "--endpoint", endpoint, "--write-nodes", str(out)])
    assert result.exit_code == 0, result.output
    written = load_node_map(out)
    assert [m.path for m in written.machines] == [str(PATH)]
    assert set(written.machines[0].signals) == set(INFO.signals)
    missing = CliRunner().invoke(
        main, ["bridge", "opcua", "--endpoint", "opc.tcp://127.0.0.1:1", "--write-nodes", str(out)]
    )
    assert missing.exit_code == 1
    assert "cannot browse" in missing.output


def test_a_deadband_drops_changes_smaller_than_it(server: PlantServer, endpoint: str) -> None:
    """`--deadband` (OPC 10000-4 7.22.1, DataChangeFilter, absolute): a change within the deadband is not
    reported. The spec compares with the last value reported; asyncua's server (the simulator's) compares with the
    previous sample, so the values here are chosen so that both give the same answer (docs/opcua.md)."""
    index = server.node_id(PATH, "temp").NamespaceIndex
    node_map = NodeMap.from_yaml(
        f"""
machines:
  - path: lab/cell/area/line/press-7
    machine_type: press
    signals:
      temperature: {{node: "ns={index};s={PATH}/temp", unit: degC}}
"""
    )
    sent: list[tuple[str, bytes, bool]] = []
    options = BridgeOptions(endpoint=endpoint, node_map=node_map, flush_s=0.05, deadband=0.25)
    bridge = BridgeThread(options, lambda *m: sent.append(m))
    series = [20.0, 20.1, 21.0, 21.1, 22.0, 22.05, 21.0]  # within 0.25 of the one before, or beyond it from both
    try:
        # the monitored item exists once its first notification (the node's initial value) has arrived
        assert wait_until(lambda: bridge.bridge.stats.changes >= 1, 30)
        for k, value in enumerate(series):
            body = json.dumps({"ts": 1_700_000_000_000 + 1000 * k, "values": {"temp": value}}).encode()
            server(PATH.topic(MessageClass.TELEMETRY), body, False)
            time.sleep(0.15)  # one change per sample of the server
        assert wait_until(lambda: bridge.bridge.stats.readings >= 3, 20)
        time.sleep(0.5)  # anything more the filter let through would have arrived by now
    finally:
        bridge.stop()
    assert bridge.error is None
    mapped = MachinePath.parse("lab/cell/area/line/press-7")
    telemetry = [json.loads(p) for t, p, _ in sent if t == mapped.topic(MessageClass.TELEMETRY)]
    values = [v for m in telemetry for sample in m.get("batch", [m]) for v in sample["values"].values()]
    # asyncua's server drops the first change after a node's empty initial value (it cannot subtract from it)
    assert values[-3:] == [21.0, 22.0, 21.0]
    assert values[:-3] in ([], [20.0])  # 20.1, 21.1 and 22.05 were within the deadband
