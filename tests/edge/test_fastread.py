"""The opt-in fast reader (`edge.fastread`) against paho's own reader, on a real mosquitto: same messages, same
fields, same acknowledgement semantics; and ingestion's exactly-once outcome with the fast reader switched on."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from smartfactory.edge import fastread
from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import Message, MqttClient, ProtocolVersion
from smartfactory.services import start_ingest
from smartfactory.settings import load_settings
from tests.conftest import HAVE_MOSQUITTO, broker_kind, wait_until

needs_mosquitto = pytest.mark.skipif(
    not HAVE_MOSQUITTO or broker_kind() != "mosquitto",
    reason="needs mosquitto (persistent sessions, MQTT 5): apt-get install mosquitto",
)
pytestmark = [pytest.mark.integration, needs_mosquitto]

# Sizes around the remaining-length boundaries (1, 2, 3 and 4 bytes) and bigger than one and than three 256 KiB reads
# (the generated broker refuses packets over 1 MiB + 64 KiB).
SIZES = [0, 1, 100, 127, 128, 16_383, 16_384, 300_000, 1_000_000]


class Collector:
    def __init__(self) -> None:
        self.messages: list[Message] = []
        self.lock = threading.Lock()

    def __call__(self, message: Message) -> None:
        with self.lock:
            self.messages.append(message)


def subscriber(
    broker: RunningBroker, fast: bool, protocol: ProtocolVersion, **kwargs: object
) -> tuple[MqttClient, Collector]:
    got = Collector()
    client = MqttClient(broker.address, protocol=protocol, fast_read=fast, on_message=got, **kwargs)  # type: ignore[arg-type]
    assert client.fast_read is fast
    return client, got


def round_trip(client: MqttClient) -> None:
    """Wait until the broker has processed everything this client sent before (a SUBACK comes back in order)."""
    client.subscribe(f"sync/{uuid.uuid4().hex}", qos=1)


def test_the_fast_reader_knows_this_paho() -> None:
    assert fastread.supported()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_fast_and_paho_readers_deliver_identical_messages(broker: RunningBroker, protocol: ProtocolVersion) -> None:
    prefix = f"fr-{uuid.uuid4().hex[:6]}"
    readers = {fast: subscriber(broker, fast, protocol) for fast in (True, False)}
    for client, _ in readers.values():
        client.subscribe(f"{prefix}/#", qos=1)
        client.connect()  # returns once the broker confirmed the subscription
    publisher = MqttClient(broker.address)
    publisher.connect()
    sent = []
    for i, size in enumerate(SIZES):
        for qos in (0, 1):
            topic = f"{prefix}/größe/{size}/q{qos}"
            payload = bytes((i * 7 + k) % 256 for k in range(size))
            sent.append((topic, payload, qos))
            publisher.publish(topic, payload, qos=qos)
    publisher.publish(f"{prefix}/kept", b"retained", qos=1, retain=True)
    assert publisher.wait_published(20)
    publisher.close()
    for client, got in readers.values():
        assert wait_until(lambda got=got: len(got.messages) == len(sent) + 1, timeout=20)
        client.close()
    fast, stock = readers[True][1].messages, readers[False][1].messages
    assert [(m.topic, m.payload, m.qos, m.retain) for m in fast] == [
        (m.topic, m.payload, m.qos, m.retain) for m in stock
    ]
    assert [(m.topic, m.payload, m.qos) for m in fast[:-1]] == sent
    assert len({m.session for m in fast}) == 1

    # A new subscriber gets the retained message with the retain flag, through the fast path too.
    late, got = subscriber(broker, True, protocol)
    late.subscribe(f"{prefix}/kept", qos=1)
    late.connect()
    assert wait_until(lambda: len(got.messages) == 1)
    assert got.messages[0].retain is True
    assert got.messages[0].payload == b"retained"
    late.close()


def test_mqtt5_properties_on_a_message_are_skipped_cleanly(broker: RunningBroker) -> None:
    prefix = f"props-{uuid.uuid4().hex[:6]}"
    client, got = subscriber(broker, True, "5")
    client.subscribe(f"{prefix}/#", qos=1)
    client.connect()
    raw = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    raw.connect(broker.address.host, broker.address.port)
    raw.loop_start()
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.UserProperty = [("origin", "x" * 200), ("k", "v")]
    props.MessageExpiryInterval = 3600
    props.ContentType = "application/json"
    raw.publish(f"{prefix}/a", b'{"value": 1}', qos=1, properties=props).wait_for_publish(5)
    raw.publish(f"{prefix}/b", b"plain", qos=0).wait_for_publish(5)
    raw.disconnect()
    raw.loop_stop()
    assert wait_until(lambda: len(got.messages) == 2)
    assert [(m.topic, m.payload) for m in got.messages] == [(f"{prefix}/a", b'{"value": 1}'), (f"{prefix}/b", b"plain")]
    client.close()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "paho"])
def test_batch_acknowledgement_ends_redelivery(broker: RunningBroker, protocol: ProtocolVersion, fast: bool) -> None:
    prefix = f"ack-{uuid.uuid4().hex[:6]}"
    client_id = f"acker-{uuid.uuid4().hex[:6]}"

    def session() -> tuple[MqttClient, Collector]:
        client, got = subscriber(broker, fast, protocol, client_id=client_id, persistent=True, manual_ack=True)
        client.subscribe(f"{prefix}/#", qos=1)
        client.connect()
        return client, got

    client, got = session()
    publisher = MqttClient(broker.address)
    publisher.connect()
    for i in range(300):
        publisher.publish(f"{prefix}/{i}", str(i).encode(), qos=1)
    assert publisher.wait_published(10)
    assert wait_until(lambda: len(got.messages) == 300)
    assert client.ack_messages(got.messages[:200]) == 200  # the first 200 are "stored"
    round_trip(client)  # the broker has the 200 PUBACKs
    client.abort()  # a crash: the last 100 were never acknowledged

    again, got_again = session()
    assert wait_until(lambda: len(got_again.messages) >= 100)
    round_trip(again)  # redeliveries come before this SUBACK: nothing more is on its way
    assert sorted(int(m.payload) for m in got_again.messages) == list(range(200, 300))
    assert all(m.dup for m in got_again.messages)  # the broker flags redeliveries
    assert again.ack_messages(got_again.messages) == 100
    # Messages of an earlier connection are never acknowledged on this one.
    assert again.ack_messages(got.messages[200:]) == 0
    again.close()
    publisher.close()


@pytest.mark.parametrize("fast_reader", [True, False], ids=["fast", "paho"])
def test_ingestion_stores_each_reading_once_across_a_restart_with_either_reader(
    broker: RunningBroker, tmp_path: Path, enterprise: str, fast_reader: bool
) -> None:
    from tests.ingest.conftest import count_readings, expected_readings, readings_for, stored_readings

    settings = load_settings(
        mqtt_url=broker.address.url(masked=False),
        store=f"sqlite:///{tmp_path / 'ingest.db'}",
        data_dir=tmp_path,
        mqtt={"fast_reader": fast_reader},
        spc={"rules": "none"},
        ingest={"client_id": f"ingest-{uuid.uuid4().hex[:8]}"},
    )
    published = readings_for(enterprise, 2000)
    running = start_ingest(settings)
    assert running.service.client.fast_read is fast_reader
    publisher = MqttClient(broker.address, max_outstanding=500)
    publisher.connect()
    for topic, payload in published[:1000]:
        publisher.publish(topic, payload, qos=1)
    assert publisher.wait_published(30)
    assert wait_until(lambda: running.service.counters.stored >= 500)
    assert running.stop()  # mid-stream: what it took is stored and acknowledged, the rest waits at the broker
    for topic, payload in published[1000:]:
        publisher.publish(topic, payload, qos=1)  # published while ingestion is away
    assert publisher.wait_published(30)
    publisher.close()
    running = start_ingest(settings)
    assert wait_until(lambda: count_readings(settings.store) == len(published), timeout=30)
    assert running.stop()
    assert stored_readings(settings.store) == expected_readings(published)
