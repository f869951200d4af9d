"""Commands no simulator may die of (issue 13), sent raw on `…/cmd` through a real broker (no CLI pre-check).

`drift rate=1e308`, `variance factor=1e308`, `breakdown duration=1e308`, `slowdown factor=1e308`,
`shift size=1e308` and garbage are each refused with a reason on the machine's event topic; the simulator keeps
running, every value it publishes stays finite and physically plausible, and a fault within bounds still works.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Iterator

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.plant import parse_plant
from smartfactory.sim.bounds import MAX_SIGMAS
from smartfactory.sim.engine import Simulation
from smartfactory.sim.loader import Catalog
from smartfactory.sim.publisher import PlantPublisher
from smartfactory.sim.runner import run
from smartfactory.wire import MessageClass
from tests.conftest import wait_until

pytestmark = pytest.mark.integration

ABSURD = [
    ("drift", "spindle_temp", {"rate": 1e308}),
    ("variance", "spindle_temp", {"factor": 1e308}),
    ("breakdown", None, {"duration": 1e308}),
    ("slowdown", None, {"factor": 1e308}),
    ("shift", "spindle_temp", {"size": 1e308}),
    ("shift", "spindle_temp", {"sigmas": -1e308}),
    ("spikes", "spindle_temp", {"size": 1e300, "prob": 1}),
    ("stop", None, {"duration": "1e308"}),
]


class Collector:
    def __init__(self, broker: RunningBroker, topic: str) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self.client = MqttClient(broker.address, on_message=self._take)
        self.client.subscribe(topic, qos=1)
        self.client.connect()

    def _take(self, message: Message) -> None:
        with self._lock:
            self.messages.append(message)

    def bodies(self, suffix: str) -> list[dict[str, object]]:
        with self._lock:
            return [json.loads(m.payload) for m in self.messages if m.topic.endswith(suffix) and m.payload]


@pytest.fixture
def running(broker: RunningBroker, catalog: Catalog, enterprise: str) -> Iterator[tuple[Simulation, threading.Thread]]:
    plant = parse_plant(
        f"""
        [plant]
        enterprise = "{enterprise}"
        site = "s"
        [[machines]]
        area = "a"
        line = "line-1"
        name = "cnc-01"
        type = "cnc_mill"
        [[machines]]
        area = "a"
        line = "line-2"
        name = "filler-01"
        type = "filler"
        """
    )
    sim = Simulation(plant, catalog, seed=7, start_ms=int(time.time() * 1000) - 60_000)
    publisher = PlantPublisher(broker.address, sim.machines, qos=1, on_command=sim.command)
    publisher.connect()
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(sim, publisher), kwargs={"speed": 20, "stop": stop}, daemon=True)
    thread.start()
    yield sim, thread
    stop.set()
    thread.join(10)
    publisher.close()


def test_absurd_fault_parameters_are_refused_on_the_event_topic_and_the_simulator_lives(
    broker: RunningBroker, running: tuple[Simulation, threading.Thread], enterprise: str
) -> None:
    sim, thread = running
    cnc = sim.machines[0]
    sd = cnc.live.signal_sd("spindle_temp")
    seen = Collector(broker, f"{enterprise}/#")
    sender = MqttClient(broker.address)
    sender.connect()
    try:
        cmd = cnc.path.topic(MessageClass.CMD)
        for fault, sensor, params in ABSURD:
            body = {"action": "inject", "fault": fault, "params": params, **({"sensor": sensor} if sensor else {})}
            sender.publish(cmd, json.dumps(body).encode(), qos=1)
        sender.publish(cmd, b"\x00 not a command", qos=1)
        assert sender.wait_published(10)

        def rejected() -> list[dict[str, object]]:
            return [e for e in seen.bodies("cnc-01/event") if e["kind"] == "rejected"]

        assert wait_until(lambda: len(rejected()) == len(ABSURD), timeout=20), seen.bodies("cnc-01/event")
        reasons = [str(e["params"]["reason"]) for e in rejected()]  # type: ignore[index]
        assert [e["fault"] for e in rejected()] == [fault for fault, _, _ in ABSURD]
        assert all(reason for reason in reasons)
        assert "at most" in reasons[0]
        assert "out of range" in reasons[1]
        assert not any(e["kind"] == "fault" for e in seen.bodies("cnc-01/event"))  # none of them applied

        # a fault within bounds still works, and the machine keeps publishing plausible values
        ok = {"action": "inject", "fault": "shift", "sensor": "spindle_temp", "params": {"size": 5 * sd}}
        sender.publish(cmd, json.dumps(ok).encode(), qos=1)
        assert wait_until(lambda: any(e["kind"] == "fault" for e in seen.bodies("cnc-01/event")), timeout=20)
        before = len(seen.bodies("cnc-01/telemetry"))
        assert wait_until(lambda: len(seen.bodies("cnc-01/telemetry")) > before + 5, timeout=20)
        assert thread.is_alive()
        assert all(m.run.broken is None for m in sim.machines)
        for body in seen.bodies("/telemetry"):
            samples = body.get("batch") or [body]
            for sample in samples:  # type: ignore[union-attr]
                for value in sample["values"].values():  # type: ignore[index]
                    assert math.isfinite(value)
                    assert abs(value) < 1e9
        temps = [
            s["values"]["spindle_temp"]  # type: ignore[index]
            for body in seen.bodies("cnc-01/telemetry")
            for s in (body.get("batch") or [body])  # type: ignore[union-attr]
            if "spindle_temp" in s["values"]  # type: ignore[index]
        ]
        assert max(temps) - min(temps) < MAX_SIGMAS * sd
    finally:
        sender.close()
        seen.client.close()
