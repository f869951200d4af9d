"""Sparkplug B edge nodes on MQTT, fed with wire-v1 messages: the sink behind `simulate --format sparkplug`
(`sim.sparkplug_publisher`) and `bridge opcua --format sparkplug` (docs/sparkplug.md, docs/opcua.md).

Call it like `publish(topic, payload, retain)`: `sparkplug.translate.WireTranslator` says which frames each message
becomes; this module keeps one MQTT connection per edge node (a line), with the NDEATH as last will. Machines are
declared up front (`add_machine`) or, with `adopt=True`, from their first message: the line's edge node then
connects at its first machine's message (NBIRTH), and the machine's `status` birth is its DBIRTH.

Connections and bdSeq (spec 3.0: bdSeq goes up by one with every MQTT CONNECT, the will and the NBIRTH carry the
same): while a node's broker connection is away, publishing waits (back-pressure). When paho has reconnected (with
the old will), the node's connection is closed and a new one opened with the next bdSeq in its will, then NBIRTH
and every DBIRTH go out before any data. An NCMD `Node Control/Rebirth` is answered with NBIRTH and every DBIRTH
(same bdSeq), from the publishing thread at the next message (a paho callback must not block on back-pressure).

QoS: Sparkplug 3.0 asks for QoS 0 on births and data. The data of a telemetry message goes at the configured QoS
(`mqtt.qos`, default 1) and everything else at QoS 1, as in wire format v1: with QoS 1 the broker holds what a slow
ingestion has not taken yet instead of dropping it (`--qos 0` gives the spec's behaviour for data). The NDEATH is
QoS 1, not retained, as the spec requires.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from smartfactory.edge.mqtt import Message, MqttClient, Will
from smartfactory.errors import BrokerError
from smartfactory.settings import BrokerAddress
from smartfactory.sparkplug.edge import EdgeNodeSession, Frame, is_rebirth_request
from smartfactory.sparkplug.mapping import DEFAULT_MAPPING, SparkplugMapping
from smartfactory.sparkplug.payload import SparkplugError
from smartfactory.sparkplug.translate import MAX_METRICS, NodeKey, Route, WireTranslator
from smartfactory.wire import MachineInfo, MachinePath

log = logging.getLogger(__name__)
#: Messages one edge node's connection may hold unacknowledged before publishing blocks.
MAX_OUTSTANDING = 1000
#: How long a publish waits between looks at a connection that is away.
_POLL_S = 0.05
#: Pause between attempts to open a node's connection while the broker does not answer.
_RETRY_S = 1.0


@dataclass
class _Node:
    """One edge node (a line): its session and its current connection."""

    session: EdgeNodeSession
    client_id: str
    client: MqttClient | None = None
    seen_session: int = 0  # MqttClient.session of the connection our births went out on
    rebirth: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


class SparkplugEdgeNodes:
    """Wire-v1 messages out as Sparkplug B edge nodes (one per line); call it like `publish(topic, payload, retain)`."""

    def __init__(
        self,
        address: BrokerAddress,
        *,
        qos: int = 1,
        keepalive: int = 30,
        max_outstanding: int = MAX_OUTSTANDING,
        clock: Callable[[], float] = time.time,
        mapping: SparkplugMapping = DEFAULT_MAPPING,
        bd_seq: int | None = None,
        max_metrics: int = MAX_METRICS,
        connect_timeout: float = 5.0,
        adopt: bool = False,
        client_prefix: str = "smartfactory-spb",
    ) -> None:
        self.address = address
        self.keepalive = keepalive
        self.max_outstanding = max_outstanding
        self.connect_timeout = connect_timeout
        self.adopt = adopt
        self.translator = WireTranslator(mapping=mapping, qos=qos, clock=clock, bd_seq=bd_seq, max_metrics=max_metrics)
        self.dropped = 0
        self.rebirths = 0
        self.reconnects = 0
        self._closing = False
        self._client_prefix = f"{client_prefix}-{uuid.uuid4().hex[:6]}"
        self.nodes: dict[NodeKey, _Node] = {}

    def add_machine(self, path: MachinePath, info: MachineInfo | None, units: Mapping[str, str] | None = None) -> None:
        """Declare a machine (a device of its line's edge node) before `connect`."""
        self.translator.add_machine(path, info, units)
        self._node(path)

    def _node(self, path: MachinePath) -> _Node:
        key = self.translator.node_key(path)
        node = self.nodes.get(key)
        if node is None:
            client_id = f"{self._client_prefix}-{len(self.nodes)}-{path.line}"[:64]
            node = self.nodes[key] = _Node(self.translator.session(path), client_id)
        return node

    # ------------------------------------------------------------------ connections

    def connect(self, timeout: float = 5.0) -> None:
        """Connect every declared edge node and publish the births; on failure close what was opened. With
        `adopt`, nodes declared later connect at their first message; with none declared yet, a short connection
        checks that the broker takes ours (address, credentials), so that a wrong URL fails here."""
        self.connect_timeout = timeout
        if not self.nodes:
            probe = MqttClient(self.address, client_id=f"{self._client_prefix}-probe", keepalive=self.keepalive)
            try:
                probe.connect(timeout)
            finally:
                probe.close(flush_timeout=0)
            return
        try:
            for node in list(self.nodes.values()):
                with node.lock:
                    self._start(node)
        except BaseException:
            self.close(offline=False)
            raise

    def _start(self, node: _Node) -> None:
        """A new MQTT connection for `node` (next bdSeq in its will), then NBIRTH and every DBIRTH."""
        will = node.session.will()
        client = MqttClient(
            self.address,
            client_id=node.client_id,
            will=Will(will.topic, will.payload, qos=1, retain=False),
            keepalive=self.keepalive,
            max_outstanding=self.max_outstanding,
        )
        client.set_message_handler(self._command_handler(node))
        for topic in node.session.command_topics():
            client.subscribe(topic, qos=1)
        try:
            client.connect(self.connect_timeout)
        except BrokerError:
            client.close(flush_timeout=0)
            node.client = None
            raise
        node.client = client
        node.seen_session = client.session
        node.rebirth.clear()
        self.translator.stamp_status((node.session.group_id, node.session.edge_node_id))
        for frame in node.session.births():
            self._send(node, frame, 1)

    def _start_until_up(self, node: _Node) -> bool:
        """`_start` until the broker takes the connection; False when stopping meanwhile."""
        while True:
            try:
                self._start(node)
                return True
            except BrokerError as exc:
                if self._closing:
                    return False
                log.warning("edge node %s: %s; trying again", node.session.edge_node_id, exc)
                time.sleep(_RETRY_S)

    def _command_handler(self, node: _Node) -> Callable[[Message], None]:
        def handle(message: Message) -> None:
            try:
                wanted = is_rebirth_request(message.payload)
            except SparkplugError as exc:
                log.warning("ignored an NCMD for %s that is not Sparkplug B: %s", node.session.edge_node_id, exc)
                return
            if wanted:
                node.rebirth.set()  # answered by the publishing thread, at the next message

        return handle

    def _ready(self, node: _Node) -> bool:
        """Wait for the node's connection (open it, for a node adopted after `connect`); start a new Sparkplug
        session after a reconnect or for a rebirth. False when stopping while the broker is away (message dropped)."""
        if node.client is None:
            return self._start_until_up(node)
        client = node.client
        while not client.connected:
            if self._closing:
                return False
            time.sleep(_POLL_S)
        if client.session != node.seen_session:
            # paho reconnected with the old will: the host saw (or will see) that session's NDEATH, so a new
            # session starts on a new connection with the next bdSeq (spec: one bdSeq per MQTT CONNECT).
            self.reconnects += 1
            log.warning("edge node %s reconnected: new session with the next bdSeq", node.session.edge_node_id)
            client.close(flush_timeout=1.0)
            node.client = None
            return self._start_until_up(node)
        if node.rebirth.is_set():
            node.rebirth.clear()
            self.rebirths += 1
            for frame in node.session.births():
                self._send(node, frame, 1)
        return True

    def _send(self, node: _Node, frame: Frame, qos: int) -> None:
        client = node.client
        assert client is not None  # _start set it
        while True:
            if self._closing and not client.connected:
                self.dropped += 1
                return
            try:
                client.publish(frame.topic, frame.payload, qos=qos, retain=False, timeout=0.5)
                return
            except BrokerError:
                if self._closing:
                    self.dropped += 1
                    return

    # ------------------------------------------------------------------ translation

    def route(self, topic: str) -> Route | None:
        return self.translator.route(topic)

    def __call__(self, topic: str, payload: bytes, retain: bool) -> None:
        route = self.translator.route(topic)
        if route is None and self.adopt:
            self._adopt(topic, payload)
            return
        if route is None:
            raise KeyError(f"{topic!r} is not a topic of a declared machine")
        node = self.nodes[route.node]
        with node.lock:
            if not self._ready(node):
                self.dropped += 1
                return
            for frame, qos in self.translator.translate(topic, payload):
                self._send(node, frame, qos)

    def _adopt(self, topic: str, payload: bytes) -> None:
        """A machine's first message: its line's edge node connects (NBIRTH) before the machine is declared, so that
        the message's frames (a DBIRTH first) announce it."""
        path = self.translator.machine_of(topic)
        node = self._node(path)
        with node.lock:
            if not self._ready(node):
                self.dropped += 1
                return
            self.translator.adopt(topic, payload)  # declared now, after the node's births: the device is offline
            for frame, qos in self.translator.translate(topic, payload):
                self._send(node, frame, qos)

    def translate(self, topic: str, payload: bytes) -> list[tuple[Frame, int]]:
        """The frames of one message (`WireTranslator.translate`), without publishing them."""
        return self.translator.translate(topic, payload)

    # ------------------------------------------------------------------ like MqttClient

    @property
    def outstanding(self) -> int:
        return sum(n.client.outstanding for n in list(self.nodes.values()) if n.client is not None)

    def wait_published(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        clients = [n.client for n in list(self.nodes.values()) if n.client is not None]
        return all(client.wait_published(max(0.0, deadline - time.monotonic())) for client in clients)

    def release(self) -> None:
        """Stop waiting for an absent broker: what cannot go out any more is dropped (and counted)."""
        self._closing = True

    def close(self, *, offline: bool = True, flush_timeout: float = 5.0) -> None:
        """Publish each node's NDEATH (a clean DISCONNECT discards the will) and disconnect."""
        self._closing = True
        if self.dropped:
            log.warning("%d Sparkplug messages were dropped because the broker was away at the stop", self.dropped)
        for node in list(self.nodes.values()):  # a copy: an adopting publisher thread may add one meanwhile
            locked = node.lock.acquire(timeout=2.0)  # the publishing thread gives up within 0.5 s once closing
            try:
                self._close_node(node, offline, flush_timeout)
            finally:
                if locked:
                    node.lock.release()

    def _close_node(self, node: _Node, offline: bool, flush_timeout: float) -> None:
        client = node.client
        if client is not None:
            if offline and client.connected and node.session.bd_seq is not None:
                death = node.session.death()
                try:
                    client.publish(death.topic, death.payload, qos=1, retain=False, timeout=1.0)
                except BrokerError as exc:
                    log.warning("could not publish the NDEATH of %s: %s", node.session.edge_node_id, exc)
            client.close(flush_timeout=flush_timeout)

    def abort(self) -> None:
        """Drop every connection without a DISCONNECT: the broker publishes each node's NDEATH."""
        self._closing = True
        for node in list(self.nodes.values()):
            if node.client is not None:
                node.client.abort()


__all__ = ["MAX_OUTSTANDING", "SparkplugEdgeNodes"]
