"""The bridge's way out to MQTT: a bounded queue and a thread that hands each message to a publishing sink.

The OPC UA side runs on an event loop that must never wait for the broker (it would miss keep-alives and the
server would close the session), so messages are queued and a thread of their own publishes them, waiting for
the broker as the sink does (back-pressure). When the queue is full the newest message is dropped and counted:
the bridge says what it lost rather than stall the OPC UA session.

The sink is an `MqttClient` (wire v1 as it is: `Outbox(client)`), or anything called like `publish(topic,
payload, retain)` with a `close()`, such as the Sparkplug B edge nodes (`Outbox.of(SparkplugEdgeNodes(…,
adopt=True))`, `bridge opcua --format sparkplug`), which turn the same wire v1 messages into Sparkplug B.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Protocol

from smartfactory.edge.mqtt import MqttClient
from smartfactory.errors import BrokerError

log = logging.getLogger(__name__)
MAX_QUEUED = 50_000
_STOP = ("", b"", False)


class Sink(Protocol):
    def __call__(self, topic: str, payload: bytes, retain: bool) -> None: ...

    def close(self) -> None: ...


class _MqttSink:
    """Wire v1 straight onto MQTT: each message at the outbox's QoS, with its retain flag."""

    def __init__(self, client: MqttClient, qos: int) -> None:
        self.client = client
        self.qos = qos

    def __call__(self, topic: str, payload: bytes, retain: bool) -> None:
        self.client.publish(topic, payload, qos=self.qos, retain=retain, timeout=1.0)

    def close(self) -> None:
        self.client.close(flush_timeout=10.0)


class Outbox:
    """Call it like `publish(topic, payload, retain)`; `close()` sends what is queued (up to a timeout)."""

    def __init__(
        self, client: MqttClient | None, *, qos: int = 1, max_queued: int = MAX_QUEUED, sink: Sink | None = None
    ) -> None:
        if sink is None:
            if client is None:
                raise ValueError("an outbox needs an MQTT client or a sink")
            sink = _MqttSink(client, qos)
        self.sink = sink
        self._queue: queue.Queue[tuple[str, bytes, bool]] = queue.Queue(max_queued)
        self.sent = 0
        self.dropped = 0
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="bridge-mqtt", daemon=True)
        self._thread.start()

    @classmethod
    def of(cls, sink: Sink, *, max_queued: int = MAX_QUEUED) -> Outbox:
        """An outbox in front of any sink called like `publish(topic, payload, retain)`."""
        return cls(None, max_queued=max_queued, sink=sink)

    def __call__(self, topic: str, payload: bytes, retain: bool) -> None:
        try:
            self._queue.put_nowait((topic, payload, retain))
        except queue.Full:
            self.dropped += 1
            if self.dropped == 1 or self.dropped % 10_000 == 0:
                log.warning("the MQTT broker does not keep up: %d messages dropped so far", self.dropped)

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                return
            topic, payload, retain = item
            while True:
                try:
                    self.sink(topic, payload, retain)
                    self.sent += 1
                    break
                except BrokerError:
                    if self._closing:
                        self.dropped += 1
                        break
                except (KeyError, ValueError) as exc:  # a message the sink cannot translate: never stop the thread
                    self.dropped += 1
                    log.warning("could not publish %s: %s", topic, exc)
                    break

    def close(self, timeout: float = 10.0) -> None:
        """Publish what is queued, wait for the broker's acknowledgements, then disconnect."""
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            self._closing = True
        self._thread.join(timeout)
        self._closing = True
        self._thread.join(2.0)
        self.sink.close()
