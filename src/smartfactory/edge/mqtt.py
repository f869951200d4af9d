"""The MQTT edge: paho behind its public API, turned into `Message`s at this boundary.

`MqttClient` is a small typed wrapper: connect (with a clear error when the broker is not there), publish with
back-pressure against paho's queue, subscribe (re-subscribing after reconnects), manual acknowledgement for
ack-after-write (one at a time or a whole batch), persistent sessions and a last will. Reconnects happen in paho's
network thread; the pause before each one follows `RECONNECT` (the project's one `RetryPolicy`: 1 s doubling to
30 s, with jitter so that a room full of simulators does not reconnect in the same instant).

Only paho's public API is used here (`Client`, its `connect`/`publish`/`subscribe`/`ack`/`loop_start` methods, its
callbacks and `MQTTMessage`'s properties). An opt-in faster packet reader on paho's private internals lives in
`edge.fastread` (`fast_read=True`, or `SMARTFACTORY_MQTT__FAST_READER=true` for ingestion); it is imported only
when asked for.
"""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import paho.mqtt.client as paho
from paho.mqtt import __version__ as PAHO_VERSION
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from smartfactory.errors import BrokerError
from smartfactory.retry import RetryPolicy
from smartfactory.settings import BrokerAddress

log = logging.getLogger(__name__)

ProtocolVersion = Literal["3.1.1", "5"]
#: Session expiry asked of an MQTT 5 broker for persistent sessions: one week.
SESSION_EXPIRY_S = 7 * 24 * 3600
#: MQTT 5 Receive Maximum we announce: how many unacknowledged QoS 1 messages the broker may send us at once.
RECEIVE_MAXIMUM = 65_535
#: Pauses before reconnecting to a lost broker: 1 s doubling to 30 s, each shortened by up to half at random
#: ("equal jitter"), reset once the broker accepts us again. Never gives up.
RECONNECT = RetryPolicy(initial=1.0, factor=2.0, max=30.0, jitter=0.5, retries=None)


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
        fast_read: bool = False,
        max_packet_size: int | None = None,
    ) -> None:
        if persistent and not client_id:
            raise ValueError("a persistent session needs a fixed client id")
        self.address = address
        self.client_id = client_id
        self.protocol = protocol
        self._persistent = persistent
        self._keepalive = keepalive
        #: MQTT 5 Maximum Packet Size announced in CONNECT: the broker must not send us anything bigger (it drops
        #: such a message for us instead), so an oversize payload is never read at all.
        self._max_packet_size = max_packet_size
        self._on_message = on_message
        self._subscriptions: dict[str, int] = {}
        self._retain_as_published: set[str] = set()  # filters subscribed with that MQTT 5 option
        self._connected = threading.Event()
        self._refused = threading.Event()  # the broker answered a CONNECT with a failure (CONNACK reason code)
        self._first_connect = False  # inside connect(): a refusal ends the attempt instead of a reconnect
        self._connect_error: str | None = None
        self._outstanding = 0
        self._max_outstanding = max_outstanding
        self._cond = threading.Condition()
        self._closing = False
        self._session = 0
        self._session_present = False
        self._subacked: set[int] = set()
        self._initial_subs: list[int] = []
        version = paho.MQTTv5 if protocol == "5" else paho.MQTTv311
        kwargs: dict[str, Any] = {"client_id": client_id, "protocol": version, "manual_ack": manual_ack}
        if protocol != "5":
            kwargs["clean_session"] = not persistent
        self.fast_read = False  # True once the opt-in reader is in use (see _make_client)
        self._client: paho.Client = self._make_client(fast_read, kwargs)
        # Our own counter bounds memory; paho's queue must never be the one that refuses.
        self._client.max_queued_messages_set(0)
        self._client.max_inflight_messages_set(100)
        # paho's own schedule until the first disconnect; from then on each pause is set from RECONNECT.
        self._client.reconnect_delay_set(min_delay=round(RECONNECT.initial), max_delay=round(RECONNECT.max))
        self._reconnect = RECONNECT.backoff()
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
        self._client.on_connect_fail = self._handle_connect_fail

    def _make_client(self, fast_read: bool, kwargs: dict[str, Any]) -> paho.Client:
        """paho's client; with `fast_read`, the opt-in reader of `edge.fastread` where this paho supports it."""
        if fast_read:
            from smartfactory.edge import fastread  # paho internals: loaded only when asked for

            if fastread.supported():
                self.fast_read = True
                return fastread.FastReadClient(self._deliver, self._current_session, **kwargs)
            log.warning(
                "the fast MQTT reader does not know paho %s (it needs paho 2.x internals); using paho's own reader",
                PAHO_VERSION,
            )
        return paho.Client(CallbackAPIVersion.VERSION2, **kwargs)

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
            if self._max_packet_size:
                properties.MaximumPacketSize = self._max_packet_size
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
        self._refused.clear()
        self._first_connect = True
        self._client.loop_start()
        deadline = time.monotonic() + timeout
        # A refusal (bad password, an id the broker does not allow) is the broker's answer, not an outage: say
        # so at once instead of retrying until the timeout.
        while not self._connected.wait(min(0.02, max(0.0, deadline - time.monotonic()))):
            if self._refused.is_set() or time.monotonic() >= deadline:
                break
        if not self._connected.is_set():
            self._first_connect = False
            self._closing = True
            self._client.loop_stop()
            self._closing = False
            if self._refused.is_set():
                raise BrokerError(
                    f"the MQTT broker at {self.address.url()} refused the connection ({self._connect_error}); "
                    "check the user, the password and the client id the broker allows."
                )
            raise BrokerError(
                f"the MQTT broker at {self.address.url()} did not accept the connection "
                f"({self._connect_error or 'no answer'}) within {timeout:.0f} s; check the URL, user and password."
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

    def subscribe(
        self,
        topic_filter: str,
        qos: int = 1,
        *,
        timeout: float = 5.0,
        retain_as_published: bool = False,
        confirm: bool = True,
    ) -> None:
        """Subscribe now and again after every reconnect; when connected, wait for the broker's SUBACK.

        Until the SUBACK the broker may not route messages to us yet, so "subscribed" means acknowledged.
        `confirm=False` sends the SUBSCRIBE without waiting: for a resumed persistent session (`session_present`),
        whose subscription the broker still holds and whose SUBACK arrives only behind the queued backlog (a
        50,000-message backlog took longer than the 5 s timeout).
        `retain_as_published` (MQTT 5 only; ignored on 3.1.1) keeps the publisher's retain flag on messages
        forwarded live, which 3.1.1 brokers always clear (a recorder needs it to replay retained messages).
        """
        self._subscriptions[topic_filter] = qos
        if retain_as_published:
            self._retain_as_published.add(topic_filter)
        if self.connected:
            mid = self._send_subscribe(topic_filter, qos)
            if mid is not None and confirm:
                self._wait_subacks([mid], timeout)

    def _send_subscribe(self, topic_filter: str, qos: int) -> int | None:
        if self.protocol == "5" and topic_filter in self._retain_as_published:
            options = SubscribeOptions(qos=qos, retainAsPublished=True)
            return self._client.subscribe(topic_filter, options=options)[1]
        return self._client.subscribe(topic_filter, qos=qos)[1]

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
        """Acknowledge QoS 1 messages (in the order given); return how many were sent.

        Messages that arrived on an earlier connection are skipped: the broker redelivers those, and their
        packet ids may since have been given to other messages.
        """
        session = self._session
        mids = [m.mid for m in messages if m.qos == 1 and m.session == session]
        if not mids:
            return 0
        if self.fast_read:
            from smartfactory.edge import fastread

            fastread.queue_pubacks(self._client, mids)  # one packet, one socket write
            return len(mids)
        for mid in mids:
            self._client.ack(mid, 1)
        return len(mids)

    @property
    def session_present(self) -> bool:
        """The broker resumed a session it kept for our client id (CONNACK's session-present flag)."""
        return self._session_present

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
            if self._first_connect:
                self._closing = True
                client.disconnect()  # ends paho's network loop instead of waiting to reconnect
            self._refused.set()
            return
        self._first_connect = False
        self._session = next(_SESSIONS)
        self._session_present = bool(getattr(flags, "session_present", False))
        self._reconnect.reset()
        mids = (self._send_subscribe(f, qos) for f, qos in self._subscriptions.items())
        self._initial_subs = [mid for mid in mids if mid is not None]
        self._connected.set()
        log.debug("connected to %s as %r", self.address.url(), self.client_id)

    def _handle_disconnect(self, client: paho.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        self._connected.clear()
        if not self._closing:
            pause = self._set_next_reconnect_pause()
            log.warning("lost the broker at %s (%s); reconnecting in %.1f s", self.address.url(), reason, pause)

    def _handle_connect_fail(self, client: paho.Client, userdata: Any) -> None:
        pause = self._set_next_reconnect_pause()
        log.debug("the broker at %s is still away; next attempt in %.1f s", self.address.url(), pause)

    def _set_next_reconnect_pause(self) -> float:
        """Tell paho's network thread how long to wait before its next reconnect attempt (our RECONNECT policy).

        paho waits `min_delay` before the first attempt after `reconnect_delay_set` and doubles it up to
        `max_delay` after that; setting both to our own next pause, before every wait, makes paho follow the
        policy, jitter included. (paho annotates the delays as int; it computes with any number.)
        """
        pause = self._reconnect.next()
        self._client.reconnect_delay_set(min_delay=pause, max_delay=pause)  # type: ignore[arg-type]
        return pause

    def _handle_message(self, client: paho.Client, userdata: Any, msg: paho.MQTTMessage) -> None:
        if self._on_message is None:
            return
        try:
            topic = msg.topic
        except UnicodeDecodeError as exc:  # brokers should refuse these; never let one stop the network thread
            topic = bytes(exc.object).decode("utf-8", "replace")  # the raw topic is the undecodable object
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


__all__ = [
    "RECEIVE_MAXIMUM",
    "RECONNECT",
    "SESSION_EXPIRY_S",
    "Message",
    "MessageHandler",
    "MqttClient",
    "ProtocolVersion",
    "Will",
    "broker_answers",
]
