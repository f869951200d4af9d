"""Fixtures for ingestion tests: brokers we can kill, ingestion in-process or as a `smartfactory ingest` process,
publishers that wait for every acknowledgement, and a store whose outage a test controls."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from smartfactory.edge.broker import Durability, RunningBroker, start_mosquitto
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.errors import StoreUnavailable
from smartfactory.model import Reading
from smartfactory.settings import BrokerAddress, Settings, load_settings
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import format_ts
from tests.conftest import HAVE_MOSQUITTO, broker_kind, free_port
from tests.conftest import wait_until as shared_wait_until

Published = list[tuple[str, bytes]]


@pytest.fixture
def broker(private_broker: RunningBroker) -> RunningBroker:
    """A broker of this test's own, not the session's shared one: ingestion subscribes to `#` (it would
    receive every earlier test's retained messages), and several tests here kill or restart the broker."""
    return private_broker


needs_mosquitto = pytest.mark.skipif(
    not HAVE_MOSQUITTO or broker_kind() != "mosquitto",
    reason="needs mosquitto (persistence, shared subscriptions, MQTT 5): apt-get install mosquitto",
)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.02) -> bool:
    """The shared poller with the longer timeout crash and outage tests need."""
    return shared_wait_until(condition, timeout, interval)


class BrokerControl:
    """A private mosquitto a test can SIGKILL and start again on the same port and data folder."""

    def __init__(self, data_dir: Path, durability: Durability) -> None:
        self.data_dir = data_dir
        self.durability: Durability = durability
        self.broker = start_mosquitto(BrokerAddress("127.0.0.1", free_port()), data_dir, durability=durability)

    @property
    def address(self) -> BrokerAddress:
        return self.broker.address

    def kill(self) -> None:
        self.broker.kill()

    def restart(self) -> None:
        self.broker = start_mosquitto(self.address, self.data_dir, durability=self.durability)

    def stop(self) -> None:
        self.broker.stop()


@pytest.fixture
def durable_broker(tmp_path: Path) -> Iterator[BrokerControl]:
    """A private mosquitto that saves every change, so a SIGKILL loses nothing it acknowledged."""
    if not HAVE_MOSQUITTO:
        pytest.skip("mosquitto is not installed (CI installs it: apt-get install mosquitto)")
    control = BrokerControl(tmp_path / "broker", "every_change")
    yield control
    control.stop()


def ingest_settings(
    broker: RunningBroker | BrokerControl, tmp_path: Path, *, spc_rules: str = "we", **ingest: Any
) -> Settings:
    return load_settings(
        mqtt_url=broker.address.url(masked=False),
        store=f"sqlite:///{tmp_path / 'ingest.db'}",
        data_dir=tmp_path,
        spc={"rules": spc_rules},
        ingest={"client_id": f"ingest-{uuid.uuid4().hex[:8]}", "health_interval": 0.2, **ingest},
    )


def readings_for(enterprise: str, count: int, *, sensors: int = 3, start_ms: int | None = None) -> Published:
    """`count` single-reading messages, 1 ms apart, values that identify them (i + 0.25)."""
    start = start_ms if start_ms is not None else int(time.time() * 1000) - count - 1000
    out: Published = []
    for i in range(count):
        topic = f"{enterprise}/p/a/l/m{i % 2}/telemetry/s{i % sensors}"
        out.append((topic, json.dumps({"value": i + 0.25, "ts": format_ts(start + i)}).encode()))
    return out


def expected_readings(published: Sequence[tuple[str, bytes]]) -> dict[tuple[str, int], float]:
    """What a correct store holds for single-reading messages: computed from the payloads we wrote, not the service."""
    from datetime import datetime

    out = {}
    for topic, payload in published:
        body = json.loads(payload)
        ts = body["ts"]
        ms = ts if isinstance(ts, int) else int(datetime.fromisoformat(ts).timestamp() * 1000)
        out[(topic, ms)] = float(body["value"])
    return out


def stored_readings(store_url: str) -> dict[tuple[str, int], float]:
    store = SqliteStorage(store_url)
    try:
        return {(r.series, r.ts_ms): r.value for chunk in store.iter_readings() for r in chunk}
    finally:
        store.close()


def send_barrier(address: BrokerAddress, store_url: str, enterprise: str = "barrier") -> Callable[[], bool]:
    """Publish a barrier message and return the condition "ingestion has stored it", to poll with `wait_until`.

    The barrier is one machine-state message on a machine of its own, published after everything else. Once it
    is stored, every message the broker took before it has been delivered and written (one session's messages
    arrive in order, and ingestion writes its batches in order), so "nothing more can arrive" becomes a condition
    to poll instead of a time to sleep. It goes to the states table: readings, duplicates and dead letters are
    unchanged.
    """
    machine = f"barrier-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"state": "idle", "ts": format_ts(int(time.time() * 1000))}).encode()
    publisher = Publisher(address)
    try:
        publisher.send([(f"{enterprise}/p/a/l/{machine}/state", body)])
    finally:
        publisher.close()

    def stored() -> bool:
        store = SqliteStorage(store_url)
        try:
            return any(state.machine.endswith(f"/{machine}") for state in store.read_states())
        finally:
            store.close()

    return stored


def count_readings(store_url: str) -> int:
    store = SqliteStorage(store_url)
    try:
        return store.count_readings()
    finally:
        store.close()


class Publisher:
    """A QoS 1 publisher that waits for the broker's acknowledgements (and resends over reconnects)."""

    def __init__(self, address: BrokerAddress) -> None:
        self.client = MqttClient(address, client_id=f"pub-{uuid.uuid4().hex[:8]}", max_outstanding=500)
        self.client.connect()

    def send(self, messages: Sequence[tuple[str, bytes]], *, pace: float = 0.0, wait: float = 60.0) -> None:
        for topic, payload in messages:
            self.client.publish(topic, payload, qos=1, timeout=wait)
            if pace:
                time.sleep(pace)
        assert self.client.wait_published(wait), "the broker did not acknowledge every message"

    def close(self) -> None:
        self.client.close()


@pytest.fixture
def publisher_factory() -> Iterator[Callable[[BrokerAddress], Publisher]]:
    made: list[Publisher] = []

    def make(address: BrokerAddress) -> Publisher:
        made.append(Publisher(address))
        return made[-1]

    yield make
    for publisher in made:
        publisher.client.abort()


class Listener:
    """Collects messages on a topic filter (dead letters, health) for assertions."""

    def __init__(self, address: BrokerAddress, topic_filter: str) -> None:
        self.messages: list[Message] = []
        self._lock = threading.Lock()
        self.client = MqttClient(address, on_message=self._take)
        self.client.subscribe(topic_filter, qos=0)
        self.client.connect()

    def _take(self, message: Message) -> None:
        with self._lock:
            self.messages.append(message)

    def bodies(self) -> list[dict[str, Any]]:
        with self._lock:
            return [json.loads(m.payload) for m in self.messages]

    def close(self) -> None:
        self.client.close()


class FlakyStore:
    """A real SqliteStorage whose writes raise StoreUnavailable while `down` is set (the outage a test controls).

    It records the order in which readings reached the real store, to check replay order.
    """

    def __init__(self, inner: SqliteStorage) -> None:
        self.inner = inner
        self.url = inner.url
        self.down = threading.Event()
        self.written: list[Reading] = []

    def write_readings(self, readings: Sequence[Reading]) -> int:
        if self.down.is_set():
            raise StoreUnavailable("test outage: the store is down")
        new = self.inner.write_readings(readings)
        self.written.extend(readings)
        return new

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.inner, name)
        if name.startswith("write_") or name == "ack_alarms":

            def guarded(*args: Any, **kwargs: Any) -> Any:
                if self.down.is_set():
                    raise StoreUnavailable("test outage: the store is down")
                return attr(*args, **kwargs)

            return guarded
        return attr


class IngestProcess:
    """`smartfactory ingest` as a real process (for kill -9 and SIGTERM tests)."""

    def __init__(self, settings: Settings, log_path: Path, extra_env: dict[str, str] | None = None) -> None:
        """`extra_env`: more SMARTFACTORY_* variables for the process (say, a short phase I for the monitor)."""
        env = {
            **{
                k: v
                for k, v in os.environ.items()
                if not k.startswith("SMARTFACTORY_") or k == "SMARTFACTORY_TEST_BROKER"
            },
            "SMARTFACTORY_DATA_DIR": str(settings.data_dir),
            "SMARTFACTORY_INGEST__HEALTH_INTERVAL": str(settings.ingest.health_interval),
            **(extra_env or {}),
        }
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "smartfactory",
                "ingest",
                "--mqtt-url",
                settings.mqtt_url,
                "--store",
                settings.store,
                "--client-id",
                settings.ingest.client_id,
                *(["--group", settings.ingest.group] if settings.ingest.group else []),
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
        )

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)
        self._log.close()

    def terminate(self, timeout: float = 30) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout)
        self._log.close()
        return code

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None


def start_service(settings: Settings, store: Any, *, spool: Any = "default", monitor: bool = True) -> Any:
    """What `start_ingest` does, with a store (and spool) the test hands in: returns the started IngestService."""
    from smartfactory.ingest.monitor import MonitorStage
    from smartfactory.ingest.service import IngestService
    from smartfactory.ingest.spool import Spool
    from smartfactory.services import spool_directory

    if spool == "default":
        spool = Spool(spool_directory(settings))
    client = MqttClient(
        BrokerAddress("127.0.0.1", int(settings.mqtt_url.rsplit(":", 1)[1])),
        client_id=settings.ingest.client_id,
        persistent=True,
        protocol="5",
        manual_ack=True,
    )
    service = IngestService(client, store, settings.ingest, monitor=MonitorStage() if monitor else None, spool=spool)
    client.set_message_handler(service.on_message)
    client.connect()
    service.start()
    return service
