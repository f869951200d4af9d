"""The OPC UA commands as a user runs them, as processes with real peers: `smartfactory bridge opcua` against
`smartfactory simulate --no-mqtt --opcua-endpoint` and mosquitto, stopped with SIGTERM, in both formats; and
`simulate --no-mqtt`, which serves OPC UA and publishes nothing over MQTT.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from asyncua import Client

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.sparkplug.payload import decode_payload
from smartfactory.sparkplug.topic import SparkplugTopic
from smartfactory.wire import MessageClass, StatusPayload, Topic
from tests.conftest import path_with_interpreter_bin, wait_until
from tests.opcua.conftest import ServerProcess

pytestmark = pytest.mark.integration
NS = "urn:smartfactory:plant"
#: the default plant: its machines and their lines (simulators/plants/default.toml)
CNC = "acme/plant1/machining/line-1/cnc-01"


class Listener:
    """An MQTT subscriber that keeps every message it receives on `pattern`."""

    def __init__(self, broker: RunningBroker, pattern: str) -> None:
        self._lock = threading.Lock()
        self._messages: list[Message] = []
        self.client = MqttClient(broker.address, client_id=f"test-listener-{os.getpid()}", on_message=self._take)
        self.client.subscribe(pattern, qos=1)
        self.client.connect()  # returns once the broker confirmed the subscription

    def _take(self, message: Message) -> None:
        with self._lock:
            self._messages.append(message)

    @property
    def messages(self) -> list[Message]:
        with self._lock:
            return list(self._messages)

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def simulate(endpoint: str, tmp_path: Path) -> Iterator[ServerProcess]:
    """`simulate --no-mqtt --opcua-endpoint …` at 20× so that values change several times a second."""
    process = ServerProcess(endpoint, tmp_path, "--speed", "20")
    process.start()
    yield process
    process.stop()


class BridgeCommand:
    """`python -m smartfactory bridge opcua …` as a child process with its stderr in a file."""

    def __init__(self, data_dir: Path, *args: str) -> None:
        self.log = data_dir / "bridge.log"
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")},
            "PATH": path_with_interpreter_bin(),
            "SMARTFACTORY_DATA_DIR": str(data_dir / "bridge"),
        }
        with self.log.open("wb") as out:
            self.child = subprocess.Popen(
                [sys.executable, "-m", "smartfactory", "bridge", "opcua", *args], env=env, stdout=out, stderr=out
            )

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def terminate(self, timeout: float = 30) -> int:
        """SIGTERM, as a service manager stops it; its exit code."""
        self.child.send_signal(signal.SIGTERM)
        return self.child.wait(timeout)

    def counters(self) -> dict[str, Any]:
        """The JSON of the last `stopped: {…}` line."""
        lines = [line for line in self.output().splitlines() if line.startswith("stopped: ")]
        assert lines, f"no `stopped:` line in the bridge's output:\n{self.output()}"
        return dict(json.loads(lines[-1].removeprefix("stopped: ")))

    def kill(self) -> None:
        if self.child.poll() is None:
            self.child.kill()
            self.child.wait(10)


def _bridge(data_dir: Path, endpoint: str, broker: RunningBroker, wire_format: str) -> BridgeCommand:
    url = broker.address.url(masked=False)
    return BridgeCommand(data_dir, "--endpoint", endpoint, "--mqtt-url", url, "--format", wire_format)


def _kinds(messages: list[Message]) -> list[str]:
    return [SparkplugTopic.parse(m.topic).message_type for m in messages if not m.topic.startswith("spBv1.0/STATE")]


def test_bridge_command_as_sparkplug_births_data_and_deaths_then_counters_at_sigterm(
    simulate: ServerProcess, endpoint: str, broker: RunningBroker, tmp_path: Path
) -> None:
    """`bridge opcua --format sparkplug`: an edge node per line (NBIRTH), a device per machine (DBIRTH), DDATA of the
    server's changing values; SIGTERM ends it with exit 0, each device's DDEATH and node's NDEATH, and counters."""
    listener = Listener(broker, "spBv1.0/#")
    try:
        bridge = _bridge(tmp_path, endpoint, broker, "sparkplug")
        try:
            assert wait_until(
                lambda: _kinds(listener.messages).count("DDATA") >= 5 or bridge.child.poll() is not None, 60
            )
            assert bridge.child.poll() is None, bridge.output()
            assert bridge.terminate() == 0, bridge.output()
        finally:
            bridge.kill()
        assert wait_until(lambda: _kinds(listener.messages).count("NDEATH") == 2, 10)  # a line's node each
        messages = listener.messages
    finally:
        listener.close()
    parsed = [(SparkplugTopic.parse(m.topic), m) for m in messages]
    kinds = [t.message_type for t, _ in parsed]
    nodes = {t.edge_node_id for t, _ in parsed if t.message_type == "NBIRTH"}
    devices = {(t.edge_node_id, t.device_id) for t, _ in parsed if t.message_type == "DBIRTH"}
    assert nodes == {"plant1:machining:line-1", "plant1:packaging:line-2"}  # an edge node per line
    assert ("plant1:machining:line-1", "cnc-01") in devices
    assert len(devices) == 4  # a device per machine of the default plant
    for node, device in devices:  # on each node's connection: NBIRTH, the device's DBIRTH, then its data
        own = [t.message_type for t, _ in parsed if t.edge_node_id == node and t.device_id in (None, device)]
        assert own[:2] == ["NBIRTH", "DBIRTH"]
    assert "DDATA" in kinds
    data = [decode_payload(m.payload) for t, m in parsed if t.message_type == "DDATA"]
    assert any(isinstance(metric.value, float) for body in data for metric in body.metrics)  # readings
    assert {(t.edge_node_id, t.device_id) for t, _ in parsed if t.message_type == "DDEATH"} == devices
    assert {t.edge_node_id for t, _ in parsed if t.message_type == "NDEATH"} == nodes
    for node in nodes:  # nothing of a node after its death
        assert [t.message_type for t, _ in parsed if t.edge_node_id == node][-1] == "NDEATH"
    counters = bridge.counters()
    assert counters["messages"] > 0
    assert counters["readings"] > 0
    assert counters["mqtt_sent"] == counters["messages"]  # each wire-v1 message (births too) taken by the edge nodes
    assert counters["mqtt_dropped"] == 0
    assert (counters["connects"], counters["outages"], counters["connected"]) == (1, 0, False)


def test_bridge_command_as_wire_v1_telemetry_and_status_then_counters_at_sigterm(
    simulate: ServerProcess, endpoint: str, broker: RunningBroker, tmp_path: Path
) -> None:
    """`bridge opcua` (wire v1, the default format): births, telemetry of each machine; SIGTERM gives exit 0, each
    machine `offline` and the counters, and nothing under `spBv1.0`."""
    listener = Listener(broker, "#")
    try:
        bridge = _bridge(tmp_path, endpoint, broker, "uns")
        try:

            def telemetry() -> int:
                return sum(1 for m in listener.messages if m.topic.endswith("/telemetry"))

            assert wait_until(lambda: telemetry() >= 5 or bridge.child.poll() is not None, 60)
            assert bridge.child.poll() is None, bridge.output()
            assert bridge.terminate() == 0, bridge.output()
        finally:
            bridge.kill()
        assert wait_until(lambda: sum(b"offline" in m.payload for m in listener.messages) == 4, 10)
        messages = listener.messages
    finally:
        listener.close()
    assert not [m.topic for m in messages if m.topic.startswith("spBv1.0/")]
    topics = [Topic.parse(m.topic) for m in messages]
    status = [
        (str(t.path), StatusPayload.from_bytes(m.payload).status)
        for t, m in zip(topics, messages, strict=True)
        if t.cls is MessageClass.STATUS
    ]
    machines = {path for path, _ in status}
    assert CNC in machines
    assert len(machines) == 4
    assert [s for path, s in status if path == CNC] == ["online", "offline"]
    assert f"{CNC}/telemetry" in {m.topic for m in messages}
    counters = bridge.counters()
    assert counters["messages"] > 0
    assert counters["readings"] > 0
    assert counters["mqtt_sent"] == counters["messages"]  # every message the bridge made reached the broker
    assert counters["mqtt_dropped"] == 0
    assert (counters["connects"], counters["outages"]) == (1, 0)


def test_simulate_no_mqtt_serves_opc_ua_and_publishes_nothing_on_mqtt(
    endpoint: str, broker: RunningBroker, tmp_path: Path
) -> None:
    """`simulate --no-mqtt --opcua-endpoint …`, pointed at a broker with `--mqtt-url`: while an OPC UA client reads
    changing values from it, a subscriber to `#` on that broker receives nothing (apart from its own marker)."""
    listener = Listener(broker, "#")
    process = ServerProcess(endpoint, tmp_path, "--speed", "20", "--mqtt-url", broker.address.url(masked=False))
    try:
        process.start()

        async def read_changes() -> list[object]:
            async with Client(endpoint) as client:
                ns = await client.get_namespace_index(NS)
                node = await client.nodes.objects.get_child([f"{ns}:{level}" for level in CNC.split("/")])
                spindle = await node.get_child(f"{ns}:spindle_temp")
                stamps: list[object] = []
                deadline = time.monotonic() + 20
                while len(set(stamps)) < 5 and time.monotonic() < deadline:
                    value = await spindle.read_data_value(raise_on_bad_status=False)
                    if value.StatusCode.is_good() and value.SourceTimestamp not in stamps:
                        stamps.append(value.SourceTimestamp)
                    await asyncio.sleep(0.05)
                return stamps

        stamps = asyncio.run(read_changes())
        assert process.child is not None
        assert process.child.poll() is None, process.log.read_text()
        marker = f"test/{tmp_path.name}/marker"  # everything the broker had for us before it has arrived by then
        listener.client.publish(marker, b"x", qos=1)
        assert wait_until(lambda: any(m.topic == marker for m in listener.messages), 10)
        messages = listener.messages
    finally:
        process.stop()
        listener.close()
    assert len(set(stamps)) >= 5  # the server's values changed during the run
    assert [m.topic for m in messages] == [marker]
    assert process.child is not None
    assert process.child.returncode == 0, process.log.read_text()
