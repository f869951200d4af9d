"""OPC UA fixtures: a free endpoint, the simulator serving it (in this process or as a subprocess that a test may
kill), and the bridge running in a thread of its own."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from smartfactory.edge.broker import RunningBroker
from smartfactory.edge.mqtt import MqttClient
from smartfactory.opcua.bridge import BridgeOptions, OpcUaBridge
from smartfactory.opcua.outbox import Outbox
from smartfactory.services import RunningIngest, start_ingest
from smartfactory.settings import Settings, load_settings
from tests.conftest import free_port, path_with_interpreter_bin, wait_until


def endpoint_answers(endpoint: str) -> bool:
    host, port = endpoint.removeprefix("opc.tcp://").rstrip("/").rsplit(":", 1)
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.fixture
def endpoint() -> str:
    return f"opc.tcp://127.0.0.1:{free_port()}"


class ServerProcess:
    """`smartfactory simulate --no-mqtt --opcua-endpoint …` as a child process (kill -9 it, start it again)."""

    def __init__(self, endpoint: str, data_dir: Path, *extra: str) -> None:
        self.endpoint = endpoint
        self.data_dir = data_dir
        self.extra = extra
        self.child: subprocess.Popen[bytes] | None = None
        self.log = data_dir / "simulate.log"

    def start(self) -> None:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("SMARTFACTORY_")},
            "PATH": path_with_interpreter_bin(),
            "SMARTFACTORY_DATA_DIR": str(self.data_dir),
        }
        command = [sys.executable, "-m", "smartfactory", "simulate", "--no-mqtt", "--opcua-endpoint", self.endpoint]
        with self.log.open("ab") as out:
            self.child = subprocess.Popen([*command, *self.extra], env=env, stdout=out, stderr=out)
        if not wait_until(lambda: endpoint_answers(self.endpoint) or self.child.poll() is not None, 60, 0.2):
            raise AssertionError(f"the OPC UA simulator did not listen within 60 s:\n{self.log.read_text()}")
        if self.child.poll() is not None:
            raise AssertionError(f"the OPC UA simulator exited:\n{self.log.read_text()}")

    def kill(self) -> None:
        """SIGKILL: no goodbye to the clients, as a crashed controller or a pulled plug."""
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGKILL)
            self.child.wait(10)

    def stop(self) -> None:
        if self.child is not None and self.child.poll() is None:
            self.child.terminate()
            try:
                self.child.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server_process(endpoint: str, tmp_path: Path) -> Iterator[ServerProcess]:
    process = ServerProcess(endpoint, tmp_path)
    yield process
    process.stop()


class BridgeThread:
    """The bridge's event loop in a thread; `stop()` ends it and returns once it has flushed."""

    def __init__(self, options: BridgeOptions, publish: Callable[[str, bytes, bool], None]) -> None:
        self.bridge = OpcUaBridge(options, publish)
        self.loop = asyncio.new_event_loop()
        self._stop = asyncio.Event()
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._main, name="test-bridge", daemon=True)
        self.thread.start()

    def _main(self) -> None:
        try:
            self.loop.run_until_complete(self.bridge.run(self._stop))
        except BaseException as exc:
            self.error = exc

    def stop(self) -> None:
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self._stop.set)
            self.thread.join(20)
        if not self.thread.is_alive():
            self.loop.close()


@pytest.fixture
def broker(private_broker: RunningBroker) -> RunningBroker:
    """Ingestion subscribes to `#`: a broker of this test's own (as tests/integration does)."""
    return private_broker


@pytest.fixture
def pipeline_settings(broker: RunningBroker, tmp_path: Path) -> Settings:
    return load_settings(
        mqtt_url=broker.address.url(masked=False),
        store=f"sqlite:///{tmp_path / 'opcua.db'}",
        data_dir=tmp_path,
        ingest={"client_id": f"ingest-{tmp_path.name[-12:]}", "flush_interval": 0.05},
    )


@pytest.fixture
def ingest(pipeline_settings: Settings) -> Iterator[RunningIngest]:
    running = start_ingest(pipeline_settings)
    yield running
    running.stop()


@pytest.fixture
def outbox(broker: RunningBroker) -> Iterator[Outbox]:
    """The bridge's way to the broker, as `smartfactory bridge opcua` builds it."""
    client = MqttClient(broker.address, client_id="test-opcua-bridge")
    client.connect()
    box = Outbox(client)
    yield box
    box.close()
