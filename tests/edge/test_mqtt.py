"""The MQTT edge's default path: paho's public API only, the fast reader not even imported, reconnects that
follow the project's retry policy."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from smartfactory.edge import fastread
from smartfactory.edge import mqtt as edge_mqtt
from smartfactory.edge.broker import start_mosquitto
from smartfactory.edge.mqtt import RECONNECT, Message, MqttClient
from smartfactory.settings import BrokerAddress, load_settings
from tests.conftest import HAVE_MOSQUITTO, free_port, wait_until

ADDRESS = BrokerAddress("127.0.0.1", 9)  # nothing is sent: these clients never connect


def test_the_default_client_is_paho_itself() -> None:
    client = MqttClient(ADDRESS)
    assert client.fast_read is False
    assert type(client._client) is paho.Client
    assert load_settings().mqtt.fast_reader is False


def test_the_fast_reader_is_opt_in_and_isolated() -> None:
    assert MqttClient(ADDRESS, fast_read=True).fast_read is True
    # Importing the edge, ingestion's assembly and building a default client never loads the private-API module.
    probe = (
        "import sys\n"
        "import smartfactory.edge, smartfactory.services\n"
        "from smartfactory.edge.mqtt import MqttClient\n"
        "from smartfactory.settings import BrokerAddress\n"
        "MqttClient(BrokerAddress('127.0.0.1', 9), client_id='x', persistent=True, manual_ack=True)\n"
        "print('smartfactory.edge.fastread' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "False"


def test_the_default_path_touches_no_paho_internals() -> None:
    source = Path(edge_mqtt.__file__).read_text()
    for name in (*fastread.PAHO_INTERNALS, "_topic", "_sock", "_manual_ack", "_out_packet"):
        assert not re.search(rf"\.{name}\b", source), f"edge/mqtt.py uses paho's private {name}"


def test_the_fast_reader_setting_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMARTFACTORY_MQTT__FAST_READER", "true")
    assert load_settings().mqtt.fast_reader is True


def test_an_undecodable_topic_is_delivered_with_replacement_characters() -> None:
    got: list[Message] = []
    client = MqttClient(ADDRESS, on_message=got.append)
    msg = paho.MQTTMessage(mid=7, topic=b"acme/\xffbad/telemetry")
    msg.payload = b"{}"
    msg.qos = 1
    client._handle_message(client._client, None, msg)  # what paho's network thread calls
    assert [(m.topic, m.payload, m.qos, m.mid) for m in got] == [("acme/\ufffdbad/telemetry", b"{}", 1, 7)]


def test_reconnect_pauses_follow_the_retry_policy() -> None:
    low = [RECONNECT.delay(n, rng=lambda: 0.0) for n in range(1, 9)]
    assert low == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]  # doubling, capped at 30 s
    high = [RECONNECT.delay(n, rng=lambda: 0.999_999) for n in range(1, 4)]
    assert high == pytest.approx([0.5, 1.0, 2.0], abs=1e-5)  # at most half is taken off
    assert RECONNECT.retries is None  # never gives up


@pytest.mark.integration
@pytest.mark.skipif(not HAVE_MOSQUITTO, reason="needs mosquitto: apt-get install mosquitto")
def test_a_subscriber_reconnects_and_resubscribes_after_the_broker_restarts(tmp_path: Path) -> None:
    address = BrokerAddress("127.0.0.1", free_port())
    broker = start_mosquitto(address, tmp_path / "broker")
    topic = f"rc-{uuid.uuid4().hex[:6]}/x"
    got: list[Message] = []
    client = MqttClient(address, on_message=got.append)
    client.subscribe(topic, qos=1)
    client.connect()
    first = client.session
    try:
        broker.stop()
        assert wait_until(lambda: not client.connected, timeout=10)
        broker = start_mosquitto(address, tmp_path / "broker")
        assert wait_until(lambda: client.connected, timeout=15)  # the first pause is at most 1 s
        assert client.session != first
        publisher = MqttClient(address)
        publisher.connect()
        deadline = time.monotonic() + 10
        while not got and time.monotonic() < deadline:  # the re-subscription may still be on its way
            publisher.publish(topic, b"back", qos=1)
            assert publisher.wait_published(5)
            wait_until(lambda: bool(got), timeout=0.5)
        publisher.close()
        assert got
        assert got[0].payload == b"back"
        assert got[0].session == client.session
    finally:
        client.close()
        broker.stop()
