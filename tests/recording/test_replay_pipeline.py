"""A simulated plant recorded off the broker and replayed into a fresh broker, ingestion and store: the same data.

simulator (speed 0, a scenario with faults) → broker A → ingestion A → store A, with a recorder on broker A;
then the recording → broker B → ingestion B → store B. Stores A and B must hold exactly the same readings (series,
time, value), machine states, parts and ground-truth events.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import MqttClient
from smartfactory.recording import open_recording
from smartfactory.recording.recorder import Recorder
from smartfactory.recording.replayer import replay
from smartfactory.recording.truth import truth_events
from smartfactory.services import start_ingest, start_simulator
from smartfactory.settings import BrokerAddress, Settings, load_settings
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import format_ts
from tests.conftest import wait_until

pytestmark = pytest.mark.integration
BARRIER = "barrier"


def settings_for(broker: RunningBroker, folder: Path) -> Settings:
    return load_settings(
        mqtt_url=broker.address.url(masked=False),
        store=f"sqlite:///{folder / 'store.db'}",
        data_dir=folder,
        ingest={"client_id": f"ingest-{uuid.uuid4().hex[:8]}", "flush_interval": 0.05},
    )


def barrier(address: BrokerAddress) -> str:
    """Publish a state of a machine of its own after everything else; return its machine id."""
    machine = f"{BARRIER}/p/a/l/m-{uuid.uuid4().hex[:8]}"
    client = MqttClient(address)
    client.connect()
    body = json.dumps({"state": "idle", "ts": format_ts(int(time.time() * 1000))}).encode()
    client.publish(f"{machine}/state", body, qos=1)
    assert client.wait_published(10)
    client.close()
    return machine


def has_state(store_url: str, machine: str) -> bool:
    store = SqliteStorage(store_url)
    try:
        return any(s.machine == machine for s in store.read_states())
    finally:
        store.close()


def contents(store_url: str) -> dict[str, object]:
    store = SqliteStorage(store_url)
    try:
        readings = {(r.series, r.ts_ms): r.value for chunk in store.iter_readings() for r in chunk}
        return {
            "readings": readings,
            "states": sorted(s.to_row() for s in store.read_states() if not s.machine.startswith(BARRIER)),
            "parts": sorted(
                (p.machine, p.ts_ms, p.part_id, p.good, sorted(p.measurements.items())) for p in store.read_parts()
            ),
            "events": sorted((e.machine, e.ts_ms, e.kind, e.fault, e.sensor) for e in store.read_events()),
            "machines": sorted(store.read_machine_info()),
        }
    finally:
        store.close()


def test_a_replayed_recording_stores_exactly_the_original_data(
    private_broker: RunningBroker, second_broker: RunningBroker, tmp_path: Path
) -> None:
    original = settings_for(private_broker, tmp_path / "a")
    ingest_a = start_ingest(original)
    path = tmp_path / "session.sfrec"
    recorder = Recorder(private_broker.address, path)
    recorder.start()
    try:
        sim = start_simulator(original, scenario="sudden-shift", speed=0, duration_s=8 * 60, backfill_s=0, seed=11)
        assert sim.thread is not None
        sim.thread.join(120)
        assert not sim.thread.is_alive()
        assert sim.error is None
        sim.stop()  # every machine goes offline (retained status), as at the end of a lecture
        machine = barrier(private_broker.address)
        assert wait_until(lambda: has_state(original.store, machine), 60)
        # the recorder has seen everything the broker took before the barrier once it has the barrier
        assert wait_until(lambda: _recorded(recorder, f"{machine}/state"), 30)
    finally:
        stats = recorder.stop()
        ingest_a.stop()
    assert stats.truth_events >= 2  # the scenario's shift on filler-01 and its repair, at least

    recording = open_recording(path)
    assert recording.complete
    assert recording.intact == stats.messages
    truth = [event for _, event in truth_events(recording)]
    assert {(e.kind, e.fault) for e in truth} >= {("fault", "shift"), ("repair", "shift")}

    fresh = settings_for(second_broker, tmp_path / "b")
    ingest_b = start_ingest(fresh)
    try:
        client = MqttClient(second_broker.address)
        client.connect()
        result = replay(recording, client, speed=0)
        client.close()
        assert result.published == recording.intact
        machine_b = barrier(second_broker.address)
        assert wait_until(lambda: has_state(fresh.store, machine_b), 60)
    finally:
        ingest_b.stop()

    a, b = contents(original.store), contents(fresh.store)
    assert len(a["readings"]) > 1000  # type: ignore[arg-type]
    assert b["readings"] == a["readings"]
    assert b["states"] == a["states"]
    assert b["parts"] == a["parts"]
    assert a["parts"]
    assert b["events"] == a["events"]
    assert a["events"]
    assert b["machines"] == a["machines"]
    assert a["machines"]
    assert {(e.machine, e.ts_ms, e.kind, e.fault, e.sensor) for e in truth} == set(a["events"])  # type: ignore[arg-type]


def _recorded(recorder: Recorder, topic: str) -> bool:
    """Write what arrived; True once the file holds a message on `topic` (read back from disk)."""
    recorder.flush()
    return any(m.topic == topic for m in open_recording(recorder.path).messages())
