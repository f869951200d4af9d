"""Shared fixtures: one MQTT broker for the session (private ones for tests that stop theirs), unique topics,
a temporary SQLite store, and `wait_until` for polling instead of sleeping."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker, mosquitto_binary, start_amqtt, start_mosquitto
from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.settings import BrokerAddress
from smartfactory.storage.sqlite import SqliteStorage

ROOT = Path(__file__).resolve().parents[1]
#: found on PATH or in /usr/sbin (Debian's place for it, not on a normal user's PATH)
MOSQUITTO = mosquitto_binary()
HAVE_MOSQUITTO = MOSQUITTO is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def path_with_interpreter_bin(path: str | None = None) -> str:
    """PATH with the running interpreter's folder first, so a subprocess finds the venv's console scripts
    (`smartfactory`) even when the tests run as `.venv/bin/python -m pytest` without an activated venv."""
    rest = os.environ.get("PATH", os.defpath) if path is None else path
    return os.pathsep.join([str(Path(sys.executable).parent), *(part for part in rest.split(os.pathsep) if part)])


def wait_until(condition: Callable[[], bool], timeout: float = 20.0, interval: float = 0.05) -> bool:
    """Poll `condition` until it holds or `timeout` seconds pass; return its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return condition()


def broker_kind() -> str:
    """mosquitto when installed (CI installs it), else amqtt; SMARTFACTORY_TEST_BROKER forces one."""
    forced = os.environ.get("SMARTFACTORY_TEST_BROKER")
    if forced:
        return forced
    return "mosquitto" if HAVE_MOSQUITTO else "amqtt"


def start_test_broker(kind: str, data_dir: Path) -> RunningBroker:
    address = BrokerAddress("127.0.0.1", free_port())
    if kind == "mosquitto":
        if not HAVE_MOSQUITTO:
            pytest.skip("mosquitto is not installed (CI installs it: apt-get install mosquitto)")
        return start_mosquitto(address, data_dir)
    return start_amqtt(address)


def broker_alive(running: RunningBroker) -> bool:
    """True while the broker runs: its process exists (mosquitto), or its port accepts connections (amqtt)."""
    if running.pid is not None:
        try:
            os.kill(running.pid, 0)  # signal 0: only asks whether the process exists
        except ProcessLookupError:
            return False
        return True
    try:
        socket.create_connection((running.address.host, running.address.port), timeout=2).close()
    except OSError:
        return False
    return True


class SessionBroker:
    """One broker for every test that neither stops it nor listens to every topic (started on first use).

    Tests keep apart by topic: each uses its own `enterprise` prefix and subscribes below it, as aiomqtt's
    tests do. A test that stops the shared broker fails in teardown with advice, and the next test gets a new one.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.running: RunningBroker | None = None
        self.started = 0

    def get(self) -> RunningBroker:
        if self.running is None or not broker_alive(self.running):
            if self.running is not None:
                self.running.stop()
            self.started += 1
            self.running = start_test_broker(broker_kind(), self.data_dir / f"broker-{self.started}")
        return self.running

    def stop(self) -> None:
        if self.running is not None:
            self.running.stop()
            self.running = None


def clear_retained(address: BrokerAddress, timeout: float = 10.0) -> int:
    """Delete every retained message on the broker (an empty retained payload deletes one); return how many.

    Run before each test on the shared broker, so a test that subscribes to `#` (ingestion) sees what it
    would see on a fresh broker. The broker sends retained messages right after the subscription, so once a
    marker published after subscribing is back, every retained one has arrived.
    """
    marker = f"_sf/test/clean-{uuid.uuid4().hex}"
    retained: set[str] = set()
    seen = threading.Event()

    def take(message: Message) -> None:
        if message.topic == marker:
            seen.set()
        elif message.retain and message.payload:
            retained.add(message.topic)

    client = MqttClient(address, on_message=take)
    client.subscribe("#", qos=1)
    client.connect()  # returns once the broker confirmed the subscription
    try:
        client.publish(marker, b"", qos=1)
        if not seen.wait(timeout):
            raise AssertionError(f"the shared broker at {address.url()} did not echo a marker in {timeout:g} s")
        for topic in sorted(retained):
            client.publish(topic, b"", qos=1, retain=True)
        if not client.wait_published(timeout):
            raise AssertionError(f"the shared broker at {address.url()} did not confirm clearing {len(retained)}")
    finally:
        client.close()
    return len(retained)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "private_broker: the test stops, kills or restarts its broker, so `broker` is a broker of its own",
    )


@pytest.fixture(autouse=True)
def _thaw_the_heap() -> Iterator[None]:
    """dashboard/app.py freezes the start-up heap once per process (dashboard/heap.py). A test process runs the
    app again and again between other tests: thaw it after each test, so nothing a test leaves frozen outlives it."""
    yield
    from dashboard import heap

    heap.thaw()


@pytest.fixture(scope="session")
def session_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SessionBroker]:
    shared = SessionBroker(tmp_path_factory.mktemp("session-broker"))
    yield shared
    shared.stop()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[RunningBroker]:
    """A broker for this test alone (mosquitto, or amqtt where mosquitto is absent), stopped after it."""
    running = start_test_broker(broker_kind(), tmp_path / "broker")
    yield running
    running.stop()


@pytest.fixture
def broker(request: pytest.FixtureRequest, session_broker: SessionBroker, tmp_path: Path) -> Iterator[RunningBroker]:
    """The session's shared mosquitto; a private broker for tests marked `private_broker` (and with amqtt).

    Earlier tests' retained messages are deleted first, so even a subscriber to `#` starts as on a fresh broker.
    Folders whose tests run ingestion or kill brokers override this fixture with `private_broker`.
    """
    # amqtt (the fallback where mosquitto is missing) runs in this process and leaves the sockets of departed
    # clients to the garbage collector, whose ResourceWarnings would surface in later tests: one per test there
    if request.node.get_closest_marker("private_broker") or broker_kind() != "mosquitto":
        running = start_test_broker(broker_kind(), tmp_path / "broker")
        yield running
        running.stop()
        return
    shared = session_broker.get()
    clear_retained(shared.address)
    yield shared
    if not broker_alive(shared):
        pytest.fail(
            "the test stopped the session's shared broker; mark it @pytest.mark.private_broker to get its own",
            pytrace=False,
        )


@pytest.fixture
def enterprise() -> str:
    """A unique enterprise level so tests never see each other's messages (aiomqtt's habit)."""
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStorage]:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.close()
