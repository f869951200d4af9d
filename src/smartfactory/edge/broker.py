"""Finding or starting an MQTT broker for the demo, the tests and `smartfactory broker`.

Order of preference: a broker that already answers at the configured address; a private `mosquitto`
(when installed: on PATH, or in /usr/sbin where Debian puts it) with its own config, persistence and log under
the data folder; else amqtt, a pure-Python broker, in a thread of this process (no persistent sessions for
anonymous clients, no shared subscriptions, no MQTT 5: fine for a demo, not for production).
"""

from __future__ import annotations

import asyncio
import getpass
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from smartfactory.edge.mqtt import broker_answers
from smartfactory.errors import BrokerError
from smartfactory.settings import BrokerAddress

log = logging.getLogger(__name__)

BrokerKind = Literal["existing", "mosquitto", "amqtt"]
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class RunningBroker:
    """A broker we use; `stop()` stops it if we started it."""

    kind: BrokerKind
    address: BrokerAddress
    detail: str = ""
    data_dir: Path | None = None
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _amqtt: AmqttThread | None = field(default=None, repr=False)

    def describe(self) -> str:
        where = self.address.url()
        return {
            "existing": f"using the MQTT broker already running at {where}",
            "mosquitto": f"started a private mosquitto at {where} ({self.detail})",
            "amqtt": f"started an in-process amqtt broker at {where} (mosquitto not installed)",
        }[self.kind]

    def stop(self, timeout: float = 5.0) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()  # SIGTERM: mosquitto writes its persistence file on a clean exit
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._amqtt is not None:
            self._amqtt.stop()

    def kill(self) -> None:
        """SIGKILL a broker process we started (crash tests): no clean shutdown, no final save."""
        if self._process is None:
            raise BrokerError(f"only a broker process we started can be killed, not a {self.kind} broker")
        self._process.kill()
        self._process.wait()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid


#: How often mosquitto writes its in-memory state (sessions, queued and retained messages) to disk.
#: "interval": once a second. Cheap; a SIGKILL or power cut loses what was acknowledged since the last save.
#: "every_change": after every queued message, retained message or subscription change. Nothing acknowledged is
#: lost on SIGKILL, but every save rewrites the whole database, so it costs throughput while a queue builds up
#: (measured in bench/ingest_broker_durability.py; see docs/ingestion.md).
Durability = Literal["interval", "every_change"]


def mosquitto_config(
    port: int,
    data_dir: Path,
    host: str = "127.0.0.1",
    durability: Durability = "interval",
    extra: Sequence[str] = (),
) -> str:
    """A mosquitto.conf for a private broker: loopback only, persistent, generous queues; `extra` lines last."""
    return "\n".join(
        [
            f"listener {port} {host}",
            "allow_anonymous true",
            f"user {getpass.getuser()}",
            "persistence true",
            f"persistence_location {data_dir}/",
            f"autosave_on_changes {'true' if durability == 'every_change' else 'false'}",
            "autosave_interval 1",
            # Offline persistent sessions keep everything (default 1000 messages would drop readings).
            "max_queued_messages 0",
            "max_queued_bytes 0",
            "max_inflight_messages 0",
            f"log_dest file {data_dir / 'mosquitto.log'}",
            "log_type error",
            "log_type warning",
            "log_type notice",
            *extra,
            "",
        ]
    )


#: Debian and Ubuntu install the broker as /usr/sbin/mosquitto, and sbin folders are not on a normal user's PATH
SBIN_DIRS = ("/usr/local/sbin", "/usr/sbin", "/sbin")


def mosquitto_binary() -> str | None:
    """The mosquitto executable: found on PATH, else in the sbin folders; None when it is not installed."""
    return shutil.which("mosquitto") or shutil.which("mosquitto", path=":".join(SBIN_DIRS))


def start_mosquitto(
    address: BrokerAddress,
    data_dir: Path,
    timeout: float = 10.0,
    *,
    durability: Durability = "interval",
    extra_config: Sequence[str] = (),
) -> RunningBroker:
    """Start a private mosquitto with its config, persistence file and log in `data_dir`; wait for its port.

    Starting it again on the same `data_dir` resumes every persistent session and queued message it saved.
    """
    binary = mosquitto_binary()
    if binary is None:
        raise BrokerError("mosquitto is not installed: `sudo apt-get install mosquitto` (or use amqtt)")
    data_dir.mkdir(parents=True, exist_ok=True)
    conf = data_dir / "mosquitto.conf"
    conf.write_text(mosquitto_config(address.port, data_dir.resolve(), address.host, durability, extra_config))
    stderr_path = data_dir / "mosquitto.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=stderr)
    deadline = time.monotonic() + timeout
    while not broker_answers(address, timeout=0.2):
        if process.poll() is not None:
            err = stderr_path.read_text(errors="replace").strip()
            raise BrokerError(f"mosquitto exited at start ({err or 'see ' + str(data_dir / 'mosquitto.log')})")
        if time.monotonic() > deadline:
            process.kill()
            raise BrokerError(f"mosquitto did not open port {address.port} within {timeout:.0f} s")
        time.sleep(0.05)
    return RunningBroker("mosquitto", address, detail=f"data in {data_dir}", _process=process, data_dir=data_dir)


class AmqttThread:
    """amqtt's asyncio broker on its own event loop in a daemon thread."""

    def __init__(self, address: BrokerAddress) -> None:
        self.address = address
        self._loop = asyncio.new_event_loop()
        self._broker: Any = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="amqtt", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        from amqtt.broker import Broker

        config = {
            "listeners": {"default": {"type": "tcp", "bind": f"{self.address.host}:{self.address.port}"}},
            "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
        }
        logging.getLogger("amqtt").setLevel(logging.CRITICAL)  # it logs harmless task noise on shutdown
        logging.getLogger("transitions").setLevel(logging.WARNING)
        self._thread.start()

        async def _start() -> None:
            self._broker = Broker(config, loop=self._loop)
            await self._broker.start()

        asyncio.run_coroutine_threadsafe(_start(), self._loop).result(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        if self._broker is not None:
            future = asyncio.run_coroutine_threadsafe(self._broker.shutdown(), self._loop)
            try:
                future.result(timeout)
            except Exception as exc:  # shutdown noise must not mask the real exit status
                log.debug("amqtt shutdown: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout)


def start_amqtt(address: BrokerAddress) -> RunningBroker:
    thread = AmqttThread(address)
    thread.start()
    return RunningBroker("amqtt", address, _amqtt=thread)


def ensure_broker(
    address: BrokerAddress, data_dir: Path, prefer: Literal["auto", "mosquitto", "amqtt"] = "auto"
) -> RunningBroker:
    """Use the broker at `address` if one answers, else start one there (loopback addresses only)."""
    if broker_answers(address):
        return RunningBroker("existing", address)
    if address.host not in LOOPBACK:
        raise BrokerError(
            f"no MQTT broker answers at {address.url()} and it is not a local address, so none can be "
            "started there; check --mqtt-url"
        )
    if prefer == "mosquitto" or (prefer == "auto" and mosquitto_binary()):
        return start_mosquitto(address, data_dir / "mosquitto")
    return start_amqtt(address)


__all__ = [
    "LOOPBACK",
    "AmqttThread",
    "BrokerKind",
    "Durability",
    "RunningBroker",
    "ensure_broker",
    "mosquitto_binary",
    "mosquitto_config",
    "start_amqtt",
    "start_mosquitto",
]
