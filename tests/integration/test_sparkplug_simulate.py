"""`smartfactory simulate --format sparkplug` end to end: the simulator as Sparkplug B edge nodes → mosquitto →
ingestion's Sparkplug host → SQLite holds what `--format uns` stores for the same seed and time."""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from smartfactory.cli.run import simulate
from smartfactory.edge.broker import RunningBroker, start_mosquitto
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.services import build_simulation, start_ingest, start_simulator
from smartfactory.settings import BrokerAddress, Settings, load_settings, parse_mqtt_url
from smartfactory.sim.runner import run
from smartfactory.sim.scenario import load_scenario, resolve_scenario_file
from smartfactory.sim.sparkplug_publisher import SparkplugPublisher, telemetry_values
from smartfactory.sparkplug.edge import BDSEQ_METRIC, REBIRTH_METRIC
from smartfactory.sparkplug.host import rebirth_request
from smartfactory.sparkplug.payload import SparkplugPayload, decode_payload
from smartfactory.sparkplug.topic import SparkplugTopic
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import Topic
from tests.conftest import clear_retained, wait_until
from tests.ingest.conftest import send_barrier
from tests.integration.test_sparkplug_foreign import foreign_python  # noqa: F401  (the pysparkplug venv fixture)

pytestmark = pytest.mark.integration
#: Simulated seconds of each run (speed 0: as fast as the broker takes them), with a scenario's sensor faults.
DURATION_S = 1200.0
SCENARIO = "sensor-faults"
FOREIGN_DECODER = Path(__file__).with_name("foreign") / "pysparkplug_decode.py"


def _settings(broker: RunningBroker, tmp_path: Path, name: str) -> Settings:
    return load_settings(
        mqtt_url=broker.address.url(masked=False),
        store=f"sqlite:///{tmp_path / f'{name}.db'}",
        data_dir=tmp_path / name,
        ingest={"client_id": f"ingest-{name}-{tmp_path.name[-8:]}", "flush_interval": 0.05},
    )


def _store_contents(url: str) -> dict[str, Any]:
    store = SqliteStorage(url)
    try:
        readings = {(r.series, r.ts_ms): r.value for chunk in store.iter_readings() for r in chunk}
        return {
            "readings": readings,
            "units": {s.series: s.unit for s in store.list_series()},
            "states": sorted(
                (s.machine, s.ts_ms, s.state, s.reason) for s in store.read_states() if s.machine.startswith("acme/")
            ),  # not the barrier's
            "parts": sorted(
                (p.machine, p.ts_ms, p.part_id, p.good, tuple(sorted(p.measurements.items())))
                for p in store.read_parts()
            ),
            "events": sorted((e.machine, e.ts_ms, e.kind, e.fault, e.sensor) for e in store.read_events()),
            "infos": {m: i.model_dump() for m, i in store.read_machine_info().items()},
            "deadletters": [(d.reason, d.topic, d.detail) for d in store.read_deadletters()],
        }
    finally:
        store.close()


def _run(settings: Settings, start_ms: int, wire_format: str, *, control: bool = True) -> dict[str, Any]:
    """Ingest one simulated run into the settings' store and return what the store holds. `control=False`:
    Sparkplug alone, without the UNS control plane (status births and events as JSON for `inject`)."""
    ingest = start_ingest(settings)
    try:
        if control:
            sim = start_simulator(
                settings,
                duration_s=DURATION_S,
                speed=0,
                seed=11,
                start_ms=start_ms,
                scenario=SCENARIO,
                backfill_s=0,
                wire_format=wire_format,
            )
            assert sim.thread is not None
            sim.thread.join(120)
            assert not sim.thread.is_alive()
            sim.stop()  # waits until the broker took everything
            assert sim.error is None
        else:
            chosen = load_scenario(resolve_scenario_file(SCENARIO, settings.sim.dir))
            simulation = build_simulation(settings, start_ms, scenario=chosen, seed=11)
            publisher = SparkplugPublisher(
                parse_mqtt_url(settings.mqtt_url), simulation.machines, on_command=simulation.command, control=False
            )
            publisher.connect()
            run(simulation, publisher, speed=0, duration_s=DURATION_S, scenario=chosen)
            publisher.close()
        assert wait_until(send_barrier(parse_mqtt_url(settings.mqtt_url), settings.store), timeout=60)
        assert ingest.service.counters.rejected == {}
    finally:
        ingest.stop()
    return _store_contents(settings.store)


def test_sparkplug_run_stores_what_the_uns_run_stores(broker: RunningBroker, tmp_path: Path) -> None:
    start_ms = int(time.time() * 1000) - int(DURATION_S * 1000) - 60_000
    uns = _run(_settings(broker, tmp_path, "uns"), start_ms, "uns")
    runs = {}
    for name, control in (("spb", True), ("spb-only", False)):
        clear_retained(broker.address)  # this run's ingestion must not see an earlier run's retained messages
        runs[name] = _run(_settings(broker, tmp_path, name), start_ms, "sparkplug", control=control)

    assert len(uns["readings"]) > 5000
    assert len(uns["parts"]) > 100
    assert {kind for _, _, kind, _, _ in uns["events"]} == {"fault", "repair"}  # the scenario's faults
    assert len(uns["infos"]) == 4
    for spb in runs.values():
        assert spb["readings"] == uns["readings"]  # same series ids, instants and values
        assert spb["units"] == uns["units"]
        assert spb["states"] == uns["states"]
        assert spb["parts"] == uns["parts"]
        assert spb["events"] == uns["events"]
        assert spb["infos"] == uns["infos"]
        assert spb["deadletters"] == uns["deadletters"] == []


class _Recorder:
    """Every Sparkplug message on the broker, decoded, in arrival order. A persistent session: a broker that
    restarts from its persistence file keeps what arrives while the recorder reconnects."""

    def __init__(self, broker: RunningBroker) -> None:
        self.messages: list[tuple[SparkplugTopic, SparkplugPayload]] = []
        self._seen: set[tuple[str, bytes]] = set()
        self.lock = threading.Lock()
        client_id = f"recorder-{uuid.uuid4().hex[:8]}"
        self.client = MqttClient(broker.address, client_id=client_id, persistent=True, on_message=self._take)
        self.client.subscribe("spBv1.0/+/+/+/#", qos=1)
        self.client.connect()

    def _take(self, message: Message) -> None:
        with self.lock:
            if (message.topic, message.payload) in self._seen:
                return  # a QoS 1 redelivery after the broker restarted (the recorder had not acknowledged it)
            self._seen.add((message.topic, message.payload))
            self.messages.append((SparkplugTopic.parse(message.topic), decode_payload(message.payload)))

    def of(self, kind: str) -> list[tuple[SparkplugTopic, SparkplugPayload]]:
        with self.lock:
            return [(t, p) for t, p in self.messages if t.message_type == kind]

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def recorder(broker: RunningBroker) -> Iterator[_Recorder]:
    rec = _Recorder(broker)
    yield rec
    rec.close()


def _bd_seq(payload: SparkplugPayload) -> int | None:
    return next((m.value for m in payload.metrics if m.name == BDSEQ_METRIC), None)  # type: ignore[misc]


def test_rebirth_on_ncmd_and_ndeath_with_the_births_bdseq(
    broker: RunningBroker, recorder: _Recorder, tmp_path: Path
) -> None:
    settings = _settings(broker, tmp_path, "live")
    sim = start_simulator(settings, speed=1, seed=3, wire_format="sparkplug")
    try:
        publisher = sim.publisher
        assert isinstance(publisher, SparkplugPublisher)
        assert wait_until(lambda: len(recorder.of("DBIRTH")) == 4 and len(recorder.of("DDATA")) >= 4)
        births = recorder.of("NBIRTH")
        assert len(births) == 2  # one edge node per line
        line1 = next(t for t, _ in births if t.edge_node_id.endswith(":line-1"))
        first_bd_seq = _bd_seq(next(p for t, p in births if t == line1))
        assert all(p.seq == 0 for _, p in births)

        topic, payload = rebirth_request(line1.group_id, line1.edge_node_id, int(time.time() * 1000))
        asker = MqttClient(broker.address)
        asker.connect()
        asker.publish(topic, payload, qos=1)
        asker.close()
        assert wait_until(lambda: len(recorder.of("NBIRTH")) == 3, timeout=20)
        reborn = recorder.of("NBIRTH")[-1]
        assert reborn[0] == line1
        assert reborn[1].seq == 0
        assert _bd_seq(reborn[1]) == first_bd_seq
        assert any(m.name == REBIRTH_METRIC and m.value is False for m in reborn[1].metrics)
        assert wait_until(lambda: len(recorder.of("DBIRTH")) == 6)  # line-1's two machines again
        with recorder.lock:
            seen = list(recorder.messages)
        last_birth = max(i for i, (t, _) in enumerate(seen) if t == line1)
        line1_after = [(t, p) for t, p in seen[last_birth:] if t.edge_node_id == line1.edge_node_id]
        assert [t.message_type for t, _ in line1_after[:3]] == ["NBIRTH", "DBIRTH", "DBIRTH"]
        assert [p.seq for _, p in line1_after[:4]] == [0, 1, 2, 3][: len(line1_after[:4])]
        dbirth = line1_after[1][1]
        assert all(m.name and m.alias for m in dbirth.metrics)  # name and alias in births
        assert any(m.name == "_sf/state" and isinstance(m.value, str) for m in dbirth.metrics)  # the current state
        assert publisher.rebirths == 1
    finally:
        sim.stop()
    assert wait_until(lambda: len(recorder.of("NDEATH")) == 2)
    deaths = {t.edge_node_id: _bd_seq(p) for t, p in recorder.of("NDEATH")}
    assert deaths[line1.edge_node_id] == first_bd_seq
    assert all(p.seq is None for _, p in recorder.of("NDEATH"))


def test_after_a_broker_restart_each_edge_node_starts_a_session_with_the_next_bdseq(
    broker: RunningBroker, recorder: _Recorder, tmp_path: Path
) -> None:
    if broker.kind != "mosquitto" or broker.data_dir is None:
        pytest.skip("needs mosquitto (a broker that restarts from its persistence file)")
    sim = start_simulator(_settings(broker, tmp_path, "restart"), speed=1, seed=3, wire_format="sparkplug")
    restarted = None
    try:
        assert wait_until(lambda: len(recorder.of("NBIRTH")) == 2)
        first = {t.edge_node_id: _bd_seq(p) for t, p in recorder.of("NBIRTH")}
        broker.stop()
        restarted = start_mosquitto(broker.address, broker.data_dir)
        publisher = sim.publisher
        assert isinstance(publisher, SparkplugPublisher)
        assert wait_until(lambda: len(recorder.of("NBIRTH")) == 4, timeout=40)
        again = {t.edge_node_id: _bd_seq(p) for t, p in recorder.of("NBIRTH")[2:]}
        assert again == {node: (bd_seq + 1) % 256 for node, bd_seq in first.items()}
        assert wait_until(lambda: len(recorder.of("DBIRTH")) == 8)  # every machine born again before its data
        with recorder.lock:
            seen = list(recorder.messages)
        for node in first:
            rebirth = max(i for i, (t, _) in enumerate(seen) if t.message_type == "NBIRTH" and t.edge_node_id == node)
            after = [(t.message_type, p.seq) for t, p in seen[rebirth:] if t.edge_node_id == node]
            assert after[:3] == [("NBIRTH", 0), ("DBIRTH", 1), ("DBIRTH", 2)]
        assert publisher.reconnects == 2
    finally:
        sim.stop()
        if restarted is not None:
            restarted.stop()


def test_simulate_command_takes_format_sparkplug(broker: RunningBroker, recorder: _Recorder) -> None:
    url = broker.address.url(masked=False)
    result = CliRunner().invoke(
        simulate, ["--mqtt-url", url, "--format", "sparkplug", "--speed", "0", "--duration", "10m", "--seed", "5"]
    )
    assert result.exit_code == 0, result.output
    assert "published" in result.output
    assert wait_until(lambda: len(recorder.of("NDEATH")) == 2)
    assert len(recorder.of("NBIRTH")) == 2
    assert len(recorder.of("DBIRTH")) == 4
    assert len(recorder.of("DDATA")) > 10


def test_a_foreign_decoder_reads_our_frames_as_the_plant_sent_them(foreign_python: Path) -> None:  # noqa: F811
    """pysparkplug (its own venv, its own protobuf code) decodes births, alias-only data and deaths of a run."""
    sim = build_simulation(load_settings(), int(time.time() * 1000) - 600_000, seed=1)
    sent: list[tuple[str, bytes]] = []
    run(sim, lambda topic, payload, _: sent.append((topic, payload)), speed=0, duration_s=300)
    offline = SparkplugPublisher(BrokerAddress("127.0.0.1", 9), sim.machines, control=False)  # never connected
    frames = []
    for node in offline.nodes.values():
        frames.append(node.session.will())
        frames += node.session.births()
    for topic, payload in sent:
        frames += [frame for frame, _ in offline.translate(topic, payload)]
    lines = "".join(json.dumps({"topic": f.topic, "payload": f.payload.hex()}) + "\n" for f in frames)
    done = subprocess.run(
        [str(foreign_python), str(FOREIGN_DECODER)], input=lines, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    decoded = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(decoded) == len(frames)

    deaths = [d["metrics"][0][3] for d in decoded if d["type"] == "NDEATH"]
    births = [next(m[3] for m in d["metrics"] if m[0] == "bdSeq") for d in decoded if d["type"] == "NBIRTH"]
    assert deaths == births  # the will and the birth of each edge node carry one bdSeq
    dbirths = [d for d in decoded if d["type"] == "DBIRTH"]
    assert {d["device"] for d in dbirths} == {m.path.machine for m in sim.machines}
    assert all(m[0] and m[1] and m[2] in ("DOUBLE", "STRING") for d in dbirths for m in d["metrics"])

    # every reading, as pysparkplug resolves it through the birth's aliases, is the simulator's own
    expected = sorted(
        (Topic.parse(topic).path.machine, name, ts, value)
        for topic, payload in sent
        if topic.endswith("/telemetry")
        for name, value, ts in telemetry_values(payload)
    )
    got = sorted(
        (d["device"], name, ts, value)
        for d in decoded
        if d["type"] == "DDATA"
        for name, _, _, value, ts in d["metrics"]
        if not name.startswith("_sf/")
    )
    assert len(expected) > 500
    assert got == expected
