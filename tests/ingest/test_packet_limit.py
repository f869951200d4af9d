"""The generated broker's packet limit (issue 13: mosquitto's default is the protocol's 256 MiB, and one 100 MB
payload blinded ingestion for 25 s): `edge.broker` writes `max_packet_size` equal to the MQTT 5 Maximum Packet Size
ingestion announces (`max_payload_bytes` plus 64 KiB, as the compose config does). A bigger publish is refused by
the broker as soon as its length header arrives: the sender is disconnected, no PUBACK, nobody receives it, and
ingestion carries on. A smaller one reaches ingestion and is dead-lettered: no size is taken from the sender and
then lost unseen."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from smartfactory.edge.broker import (
    MAX_PACKET_SIZE,
    PACKET_OVERHEAD,
    RunningBroker,
    mosquitto_config,
    packet_limit,
    start_mosquitto,
)
from smartfactory.edge.mqtt import MqttClient
from smartfactory.services import start_ingest
from smartfactory.settings import BrokerAddress, IngestSettings
from tests.conftest import free_port
from tests.ingest.conftest import Publisher, ingest_settings, needs_mosquitto, send_barrier, wait_until

DEPLOY_CONF = Path(__file__).resolve().parents[2] / "deploy" / "mosquitto" / "mosquitto.conf"


def test_the_limit_follows_ingestions_payload_limit_in_both_configs(tmp_path: Path) -> None:
    payload_limit = IngestSettings().max_payload_bytes
    assert payload_limit + PACKET_OVERHEAD == MAX_PACKET_SIZE  # the Maximum Packet Size ingestion announces
    assert packet_limit(payload_limit) == MAX_PACKET_SIZE  # what `broker` and `demo` start their mosquitto with
    assert "max_packet_size 2162688\n" in mosquitto_config(1883, tmp_path, max_packet_size=packet_limit(2 * 1_048_576))
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


@pytest.mark.integration
@needs_mosquitto
def test_no_payload_size_is_accepted_by_the_broker_and_lost_before_ingestion(tmp_path: Path, enterprise: str) -> None:
    """Sizes across both limits, on a broker started as `broker`/`demo` start theirs for a 4 KiB payload limit:
    each oversize payload is either dead-lettered by ingestion or refused to its sender, never taken and dropped.
    (With the broker's limit at twice the payload limit, 70,000 bytes were acknowledged to the sender and never
    delivered: over ingestion's announced Maximum Packet Size, under the broker's.)"""
    limit = 4096
    address = BrokerAddress("127.0.0.1", free_port())
    broker = start_mosquitto(address, tmp_path / "mosquitto", max_packet_size=packet_limit(limit))
    try:
        settings = ingest_settings(broker, tmp_path, max_payload_bytes=limit, spc_rules="none")
        running = start_ingest(settings)
        topic = f"{enterprise}/p/a/l/m/telemetry/t"
        now = int(time.time() * 1000) - 5000
        sizes = [
            limit + 1,
            limit + PACKET_OVERHEAD // 2,
            limit + PACKET_OVERHEAD - 200,
            limit + PACKET_OVERHEAD + 1000,
            3 * limit + PACKET_OVERHEAD,
        ]
        refused = 0
        for size in sizes:
            head = b'{"value": 1, "ts": %d, "pad": "' % now
            body = head + b"x" * (size - len(head) - 2) + b'"}'
            sender = MqttClient(broker.address, client_id=f"smartfactory-size-{size}", max_outstanding=1)
            sender.connect()
            session = sender.session
            sender.publish(topic, body, qos=1)
            wait_until(lambda s=sender, n=session: s.outstanding == 0 or not s.connected or s.session != n, 10)  # type: ignore[misc]
            if sender.outstanding:
                refused += 1  # thrown out by the broker, and the sender knows: no PUBACK
            sender.abort()
        assert wait_until(send_barrier(broker.address, settings.store))
        counters = running.service.counters
        assert counters.rejected["too_large"] + refused == len(sizes)
        assert refused == 2  # the two over the broker's limit
        assert running.stop()
    finally:
        broker.stop()
