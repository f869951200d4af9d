"""The generated broker's packet limit (issue 13: mosquitto's default is the protocol's 256 MiB, and one 100 MB payload
blinded ingestion for 25 s): `edge.broker` writes `max_packet_size` consistent with ingestion's `max_payload_bytes`
(twice it, plus 64 KiB, as the compose config does). A bigger publish is refused by the broker as soon as its
length header arrives: the sender is disconnected, no PUBACK, nobody receives it, and ingestion carries on."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from smartfactory.edge.broker import MAX_PACKET_SIZE, RunningBroker, mosquitto_config, packet_limit
from smartfactory.edge.mqtt import MqttClient
from smartfactory.services import PACKET_OVERHEAD, start_ingest
from smartfactory.settings import IngestSettings
from tests.ingest.conftest import Publisher, ingest_settings, needs_mosquitto, send_barrier, wait_until

DEPLOY_CONF = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "mosquitto.conf"


def test_the_limit_follows_ingestions_payload_limit_in_both_configs(tmp_path: Path) -> None:
    payload_limit = IngestSettings().max_payload_bytes
    assert 2 * payload_limit + PACKET_OVERHEAD == MAX_PACKET_SIZE  # room above ingestion's own announced limit
    assert packet_limit(payload_limit) == MAX_PACKET_SIZE  # what `broker` and `demo` start their mosquitto with
    assert "max_packet_size 4259840\n" in mosquitto_config(1883, tmp_path, max_packet_size=packet_limit(2 * 1_048_576))
    assert f"max_packet_size {MAX_PACKET_SIZE}\n" in mosquitto_config(1883, tmp_path)
    assert f"\nmax_packet_size {MAX_PACKET_SIZE}\n" in DEPLOY_CONF.read_text()  # compose: the same figure


@pytest.mark.integration
@needs_mosquitto
def test_an_oversize_publish_is_refused_by_the_broker_and_ingestion_stays_up(
    broker: RunningBroker, tmp_path: Path, enterprise: str
) -> None:
    settings = ingest_settings(broker, tmp_path, spc_rules="none")
    running = start_ingest(settings)
    topic = f"{enterprise}/p/a/l/m/telemetry/t"
    now = int(time.time() * 1000) - 5000
    huge = b'{"value": 1, "ts": %d, "pad": "' % now + b"x" * (MAX_PACKET_SIZE + 1) + b'"}'
    attacker = MqttClient(broker.address, client_id="smartfactory-big", max_outstanding=1)
    attacker.connect()
    session = attacker.session
    attacker.publish(topic, huge, qos=1)
    assert wait_until(lambda: not attacker.connected or attacker.session != session, timeout=10)  # thrown out
    assert not attacker.wait_published(1.0)  # never acknowledged
    attacker.abort()  # else paho would send it again after its reconnect
    honest = [(topic, json.dumps({"value": float(i), "ts": now + i}).encode()) for i in range(20)]
    publisher = Publisher(broker.address)
    publisher.send(honest)
    publisher.close()
    assert wait_until(send_barrier(broker.address, settings.store))
    try:
        assert running.service.running
        assert running.service.client.connected
        counters = running.service.counters
        assert counters.stored == 20
        assert counters.readings == 20
        assert dict(counters.rejected) == {}  # the huge one never came (it would be dead-lettered: too_large)
    finally:
        assert running.stop()
