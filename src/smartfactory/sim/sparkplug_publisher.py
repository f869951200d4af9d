"""The simulator's Sparkplug B side (`smartfactory simulate --format sparkplug`): the same plant, the same messages,
as Sparkplug B edge nodes.

It is a sink like `PlantPublisher` (call it as `publish(topic, payload, retain)` with the wire-v1 messages the
runner emits) and translates each message into Sparkplug B (docs/sparkplug.md):

- one edge node per line (`sparkplug.mapping`: group = enterprise, edge node = `site:area:line`), one MQTT
  connection each, with the NDEATH as last will; one device per machine;
- device metrics: every signal of the machine (sensors and part characteristics, Double, `engUnit` property), and
  four String metrics that carry the machine's other wire-v1 payloads as JSON: `_sf/state` (current state),
  `_sf/quality` (each finished part), `_sf/event` (ground-truth faults and repairs) and `_sf/status` (the birth's
  machine facts, in DBIRTH only). Ingestion's Sparkplug host decodes them with the wire-v1 rules, so the store
  gets the same readings, states, parts, events and machine facts as from `--format uns`;
- a telemetry message becomes one DDATA (alias-only metrics, each with its own timestamp; a batch is split into
  DDATAs of at most `max_metrics` metrics), any other message one DDATA of its `_sf/…` metric; a machine whose
  simulator stops (`status` offline) gets a DDEATH;
- an NCMD `Node Control/Rebirth` is answered with NBIRTH and every DBIRTH (same bdSeq), from the publishing thread
  at the next message (a paho callback must not block on back-pressure).

Commands stay on the UNS: `smartfactory inject` reads the machines' retained `…/status` births, publishes JSON on
`…/cmd` and waits for the answer on `…/event`. So with `control=True` (the default) a `PlantPublisher` keeps that
control plane: per machine its status birth and last will, its `…/cmd` subscription and its `…/event` messages.
Those JSON messages reach ingestion too; the store keeps each event and machine fact once (idempotent writes).

Connections and bdSeq (spec 3.0: bdSeq goes up by one with every MQTT CONNECT, the will and the NBIRTH carry the
same): while a node's broker connection is away, publishing waits (back-pressure, like `PlantPublisher`). When
paho has reconnected (with the old will), this publisher closes that connection and opens a new one with the next
bdSeq in its will, then sends NBIRTH and every DBIRTH before any data. The first bdSeq of a run is random (0..255)
unless given, so that a late will of a killed earlier run (same node, new client id) is not taken for this one's.

QoS: Sparkplug 3.0 asks for QoS 0 on births and data. The data of a telemetry message goes at the configured QoS
(`mqtt.qos`, default 1) and everything else at QoS 1, as in wire format v1: with QoS 1 the broker holds what a slow
ingestion has not taken yet instead of dropping it (`--qos 0` gives the spec's behaviour for data). The NDEATH is
QoS 1, not retained, as the spec requires.
"""

from __future__ import annotations

import json
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from smartfactory.edge.mqtt import Message, MqttClient, Will
from smartfactory.errors import BrokerError
from smartfactory.settings import BrokerAddress
from smartfactory.sim.encode import PUBLISHED, status_payload
from smartfactory.sim.engine import PlacedMachine
from smartfactory.sim.publisher import MAX_OUTSTANDING, PlantPublisher
from smartfactory.sparkplug.edge import EdgeNodeSession, Frame, MetricDef, is_rebirth_request
from smartfactory.sparkplug.mapping import DEFAULT_MAPPING, EMBEDDED_PREFIX, SparkplugMapping, sensor_to_metric
from smartfactory.sparkplug.payload import DataType, SparkplugError
from smartfactory.wire import MessageClass, StatusPayload, parse_ts

log = logging.getLogger(__name__)
#: Metrics in one DDATA at most (a batch of 1000 instants of 5 signals is 5000): about 100 kB of protobuf.
MAX_METRICS = 10_000
#: Wire-v1 classes carried as `_sf/{class}` String metrics, and whether a rebirth repeats their last value.
EMBEDDED = {
    MessageClass.STATE: True,
    MessageClass.QUALITY: False,
    MessageClass.EVENT: False,
    MessageClass.STATUS: True,
}
#: How long a publish waits between looks at a connection that is away.
_POLL_S = 0.05


def embedded_metric(cls: MessageClass) -> str:
    """The name of the String metric that carries a wire-v1 payload of class `cls`: `_sf/state` etc."""
    return f"{EMBEDDED_PREFIX}{cls.value}"


def device_metrics(placed: PlacedMachine) -> list[MetricDef]:
    """The metrics a machine's DBIRTH announces: its signals (Double, with their unit) and the `_sf/…` payloads."""
    units = {**{n: s.unit for n, s in placed.info.signals.items() if s.unit}, **placed.units}
    metrics = [
        MetricDef(sensor_to_metric(name), DataType.Double, {"engUnit": units[name]} if name in units else {})
        for name in placed.info.signals
    ]
    metrics += [MetricDef(embedded_metric(cls), DataType.String, in_births=keep) for cls, keep in EMBEDDED.items()]
    return metrics


@dataclass
class _Node:
    """One edge node (a line): its session, its current connection and the machines (devices) on it."""

    session: EdgeNodeSession
    client_id: str
    client: MqttClient | None = None
    seen_session: int = 0  # MqttClient.session of the connection our births went out on
    rebirth: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True, slots=True)
class _Route:
    node: _Node
    device: str
    machine: int
    cls: MessageClass


class SparkplugPublisher:
    """The plant as Sparkplug B edge nodes (one per line); call it like `publish(topic, payload, retain)`."""

    def __init__(
        self,
        address: BrokerAddress,
        machines: Sequence[PlacedMachine],
        *,
        qos: int = 1,
        keepalive: int = 30,
        max_outstanding: int = MAX_OUTSTANDING,
        on_command: Callable[[str, bytes], None] | None = None,
        clock: Callable[[], float] = time.time,
        mapping: SparkplugMapping = DEFAULT_MAPPING,
        control: bool = True,
        bd_seq: int | None = None,
        max_metrics: int = MAX_METRICS,
        connect_timeout: float = 5.0,
    ) -> None:
        self.address = address
        self.machines = machines
        self.qos = qos
        self.keepalive = keepalive
        self.max_outstanding = max_outstanding
        self.clock = clock
        self.max_metrics = max(1, max_metrics)
        self.connect_timeout = connect_timeout
        self.dropped = 0
        self.rebirths = 0
        self.reconnects = 0
        self._closing = False
        self.control: PlantPublisher | None = None
        if control:
            self.control = PlantPublisher(
                address,
                machines,
                qos=qos,
                keepalive=keepalive,
                max_outstanding=max_outstanding,
                on_command=on_command,
                clock=clock,
            )
        run_id = uuid.uuid4().hex[:6]
        self.nodes: dict[tuple[str, str], _Node] = {}
        self._routes: dict[str, _Route] = {}
        for placed in machines:
            group, edge, device = mapping.to_sparkplug(placed.path)
            node = self.nodes.get((group, edge))
            if node is None:
                first = secrets.randbelow(256) if bd_seq is None else bd_seq
                session = EdgeNodeSession(group, edge, bd_seq=first, clock=clock)
                client_id = f"smartfactory-spb-{run_id}-{len(self.nodes)}-{placed.path.line}"[:64]
                node = self.nodes[(group, edge)] = _Node(session, client_id)
            node.session.add_device(device, device_metrics(placed))
            for cls in PUBLISHED:
                self._routes[placed.path.topic(cls)] = _Route(node, device, placed.index, cls)

    # ------------------------------------------------------------------ connections

    def connect(self, timeout: float = 5.0) -> None:
        """Connect the control plane and every edge node and publish the births; on failure close what was opened."""
        self.connect_timeout = timeout
        try:
            if self.control is not None:
                self.control.connect(timeout)
            for node in self.nodes.values():
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
        node.client = client
        try:
            client.connect(self.connect_timeout)
        except BrokerError:
            client.close(flush_timeout=0)
            raise
        node.seen_session = client.session
        node.rebirth.clear()
        self._birth_status(node)
        for frame in node.session.births():
            self._send(node, frame, 1)

    def _birth_status(self, node: _Node) -> None:
        """The `_sf/status` value the DBIRTHs announce: the machine's birth with its facts, stamped now."""
        now = int(self.clock() * 1000)
        for route in {r.device: r for r in self._routes.values() if r.node is node}.values():
            status = status_payload("online", now, self.machines[route.machine].info).decode()
            node.session.set_value(route.device, embedded_metric(MessageClass.STATUS), status, now)

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
        """Wait for the node's connection; start a new Sparkplug session after a reconnect or for a rebirth.
        False when stopping while the broker is away (the message is dropped)."""
        client = node.client
        while client is None or not client.connected:
            if self._closing:
                return False
            time.sleep(_POLL_S)
            client = node.client
        if client.session != node.seen_session:
            # paho reconnected with the old will: the host saw (or will see) that session's NDEATH, so a new
            # session starts on a new connection with the next bdSeq (spec: one bdSeq per MQTT CONNECT).
            self.reconnects += 1
            log.warning("edge node %s reconnected: new session with the next bdSeq", node.session.edge_node_id)
            client.close(flush_timeout=1.0)
            while True:
                try:
                    self._start(node)
                    return True
                except BrokerError as exc:
                    if self._closing:
                        return False
                    log.warning("edge node %s: %s; trying again", node.session.edge_node_id, exc)
                    time.sleep(1.0)
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

    def __call__(self, topic: str, payload: bytes, retain: bool) -> None:
        route = self._routes[topic]
        if self.control is not None and route.cls in (MessageClass.STATUS, MessageClass.EVENT):
            self.control(topic, payload, retain)
        node = route.node
        with node.lock:
            if not self._ready(node):
                self.dropped += 1
                return
            for frame, qos in self.translate(topic, payload):
                self._send(node, frame, qos)

    def translate(self, topic: str, payload: bytes) -> list[tuple[Frame, int]]:
        """The Sparkplug frames (and their QoS) of one wire-v1 message, in publishing order. Advances the edge
        node's session (seq, current values): publish what it returns, in that order."""
        route = self._routes[topic]
        session, device = route.node.session, route.device
        out: list[tuple[Frame, int]] = []
        if route.cls is MessageClass.STATUS:
            status = StatusPayload.from_bytes(payload)
            if status.status == "offline":
                return [(session.device_death(device), 1)] if session.online(device) else []
            if status.info is not None:
                text, ts = payload.decode(), status.ts if status.ts is not None else int(self.clock() * 1000)
                session.set_value(device, embedded_metric(MessageClass.STATUS), text, ts)
            return [(session.device_birth(device), 1)]
        if not session.online(device):
            out.append((session.device_birth(device), 1))
        if route.cls is MessageClass.TELEMETRY:
            values = telemetry_values(payload)
            unknown = sorted({name for name, _, _ in values} - set(session.metric_names(device)))
            if unknown:  # a signal the birth did not announce: announce it first (new aliases)
                session.add_metrics(device, [MetricDef(name, DataType.Double) for name in unknown])
                out.append((session.device_birth(device), 1))
            step = self.max_metrics
            for start in range(0, len(values), step):
                out.append((session.device_data(device, values[start : start + step]), self.qos))
            return out
        ts = parse_ts(json.loads(payload)["ts"])
        out.append((session.device_data(device, [(embedded_metric(route.cls), payload.decode(), ts)]), 1))
        return out

    # ------------------------------------------------------------------ like PlantPublisher

    @property
    def outstanding(self) -> int:
        clients = [n.client for n in self.nodes.values() if n.client is not None]
        own = sum(client.outstanding for client in clients)
        return own + (self.control.outstanding if self.control is not None else 0)

    def wait_published(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        clients = [n.client for n in self.nodes.values() if n.client is not None]
        done = all(client.wait_published(max(0.0, deadline - time.monotonic())) for client in clients)
        if self.control is not None:
            done = self.control.wait_published(max(0.0, deadline - time.monotonic())) and done
        return done

    def release(self) -> None:
        """Stop waiting for an absent broker: what cannot go out any more is dropped (and counted)."""
        self._closing = True
        if self.control is not None:
            self.control.release()

    def close(self, *, offline: bool = True, flush_timeout: float = 5.0) -> None:
        """Publish each node's NDEATH (a clean DISCONNECT discards the will) and disconnect; mark machines offline."""
        self._closing = True
        if self.dropped:
            log.warning("%d Sparkplug messages were dropped because the broker was away at the stop", self.dropped)
        for node in self.nodes.values():
            locked = node.lock.acquire(timeout=2.0)  # the publishing thread gives up within 0.5 s once closing
            try:
                self._close_node(node, offline, flush_timeout)
            finally:
                if locked:
                    node.lock.release()
        if self.control is not None:
            self.control.close(offline=offline, flush_timeout=flush_timeout)

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
        """Drop every connection without a DISCONNECT: the broker publishes each node's NDEATH (and machine's will)."""
        self._closing = True
        for node in self.nodes.values():
            if node.client is not None:
                node.client.abort()
        if self.control is not None:
            self.control.abort()


def telemetry_values(payload: bytes) -> list[tuple[str, float, int]]:
    """(metric, value, ts_ms) of a wire-v1 `MachineTelemetry` message: one instant (ISO `ts`) or a `batch`."""
    body = json.loads(payload)
    out: list[tuple[str, float, int]] = []
    for sample in body.get("batch", (body,)):
        ts = parse_ts(sample["ts"])
        out.extend((sensor_to_metric(name), value, ts) for name, value in sample["values"].items())
    return out


__all__ = ["EMBEDDED", "MAX_METRICS", "SparkplugPublisher", "device_metrics", "embedded_metric", "telemetry_values"]
