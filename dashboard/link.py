"""The dashboard's one MQTT connection (no Streamlit): ingestion health and alarm acknowledgements.

It subscribes to the retained `_sf/health/+` messages every ingestion worker publishes, so the sidebar can say
whether ingestion is alive, and publishes `AckPayload`s on `…/ack/{sensor}`; ingestion stores them, so an
acknowledgement shows on every dashboard once it is in the store. The connection is made lazily, with a short
timeout, and retried at most every `retry_s` seconds while the broker is away, so a page never waits long.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from typing import Any

from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.errors import BrokerError
from smartfactory.model import Alarm
from smartfactory.settings import BrokerAddress
from smartfactory.wire import HEALTH_PREFIX, AckPayload, MessageClass, Topic, parse_series, payload_to_json


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    worker: str
    ts_ms: int
    counters: dict[str, Any]

    def age_s(self, now_ms: int) -> float:
        return max(0.0, (now_ms - self.ts_ms) / 1000)


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    url: str
    connected: bool
    error: str | None
    workers: tuple[WorkerHealth, ...] = field(default_factory=tuple)


_OPEN: weakref.WeakSet[BrokerLink] = weakref.WeakSet()


def close_all() -> None:
    """Close every link of this process (tests; Streamlit keeps its one link for the process's life)."""
    for link in list(_OPEN):
        link.close()


class BrokerLink:
    """Thread-safe; one per dashboard process (`st.cache_resource`)."""

    def __init__(self, address: BrokerAddress, *, connect_timeout: float = 1.5, retry_s: float = 10.0) -> None:
        self.address = address
        self.connect_timeout = connect_timeout
        self.retry_s = retry_s
        self._lock = threading.Lock()
        self._client: MqttClient | None = None
        self._last_attempt = float("-inf")
        self._error: str | None = None
        self._health: dict[str, WorkerHealth] = {}
        _OPEN.add(self)

    def _on_message(self, message: Message) -> None:
        worker = message.topic.removeprefix(HEALTH_PREFIX + "/")
        try:
            body = json.loads(message.payload)
        except ValueError:
            return
        if isinstance(body, dict):
            ts = body.get("ts")
            self._health[worker] = WorkerHealth(worker, int(ts) if isinstance(ts, int) else 0, body)

    def client(self) -> MqttClient | None:
        """The connected client, connecting first if needed (None while the broker is unreachable)."""
        with self._lock:
            if self._client is not None:
                return self._client  # paho reconnects on its own once connected
            now = time.monotonic()
            if now - self._last_attempt < self.retry_s:
                return None
            self._last_attempt = now
            client = MqttClient(
                self.address, client_id=f"smartfactory-dashboard-{uuid.uuid4().hex[:8]}", on_message=self._on_message
            )
            client.subscribe(f"{HEALTH_PREFIX}/+", qos=0)  # sent on connect; retained messages arrive at once
            try:
                client.connect(self.connect_timeout)
            except BrokerError as exc:
                self._error = str(exc)
                return None
            self._client, self._error = client, None
            return client

    def status(self, settle_s: float = 0.3) -> BrokerStatus:
        """Connection state and the latest health message of every ingestion worker."""
        fresh = self._client is None
        client = self.client()
        if client is not None and fresh:
            time.sleep(settle_s)  # first connection: give the retained health messages a moment to arrive
        connected = client is not None and client.connected
        error = self._error if client is None else (None if connected else "connection lost; reconnecting")
        workers = tuple(sorted(self._health.values(), key=lambda w: w.worker))
        return BrokerStatus(self.address.url(), connected, error, workers)

    def acknowledge(self, alarms: list[Alarm], by: str, *, timeout: float = 3.0) -> int:
        """Publish one acknowledgement per alarm; return how many the broker accepted. `BrokerError` if none."""
        client = self.client()
        if client is None or not client.connected:
            raise BrokerError(
                f"cannot reach the MQTT broker at {self.address.url()} to send the acknowledgement: "
                "is it running? (`smartfactory demo` starts one)"
            )
        ts = int(time.time() * 1000)
        for alarm in alarms:
            sid = parse_series(alarm.series)
            payload = AckPayload(alarm_id=alarm.alarm_id, by=by, ts=ts)
            client.publish(str(Topic(sid.path, MessageClass.ACK, sid.sensor)), payload_to_json(payload), qos=1)
        if not client.wait_published(timeout):
            raise BrokerError(
                f"the broker at {self.address.url()} did not confirm the acknowledgements in {timeout:g} s"
            )
        return len(alarms)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close(flush_timeout=1.0)
                self._client = None
