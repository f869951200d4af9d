"""The simulator on a real broker: birth and last will per machine, commands, QoS 1 across a broker restart,
and bounded memory with back-pressure while the broker is away."""

from __future__ import annotations

import json
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from smartfactory.cli import main
from smartfactory.edge.broker import RunningBroker, start_mosquitto
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.plant import Plant, parse_plant
from smartfactory.sim.engine import Simulation
from smartfactory.sim.loader import Catalog
from smartfactory.sim.publisher import PlantPublisher
from smartfactory.sim.runner import run
from smartfactory.wire import StatusPayload, parse_ts
from tests.conftest import HAVE_MOSQUITTO, wait_until

pytestmark = pytest.mark.integration


def small_plant(enterprise: str) -> Plant:
    return parse_plant(
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
        ideal_cycle_s = 1.5
        [machines.quality.fill_weight]
        usl = 510.0
        """
    )


class Listener:
    """A subscriber that keeps every message it gets (optionally with a persistent session)."""

    def __init__(self, broker: RunningBroker, topic: str, client_id: str = "", persistent: bool = False) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self.client = MqttClient(broker.address, client_id=client_id, persistent=persistent, on_message=self._on)
        self.client.subscribe(topic, qos=1)
        self.client.connect()

    def _on(self, message: Message) -> None:
        with self._lock:
            self.messages.append(message)

    def received(self) -> list[Message]:
        with self._lock:
            return list(self.messages)

    def payloads(self, suffix: str) -> list[bytes]:
        with self._lock:
            return [m.payload for m in self.messages if m.topic.endswith(suffix)]


@pytest.fixture
def sim(catalog: Catalog, enterprise: str) -> Simulation:
    return Simulation(small_plant(enterprise), catalog, seed=5, start_ms=int(time.time() * 1000) - 3_600_000)


@pytest.fixture
def listener(broker: RunningBroker, enterprise: str) -> Iterator[Listener]:
    got = Listener(broker, f"{enterprise}/#")
    yield got
    got.client.close()


def statuses(broker: RunningBroker, enterprise: str) -> dict[str, dict[str, object]]:
    """The latest status of every machine, as a fresh subscriber sees it (retained, or live if it came later)."""
    fresh = Listener(broker, f"{enterprise}/+/+/+/+/status")

    def latest() -> dict[str, dict[str, object]]:
        # births go out asynchronously: on a loaded machine one may reach the broker after this subscriber,
        # and then it arrives live (retain flag clear) rather than retained; either way it is the latest status
        return {m.topic.split("/")[4]: json.loads(m.payload) for m in fresh.received()}

    wait_until(lambda: len(latest()) >= 2, timeout=10)
    fresh.client.close()
    return latest()


def test_each_machine_has_its_own_birth_and_last_will(broker: RunningBroker, sim: Simulation, enterprise: str) -> None:
    publisher = PlantPublisher(broker.address, sim.machines, qos=1)
    publisher.connect()
    born = statuses(broker, enterprise)
    assert {name: s["status"] for name, s in born.items()} == {"cnc-01": "online", "filler-01": "online"}
    assert all("ts" in s for s in born.values())
    # the birth tells readers the machine's facts, the plant file's changes applied
    filler = StatusPayload.model_validate(born["filler-01"]).info
    assert filler is not None
    assert (filler.machine_type, filler.ideal_cycle_s, filler.sample_interval_s) == ("filler", 1.5, 1.0)
    weight = filler.signals["fill_weight"]
    assert (weight.kind, weight.unit, weight.lsl, weight.usl, weight.target) == ("quality", "g", 495.0, 510.0, 502.0)
    assert filler.signals["reject_count"].kind == "count"
    assert filler.signals["conveyor_speed"].kind == "process"
    cnc = StatusPayload.model_validate(born["cnc-01"]).info
    assert cnc is not None
    assert set(cnc.signals) == {"spindle_temp", "vibration_rms", "spindle_speed", "power", "diameter"}
    publisher.abort()  # the process dies: the broker publishes each machine's last will
    assert wait_until(lambda: {s["status"] for s in statuses(broker, enterprise).values()} == {"offline"}, timeout=10)
    assert all("ts" not in s for s in statuses(broker, enterprise).values())  # a will is written at connect time


def test_a_clean_stop_marks_every_machine_offline(broker: RunningBroker, sim: Simulation, enterprise: str) -> None:
    publisher = PlantPublisher(broker.address, sim.machines, qos=1)
    publisher.connect()
    publisher.close()
    final = statuses(broker, enterprise)
    assert {s["status"] for s in final.values()} == {"offline"}
    assert all("ts" in s for s in final.values())


def test_inject_over_mqtt_becomes_a_ground_truth_event_at_the_simulated_instant(
    broker: RunningBroker, sim: Simulation, listener: Listener
) -> None:
    publisher = PlantPublisher(broker.address, sim.machines, qos=1, on_command=sim.command)
    publisher.connect()
    stop = threading.Event()
    thread = threading.Thread(target=run, args=(sim, publisher), kwargs={"speed": 1, "stop": stop}, daemon=True)
    thread.start()
    url = broker.address.url(masked=False)
    runner = CliRunner()
    cnc = str(sim.machines[0].path)
    result = runner.invoke(main, ["inject", "--mqtt-url", url, cnc, "tool_wear", "--param", "k=3"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["inject", "--mqtt-url", url, cnc, "shift", "--sensor", "power", "--param", "size=2"])
    assert result.exit_code == 0, result.output
    assert wait_until(lambda: len(listener.payloads("cnc-01/event")) == 2, timeout=10)
    runner.invoke(main, ["inject", "--mqtt-url", url, cnc, "--clear"])
    assert wait_until(lambda: len(listener.payloads("cnc-01/event")) == 4, timeout=10)
    stop.set()
    thread.join(5)
    publisher.close()
    events = [json.loads(p) for p in listener.payloads("cnc-01/event")]
    assert [(e["kind"], e["fault"]) for e in events] == [
        ("fault", "tool_wear"),
        ("fault", "shift"),
        ("repair", "tool_wear"),
        ("repair", "shift"),
    ]
    assert events[0]["params"] == {"k": 3.0}
    assert events[1]["sensor"] == "power"
    # the event time is simulated time: one hour behind the wall clock here, because the run started an hour ago
    lag_s = time.time() - parse_ts(events[0]["ts"]) / 1000
    assert 3500 < lag_s < 3700


def test_inject_refuses_unknown_faults_and_sensors_before_sending(
    broker: RunningBroker, sim: Simulation, listener: Listener
) -> None:
    """Checked against the births on the broker (the fault catalogue), so nothing reaches the simulator."""
    publisher = PlantPublisher(broker.address, sim.machines, qos=1, on_command=sim.command)
    publisher.connect()  # born, but not running: a command would not even be answered
    url = broker.address.url(masked=False)
    runner = CliRunner()
    result = runner.invoke(main, ["inject", "--mqtt-url", url, "cnc-01", "melt"])
    assert result.exit_code != 0
    assert "knows no fault 'melt'" in result.output
    result = runner.invoke(main, ["inject", "--mqtt-url", url, "line-1/cnc-01", "shift", "--sensor", "humidity"])
    assert result.exit_code != 0
    assert "not on 'humidity'" in result.output
    result = runner.invoke(main, ["inject", "--mqtt-url", url, "cnc-9", "shift"])
    assert result.exit_code != 0
    assert "is not a machine of the running plant" in result.output
    publisher.close()
    assert listener.payloads("/cmd") == []


@pytest.mark.slow
@pytest.mark.private_broker
@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="needs mosquitto with persistence (apt-get install mosquitto)")
def test_nothing_published_at_qos_1_is_lost_across_a_broker_restart(
    broker: RunningBroker, sim: Simulation, enterprise: str, tmp_path: Path
) -> None:
    sub = Listener(broker, f"{enterprise}/#", client_id=f"sub-{enterprise}", persistent=True)
    publisher = PlantPublisher(broker.address, sim.machines, qos=1)
    publisher.connect()
    sent: list[bytes] = []

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        if topic.endswith("/telemetry"):
            sent.append(payload)
        publisher(topic, payload, retain)

    stop = threading.Event()
    thread = threading.Thread(target=run, args=(sim, publish), kwargs={"speed": 40, "stop": stop}, daemon=True)
    thread.start()
    restarted: RunningBroker | None = None
    try:
        assert wait_until(lambda: len(sent) >= 80, timeout=60)  # publishing while the broker is up
        broker.stop()  # SIGTERM: mosquitto saves sessions and retained messages
        down_at = time.time()
        assert wait_until(lambda: not any(c.connected for c in publisher.clients), timeout=30)
        at_down = len(sent)
        assert wait_until(lambda: len(sent) >= at_down + 40, timeout=60)  # and while it is away (held at QoS 1)
        restarted = start_mosquitto(broker.address, tmp_path / "broker")
        assert wait_until(lambda: all(c.connected for c in publisher.clients), timeout=60)
        at_up = len(sent)
        assert wait_until(lambda: len(sent) > max(at_up + 40, 200), timeout=60)  # and after it is back
        stop.set()
        thread.join(10)
        assert publisher.wait_published(20)
        expected = set(sent)
        assert len(expected) > 200
        assert wait_until(lambda: expected <= set(sub.payloads("/telemetry")), timeout=20)
        # distinct payloads: a birth sent while the listener was away arrives queued and again as the retained
        # message when its reconnect resubscribes (MQTT sets the retain flag only on the second copy)
        births = [json.loads(p) for p in set(sub.payloads("/status"))]
        reborn = [b for b in births if b["status"] == "online" and parse_ts(b["ts"]) / 1000 > down_at]
        assert len(reborn) == 2  # each machine said "online" again after its reconnect
    finally:
        publisher.close()
        sub.client.close()
        if restarted is not None:
            restarted.stop()


@pytest.mark.slow
@pytest.mark.private_broker
@pytest.mark.parametrize("qos", [0, 1])
def test_memory_stays_bounded_while_the_broker_is_away(broker: RunningBroker, sim: Simulation, qos: int) -> None:
    limit = 50
    publisher = PlantPublisher(broker.address, sim.machines, qos=qos, max_outstanding=limit)
    publisher.connect()
    broker.stop()
    wait_until(lambda: not any(c.connected for c in publisher.clients), timeout=10)
    stop = threading.Event()
    clock = [time.time() + 30 * 86_400]  # plenty of room ahead: nothing but the broker holds the run back
    kwargs = {"speed": 0, "stop": stop, "clock": lambda: clock[0]}
    thread = threading.Thread(target=run, args=(sim, publisher), kwargs=kwargs, daemon=True)
    tracemalloc.start()
    try:
        thread.start()
        # wait until back-pressure holds the run: neither the simulated clock nor the buffer moves between polls
        last: list[tuple[int, int]] = []

        def stalled() -> bool:
            now = (sim.now_ms, publisher.outstanding)
            held_still = bool(last) and last[-1] == now and now[1] > 0
            last.append(now)
            return held_still

        assert wait_until(stalled, timeout=60, interval=0.5)
        first_ms, first_bytes = sim.now_ms, tracemalloc.get_traced_memory()[0]
        held = publisher.outstanding
        time.sleep(1.5)  # an observation window, not a synchronisation: nothing may grow or move during it
        grown = tracemalloc.get_traced_memory()[0] - first_bytes
        # back-pressure: every connection holds at most `limit` messages, and the simulation waits for them;
        # with QoS 0 telemetry is dropped while disconnected (MQTT allows it), but parts, states and events
        # always travel at QoS 1, so those fill the buffer and hold the run back just the same
        assert 0 < held <= len(sim.machines) * limit
        assert publisher.outstanding == held
        assert sim.now_ms == first_ms
        assert grown < 256 * 1024
    finally:
        tracemalloc.stop()
        stop.set()
        publisher.release()
        thread.join(5)
        publisher.abort()
    assert not thread.is_alive()


@pytest.mark.slow
def test_simulate_runs_a_scenario_after_a_backfill_and_writes_its_ground_truth(
    broker: RunningBroker, tmp_path: Path
) -> None:
    listener = Listener(broker, "acme/+/+/+/+/event")
    truth = tmp_path / "truth.json"
    args = ["simulate", "--mqtt-url", broker.address.url(masked=False), "--scenario", "breakdown"]
    result = CliRunner().invoke(main, [*args, "--speed", "0", "--duration", "25m", "--truth", str(truth)])
    assert result.exit_code == 0, result.output
    assert "scenario breakdown" in result.output
    assert "backfill [" in result.output  # the progress bar
    assert wait_until(lambda: len(listener.messages) == 6, timeout=10)
    listener.client.close()
    events = sorted(  # each machine has its own connection: order by the event's own time
        ((m.topic.split("/")[4], json.loads(m.payload)) for m in listener.messages), key=lambda e: parse_ts(e[1]["ts"])
    )
    assert [(machine, e["kind"], e["fault"]) for machine, e in events] == [
        ("imm-01", "fault", "breakdown"),
        ("filler-01", "fault", "stop"),
        ("imm-01", "repair", "breakdown"),
        ("filler-01", "repair", "stop"),
        ("filler-01", "fault", "stop"),
        ("filler-01", "repair", "stop"),
    ]
    document = json.loads(truth.read_text())
    live_start = document["live_since_ms"]
    assert document["until_ms"] - live_start == 25 * 60_000
    # the scenario's 2 h backfill, plus the seconds it took: history is generated until it has caught up with "now"
    assert 2 * 3_600_000 <= live_start - document["since_ms"] < 2 * 3_600_000 + 60_000
    assert parse_ts(events[0][1]["ts"]) == live_start + 3 * 60_000  # "at: 3m" after the live start, exactly
    imm = next(r for r in document["live_rows"] if r["name"].endswith("/imm-01") and r["shift"] is None)
    assert imm["availability"] == pytest.approx(13 / 25)
