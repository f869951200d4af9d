"""The class overview's MQTT listener (no Streamlit): the retained births and last wills (`…/status`) of every
machine, so the lecturer sees which students' plants are connected. One per dashboard process."""

from __future__ import annotations

import threading
import time
import uuid

from smartfactory.edge.mqtt import Message, MqttClient
from smartfactory.errors import BrokerError, WireError
from smartfactory.settings import BrokerAddress
from smartfactory.wire import MessageClass, StatusPayload, Topic

STATUS_FILTER = f"+/+/+/+/+/{MessageClass.STATUS.value}"


class BirthWatcher:
    """Machine path → online (True) or offline (False), from the status messages; connects lazily, retries at most
    every `retry_s` seconds while the broker is away."""

    def __init__(self, address: BrokerAddress, *, connect_timeout: float = 1.5, retry_s: float = 10.0) -> None:
        self.address = address
        self.connect_timeout = connect_timeout
        self.retry_s = retry_s
        self._lock = threading.Lock()
        self._client: MqttClient | None = None
        self._last_attempt = float("-inf")
        self._status: dict[str, bool] = {}
        self.error: str | None = None

    def _on_message(self, message: Message) -> None:
        try:
            path = Topic.parse(message.topic).path
            if not message.payload:  # a cleared retained birth: nothing known about the machine
                self._status.pop(str(path), None)
                return
            self._status[str(path)] = StatusPayload.from_bytes(message.payload).status == "online"
        except (WireError, ValueError):
            return

    def _connect(self) -> MqttClient | None:
        with self._lock:
            if self._client is not None:
                return self._client
            now = time.monotonic()
            if now - self._last_attempt < self.retry_s:
                return None
            self._last_attempt = now
            client = MqttClient(
                self.address, client_id=f"smartfactory-class-{uuid.uuid4().hex[:8]}", on_message=self._on_message
            )
            client.subscribe(STATUS_FILTER, qos=0)
            try:
                client.connect(self.connect_timeout)
            except BrokerError as exc:
                self.error = str(exc)
                return None
            self._client, self.error = client, None
            return client

    def online(self, settle_s: float = 0.3) -> dict[str, bool] | None:
        """The status of every machine that announced one; None while the broker is unreachable."""
        fresh = self._client is None
        client = self._connect()
        if client is None:
            return None
        if fresh:
            time.sleep(settle_s)  # the retained births arrive right after the subscription
        return dict(self._status)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close(flush_timeout=1.0)
                self._client = None


__all__ = ["STATUS_FILTER", "BirthWatcher"]
