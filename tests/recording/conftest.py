"""Brokers for recording tests: each test records on one private broker and replays into a fresh one."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.settings import BrokerAddress
from tests.conftest import broker_kind, start_test_broker, wait_until


@pytest.fixture
def second_broker(tmp_path: Path) -> Iterator[RunningBroker]:
    """A second private broker: the fresh one a recording is replayed into (mosquitto: the watchers and the
    recorder's retain flags need MQTT 5, which the amqtt fallback does not speak)."""
    if broker_kind() != "mosquitto":
        pytest.skip("needs mosquitto (MQTT 5); CI installs it: apt-get install mosquitto")
    running = start_test_broker(broker_kind(), tmp_path / "broker-2")
    yield running
    running.stop()


@dataclass
class Collector:
    """A subscriber to `#` that keeps every message (and when it arrived, monotonic seconds)."""

    address: BrokerAddress
    messages: list[Message] = field(default_factory=list)
    arrived: list[float] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    client: MqttClient | None = None

    def take(self, message: Message) -> None:
        with self.lock:
            self.messages.append(message)
            self.arrived.append(time.monotonic())

    def start(self) -> Collector:
        self.client = MqttClient(self.address, client_id=f"collect-{uuid.uuid4().hex[:6]}", protocol="5")
        self.client.set_message_handler(self.take)
        self.client.subscribe("#", qos=2, retain_as_published=True)
        self.client.connect()
        return self

    def wait_for(self, topic: str, timeout: float = 20.0) -> bool:
        return wait_until(lambda: any(m.topic == topic for m in list(self.messages)), timeout)

    def stop(self) -> None:
        if self.client is not None:
            self.client.close()
