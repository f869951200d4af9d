"""The real mosquitto 2 with the configuration `classroom init` writes: who may connect, read and write what."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from smartfactory.classroom.broker import ClassBroker
from smartfactory.classroom.roster import DASHBOARD_USER, INGEST_USER, LECTURER, ClassDir
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.errors import BrokerError
from smartfactory.settings import BrokerAddress
from tests.conftest import wait_until


class Inbox:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.messages: list[Message] = []

    def __call__(self, message: Message) -> None:
        with self.lock:
            self.messages.append(message)

    def topics(self) -> list[str]:
        with self.lock:
            return [m.topic for m in self.messages]


def address(broker: ClassBroker, user: str | None = None, password: str | None = None) -> BrokerAddress:
    return BrokerAddress("127.0.0.1", broker.port, user, password)


@contextmanager
def connected(
    broker: ClassBroker, folder: ClassDir, user: str, *filters: str, password: str | None = None
) -> Iterator[tuple[MqttClient, Inbox]]:
    account = folder.accounts()[user]
    inbox = Inbox()
    client = MqttClient(address(broker, user, password or account.password), on_message=inbox)
    for topic_filter in filters:
        client.subscribe(topic_filter, qos=1)
    client.connect(5)
    try:
        yield client, inbox
    finally:
        client.close()


def test_anonymous_clients_are_refused(class_broker: ClassBroker) -> None:
    with pytest.raises(BrokerError, match="refused the connection"):
        MqttClient(address(class_broker)).connect(3)


def test_a_wrong_password_is_refused(class_broker: ClassBroker, class_dir: ClassDir) -> None:
    with pytest.raises(BrokerError, match="refused the connection"):
        MqttClient(address(class_broker, "student-01", "not-the-password")).connect(3)
    with pytest.raises(BrokerError, match="refused the connection"):
        MqttClient(address(class_broker, "nobody", class_dir.accounts()["student-01"].password)).connect(3)


def test_students_are_isolated_and_the_lecturer_reads_both(class_broker: ClassBroker, class_dir: ClassDir) -> None:
    run = uuid.uuid4().hex[:6]
    a_topic = f"lab/student-01/area/line/m/telemetry/{run}"
    b_topic = f"lab/student-02/area/line/m/telemetry/{run}"
    forged = f"{b_topic}-forged"
    with (
        connected(class_broker, class_dir, LECTURER, "lab/#") as (_, lecturer),
        connected(class_broker, class_dir, "student-01", "lab/student-02/#", "lab/student-01/#", "#") as (_, a_in),
        connected(class_broker, class_dir, "student-02", "lab/student-02/#") as (b, b_in),
    ):
        b.publish(b_topic, b"from-b", qos=1)  # B in its own namespace
        assert wait_until(lambda: b_topic in b_in.topics(), timeout=10)
        # A writes from a connection of its own (mosquitto 2.0.11 answers a denied QoS 1 publish of an MQTT 3.1.1
        # client with a PUBACK carrying a reason code, and paho drops that connection): first into B's namespace,
        # then into its own. The second arrives after the broker handled the first.
        with connected(class_broker, class_dir, "student-01") as (writer, _):
            writer.publish(forged, b"from-a", qos=1)
            writer.publish(a_topic, b"from-a", qos=1)
            assert wait_until(lambda: a_topic in lecturer.topics(), timeout=15), lecturer.topics()
        assert wait_until(lambda: a_topic in a_in.topics(), timeout=10), a_in.topics()
        # B publishes once more: A's subscriptions are confirmed, and B's first message came long before A's own
        b.publish(b_topic, b"again", qos=1)
        assert wait_until(lambda: lecturer.topics().count(b_topic) >= 2, timeout=10)
        assert wait_until(lambda: b_in.topics().count(b_topic) >= 2, timeout=10)
    assert b_topic in lecturer.topics(), "the lecturer reads B"
    assert not [t for t in a_in.topics() if t.startswith("lab/student-02/")], "A read B's namespace"
    assert forged not in lecturer.topics(), "A wrote into B's namespace"
    assert forged not in b_in.topics(), "A wrote into B's namespace"


def test_students_read_public_and_only_the_lecturer_writes_there(
    class_broker: ClassBroker, class_dir: ClassDir
) -> None:
    own = "lab/student-01/area/line/m/telemetry/marker"
    with (
        connected(class_broker, class_dir, "student-01", "lab/_public/#") as (_, a_in),
        connected(class_broker, class_dir, LECTURER, "lab/#") as (lecturer, lect_in),
    ):
        lecturer.publish("lab/_public/notes", b"hello class", qos=1)
        assert wait_until(lambda: "lab/_public/notes" in a_in.topics(), timeout=10)
        with connected(class_broker, class_dir, "student-01") as (writer, _):
            writer.publish("lab/_public/forged", b"x", qos=1)
            writer.publish(own, b"x", qos=1)  # handled after the forged one
            assert wait_until(lambda: own in lect_in.topics(), timeout=15)
    assert "lab/_public/forged" not in a_in.topics() + lect_in.topics()


def test_the_lecturer_writes_commands_anywhere_and_nothing_else(class_broker: ClassBroker, class_dir: ClassDir) -> None:
    cmd = "lab/student-02/area/line/m/cmd"
    forged = "lab/student-02/area/line/m/telemetry/forged"
    with connected(class_broker, class_dir, "student-02", "lab/student-02/#") as (_, b_in):
        with connected(class_broker, class_dir, LECTURER) as (lecturer, _):
            lecturer.publish(forged, b"1", qos=1)
        with connected(class_broker, class_dir, LECTURER) as (lecturer, _):
            lecturer.publish(cmd, b"{}", qos=1)
            assert wait_until(lambda: cmd in b_in.topics(), timeout=15)
    assert forged not in b_in.topics()


def test_ingestion_reads_every_namespace_and_the_dashboard_only_births(
    class_broker: ClassBroker, class_dir: ClassDir
) -> None:
    status = "lab/student-02/area/line/m/status"
    telemetry = "lab/student-01/area/line/m/telemetry/t"
    with (
        connected(class_broker, class_dir, INGEST_USER, "#") as (_, ingest_in),
        connected(class_broker, class_dir, DASHBOARD_USER, "#", "+/+/+/+/+/status") as (_, dash_in),
        connected(class_broker, class_dir, "student-01") as (a, _),
        connected(class_broker, class_dir, "student-02") as (b, _),
    ):
        a.publish(telemetry, b"1", qos=1)
        b.publish(status, b'{"status": "online"}', qos=1, retain=True)
        assert wait_until(lambda: {telemetry, status} <= set(ingest_in.topics()), timeout=10)
        assert wait_until(lambda: status in dash_in.topics(), timeout=10)
        b.publish(status, b"", qos=1, retain=True)  # clear the retained birth
    assert telemetry not in dash_in.topics()


def test_an_oversize_packet_is_refused_and_ordinary_ones_pass(class_broker: ClassBroker, class_dir: ClassDir) -> None:
    """The class broker refuses a packet over its max_packet_size (1 MiB + 64 KiB) before reading it: the sender
    is disconnected and nobody receives it; the lecturer still gets an ordinary message after it."""
    topic = f"lab/student-01/area/line/m/telemetry/{uuid.uuid4().hex[:6]}"
    with connected(class_broker, class_dir, LECTURER, "lab/#") as (_, lecturer):
        with connected(class_broker, class_dir, "student-01") as (writer, _):
            writer.publish(topic, b"x" * (3 * 1024 * 1024), qos=1)
            assert wait_until(lambda: not writer.connected, timeout=10)  # the broker cut it off
        with connected(class_broker, class_dir, "student-01") as (writer, _):
            writer.publish(topic, b"small", qos=1)
            assert wait_until(lambda: topic in lecturer.topics(), timeout=10)
        assert [m.payload for m in lecturer.messages if m.topic == topic] == [b"small"]
