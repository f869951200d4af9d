"""Recording a broker: subscribe to everything, write every message with the time it arrived.

    recorder = Recorder(address, Path("session.sfrec"), topics=("#",))
    recorder.start()                      # connected and subscribed: the retained messages arrive first
    stats = recorder.run(stop_event, duration_s=60)
    recorder.stop(stats.ended_by)         # the end frame makes the file complete

What is captured: every message the subscriptions match, in any format (the wire format's JSON, Sparkplug B's
protobuf on `spBv1.0/…`, anything else), byte for byte, with its QoS and retain flag; the ground truth comes with
it, because the simulator publishes each fault and repair as an `…/event` message. `#` matches every topic except
those starting with `$` (MQTT 3.1.1 §4.7.2: `$SYS` is never recorded).

The recorder connects with MQTT 5 and subscribes with "Retain As Published" (MQTT 5 §3.8.3.1), so a message the
plant publishes retained while the recording runs keeps its retain flag; a 3.1.1 broker clears that flag on
forwarded messages (§3.3.1.3), and the header then says `retain_as_published: false`. The retained messages the
broker hands over right after the subscription (the broker's state when the recording began) are flagged
`initial`: they are the ones that arrive before a marker the recorder publishes after its SUBACK (the broker
sends retained messages before it processes our next publish). The marker itself is not recorded.

It subscribes at QoS 2, so each message keeps the QoS it was published with (the broker delivers at the lower
of the two). After a reconnect the broker sends the retained messages again; they are recorded again (retained,
not initial) and the end frame counts the connections.
"""

from __future__ import annotations

import collections
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from smartfactory.edge.mqtt import Message, MqttClient, ProtocolVersion
from smartfactory.errors import BrokerError
from smartfactory.recording.topics import is_truth, topic_class
from smartfactory.recording.writer import RecordingWriter
from smartfactory.settings import BrokerAddress

#: marker topics: `_sf/record/<id>`, published once after subscribing
MARKER_PREFIX = "_sf/record"
#: how often the loop writes what arrived (a recorder killed loses at most this much)
FLUSH_INTERVAL_S = 0.5


@dataclass
class RecordStats:
    """What a recording captured."""

    messages: int = 0
    initial: int = 0
    truth_events: int = 0
    by_class: dict[str, int] = field(default_factory=dict)
    sessions: set[int] = field(default_factory=set)
    ended_by: str = "stopped"


class Recorder:
    """Capture the messages of `topics` on the broker at `address` into the recording file `path`."""

    def __init__(
        self,
        address: BrokerAddress,
        path: Path,
        topics: Sequence[str] = ("#",),
        *,
        client_id: str | None = None,
        connect_timeout: float = 5.0,
    ) -> None:
        if not topics:
            raise ValueError("record at least one topic filter")
        self.address = address
        self.path = path
        self.topics = tuple(topics)
        # smartfactory-: brokers that bind ids to accounts (compose, classroom) refuse other ids (clientid_prefixes)
        self.client_id = client_id or f"smartfactory-record-{uuid.uuid4().hex[:8]}"
        self.connect_timeout = connect_timeout
        self.marker = f"{MARKER_PREFIX}/{self.client_id}"
        self.stats = RecordStats()
        self._inbox: collections.deque[tuple[Message, bool]] = collections.deque()
        self._snapshot_done = threading.Event()
        self._client: MqttClient | None = None
        self._writer: RecordingWriter | None = None
        #: `run(max_messages=...)`: take no more than this many (later arrivals are dropped, not written)
        self._limit: int | None = None
        self.protocol: ProtocolVersion | None = None

    # ------------------------------------------------------------------ MQTT side (paho's network thread)

    def _on_message(self, message: Message) -> None:
        if message.topic == self.marker:
            self._snapshot_done.set()
            return
        initial = message.retain and not self._snapshot_done.is_set()
        self._inbox.append((message, initial))  # deque.append is atomic: no lock with the writer loop

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Connect (MQTT 5, else 3.1.1), subscribe, open the file and take the broker's retained messages."""
        start_s = time.time()
        versions: tuple[ProtocolVersion, ...] = ("5", "3.1.1")
        for version in versions:
            client = MqttClient(self.address, client_id=self.client_id, protocol=version, on_message=self._on_message)
            for topic in self.topics:
                client.subscribe(topic, qos=2, retain_as_published=True)
            client.subscribe(self.marker, qos=1)  # the filters given may not match it
            try:
                client.connect(self.connect_timeout)
            except BrokerError:
                if version == versions[-1]:
                    raise
                continue
            self._client, self.protocol = client, version
            break
        assert self._client is not None
        self._writer = RecordingWriter(
            self.path,
            header={
                "broker": self.address.url(),
                "topics": list(self.topics),
                "protocol": self.protocol,
                "retain_as_published": self.protocol == "5",
                "client_id": self.client_id,
            },
            start_s=start_s,
        )
        self._client.publish(self.marker, b"", qos=1)
        if not self._snapshot_done.wait(self.connect_timeout):
            raise BrokerError(
                f"the broker at {self.address.url()} did not echo the recorder's marker within "
                f"{self.connect_timeout:g} s; is the recorder allowed to publish on {MARKER_PREFIX}/#?"
            )
        self.flush()

    def flush(self) -> int:
        """Write what arrived since the last flush; return how many messages that was."""
        writer = self._writer
        if writer is None:
            return 0
        taken = 0
        while self._inbox and (self._limit is None or self.stats.messages < self._limit):
            message, initial = self._inbox.popleft()
            writer.add(
                message.topic,
                message.payload,
                qos=message.qos,
                retain=message.retain,
                received_at=message.received_at,
                initial=initial,
            )
            self._count(message, initial)
            taken += 1
        writer.flush()
        return taken

    def _count(self, message: Message, initial: bool) -> None:
        stats = self.stats
        stats.messages += 1
        stats.initial += initial
        kind = topic_class(message.topic)
        stats.by_class[kind] = stats.by_class.get(kind, 0) + 1
        stats.truth_events += is_truth(message.topic)
        stats.sessions.add(message.session)

    def run(
        self, stop: threading.Event, *, duration_s: float | None = None, max_messages: int | None = None
    ) -> RecordStats:
        """Record until `stop` is set, `duration_s` (wall clock) has passed or `max_messages` were taken."""
        deadline = None if duration_s is None else time.monotonic() + duration_s
        self._limit = max_messages
        while True:
            self.flush()
            if max_messages is not None and self.stats.messages >= max_messages:
                self.stats.ended_by = "count"
                break
            if stop.is_set():
                self.stats.ended_by = "stopped"
                break
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                self.stats.ended_by = "duration"
                break
            pause = FLUSH_INTERVAL_S if deadline is None else min(FLUSH_INTERVAL_S, deadline - now)
            stop.wait(max(pause, 0.0))
        return self.stats

    def stop(self, ended_by: str | None = None) -> RecordStats:
        """Disconnect, write what is left and the end frame (the file is then complete)."""
        if self._client is not None:
            self._client.close(flush_timeout=1.0)
            self._client = None
        if self._writer is not None:
            self.flush()
            stats = self.stats
            self._writer.close(
                ended_by=ended_by or stats.ended_by,
                initial=stats.initial,
                truth_events=stats.truth_events,
                by_class=dict(sorted(stats.by_class.items())),
                connections=max(len(stats.sessions), 1),
            )
            self._writer = None
        return self.stats
