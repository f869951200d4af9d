"""Machine facts travel in the retained birth: ingestion stores each birth's `info`, readers get it from the store."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import MqttClient
from smartfactory.services import start_ingest
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import MachineInfo, MachinePath, MessageClass, SignalInfo, StatusPayload
from tests.ingest.conftest import FlakyStore, ingest_settings, needs_mosquitto, start_service, wait_until

pytestmark = [pytest.mark.integration, needs_mosquitto]

CNC = MachineInfo(
    machine_type="cnc",
    ideal_cycle_s=30.0,
    sample_interval_s=1.0,
    signals={
        "spindle_temp": SignalInfo(kind="process", unit="°C", decimals=1),
        "bore_diameter": SignalInfo(kind="quality", unit="mm", lsl=24.95, usl=25.05, target=25.0, decimals=3),
        "reject_count": SignalInfo(kind="count"),
    },
)


def publish_birth(broker: RunningBroker, machine: MachinePath, info: MachineInfo | None, ts_ms: int) -> None:
    """What a machine does on connect: a retained `online` status at QoS 1."""
    client = MqttClient(broker.address, client_id=f"machine-{uuid.uuid4().hex[:8]}")
    client.connect()
    birth = StatusPayload(status="online", ts=ts_ms, info=info)
    client.publish(machine.topic(MessageClass.STATUS), birth.to_bytes(), qos=1, retain=True)
    assert client.wait_published(10)
    client.close()


def stored_info(url: str) -> dict[str, MachineInfo]:
    store = SqliteStorage(url)
    try:
        return store.read_machine_info()
    finally:
        store.close()


def test_a_birth_with_info_is_stored_and_a_newer_birth_replaces_it(
    broker: RunningBroker, tmp_path: Path, enterprise: str
) -> None:
    machine = MachinePath(enterprise, "plant1", "machining", "line-1", "cnc-01")
    other = MachinePath(enterprise, "plant1", "machining", "line-1", "cnc-02")
    now = int(time.time() * 1000)
    publish_birth(broker, machine, CNC, now - 5000)  # retained before ingestion runs: delivered on subscribe
    running = start_ingest(ingest_settings(broker, tmp_path))
    try:
        assert wait_until(lambda: str(machine) in stored_info(running.store.url))
        publish_birth(broker, other, None, now)  # a birth without facts stores none
        faster = CNC.model_copy(update={"ideal_cycle_s": 25.0})
        publish_birth(broker, machine, faster, now)  # reconnected with new facts
        assert wait_until(lambda: stored_info(running.store.url)[str(machine)] == faster)
        assert sum(running.service.counters.rejected.values()) == 0
        assert set(stored_info(running.store.url)) == {str(machine)}
    finally:
        running.stop()
    found = stored_info(running.store.url)
    assert found[str(machine)].signals["bore_diameter"].usl == 25.05
    assert found[str(machine)].ideal_cycle_s == 25.0


def test_a_birth_during_a_store_outage_is_spooled_and_stored_later(
    broker: RunningBroker, tmp_path: Path, enterprise: str
) -> None:
    settings = ingest_settings(broker, tmp_path)
    store = FlakyStore(SqliteStorage(settings.store))
    service = start_service(settings, store, monitor=False)
    machine = MachinePath(enterprise, "plant1", "packaging", "line-2", "filler-01")
    try:
        store.down.set()
        publish_birth(broker, machine, CNC, int(time.time() * 1000))
        assert wait_until(lambda: service.spool is not None and service.spool.pending > 0)
        assert store.inner.read_machine_info() == {}
        store.down.clear()
        assert wait_until(lambda: store.inner.read_machine_info() == {str(machine): CNC})
    finally:
        service.stop()
        store.inner.close()
