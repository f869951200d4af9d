"""Wire-v1 messages → Sparkplug B frames: the translation that `simulate --format sparkplug` and `bridge opcua
--format sparkplug` share (docs/sparkplug.md). Pure: it keeps the edge node sessions and says which frames to
publish; the MQTT connections are `edge.sparkplug`'s.

- one edge node per line (`mapping`: group = enterprise, edge node = `site:area:line`), one device per machine;
- device metrics: every signal of the machine's `MachineInfo` (sensors and part characteristics, Double, `engUnit`
  property), and four String metrics that carry the machine's other wire-v1 payloads as JSON: `_sf/state`
  (current state), `_sf/quality` (each finished part), `_sf/event` (ground-truth faults and repairs) and
  `_sf/status` (the birth with the machine facts, in DBIRTH only). Ingestion's Sparkplug host decodes them with
  the wire-v1 rules, so the store gets the same readings, states, parts, events and machine facts as from JSON;
- a telemetry message becomes one DDATA (alias-only metrics, each with its own timestamp; a batch is split into
  DDATAs of at most `max_metrics` metrics), any other message one DDATA of its `_sf/…` metric; a `status` birth is
  a DBIRTH (announcing signals it names for the first time), an `offline` status a DDEATH.

Machines are declared up front (`add_machine`, the simulator knows its plant) or adopted from their first message
(`adopt`, the OPC UA bridge learns them from the births it makes out of a node map): the device's metrics then come
from the `MachineInfo` of its `status` birth.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from smartfactory.errors import WireError
from smartfactory.sparkplug.edge import EdgeNodeSession, Frame, MetricDef
from smartfactory.sparkplug.mapping import DEFAULT_MAPPING, EMBEDDED_PREFIX, SparkplugMapping, sensor_to_metric
from smartfactory.sparkplug.payload import DataType
from smartfactory.wire import MachineInfo, MachinePath, MessageClass, StatusPayload, Topic, parse_ts

#: Metrics in one DDATA at most (a batch of 1000 instants of 5 signals is 5000): about 100 kB of protobuf.
MAX_METRICS = 10_000
#: Wire-v1 classes carried as `_sf/{class}` String metrics, and whether a rebirth repeats their last value.
EMBEDDED = {
    MessageClass.STATE: True,
    MessageClass.QUALITY: False,
    MessageClass.EVENT: False,
    MessageClass.STATUS: True,
}
#: The classes a machine publishes, each translated here (it subscribes to `cmd`).
TRANSLATED = (MessageClass.TELEMETRY, *EMBEDDED)

NodeKey = tuple[str, str]  # (group_id, edge_node_id)


def embedded_metric(cls: MessageClass) -> str:
    """The name of the String metric that carries a wire-v1 payload of class `cls`: `_sf/state` etc."""
    return f"{EMBEDDED_PREFIX}{cls.value}"


def signal_metrics(
    info: MachineInfo | None, units: Mapping[str, str], names: list[str] | None = None
) -> list[MetricDef]:
    """Double metrics of a machine's signals (all of `info`, or `names`), with their unit as `engUnit`."""
    known = {**{n: s.unit for n, s in (info.signals.items() if info else ()) if s.unit}, **units}
    chosen = names if names is not None else list(info.signals) if info is not None else []
    return [
        MetricDef(sensor_to_metric(name), DataType.Double, {"engUnit": known[name]} if name in known else {})
        for name in chosen
    ]


def device_metrics(info: MachineInfo | None, units: Mapping[str, str] | None = None) -> list[MetricDef]:
    """The metrics a machine's DBIRTH announces: its signals (Double, with their unit) and the `_sf/…` payloads.
    `units` overrides the units of `info` (a simulator's live units)."""
    metrics = signal_metrics(info, units or {})
    metrics += [MetricDef(embedded_metric(cls), DataType.String, in_births=keep) for cls, keep in EMBEDDED.items()]
    return metrics


def telemetry_values(payload: bytes) -> list[tuple[str, float, int]]:
    """(metric, value, ts_ms) of a wire-v1 `MachineTelemetry` message: one instant (ISO `ts`) or a `batch`."""
    body = json.loads(payload)
    out: list[tuple[str, float, int]] = []
    for sample in body.get("batch", (body,)):
        ts = parse_ts(sample["ts"])
        out.extend((sensor_to_metric(name), value, ts) for name, value in sample["values"].items())
    return out


@dataclass(frozen=True, slots=True)
class Route:
    """Where a wire-v1 topic goes: the edge node, the device and the message class."""

    node: NodeKey
    device: str
    cls: MessageClass


class WireTranslator:
    """Edge node sessions fed with wire-v1 messages. Not thread-safe: serialise the calls per edge node, and publish
    the frames each returns in that order (seq order is publish order)."""

    def __init__(
        self,
        *,
        mapping: SparkplugMapping = DEFAULT_MAPPING,
        qos: int = 1,
        clock: Callable[[], float] = time.time,
        bd_seq: int | None = None,
        max_metrics: int = MAX_METRICS,
    ) -> None:
        self.mapping = mapping
        self.qos = qos
        self.clock = clock
        self.bd_seq = bd_seq
        self.max_metrics = max(1, max_metrics)
        self.sessions: dict[NodeKey, EdgeNodeSession] = {}
        self._routes: dict[str, Route] = {}
        self._info: dict[tuple[NodeKey, str], MachineInfo] = {}  # the facts `_sf/status` announces

    def node_key(self, path: MachinePath) -> NodeKey:
        group, edge, _ = self.mapping.to_sparkplug(path)
        return group, edge

    def session(self, path: MachinePath) -> EdgeNodeSession:
        """The session of the machine's edge node, made on first use. The first bdSeq of a session is random
        (0..255) unless given, so that a late will of a killed earlier run (same node) is not taken for this one's."""
        key = self.node_key(path)
        session = self.sessions.get(key)
        if session is None:
            first = secrets.randbelow(256) if self.bd_seq is None else self.bd_seq
            session = self.sessions[key] = EdgeNodeSession(*key, bd_seq=first, clock=self.clock)
        return session

    def add_machine(
        self, path: MachinePath, info: MachineInfo | None = None, units: Mapping[str, str] | None = None
    ) -> NodeKey:
        """Declare a machine as a device of its line's edge node (made on first use); returns the node's key.
        Added after the node's births, the device is announced by its next `status` birth (or data)."""
        session = self.session(path)
        device = self.mapping.to_sparkplug(path)[2]
        session.add_device(device, device_metrics(info, units))
        key = self.node_key(path)
        if info is not None:
            self._info[key, device] = info
        for cls in TRANSLATED:
            self._routes[path.topic(cls)] = Route(key, device, cls)
        return key

    def route(self, topic: str) -> Route | None:
        """The route of a declared machine's topic (None for any other)."""
        return self._routes.get(topic)

    def machine_of(self, topic: str) -> MachinePath:
        """The machine of a topic a machine publishes; `KeyError` for any other topic."""
        try:
            parsed = Topic.parse(topic)
        except WireError as exc:
            raise KeyError(f"{topic!r}: {exc}") from None
        if parsed.cls not in TRANSLATED or parsed.name is not None:
            raise KeyError(f"{topic!r} is not a message a machine publishes")
        return parsed.path

    def adopt(self, topic: str, payload: bytes) -> Route:
        """Declare the machine of `topic` from its first message: with the `MachineInfo` of a `status` birth, or
        with no signals yet (a telemetry message announces its signals). Raises `KeyError` for a topic that is not
        a message a machine publishes, pydantic's `ValidationError` (a `ValueError`) for a bad `status`."""
        route = self._routes.get(topic)
        if route is None:
            path = self.machine_of(topic)
            status = StatusPayload.from_bytes(payload) if topic == path.topic(MessageClass.STATUS) else None
            self.add_machine(path, status.info if status is not None else None)
            route = self._routes[topic]
        return route

    def stamp_status(self, node: NodeKey) -> None:
        """Set the `_sf/status` the node's DBIRTHs announce: each machine's birth with its facts, stamped now."""
        now = int(self.clock() * 1000)
        session = self.sessions[node]
        for (key, device), info in self._info.items():
            if key == node:
                status = StatusPayload(status="online", ts=now, info=info).to_bytes().decode()
                session.set_value(device, embedded_metric(MessageClass.STATUS), status, now)

    def translate(self, topic: str, payload: bytes) -> list[tuple[Frame, int]]:
        """The Sparkplug frames (and their QoS) of one wire-v1 message, in publishing order. Advances the edge
        node's session (seq, current values): publish what it returns, in that order."""
        route = self._routes[topic]
        session, device = self.sessions[route.node], route.device
        out: list[tuple[Frame, int]] = []
        if route.cls is MessageClass.STATUS:
            status = StatusPayload.from_bytes(payload)
            if status.status == "offline":
                return [(session.device_death(device), 1)] if session.online(device) else []
            if status.info is not None:
                self._info[route.node, device] = status.info
                self._announce(session, device, list(status.info.signals), status.info)
                text, ts = payload.decode(), status.ts if status.ts is not None else int(self.clock() * 1000)
                session.set_value(device, embedded_metric(MessageClass.STATUS), text, ts)
            return [(session.device_birth(device), 1)]
        if not session.online(device):
            out.append((session.device_birth(device), 1))
        if route.cls is MessageClass.TELEMETRY:
            values = telemetry_values(payload)
            if self._announce(session, device, sorted({name for name, _, _ in values})):
                out.append((session.device_birth(device), 1))  # signals the birth did not announce: new aliases
            step = self.max_metrics
            for start in range(0, len(values), step):
                out.append((session.device_data(device, values[start : start + step]), self.qos))
            return out
        ts = parse_ts(json.loads(payload)["ts"])
        out.append((session.device_data(device, [(embedded_metric(route.cls), payload.decode(), ts)]), 1))
        return out

    @staticmethod
    def _announce(session: EdgeNodeSession, device: str, names: list[str], info: MachineInfo | None = None) -> bool:
        """Add the metrics among `names` the device has not declared; whether there were any."""
        declared = set(session.metric_names(device))
        unknown = [name for name in names if sensor_to_metric(name) not in declared]
        if unknown:
            session.add_metrics(device, signal_metrics(info, {}, unknown))
        return bool(unknown)


__all__ = [
    "EMBEDDED",
    "MAX_METRICS",
    "TRANSLATED",
    "Route",
    "WireTranslator",
    "device_metrics",
    "embedded_metric",
    "telemetry_values",
]
