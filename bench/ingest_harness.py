"""Shared parts of the ingestion benchmarks: a private broker, payloads, a preloading publisher, the baseline.

The baseline is a bare paho subscriber that does nothing but `json.loads` each payload (auto-acknowledged at
QoS 1), on the same broker, the same payloads, in the same run as the figure it is compared with. Benchmarks import
paho directly for it: the baseline must not go through smartfactory's own MQTT edge.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from smartfactory.edge.broker import Durability, RunningBroker, start_mosquitto
from smartfactory.edge.mqtt import MqttClient
from smartfactory.settings import BrokerAddress
from smartfactory.wire import format_ts

Message = tuple[str, bytes]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def private_broker(
    workdir: Path, durability: Durability = "interval", queue_qos0: bool = True
) -> Iterator[RunningBroker]:
    """A private mosquitto; `queue_qos0` queues QoS 0 messages for offline persistent sessions (drain tests)."""
    extra = ["queue_qos0_messages true"] if queue_qos0 else []
    broker = start_mosquitto(
        BrokerAddress("127.0.0.1", free_port()), workdir / "broker", durability=durability, extra_config=extra
    )
    try:
        yield broker
    finally:
        broker.stop()


@contextmanager
def workdir(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as name:
        yield Path(name)


def single_readings(
    count: int, enterprise: str = "bench", machines: int = 10, start_ms: int | None = None
) -> list[Message]:
    """`count` single-reading messages (~110 bytes, the README's form) over `machines` × 5 series, 1 ms apart."""
    start = start_ms if start_ms is not None else int(time.time() * 1000) - count - 60_000
    noise = random.Random(count)  # in-control process noise: SPC mostly finds nothing, as in a healthy plant
    out = []
    for i in range(count):
        topic = f"{enterprise}/plant1/area/line-{i % 3}/m-{i % machines}/telemetry/s{i % 5}"
        body = {"value": round(noise.gauss(20.0, 0.5), 3), "ts": format_ts(start + i), "unit": "degC", "seq": i}
        out.append((topic, json.dumps(body, separators=(",", ":")).encode()))
    return out


def batch_messages(
    count: int, samples: int, sensors: int, enterprise: str = "bench", start_ms: int | None = None
) -> list[Message]:
    """`count` MachineTelemetry `batch` messages, each `samples` instants × `sensors` sensors of one machine."""
    start = start_ms if start_ms is not None else int(time.time() * 1000) - count * samples - 60_000
    noise = random.Random(count * samples)
    out = []
    for i in range(count):
        topic = f"{enterprise}/plant1/area/line-1/m-{i % 8}/telemetry"
        batch = [
            {
                "ts": start + i * samples + j,
                "values": {f"s{k}": round(noise.gauss(10.0 + k, 0.2), 3) for k in range(sensors)},
            }
            for j in range(samples)
        ]
        out.append((topic, json.dumps({"batch": batch}, separators=(",", ":")).encode()))
    return out


def publish_all(address: BrokerAddress, messages: Sequence[Message], qos: int = 1, timeout: float = 600) -> float:
    """Publish every message (QoS 1, waiting for the broker's acknowledgements); return the seconds it took."""
    client = MqttClient(address, client_id=f"bench-pub-{os.getpid()}", max_outstanding=2000)
    client.connect()
    started = time.perf_counter()
    for topic, payload in messages:
        client.publish(topic, payload, qos=qos)
    if not client.wait_published(timeout):
        raise RuntimeError("the broker did not acknowledge every message")
    elapsed = time.perf_counter() - started
    client.close()
    return elapsed


class BareSubscriber:
    """The baseline: paho, persistent session, auto-ack, `json.loads` per message, nothing else."""

    def __init__(self, address: BrokerAddress, client_id: str, topic_filter: str, qos: int) -> None:
        self.address = address
        self.count = 0
        self.first_at = 0.0
        self.last_at = 0.0
        self.latencies: list[float] = []
        self.track_latency = False
        self._done = threading.Event()
        self._target = -1
        self._filter = topic_filter
        self._qos = qos
        self._client_id = client_id
        self._client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self._client.on_message = self._on_message
        self._client.on_connect = self._on_connect
        self._connected = threading.Event()

    def _on_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        client.subscribe(self._filter, qos=self._qos)
        self._connected.set()

    def _on_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        body = json.loads(msg.payload)
        now = time.perf_counter()
        if self.track_latency:
            self.latencies.append(time.time() - body["sent"])
        if self.count == 0:
            self.first_at = now
        self.count += 1
        self.last_at = now
        if self.count == self._target:
            self._done.set()

    def start(self) -> float:
        self._client.connect(self.address.host, self.address.port, keepalive=60)
        started = time.perf_counter()
        self._client.loop_start()
        if not self._connected.wait(10):
            raise RuntimeError("baseline subscriber could not connect")
        return started

    def park(self) -> None:
        """Create the persistent session and leave: the broker queues what is published meanwhile."""
        self.start()
        time.sleep(0.3)
        self.stop()

    def wait_for(self, target: int, timeout: float) -> bool:
        self._target = target
        if self.count >= target:
            return True
        return self._done.wait(timeout)

    def stop(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()

    def forget(self) -> None:
        """Stop and discard the persistent session (later runs must not queue messages for it)."""
        self.stop()
        drop_session(self.address, self._client_id)


def drop_session(address: BrokerAddress, client_id: str) -> None:
    """Discard a persistent session (connect once with a clean session), so the broker stops queueing for it."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    client.connect(address.host, address.port)
    client.loop_start()
    time.sleep(0.2)
    client.disconnect()
    client.loop_stop()


def rss_kib(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) of a process in KiB, from /proc."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def machine_info() -> dict[str, Any]:
    return {"cpus": os.cpu_count(), "load_avg_1m": round(os.getloadavg()[0], 2)}


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def drain_rate(
    settings: Any, address: BrokerAddress, messages: Sequence[Message], expected: int, timeout: float = 600
) -> tuple[float, dict[str, object]]:
    """Readings/s of `smartfactory ingest` draining a backlog, and its counters.

    The persistent session is created first, then the messages wait at the broker while nothing competes for
    the cores, then ingestion starts and is timed until `expected` readings are stored; the stored count is
    checked (zero loss) and the session dropped.
    """
    from smartfactory.services import start_ingest
    from smartfactory.storage.sqlite import SqliteStorage

    running = start_ingest(settings)
    time.sleep(0.3)
    running.stop()
    publish_all(address, messages)
    started = time.perf_counter()
    running = start_ingest(settings)
    counters = running.service.counters
    deadline = time.monotonic() + timeout
    while counters.stored < expected and time.monotonic() < deadline:
        time.sleep(0.002)
    elapsed = time.perf_counter() - started
    running.stop()
    drop_session(address, settings.ingest.client_id)
    store = SqliteStorage(settings.store)
    stored = store.count_readings()
    store.close()
    if stored != expected:
        raise RuntimeError(f"ingestion lost readings: {stored}/{expected}")
    return expected / elapsed, counters.snapshot(0)
