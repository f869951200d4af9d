"""The MQTT edge's batched read path against stock paho, on a real mosquitto: same messages, same fields."""

from __future__ import annotations

import threading
import time
import uuid

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from smartfactory.broker import RunningBroker
from smartfactory.mqtt import Message, MqttClient, ProtocolVersion, fast_read_supported
from tests.ingest.conftest import needs_mosquitto, wait_until

pytestmark = [pytest.mark.integration, needs_mosquitto]

# Sizes around the remaining-length boundaries (1, 2, 3 and 4 bytes) and bigger than one 256 KiB read.
SIZES = [0, 1, 100, 127, 128, 16_383, 16_384, 300_000, 2_097_152]


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
    return client, got


def test_the_fast_path_is_in_use_on_this_paho() -> None:
    assert fast_read_supported()


@pytest.mark.parametrize("protocol", ["3.1.1", "5"])
def test_fast_and_stock_readers_deliver_identical_messages(broker: RunningBroker, protocol: ProtocolVersion) -> None:
    prefix = f"fr-{uuid.uuid4().hex[:6]}"
    readers = {fast: subscriber(broker, fast, protocol) for fast in (True, False)}
    for client, _ in readers.values():
        client.subscribe(f"{prefix}/#", qos=1)
        client.connect()
    time.sleep(0.2)
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
    time.sleep(0.2)
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
@pytest.mark.parametrize("fast", [True, False])
def test_batch_acknowledgement_ends_redelivery(broker: RunningBroker, protocol: ProtocolVersion, fast: bool) -> None:
    prefix = f"ack-{uuid.uuid4().hex[:6]}"
    client_id = f"acker-{uuid.uuid4().hex[:6]}"

    def session() -> tuple[MqttClient, Collector]:
        client, got = subscriber(broker, fast, protocol, client_id=client_id, persistent=True, manual_ack=True)
        client.subscribe(f"{prefix}/#", qos=1)
        client.connect()
        return client, got

    client, got = session()
    time.sleep(0.2)
    publisher = MqttClient(broker.address)
    publisher.connect()
    for i in range(300):
        publisher.publish(f"{prefix}/{i}", str(i).encode(), qos=1)
    assert publisher.wait_published(10)
    assert wait_until(lambda: len(got.messages) == 300)
    assert client.ack_messages(got.messages[:200]) == 200  # the first 200 are "stored"
    time.sleep(0.3)
    client.abort()  # a crash: the last 100 were never acknowledged

    again, got_again = session()
    assert wait_until(lambda: len(got_again.messages) >= 100)
    time.sleep(0.3)
    assert sorted(int(m.payload) for m in got_again.messages) == list(range(200, 300))
    assert all(m.dup for m in got_again.messages)  # the broker flags redeliveries
    assert again.ack_messages(got_again.messages) == 100
    # Messages of an earlier connection are never acknowledged on this one.
    assert again.ack_messages(got.messages[200:]) == 0
    again.close()
    publisher.close()
