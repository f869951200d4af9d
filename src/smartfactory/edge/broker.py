"""Finding or starting an MQTT broker for the demo, the tests and `smartfactory broker`.

Order of preference: a broker that already answers at the configured address; a private `mosquitto`
(when installed: on PATH, or in /usr/sbin where Debian puts it) with its own config, persistence and log under
the data folder; else amqtt, a pure-Python broker, in a thread of this process (no persistent sessions for
anonymous clients, no shared subscriptions, no MQTT 5: fine for a demo, not for production).
"""

from __future__ import annotations

import asyncio
import getpass
import ipaddress
import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
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
    #: True when we started it without accounts (`allow_anonymous true`): any client may connect
    anonymous: bool = False
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _amqtt: AmqttThread | None = field(default=None, repr=False)

    def describe(self) -> str:
        """One line on what broker this is; for an anonymous one we started beyond loopback, a warning after it."""
        where = self.address.url()
        line = {
            "existing": f"using the MQTT broker already running at {where}",
            "mosquitto": f"started a private mosquitto at {where} ({self.detail})",
            "amqtt": f"started an in-process amqtt broker at {where} (mosquitto not installed)",
        }[self.kind]
        warning = exposure_warning(self.address) if self.anonymous else None
        return line if warning is None else f"{line}\n{warning}"

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


def is_loopback(host: str) -> bool:
    """True for an address only this computer can reach: 127.0.0.0/8, ::1, `localhost`."""
    if host.lower() in LOOPBACK:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost: it resolves to an interface others may reach


def exposure_warning(address: BrokerAddress) -> str | None:
    """The warning for an anonymous broker listening on `address` beyond loopback (`smartfactory broker --mqtt-url
    mqtt://0.0.0.0:…`, issue 13); None on a loopback address."""
    if is_loopback(address.host):
        return None
    where = "every network interface" if address.host in ("0.0.0.0", "::") else address.host
    return (
        f"WARNING: this broker listens on {where} and allows anonymous clients: anyone on the network who reaches "
        f"port {address.port} can publish readings, send commands to the machines and read everything. On a shared "
        "network use a broker with accounts instead: the compose stack's mosquitto (password file and ACL, "
        'docs/deployment.md "Broker accounts and ACL"), or `smartfactory classroom` (an account per student, '
        "docs/classroom.md); or bind this one to 127.0.0.1."
    )


#: How often mosquitto writes its in-memory state (sessions, queued and retained messages) to disk.
#: "interval": once a second. Cheap; a SIGKILL or power cut loses what was acknowledged since the last save.
#: "every_change": after every queued message, retained message or subscription change. Nothing acknowledged is
#: lost on SIGKILL, but every save rewrites the whole database, so it costs throughput while a queue builds up
#: (measured in bench/ingest_broker_durability.py; see docs/ingestion.md).
Durability = Literal["interval", "every_change"]

#: Bytes of an MQTT packet beyond its payload (header, topic, properties) that a packet limit allows for, and the
#: margin within which an oversize payload still reaches ingestion, to be dead-lettered (`too_large`).
PACKET_OVERHEAD = 64 * 1024


def packet_limit(max_payload_bytes: int) -> int:
    """The broker's `max_packet_size` for ingestion's `max_payload_bytes`: the packet ingestion itself accepts."""
    return max_payload_bytes + PACKET_OVERHEAD


#: Largest MQTT packet the generated broker accepts (mosquitto 2 `max_packet_size`; its own default is the protocol's
#: 256 MiB): ingestion's default `max_payload_bytes` (1 MiB) plus 64 KiB, as in deploy/mosquitto/mosquitto.conf, and
#: the same figure ingestion announces as its MQTT 5 Maximum Packet Size. A bigger packet is refused as soon as its
#: length header arrives (the sender is disconnected and knows it; nobody receives it); a smaller one reaches
#: ingestion, which dead-letters it if it is over `max_payload_bytes`. With the two limits equal there is no size the
#: broker accepts from a publisher and then silently withholds from ingestion (MQTT 5 §3.1.2.11.4: a server drops,
#: unannounced, a message bigger than its receiver's Maximum Packet Size).
MAX_PACKET_SIZE = packet_limit(1_048_576)


#: Every client id sent to a broker with accounts begins with this (mosquitto `clientid_prefixes`); the broker names
#: a client that sends none `smartfactory-auto-…`. No username may begin with it (see `Accounts`).
CLIENT_ID_PREFIX = "smartfactory-"


@dataclass(frozen=True)
class Accounts:
    """Password-protected broker whose client ids are bound to accounts (issue 13: any account could connect with
    ingestion's client id and a clean session, wiping ingestion's queued readings and kicking it off).

    On `bound_port` the broker replaces every client id with the account's username (`use_username_as_clientid`),
    so a session there belongs to one account: ingestion connects there, and only a client with its password can
    resume or end its session. On the main port ids must begin with `CLIENT_ID_PREFIX` (`clientid_prefixes`,
    checked on the id the client sent, before the replacement, in mosquitto 2's handle_connect.c), and usernames
    never do, so no id sent anywhere can name a session of the bound port. Same scheme as the compose stack's
    deploy/mosquitto/mosquitto.conf.
    """

    password_file: Path
    bound_port: int
    acl_file: Path | None = None

    def config_lines(self, host: str) -> tuple[list[str], list[str]]:
        """(general lines, the bound listener's lines)."""
        general = [
            "per_listener_settings false",
            "allow_anonymous false",
            f"password_file {self.password_file.resolve()}",
            *([f"acl_file {self.acl_file.resolve()}"] if self.acl_file is not None else []),
            f"clientid_prefixes {CLIENT_ID_PREFIX}",
            f"auto_id_prefix {CLIENT_ID_PREFIX}auto-",
        ]
        return general, [f"listener {self.bound_port} {host}", "use_username_as_clientid true"]


def write_password_file(path: Path, passwords: Mapping[str, str]) -> Path:
    """A mosquitto password file (hashed by `mosquitto_passwd`, installed with the broker) for these accounts."""
    tool = shutil.which("mosquitto_passwd") or shutil.which("mosquitto_passwd", path=":".join(SBIN_DIRS))
    if tool is None:
        raise BrokerError("mosquitto_passwd is not installed (it comes with mosquitto: apt-get install mosquitto)")
    for user in passwords:
        if user.startswith(CLIENT_ID_PREFIX) or not user or ":" in user:
            raise BrokerError(f"user name {user!r} must not be empty, hold ':' or begin with {CLIENT_ID_PREFIX!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")
    path.chmod(0o600)
    for user, password in passwords.items():
        subprocess.run([tool, "-b", str(path), user, password], check=True, capture_output=True, timeout=30)
    return path


def mosquitto_config(
    port: int,
    data_dir: Path,
    host: str = "127.0.0.1",
    durability: Durability = "interval",
    extra: Sequence[str] = (),
    *,
    max_packet_size: int = MAX_PACKET_SIZE,
    accounts: Accounts | None = None,
) -> str:
    """A mosquitto.conf for a private broker: loopback only, persistent, generous queues, packets up to
    `max_packet_size`; anonymous, or with `accounts` (client ids bound to them); `extra` lines last."""
    general, bound = accounts.config_lines(host) if accounts is not None else (["allow_anonymous true"], [])
    return "\n".join(
        [
            *general,
            f"listener {port} {host}",
            *bound,
            f"user {getpass.getuser()}",
            "persistence true",
            f"persistence_location {data_dir}/",
            f"autosave_on_changes {'true' if durability == 'every_change' else 'false'}",
            "autosave_interval 1",
            # Offline persistent sessions keep everything (default 1000 messages would drop readings).
            "max_queued_messages 0",
            "max_queued_bytes 0",
            "max_inflight_messages 0",
            f"max_packet_size {max_packet_size}",
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
    max_packet_size: int = MAX_PACKET_SIZE,
    accounts: Accounts | None = None,
) -> RunningBroker:
    """Start a private mosquitto with its config, persistence file and log in `data_dir`; wait for its port.

    Starting it again on the same `data_dir` resumes every persistent session and queued message it saved.
    """
    binary = mosquitto_binary()
    if binary is None:
        raise BrokerError("mosquitto is not installed: `sudo apt-get install mosquitto` (or use amqtt)")
    data_dir.mkdir(parents=True, exist_ok=True)
    conf = data_dir / "mosquitto.conf"
    conf.write_text(
        mosquitto_config(
            address.port,
            data_dir.resolve(),
            address.host,
            durability,
            extra_config,
            max_packet_size=max_packet_size,
            accounts=accounts,
        )
    )
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
    return RunningBroker(
        "mosquitto",
        address,
        detail=f"data in {data_dir}",
        _process=process,
        data_dir=data_dir,
        anonymous=accounts is None,
    )


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
    return RunningBroker("amqtt", address, _amqtt=thread, anonymous=True)


def ensure_broker(
    address: BrokerAddress,
    data_dir: Path,
    prefer: Literal["auto", "mosquitto", "amqtt"] = "auto",
    *,
    max_packet_size: int = MAX_PACKET_SIZE,
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
        return start_mosquitto(address, data_dir / "mosquitto", max_packet_size=max_packet_size)
    return start_amqtt(address)


__all__ = [
    "CLIENT_ID_PREFIX",
    "LOOPBACK",
    "MAX_PACKET_SIZE",
    "PACKET_OVERHEAD",
    "Accounts",
    "AmqttThread",
    "BrokerKind",
    "Durability",
    "RunningBroker",
    "ensure_broker",
    "exposure_warning",
    "is_loopback",
    "mosquitto_binary",
    "mosquitto_config",
    "packet_limit",
    "start_amqtt",
    "start_mosquitto",
    "write_password_file",
]
