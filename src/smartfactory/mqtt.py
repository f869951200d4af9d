"""The MQTT edge: the only module that imports paho.

`MqttClient` is a small typed wrapper: connect (with a clear error when the broker is not there), publish with
back-pressure against paho's queue, subscribe (re-subscribing after reconnects), manual acknowledgement for
ack-after-write, persistent sessions and a last will. paho objects are turned into `Message` at this boundary.
Reconnects happen in paho's network thread with exponential backoff (1 s doubling to 30 s).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from smartfactory.errors import BrokerError
from smartfactory.settings import BrokerAddress

log = logging.getLogger(__name__)

ProtocolVersion = Literal["3.1.1", "5"]
#: Session expiry asked of an MQTT 5 broker for persistent sessions: one week.
SESSION_EXPIRY_S = 7 * 24 * 3600
#: MQTT 5 Receive Maximum we announce: how many unacknowledged QoS 1 messages the broker may send us at once.
RECEIVE_MAXIMUM = 65_535


@dataclass(frozen=True, slots=True)
class Message:
    """A received message, detached from paho."""

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    received_at: float


@dataclass(frozen=True, slots=True)
class Will:
    """Last will: published by the broker when the client vanishes without a clean disconnect."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


MessageHandler = Callable[[Message], None]


class MqttClient:
    """One MQTT connection. Thread-safe publish; callbacks run in paho's network thread."""

    def __init__(
        self,
        address: BrokerAddress,
        *,
        client_id: str = "",
        persistent: bool = False,
        protocol: ProtocolVersion = "3.1.1",
        will: Will | None = None,
        on_message: MessageHandler | None = None,
        manual_ack: bool = False,
        max_outstanding: int = 20_000,
        keepalive: int = 30,
    ) -> None:
        if persistent and not client_id:
            raise ValueError("a persistent session needs a fixed client id")
        self.address = address
        self.client_id = client_id
        self.protocol = protocol
        self._persistent = persistent
        self._keepalive = keepalive
        self._on_message = on_message
        self._subscriptions: dict[str, int] = {}
        self._connected = threading.Event()
        self._connect_error: str | None = None
        self._outstanding = 0
        self._max_outstanding = max_outstanding
        self._cond = threading.Condition()
        self._closing = False
        version = paho.MQTTv5 if protocol == "5" else paho.MQTTv311
        kwargs: dict[str, Any] = {"client_id": client_id, "protocol": version, "manual_ack": manual_ack}
        if protocol != "5":
            kwargs["clean_session"] = not persistent
        self._client = paho.Client(CallbackAPIVersion.VERSION2, **kwargs)
        # Our own counter bounds memory; paho's queue must never be the one that refuses.
        self._client.max_queued_messages_set(0)
        self._client.max_inflight_messages_set(100)
        self._client.reconnect_delay_set(min_delay=1, max_delay=30)
        if address.username:
            self._client.username_pw_set(address.username, address.password)
        if address.tls:
            self._client.tls_set()
        if will is not None:
            self._client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        self._client.on_connect = self._handle_connect
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_message = self._handle_message
        self._client.on_publish = self._handle_publish

    def set_message_handler(self, handler: MessageHandler | None) -> None:
        """Set the callback for received messages; set it before `connect()` to see queued messages."""
        self._on_message = handler

    # ------------------------------------------------------------------ connection

    def connect(self, timeout: float = 5.0) -> None:
        """Connect and start the network thread; raise `BrokerError` with advice when it fails."""
        properties = None
        clean_start: bool | Literal[3] = paho.MQTT_CLEAN_START_FIRST_ONLY
        if self.protocol == "5":
            properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
            properties.ReceiveMaximum = RECEIVE_MAXIMUM
            if self._persistent:
                properties.SessionExpiryInterval = SESSION_EXPIRY_S
                clean_start = False
        try:
            self._client.connect(
                self.address.host,
                self.address.port,
                keepalive=self._keepalive,
                clean_start=clean_start,
                properties=properties,
            )
        except (TimeoutError, OSError) as exc:
            raise BrokerError(
                f"cannot reach the MQTT broker at {self.address.url()}: {exc}. Is mosquitto running? "
                "Start one with `smartfactory broker`, or run everything with `smartfactory demo`."
            ) from None
        self._client.loop_start()
        if not self._connected.wait(timeout):
            self._client.loop_stop()
            reason = self._connect_error or "no answer"
            raise BrokerError(
                f"the MQTT broker at {self.address.url()} did not accept the connection ({reason}) "
                f"within {timeout:.0f} s; check the URL, user and password."
            )

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def close(self, *, flush_timeout: float = 5.0) -> None:
        """Wait for outstanding publishes (up to `flush_timeout`), then disconnect cleanly (no last will)."""
        if self.connected:
            self.wait_published(flush_timeout)
        self._closing = True
        self._client.disconnect()
        self._client.loop_stop()
        self._connected.clear()

    def abort(self) -> None:
        """Drop the connection without a DISCONNECT packet: the broker publishes the last will."""
        self._closing = True
        self._client.loop_stop()
        sock = self._client.socket()
        if sock is not None:
            sock.close()
        self._connected.clear()

    # ------------------------------------------------------------------ publish

    def publish(
        self, topic: str, payload: bytes, *, qos: int = 1, retain: bool = False, timeout: float | None = None
    ) -> None:
        """Publish; blocks while `max_outstanding` messages await their acknowledgement (back-pressure).

        While the broker is away QoS 1 messages wait in memory, bounded by the same limit, and are sent on
        reconnect. Raises `BrokerError` if the wait exceeds `timeout`.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            while self._outstanding >= self._max_outstanding:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise BrokerError(
                        f"{self._outstanding} messages still wait for the broker at {self.address.url()}; "
                        "it is down or too slow"
                    )
                self._cond.wait(remaining if remaining is not None else 1.0)
            self._outstanding += 1
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
            self._done_one()
            raise BrokerError(f"publishing to {topic!r} failed: {paho.error_string(info.rc)}")
        if info.rc == MQTTErrorCode.MQTT_ERR_NO_CONN and qos == 0:
            self._done_one()  # QoS 0 while disconnected is dropped by paho, as MQTT allows

    def wait_published(self, timeout: float) -> bool:
        """Wait until every publish has been acknowledged (QoS 1) or written (QoS 0)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while self._outstanding > 0:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    @property
    def outstanding(self) -> int:
        return self._outstanding

    def _done_one(self) -> None:
        with self._cond:
            self._outstanding -= 1
            if self._outstanding < self._max_outstanding:
                self._cond.notify_all()

    # ------------------------------------------------------------------ subscribe

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        """Subscribe now and again after every reconnect."""
        self._subscriptions[topic_filter] = qos
        if self.connected:
            self._client.subscribe(topic_filter, qos=qos)

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a message received with `manual_ack=True` (after it is durably stored)."""
        if qos > 0:
            self._client.ack(mid, qos)

    # ------------------------------------------------------------------ paho callbacks

    def _handle_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._connect_error = str(reason)
            log.warning("broker %s refused the connection: %s", self.address.url(), reason)
            return
        for topic_filter, qos in self._subscriptions.items():
            client.subscribe(topic_filter, qos=qos)
        self._connected.set()
        log.debug("connected to %s as %r", self.address.url(), self.client_id)

    def _handle_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._connected.clear()
        if not self._closing:
            log.warning("lost the broker at %s (%s); reconnecting", self.address.url(), reason)

    def _handle_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        if self._on_message is None:
            return
        try:
            topic = msg.topic
        except UnicodeDecodeError:  # brokers should refuse these; never let one stop the network thread
            topic = bytes(msg._topic).decode("utf-8", "replace")
        try:
            self._on_message(Message(topic, bytes(msg.payload), msg.qos, bool(msg.retain), msg.mid, time.time()))
        except Exception:
            log.exception("message handler failed on %r; the message is not acknowledged", topic)

    def _handle_publish(self, client: paho.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self._done_one()


def broker_answers(address: BrokerAddress, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections at the broker address."""
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            return True
    except OSError:
        return False
