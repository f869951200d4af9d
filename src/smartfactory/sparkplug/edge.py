"""A Sparkplug B edge node's session, pure: which frame (topic, payload bytes) to publish next, and with which
sequence numbers and aliases. No MQTT here: the caller connects, sets `will()` as the last will, publishes the
frames in the order they are returned, and hands received NCMD messages to `command`.

The rules followed (Sparkplug B 3.0, "Operational Behavior" and "Payloads"):

- **bdSeq** (birth/death sequence) numbers MQTT sessions: 0..255, wrapping, one step per new MQTT CONNECT
  (`will()` takes the next one). The NDEATH last will and the NBIRTH of the same connection carry the same value in
  an Int64 metric named `bdSeq`, so a host can tell an old session's death from the current one. A rebirth on
  the same connection keeps the bdSeq.
- **seq** numbers every message of the edge node (NBIRTH, DBIRTH, NDATA, DDATA, DDEATH) 0..255, wrapping. The NBIRTH
  carries 0 (TCK `payloads-sequence-num-zero-nbirth`, as Eclipse Tahu does; tahu issue #373 discusses the spec's
  other wording "0..255") and every later message one more, across all devices of the node. The NDEATH carries
  none (`topics-ndeath-seq`): the broker sends it at any time.
- **Aliases** are unique per edge node (over all its devices): the birth of a metric carries its name, alias,
  datatype, timestamp and current value (or `is_null`); data messages carry alias, timestamp and value only
  (`payloads-alias-data-cmd-requirement`; the datatype is left out, `payloads-metric-datatype-not-req`, except
  for the types whose protobuf field the encoder picks by it: Float, the integers). Aliases are assigned once, in
  the order devices and metrics are added, and stay the same through rebirths and reconnects.
- The NBIRTH carries `bdSeq` and the Boolean `Node Control/Rebirth` (false). An NCMD that writes `true` to it (by
  name) is a rebirth request: a new NBIRTH (seq 0, same bdSeq) and the DBIRTH of every device that is online, with
  current values.
- A device going offline is a DDEATH (seq, timestamp, no metrics); its next DBIRTH brings it back.

Timestamps are epoch milliseconds: each metric carries the time of its value, each payload the time it was made
(`clock`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from smartfactory.sparkplug.payload import (
    DataType,
    Metric,
    PropertyValue,
    SparkplugPayload,
    decode_payload,
    encode_payload,
)
from smartfactory.sparkplug.topic import SparkplugTopic

BDSEQ_METRIC = "bdSeq"
REBIRTH_METRIC = "Node Control/Rebirth"
#: seq and bdSeq wrap at 256 (0..255).
SEQ_MODULO = 256

Value = int | float | bool | str | bytes
#: Datatypes whose protobuf value field follows from the Python value alone: data messages leave their datatype out
#: (a reader takes it from the birth). Others (Float, Int8…UInt64) keep it, as the encoder needs it to pick the field.
_SELF_DESCRIBING = frozenset({DataType.Double, DataType.String, DataType.Boolean})


class Frame(NamedTuple):
    """One MQTT message to publish: the Sparkplug topic and the encoded payload."""

    topic: str
    payload: bytes


@dataclass(frozen=True, slots=True)
class MetricDef:
    """A metric a device announces in its birth: its name, Sparkplug datatype and properties (e.g. `engUnit`).

    `in_births`: a rebirth announces the metric's last value (a state); False announces it null (an event, such
    as a finished part, that must not be reported twice).
    """

    name: str
    datatype: DataType
    properties: Mapping[str, PropertyValue] = field(default_factory=dict)
    in_births: bool = True


@dataclass(slots=True)
class _Device:
    device_id: str
    aliases: dict[str, int]
    defs: list[MetricDef]
    online: bool = True
    #: name → (alias, datatype written in data messages or None, whether the value is sent as a float)
    plan: dict[str, tuple[int, int | None, bool]] = field(default_factory=dict)
    #: alias → (value, ts_ms) last sent: what a rebirth announces
    last: dict[int, tuple[Value, int]] = field(default_factory=dict)


class EdgeNodeSession:
    """The session of one edge node (`group_id`/`edge_node_id`) with its devices.

    Call `will()` before each MQTT CONNECT (it starts the next bdSeq), `births()` once the broker accepted the
    connection, then `device_data`/`device_birth`/`device_death` for what happens and `command` for NCMD messages.
    `death()` is the NDEATH to publish before a clean disconnect (a DISCONNECT discards the will).
    Not thread-safe: serialise the calls and the publishes of their frames (seq order is publish order).
    """

    def __init__(
        self,
        group_id: str,
        edge_node_id: str,
        *,
        bd_seq: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.group_id = group_id
        self.edge_node_id = edge_node_id
        self._clock = clock
        self._next_bd_seq = bd_seq % SEQ_MODULO
        self._bd_seq: int | None = None  # of the current connection, once will() was called
        self._seq = 0
        self._born = False
        self._devices: dict[str, _Device] = {}
        self._next_alias = 1
        self.rebirths = 0

    # ------------------------------------------------------------------ set-up

    def add_device(self, device_id: str, metrics: Sequence[MetricDef]) -> None:
        """Declare a device and its metrics (aliases are assigned here). Added after `births()`, the device is
        announced by the next `device_birth` (or rebirth)."""
        if device_id in self._devices:
            raise ValueError(f"device {device_id!r} is already part of edge node {self.edge_node_id!r}")
        self._devices[device_id] = _Device(device_id, {}, [], online=not self._born)
        self.add_metrics(device_id, metrics)

    def add_metrics(self, device_id: str, metrics: Sequence[MetricDef]) -> None:
        """More metrics of a device, with new aliases; announce them with `device_birth` before sending data."""
        device = self._devices[device_id]
        names = [m.name for m in metrics]
        if len(set(names)) != len(names) or any(name in device.aliases for name in names):
            raise ValueError(f"device {device_id!r} declares a metric twice")
        for definition in metrics:
            alias = self._next_alias
            self._next_alias += 1
            device.aliases[definition.name] = alias
            # spec 3.0 (payloads-metric-datatype-not-req): data messages should leave out the datatype the birth
            # gave; kept where the encoder needs it to pick the value field. A Double is always sent as a float
            # (a JSON integer too), so that a reader finds it in the double field its birth announced.
            written = None if definition.datatype in _SELF_DESCRIBING else definition.datatype
            device.plan[definition.name] = (alias, written, definition.datatype == DataType.Double)
            device.defs.append(definition)

    def set_value(self, device_id: str, name: str, value: Value, ts_ms: int) -> None:
        """Set a metric's current value without sending it: the next birth announces it (e.g. static facts)."""
        device = self._devices[device_id]
        device.last[device.aliases[name]] = (value, ts_ms)

    @property
    def devices(self) -> list[str]:
        return list(self._devices)

    def metric_names(self, device_id: str) -> list[str]:
        """The metrics a device announced (or will announce) in its birth, in alias order."""
        return [d.name for d in self._devices[device_id].defs]

    def alias(self, device_id: str, name: str) -> int:
        """The alias of a device's metric."""
        return self._devices[device_id].aliases[name]

    def online(self, device_id: str) -> bool:
        return self._devices[device_id].online

    @property
    def bd_seq(self) -> int | None:
        """The bdSeq of the current connection (None before the first `will()`)."""
        return self._bd_seq

    @property
    def seq(self) -> int:
        """The seq the next message (other than an NBIRTH) will carry."""
        return self._seq

    # ------------------------------------------------------------------ topics

    def _topic(self, message_type: str, device_id: str | None = None) -> str:
        return str(SparkplugTopic(self.group_id, message_type, self.edge_node_id, device_id))

    def command_topics(self) -> list[str]:
        """The topics to subscribe to: this node's NCMD (the only command handled)."""
        return [self._topic("NCMD")]

    def _now(self) -> int:
        return int(self._clock() * 1000)

    def _next_seq(self) -> int:
        seq = self._seq
        self._seq = (seq + 1) % SEQ_MODULO
        return seq

    # ------------------------------------------------------------------ node lifecycle

    def will(self) -> Frame:
        """The NDEATH last will of the next MQTT connection; starts that connection's bdSeq."""
        self._bd_seq = self._next_bd_seq
        self._next_bd_seq = (self._next_bd_seq + 1) % SEQ_MODULO
        self._born = False
        return self.death()

    def death(self) -> Frame:
        """The NDEATH of the current connection (the will's payload), to publish before a clean disconnect."""
        bd_seq = self._require_connection()
        metric = Metric(name=BDSEQ_METRIC, alias=None, timestamp=None, datatype=DataType.Int64, value=bd_seq)
        payload = SparkplugPayload(timestamp=self._now(), seq=None, metrics=[metric])
        return Frame(self._topic("NDEATH"), encode_payload(payload))

    def births(self) -> list[Frame]:
        """NBIRTH (seq 0) and the DBIRTH of every online device: after a connect, or as the answer to a rebirth."""
        bd_seq = self._require_connection()
        now = self._now()
        self._seq = 0
        metrics = [
            Metric(name=BDSEQ_METRIC, alias=None, timestamp=now, datatype=DataType.Int64, value=bd_seq),
            Metric(name=REBIRTH_METRIC, alias=None, timestamp=now, datatype=DataType.Boolean, value=False),
        ]
        frames = [Frame(self._topic("NBIRTH"), encode_payload(SparkplugPayload(now, self._next_seq(), metrics)))]
        self._born = True
        frames += [self._device_birth(d, now) for d in self._devices.values() if d.online]
        return frames

    def _require_connection(self) -> int:
        if self._bd_seq is None:
            raise RuntimeError("call will() (and connect with it) before publishing births or deaths")
        return self._bd_seq

    def _require_birth(self) -> None:
        if not self._born:
            raise RuntimeError("publish births() after connecting before any device message")

    # ------------------------------------------------------------------ devices

    def device_birth(self, device_id: str) -> Frame:
        """DBIRTH of a device (back online): every metric with its name, alias, datatype and last value."""
        self._require_birth()
        device = self._devices[device_id]
        device.online = True
        return self._device_birth(device, self._now())

    def _device_birth(self, device: _Device, now: int) -> Frame:
        metrics = []
        for definition in device.defs:
            alias = device.aliases[definition.name]
            last = device.last.get(alias) if definition.in_births else None
            if last is None:
                value, ts, null = None, now, True
            else:
                (value, ts), null = last, False
            metrics.append(
                Metric(
                    name=definition.name,
                    alias=alias,
                    timestamp=ts,
                    datatype=definition.datatype,
                    value=value,
                    is_null=null,
                    properties=dict(definition.properties),
                )
            )
        payload = SparkplugPayload(timestamp=now, seq=self._next_seq(), metrics=metrics)
        return Frame(self._topic("DBIRTH", device.device_id), encode_payload(payload))

    def device_death(self, device_id: str) -> Frame:
        """DDEATH: the device went offline (its data stops until its next DBIRTH)."""
        self._require_birth()
        device = self._devices[device_id]
        device.online = False
        payload = SparkplugPayload(timestamp=self._now(), seq=self._next_seq(), metrics=[])
        return Frame(self._topic("DDEATH", device_id), encode_payload(payload))

    def device_data(self, device_id: str, values: Iterable[tuple[str, Value, int]]) -> Frame:
        """DDATA of (metric name, value, ts_ms) triples, alias only; a name may appear at several instants."""
        self._require_birth()
        device = self._devices[device_id]
        if not device.online:
            raise RuntimeError(f"device {device_id!r} is offline: publish device_birth() first")
        plan, last = device.plan, device.last
        metrics: list[Metric] = []
        append = metrics.append
        for name, value, ts in values:  # the hot path of a simulator: positional arguments, few lookups
            entry = plan.get(name)
            if entry is None:
                raise KeyError(f"device {device_id!r} declared no metric {name!r} in its birth")
            alias, datatype, to_float = entry
            if to_float and value.__class__ is not float:
                value = float(value)
            append(Metric(None, alias, ts, datatype, value))
            previous = last.get(alias)
            if previous is None or ts >= previous[1]:
                last[alias] = (value, ts)
        payload = SparkplugPayload(timestamp=self._now(), seq=self._next_seq(), metrics=metrics)
        return Frame(self._topic("DDATA", device_id), encode_payload(payload))

    # ------------------------------------------------------------------ commands

    def command(self, topic: str, payload: bytes) -> list[Frame]:
        """Frames answering a received message: the births after an NCMD `Node Control/Rebirth` = true for this
        node, else none. Raises the payload codec's error on a payload that is not Sparkplug."""
        parsed = SparkplugTopic.parse(topic)
        if (parsed.message_type, parsed.group_id, parsed.edge_node_id) != ("NCMD", self.group_id, self.edge_node_id):
            return []
        if not is_rebirth_request(payload) or not self._born:
            return []
        self.rebirths += 1
        return self.births()


def is_rebirth_request(payload: bytes) -> bool:
    """True when an NCMD payload writes true to `Node Control/Rebirth` (by name, as hosts send it)."""
    return any(m.name == REBIRTH_METRIC and m.value is True for m in decode_payload(payload).metrics)


__all__ = ["BDSEQ_METRIC", "REBIRTH_METRIC", "EdgeNodeSession", "Frame", "MetricDef", "is_rebirth_request"]
