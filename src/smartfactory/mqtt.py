"""The MQTT edge: the only module that imports paho.

`MqttClient` is a small typed wrapper: connect (with a clear error when the broker is not there), publish with
back-pressure against paho's queue, subscribe (re-subscribing after reconnects), manual acknowledgement for
ack-after-write (one at a time or a whole batch in one write), persistent sessions and a last will. paho objects
are turned into `Message` at this boundary. Reconnects happen in paho's network thread with exponential backoff
(1 s doubling to 30 s).

Receiving is the hot path of ingestion. Profiling a bare paho subscriber (30,000 messages of ~110 bytes) showed
~27 µs per message, nearly all of it paho's own Python: a select() and three recv() calls per packet, an
`MQTTMessage` with a `threading.Condition` per message, two locks and a topic-matcher walk per callback.
`_FastReadClient` keeps paho for everything (connect, subscribe, keepalive, reconnect, publish, QoS 2) but reads
up to 256 KiB per recv() and parses every complete PUBLISH frame in it straight into a `Message`; any other packet
is handed to paho's own handler unchanged. It relies on paho 2.x internals (`_packet_read`, `_in_packet`,
`_packet_handle`, `_packet_queue`), so it is switched on only for paho 2.x and falls back to stock paho otherwise.
"""

from __future__ import annotations

import functools
import itertools
import logging
import socket
import struct
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as paho
from paho.mqtt import __version__ as PAHO_VERSION
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.exception import MalformedPacket
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


@dataclass(slots=True)
class Message:
    """A received message, detached from paho. Treat it as read-only (not frozen: that costs 1.3 µs each).

    `session` numbers the connection it arrived on (unique in the process, new on every reconnect): an
    acknowledgement is only sent on the connection that delivered the message, because after a reconnect the
    packet id may belong to another message. `dup` is the broker's redelivery flag.
    """

    topic: str
    payload: bytes
    qos: int
    retain: bool
    mid: int
    received_at: float
    dup: bool = False
    session: int = 0


@dataclass(frozen=True, slots=True)
class Will:
    """Last will: published by the broker when the client vanishes without a clean disconnect."""

    topic: str
    payload: bytes
    qos: int = 1
    retain: bool = True


MessageHandler = Callable[[Message], None]


_SESSIONS = itertools.count(1)  # connection numbers, unique in the process
_PUBLISH = 0x30
_PUBACK = 0x40
_READ_SIZE = 256 * 1024
_FAST_INTERNALS = ("_packet_read", "_packet_handle", "_in_packet", "_sock_recv", "_packet_queue", "_msgtime_mutex")


@functools.cache
def fast_read_supported() -> bool:
    """True for the paho versions whose internals `_FastReadClient` was written against (2.x)."""
    probe = paho.Client(CallbackAPIVersion.VERSION2)
    return PAHO_VERSION.startswith("2.") and all(hasattr(probe, name) for name in _FAST_INTERNALS)


class _FastReadClient(paho.Client):
    """paho's client with a batched read path for PUBLISH packets (see the module docstring)."""

    def __init__(self, deliver: Callable[[Message], None], session: Callable[[], int], **kwargs: Any) -> None:
        super().__init__(CallbackAPIVersion.VERSION2, **kwargs)
        self._sf_deliver = deliver
        self._sf_session = session
        self._sf_buffer = b""
        self._sf_sock: object = None
        self._sf_v5 = kwargs.get("protocol") == paho.MQTTv5

    def _packet_read(self) -> MQTTErrorCode:
        if self._sock is not self._sf_sock:  # a new connection: leftovers of the old one mean nothing
            self._sf_sock = self._sock
            self._sf_buffer = b""
        try:
            chunk = self._sock_recv(_READ_SIZE)
        except BlockingIOError:
            return MQTTErrorCode.MQTT_ERR_AGAIN
        except OSError as exc:
            log.debug("receive failed: %s", exc)
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        if not chunk:
            return MQTTErrorCode.MQTT_ERR_CONN_LOST
        with self._msgtime_mutex:
            self._last_bytes_received = time.monotonic()
        data = self._sf_buffer + chunk if self._sf_buffer else chunk
        size = len(data)
        pos = 0
        received_at = time.time()
        session = self._sf_session()
        while size - pos >= 2:
            command = data[pos]
            # Remaining length: 1-4 bytes, 7 bits each, least significant first (MQTT 3.1.1 §2.2.3).
            length, shift, index, complete = 0, 0, pos + 1, False
            while index < size:
                byte = data[index]
                index += 1
                length |= (byte & 127) << shift
                if not byte & 128:
                    complete = True
                    break
                shift += 7
                if shift >= 28:
                    return MQTTErrorCode.MQTT_ERR_PROTOCOL
            if not complete:
                break  # the fixed header is still incomplete
            end = index + length
            if end > size:
                break  # body incomplete
            qos = (command >> 1) & 3
            if command & 0xF0 == _PUBLISH and qos < 2:
                try:
                    rc = self._sf_publish(data, command, qos, index, end, received_at, session)
                except IndexError:
                    rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
            else:
                rc = self._sf_other(command, length, bytearray(data[index:end]))
                session = self._sf_session()  # a CONNACK in this chunk starts a new session
            pos = end
            if rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
                self._sf_buffer = b""
                return rc
        self._sf_buffer = data[pos:]
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _sf_publish(
        self, data: bytes, command: int, qos: int, start: int, end: int, received_at: float, session: int
    ) -> MQTTErrorCode:
        topic_end = start + 2 + (data[start] << 8 | data[start + 1])
        if topic_end > end:
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        topic = data[start + 2 : topic_end].decode("utf-8", "replace")
        body = topic_end
        mid = 0
        if qos:
            mid = data[body] << 8 | data[body + 1]
            body += 2
        if self._sf_v5:  # skip the properties (we announce no topic aliases, so none is needed)
            props, shift = 0, 0
            while True:
                byte = data[body]
                body += 1
                props |= (byte & 127) << shift
                shift += 7
                if not byte & 128:
                    break
            body += props
        if body > end:
            return MQTTErrorCode.MQTT_ERR_PROTOCOL
        message = Message(topic, data[body:end], qos, bool(command & 1), mid, received_at, bool(command & 8), session)
        try:
            self._sf_deliver(message)
        except Exception:
            log.exception("message handler failed on %r; the message is not acknowledged", topic)
        if qos == 1 and not self._manual_ack:
            return self._send_puback(mid)
        return MQTTErrorCode.MQTT_ERR_SUCCESS

    def _sf_other(self, command: int, length: int, packet: bytearray) -> MQTTErrorCode:
        """Any packet but a QoS 0/1 PUBLISH: let paho handle it exactly as its own reader would."""
        self._in_packet = {
            "command": command,
            "have_remaining": 1,
            "remaining_count": [],
            "remaining_mult": 1,
            "remaining_length": length,
            "packet": packet,
            "to_process": 0,
            "pos": 0,
        }
        try:
            rc = self._packet_handle()
        except MalformedPacket as exc:
            log.debug("malformed packet from the broker: %s", exc)
            rc = MQTTErrorCode.MQTT_ERR_PROTOCOL
        self._in_packet = {
            "command": 0,
            "have_remaining": 0,
            "remaining_count": [],
            "remaining_mult": 1,
            "remaining_length": 0,
            "packet": bytearray(b""),
            "to_process": 0,
            "pos": 0,
        }
        return rc


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
        fast_read: bool = True,
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
        self._session = 0
        self._subacked: set[int] = set()
        self._initial_subs: list[int] = []
        version = paho.MQTTv5 if protocol == "5" else paho.MQTTv311
        kwargs: dict[str, Any] = {"client_id": client_id, "protocol": version, "manual_ack": manual_ack}
        if protocol != "5":
            kwargs["clean_session"] = not persistent
        self.fast_read = fast_read and fast_read_supported()
        if self.fast_read:
            self._client: paho.Client = _FastReadClient(self._deliver, self._current_session, **kwargs)
        else:
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
        self._client.on_subscribe = self._handle_subscribe

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
        self._wait_subacks(self._initial_subs, timeout)  # subscribe() before connect(): confirmed on return

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

    def subscribe(self, topic_filter: str, qos: int = 1, *, timeout: float = 5.0) -> None:
        """Subscribe now and again after every reconnect; when connected, wait for the broker's SUBACK.

        Until the SUBACK the broker may not route messages to us yet, so "subscribed" means acknowledged.
        """
        self._subscriptions[topic_filter] = qos
        if self.connected:
            _, mid = self._client.subscribe(topic_filter, qos=qos)
            if mid is not None:
                self._wait_subacks([mid], timeout)

    def _wait_subacks(self, mids: Sequence[int], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not all(mid in self._subacked for mid in mids):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise BrokerError(
                        f"the MQTT broker at {self.address.url()} did not confirm the subscription within "
                        f"{timeout:.0f} s"
                    )
                self._cond.wait(remaining)
            self._subacked.difference_update(mids)

    def ack(self, mid: int, qos: int) -> None:
        """Acknowledge a message received with `manual_ack=True` (after it is durably stored)."""
        if qos > 0:
            self._client.ack(mid, qos)

    def ack_messages(self, messages: Sequence[Message]) -> int:
        """Acknowledge QoS 1 messages (in the order given) with one socket write; return how many were sent.

        Messages that arrived on an earlier connection are skipped: the broker redelivers those, and their
        packet ids may since have been given to other messages.
        """
        session = self._session
        mids = [m.mid for m in messages if m.qos == 1 and m.session == session]
        if not mids:
            return 0
        if not self.fast_read:
            for mid in mids:
                self._client.ack(mid, 1)
            return len(mids)
        # A PUBACK is 0x40, remaining length 2, the packet id (3.1.1 §3.4; the same short form is valid in 5).
        blob = struct.pack(f"!{len(mids)}I", *((_PUBACK << 24) | (2 << 16) | mid for mid in mids))
        self._client._packet_queue(_PUBACK, blob, 0, 0)
        return len(mids)

    @property
    def session(self) -> int:
        """The number of the current connection (unique in this process; 0 before the first connect)."""
        return self._session

    def _current_session(self) -> int:
        return self._session

    def _deliver(self, message: Message) -> None:
        if self._on_message is not None:
            self._on_message(message)

    # ------------------------------------------------------------------ paho callbacks

    def _handle_connect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if reason.is_failure:
            self._connect_error = str(reason)
            log.warning("broker %s refused the connection: %s", self.address.url(), reason)
            return
        self._session = next(_SESSIONS)
        mids = (client.subscribe(f, qos=qos)[1] for f, qos in self._subscriptions.items())
        self._initial_subs = [mid for mid in mids if mid is not None]
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
            self._on_message(
                Message(
                    topic, bytes(msg.payload), msg.qos, bool(msg.retain), msg.mid, time.time(), msg.dup, self._session
                )
            )
        except Exception:
            log.exception("message handler failed on %r; the message is not acknowledged", topic)

    def _handle_publish(self, client: paho.Client, userdata: Any, mid: int, reason: Any, props: Any) -> None:
        self._done_one()

    def _handle_subscribe(self, client: paho.Client, userdata: Any, mid: int, reasons: Any, props: Any) -> None:
        with self._cond:
            if len(self._subacked) > 10_000:  # nobody waits for these any more
                self._subacked.clear()
            self._subacked.add(mid)
            self._cond.notify_all()


def broker_answers(address: BrokerAddress, timeout: float = 1.0) -> bool:
    """True when something accepts TCP connections at the broker address."""
    try:
        with socket.create_connection((address.host, address.port), timeout=timeout):
            return True
    except OSError:
        return False
