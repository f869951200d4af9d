"""Shared fixtures: a private MQTT broker on a free loopback port, unique topics, a temporary SQLite store."""

from __future__ import annotations

import os
import shutil
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smartfactory.broker import RunningBroker, start_amqtt, start_mosquitto
from smartfactory.settings import BrokerAddress
from smartfactory.storage.sqlite import SqliteStorage

ROOT = Path(__file__).resolve().parents[1]
HAVE_MOSQUITTO = shutil.which("mosquitto") is not None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[RunningBroker]:
    """A private broker for one test (mosquitto, or amqtt where mosquitto is absent)."""
    running = start_test_broker(broker_kind(), tmp_path / "broker")
    yield running
    running.stop()


@pytest.fixture
def enterprise() -> str:
    """A unique enterprise level so tests never see each other's messages (aiomqtt's habit)."""
    return f"test-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[SqliteStorage]:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'store.db'}")
    yield store
    store.close()
