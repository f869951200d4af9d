"""opcua-bridge, done as the sheet says: the plant served over OPC UA only, the bridge started after it, onto a
private mosquitto, ingestion into the exercise's store. Counts taken here from the store and the simulator's truth
pass; wrong ones fail with explanations."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import MqttClient
from smartfactory.services import start_ingest, start_simulator
from smartfactory.settings import load_settings
from smartfactory.sim.truth import truth_document, write_truth
from smartfactory.storage import open_store
from tests.conftest import free_port, wait_until
from tests.exercises.conftest import STUDENT, Started, check, items, write_answers

pytest.importorskip("asyncua", reason="the OPC UA exercise needs asyncua (pip install -e '.[dev]')")
from smartfactory.opcua.bridge import BridgeOptions
from smartfactory.opcua.outbox import Outbox
from tests.opcua.conftest import BridgeThread

pytestmark = pytest.mark.integration


def test_bridge_the_plant_and_count(started: Started, class_dir: Path, private_broker: RunningBroker) -> None:
    manifest = started("opcua-bridge")
    machine = str(manifest.facts["machine"])
    folder = class_dir / STUDENT / "opcua-bridge"
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}"
    settings = load_settings(mqtt_url=private_broker.address.url(masked=False), store=manifest.store,
                             data_dir=folder, ingest={"client_id": str(manifest.facts["client_id"]),
                                                      "flush_interval": 0.05})  # fmt: skip
    ingest = start_ingest(settings)
    plant = start_simulator(load_settings(data_dir=folder / "sim"), speed=10, duration_s=180, seed=manifest.seed,
                            opcua_endpoint=endpoint, mqtt=False, record_truth=True)  # fmt: skip
    client = MqttClient(private_broker.address, client_id="exercise-opcua-bridge")
    client.connect()
    outbox = Outbox(client)
    time.sleep(0.5)  # the bridge comes up after the plant, as a student's does: the first values are gone
    bridge = BridgeThread(BridgeOptions(endpoint=endpoint, flush_s=0.05), outbox)
    try:
        assert plant.thread is not None
        # a loaded machine can take seconds to browse and subscribe: say so rather than count 0 parts later
        assert wait_until(lambda: bridge.bridge.stats.connected, 60), "the bridge did not connect within 60 s"
        assert plant.thread.is_alive(), "the plant (18 s of wall clock) ended before the bridge had connected"
        plant.thread.join(120)
        assert not plant.thread.is_alive()
        time.sleep(1.5)  # the bridge's last flush (parts wait up to 1 s for their characteristics)
    finally:
        bridge.stop()
        outbox.close()
        plant.stop()
    stored_before = ingest.service.counters.received
    assert wait_until(lambda: ingest.service.counters.received == stored_before and ingest.service.inbox.bytes == 0)
    ingest.stop()
    assert bridge.error is None
    write_truth(folder / "simulator-truth.json", plant.simulation, plant.stats.live_start_ms)
    run = truth_document(plant.simulation)
    made = next(r["total_count"] for r in run["rows"] if r["level"] == "machine" and r["shift"] is None  # type: ignore[attr-defined]
                and r["name"].endswith("/" + machine))  # fmt: skip
    store = open_store(manifest.store)
    try:
        infos = store.read_machine_info()
        path = next(m for m in infos if m.endswith("/" + machine))
        stored = len(store.read_parts(machine=path))
        first = min(r.ts_ms for chunk in store.iter_readings(machine=path) for r in chunk)
    finally:
        store.close()
    assert 0 < stored <= made
    right = {"machines": len(infos), "parts_made": made, "parts_stored": stored,
             "missed_s": round((first - int(run["since_ms"])) / 1000, 1)}  # type: ignore[call-overload]  # fmt: skip
    code, verdict = check(class_dir, "opcua-bridge", write_answers(folder, "opcua-bridge", right))
    assert code == 0, verdict
    wrong = {**right, "parts_stored": stored + 3, "missed_s": right["missed_s"] + 30}
    code, verdict = check(class_dir, "opcua-bridge", write_answers(folder, "opcua-bridge", wrong, "wrong.toml"))
    assert code == 1
    found = items(verdict)
    assert f"that is {stored}" in found["parts_stored"]["explanation"]
    assert "too high by 30" in found["missed_s"]["explanation"]
    assert found["machines"]["correct"]
    assert found["parts_made"]["correct"]
