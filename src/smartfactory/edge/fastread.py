"""Opt-in fast packet reader for the MQTT edge, built on paho 2.x PRIVATE internals (off by default).

Switched on with `SMARTFACTORY_MQTT__FAST_READER=true` (ingestion) or `MqttClient(..., fast_read=True)`. The
default path (`edge.mqtt`) uses paho's public API only; this module is the one place that does not.

Why it exists: receiving is the hot path of ingestion. Profiling a bare paho subscriber (30,000 messages of ~110
bytes) showed ~27 µs per message, nearly all of it paho's own Python: a select() and three recv() calls per packet,
an `MQTTMessage` with a `threading.Condition` per message, two locks and a topic-matcher walk per callback.
`FastReadClient` keeps paho for everything (connect, subscribe, keepalive, reconnect, publish, QoS 2) but reads up
to 256 KiB per recv() and parses every complete QoS 0/1 PUBLISH frame in it straight into a `Message`; any other
packet is handed to paho's own handler unchanged. `queue_pubacks` sends a batch of PUBACKs in one socket write.
A packet bigger than one read is appended in place until it is whole (linear in its size: `bench/fastread_big.py`).
It only pays off for many small messages: grouped telemetry (many readings per message) is limited by decoding
and storage, not by the packet reader (bench/ingest_rate.py --reader paho fast measures both in one run).

It overrides or calls `_packet_read`, `_packet_handle`, `_in_packet`, `_sock_recv`, `_sock`, `_manual_ack`,
`_send_puback`, `_packet_queue`, `_msgtime_mutex` and `_last_bytes_received`, which paho may change in any
release: `supported()` checks for them (and for paho 2.x); where they are missing the edge falls back to paho's
own reader and says so in the log. `tests/edge/test_fastread.py` checks both readers deliver identical messages.
"""

from __future__ import annotations

import functools
import logging
import struct
import time
from collections.abc import Callable, Sequence
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt import __version__ as PAHO_VERSION
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.exception import MalformedPacket

from smartfactory.edge.mqtt import Message

log = logging.getLogger(__name__)

_PUBLISH = 0x30
_PUBACK = 0x40
_READ_SIZE = 256 * 1024
#: The paho internals this module relies on (checked by `supported()`).
PAHO_INTERNALS = (
    "_packet_read",
    "_packet_handle",
    "_in_packet",
    "_sock_recv",
    "_packet_queue",
    "_msgtime_mutex",
    "_send_puback",
)


@functools.cache
def supported() -> bool:
    """True for the paho versions whose internals `FastReadClient` was written against (2.x)."""
    probe = paho.Client(CallbackAPIVersion.VERSION2)
    return PAHO_VERSION.startswith("2.") and all(hasattr(probe, name) for name in PAHO_INTERNALS)


def queue_pubacks(client: paho.Client, mids: Sequence[int]) -> None:
    """Queue PUBACKs for `mids` (in order) as one packet, so they leave in one socket write."""
    # A PUBACK is 0x40, remaining length 2, the packet id (MQTT 3.1.1 §3.4; the same short form is valid in 5).
    blob = struct.pack(f"!{len(mids)}I", *((_PUBACK << 24) | (2 << 16) | mid for mid in mids))
    client._packet_queue(_PUBACK, blob, 0, 0)


class FastReadClient(paho.Client):
    """paho's client with a batched read path for PUBLISH packets (see the module docstring)."""

    def __init__(self, deliver: Callable[[Message], None], session: Callable[[], int], **kwargs: Any) -> None:
        super().__init__(CallbackAPIVersion.VERSION2, **kwargs)
        self._sf_deliver = deliver
        self._sf_session = session
        self._sf_buffer = bytearray()  # the unparsed tail of the stream: at most one incomplete packet
        self._sf_need = 0  # bytes that incomplete packet needs in all, once its length header is known
        self._sf_sock: object = None
        self._sf_v5 = kwargs.get("protocol") == paho.MQTTv5

    def _packet_read(self) -> MQTTErrorCode:
        if self._sock is not self._sf_sock:  # a new connection: leftovers of the old one mean nothing
            self._sf_sock = self._sock
            self._sf_buffer, self._sf_need = bytearray(), 0
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
        if self._sf_need > len(self._sf_buffer) + len(chunk):
            # A big packet still arriving: append in place (amortised linear) and parse nothing until it is whole;
            # rebuilding the buffer at every recv made a 100 MB packet cost 25 s (issue 13).
            self._sf_buffer += chunk
            return MQTTErrorCode.MQTT_ERR_SUCCESS
        data = bytes(self._sf_buffer) + chunk if self._sf_buffer else chunk
        self._sf_need = 0
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
                self._sf_need = end - pos  # body incomplete: wait for all of it before parsing again
                break
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
                self._sf_buffer, self._sf_need = bytearray(), 0
                return rc
        self._sf_buffer = bytearray(data[pos:])
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


__all__ = ["PAHO_INTERNALS", "FastReadClient", "queue_pubacks", "supported"]
