"""A Sparkplug B host application's session, pure: `HostSession.feed(topic, payload, received_ms)` → what to store,
what to dead-letter, and which rebirth requests to publish. No MQTT here (ingestion's glue is
`smartfactory.ingest.sparkplug`).

What it keeps, per edge node (Sparkplug B 3.0.0, chapter 5 "Operational Behavior" and section 6.4 "Payloads"):

- **Births.** An NBIRTH starts the node's session: its `bdSeq` metric, its seq (the next message must carry seq+1
  mod 256) and the name, alias, datatype and unit (`engUnit` property) of each node metric. A DBIRTH does the same
  for one device. The values a birth carries are current values and are stored like data.
- **Data.** NDATA/DDATA metrics are resolved by alias (or by name) against the birth and become readings of the
  mapped series (`mapping.py`); a metric's own timestamp wins over the payload's, and `is_historical` metrics are
  stored with their own timestamps like any other. Int8…UInt64, Float, Double and Boolean (as 0/1) are stored.
  String metrics named `_sf/{class}` carry a wire-v1 JSON payload (state, quality, event, status) for the glue to
  decode (`HostResult.embedded`). Every other datatype is dead-lettered (`unsupported_type`), never dropped.
- **seq** is checked per edge node over all its messages (0..255, wrapping); a gap is counted and answered with a
  rebirth request (the message itself is still stored: its aliases are known).
- **Deaths.** An NDEATH (the node's last will) whose `bdSeq` matches the current session ends it (aliases
  forgotten); one that does not is a stale death of an earlier connection and is ignored (counted). A DDEATH ends
  the device.
- **Rebirth requests** (an NCMD writing `Node Control/Rebirth` = true) go out, at most one per node per
  `rebirth_interval_ms` of receive time, when data arrives before its birth, with an alias no birth defined, after
  a seq gap, or in a payload that is not Sparkplug B protobuf.

Dead-letter reasons (`model.DeadLetter`): `too_large`, `bad_topic`, `bad_protobuf`, `spb_no_birth` (data before its
birth: the metrics that name themselves are stored, the rest wait for the rebirth), `spb_unknown_alias`,
`unsupported_type`, `bad_payload` (a metric without value), `bad_number` (NaN, infinity), `bad_timestamp` (outside
the window), `too_many_series` (refused by `admit`). Metric-level rejects of one message become one dead letter per
reason, whose payload lists the rejected metrics as JSON; the rest of the message is kept.

`check_seq=False` is for shared subscriptions: a worker then sees only part of each node's messages (see
docs/wire.md, "Sparkplug B").
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from smartfactory.errors import WireError
from smartfactory.model import DeadLetter, Reading
from smartfactory.sparkplug.mapping import (
    BDSEQ,
    DEFAULT_MAPPING,
    EMBEDDED_PREFIX,
    SparkplugMapping,
    is_control_metric,
    metric_to_sensor,
)
from smartfactory.sparkplug.payload import (
    DataType,
    Metric,
    SparkplugError,
    SparkplugPayload,
    as_datatype,
    encode_payload,
    metric_from_message,
    parse_message,
    payload_from_message,
    value_of_field,
)
from smartfactory.sparkplug.topic import MessageType, SparkplugTopic, parse_state_topic
from smartfactory.wire import MachinePath, MessageClass

REBIRTH_METRIC = "Node Control/Rebirth"
SEQ_MODULO = 256
#: Datatypes stored as readings.
STORED_TYPES = frozenset(
    {
        DataType.Int8,
        DataType.Int16,
        DataType.Int32,
        DataType.Int64,
        DataType.UInt8,
        DataType.UInt16,
        DataType.UInt32,
        DataType.UInt64,
        DataType.Float,
        DataType.Double,
        DataType.Boolean,
    }
)
#: Classes a `_sf/{class}` String metric may carry.
EMBEDDED_CLASSES = frozenset({MessageClass.STATE, MessageClass.QUALITY, MessageClass.EVENT, MessageClass.STATUS})
#: Bytes of rejected metrics kept in one dead letter's payload.
KEPT_BYTES = 16_384
_UNIT_KEYS = ("engUnit", "engUnits", "unit")
_TOPIC_CACHE = 50_000

Admit = Callable[[str, str], "str | None"]


@dataclass(slots=True)
class HostResult:
    """What one message contributes: readings to store, wire-v1 JSON messages to decode (`embedded`: their topic
    and payload), dead letters, and rebirth requests to publish (topic, payload)."""

    readings: list[Reading] = field(default_factory=list)
    embedded: list[tuple[str, bytes]] = field(default_factory=list)
    deadletters: list[DeadLetter] = field(default_factory=list)
    rebirths: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass(slots=True)
class _Known:
    """A metric announced in a birth: what its data becomes.

    `kind`: reading | embedded (a `_sf/{class}` JSON payload) | control | unsupported | bad_name (`problem` says why).
    """

    name: str
    datatype: int | None
    kind: str
    series: str | None = None  # readings: the series id; embedded: the wire-v1 topic
    unit: str | None = None
    problem: str | None = None
    admitted: bool = False  # readings: the series passed `admit` once (the caps never forget a series)


@dataclass(slots=True)
class _Table:
    """The metrics of one birth (a node's own or one device's), by alias and by name."""

    path: MachinePath
    aliases: dict[int, _Known] = field(default_factory=dict)
    names: dict[str, _Known] = field(default_factory=dict)


@dataclass(slots=True)
class _Node:
    group_id: str
    edge_node_id: str
    own: _Table | None = None  # None: no NBIRTH seen (or the node died)
    bd_seq: int | None = None
    next_seq: int | None = None  # None: unknown (no birth, or after a bad payload)
    devices: dict[str, _Table] = field(default_factory=dict)
    last_rebirth_ms: int | None = None


class _Rejects:
    """The rejected metrics of one message, by reason."""

    __slots__ = ("details", "metrics")

    def __init__(self) -> None:
        self.metrics: dict[str, list[dict[str, Any]]] = {}
        self.details: dict[str, str] = {}

    def add(self, reason: str, detail: str, metric: Metric) -> None:
        entry: dict[str, Any] = {}
        if metric.name is not None:
            entry["name"] = metric.name
        if metric.alias is not None:
            entry["alias"] = metric.alias
        if metric.datatype is not None:
            entry["datatype"] = metric.datatype
        if metric.timestamp is not None:
            entry["timestamp"] = metric.timestamp
        if isinstance(metric.value, (int, float, str)):
            entry["value"] = (
                metric.value if not isinstance(metric.value, float) or math.isfinite(metric.value) else None
            )
        self.metrics.setdefault(reason, []).append(entry)
        self.details.setdefault(reason, detail)


class HostSession:
    """The host application's view of every edge node it has heard from."""

    def __init__(
        self,
        *,
        mapping: SparkplugMapping = DEFAULT_MAPPING,
        max_payload_bytes: int = 1_048_576,
        max_future_ms: int = 86_400_000,
        max_age_ms: int = 10 * 365 * 86_400_000,
        rebirth_interval_ms: int = 5_000,
        check_seq: bool = True,
        admit: Admit | None = None,
        counters: Counter[str] | None = None,
    ) -> None:
        self.mapping = mapping
        self.max_payload_bytes = max_payload_bytes
        self.max_future_ms = max_future_ms
        self.max_age_ms = max_age_ms
        self.rebirth_interval_ms = rebirth_interval_ms
        self.check_seq = check_seq
        self.admit = admit
        self.nodes: dict[tuple[str, str], _Node] = {}
        self._topics: dict[str, SparkplugTopic] = {}  # parsed topics (bounded by _TOPIC_CACHE)
        #: What is not a dead letter but worth counting: spb_seq_gap, spb_rebirth_request, spb_rebirth_suppressed
        #: (rate limit), spb_stale_death (an NDEATH of an earlier session), spb_null (is_null metrics, not stored).
        self.counters: Counter[str] = Counter() if counters is None else counters

    # ------------------------------------------------------------------ entry point

    def feed(self, topic: str, payload: bytes, received_ms: int) -> HostResult:
        """Judge one message from the `spBv1.0/` namespace."""
        result = HostResult()
        if len(payload) > self.max_payload_bytes:
            detail = f"{len(payload)} bytes > limit {self.max_payload_bytes}"
            self._reject(result, topic, payload, received_ms, "too_large", detail)
            return result
        if parse_state_topic(topic) is not None:  # a host application's STATE (ours or another's)
            return result
        parsed = self._topics.get(topic)
        if parsed is None:
            try:
                parsed = SparkplugTopic.parse(topic)
            except SparkplugError as exc:
                self._reject(result, topic, payload, received_ms, exc.reason, exc.detail)
                return result
            if len(self._topics) >= _TOPIC_CACHE:
                self._topics.clear()  # bounded: start again (hot topics are back after one message each)
            self._topics[topic] = parsed
        kind = parsed.message_type
        if kind is MessageType.NCMD or kind is MessageType.DCMD:
            # commands to edge nodes (our rebirth requests among them): nothing to store
            return result
        key = (parsed.group_id, parsed.edge_node_id)
        node = self.nodes.get(key)
        if node is None:
            node = self.nodes[key] = _Node(parsed.group_id, parsed.edge_node_id)
        try:
            message = parse_message(payload)
        except SparkplugError as exc:
            self._reject(result, topic, payload, received_ms, exc.reason, exc.detail)
            if kind is not MessageType.NDEATH:
                node.next_seq = None  # its seq is unknown: the next message is no gap
                self._rebirth(node, result, received_ms)
            return result
        if kind is MessageType.NDEATH:
            self._node_death(node, payload_from_message(message))
            return result
        if kind is MessageType.NBIRTH:  # a birth starts the count again (seq 0): nothing to compare with
            node.next_seq = None
        self._check_seq(node, message.seq if message.HasField("seq") else None, result, received_ms)
        try:
            if kind is MessageType.NDATA or kind is MessageType.DDATA:
                self._data(node, parsed, message, topic, payload, received_ms, result)
                return result
            body = payload_from_message(message)
            if kind is MessageType.NBIRTH:
                self._node_birth(node, body, topic, payload, received_ms, result)
            elif kind is MessageType.DBIRTH:
                self._device_birth(node, parsed, body, topic, payload, received_ms, result)
            else:  # DDEATH
                node.devices.pop(parsed.device_id or "", None)
        except SparkplugError as exc:  # ids that map onto no machine path
            self._reject(result, topic, payload, received_ms, exc.reason, exc.detail)
        return result

    # ------------------------------------------------------------------ session state

    def _check_seq(self, node: _Node, seq: int | None, result: HostResult, received_ms: int) -> None:
        expected = node.next_seq
        node.next_seq = None if seq is None else (seq + 1) % SEQ_MODULO
        if not self.check_seq or expected is None or seq == expected:
            return
        self.counters["spb_seq_gap"] += 1
        self._rebirth(node, result, received_ms)

    def _node_birth(
        self, node: _Node, body: SparkplugPayload, topic: str, payload: bytes, received_ms: int, result: HostResult
    ) -> None:
        bd_seq = _bd_seq(body)
        if bd_seq != node.bd_seq or node.own is None:
            node.devices.clear()  # a new session: the devices are born again after it
        node.bd_seq = bd_seq
        node.own = None
        path = self.mapping.to_machine_path(node.group_id, node.edge_node_id, None)
        node.own = self._birth_table(path, body, topic, payload, received_ms, result)

    def _device_birth(
        self,
        node: _Node,
        parsed: SparkplugTopic,
        body: SparkplugPayload,
        topic: str,
        payload: bytes,
        received_ms: int,
        result: HostResult,
    ) -> None:
        path = self.mapping.to_machine_path(node.group_id, node.edge_node_id, parsed.device_id)
        if node.own is None:  # a device born before its node: keep what names itself, ask for the node's birth
            self._without_birth(path, body, topic, payload, received_ms, result)
            self._rebirth(node, result, received_ms)
            return
        node.devices[parsed.device_id or ""] = self._birth_table(path, body, topic, payload, received_ms, result)

    def _node_death(self, node: _Node, body: SparkplugPayload) -> None:
        bd_seq = _bd_seq(body)
        if node.own is not None and bd_seq is not None and node.bd_seq is not None and bd_seq != node.bd_seq:
            self.counters["spb_stale_death"] += 1  # the will of an earlier connection, delivered late
            return
        node.own = None
        node.devices.clear()
        node.next_seq = None

    def _rebirth(self, node: _Node, result: HostResult, received_ms: int) -> None:
        if result.rebirths:
            return  # one request per message, whatever the reasons
        last = node.last_rebirth_ms
        if last is not None and 0 <= received_ms - last < self.rebirth_interval_ms:
            self.counters["spb_rebirth_suppressed"] += 1
            return
        node.last_rebirth_ms = received_ms
        self.counters["spb_rebirth_request"] += 1
        result.rebirths.append(rebirth_request(node.group_id, node.edge_node_id, received_ms))

    # ------------------------------------------------------------------ births and data

    def _birth_table(
        self,
        path: MachinePath,
        body: SparkplugPayload,
        topic: str,
        payload: bytes,
        received_ms: int,
        result: HostResult,
    ) -> _Table:
        table = _Table(path)
        rejects = _Rejects()
        default_ts = body.timestamp if body.timestamp is not None else received_ms
        for metric in body.metrics:
            if metric.name is None:
                rejects.add("bad_payload", "a birth metric without a name", metric)
                continue
            known = self._learn(path, metric)
            if metric.alias is not None:
                table.aliases[metric.alias] = known
            table.names[metric.name] = known
            self._value(known, metric, default_ts, received_ms, result, rejects)
        self._letters(result, topic, payload, received_ms, rejects)
        return table

    def _learn(self, path: MachinePath, metric: Metric) -> _Known:
        name = metric.name or ""
        datatype = metric.datatype
        if is_control_metric(name):
            return _Known(name, datatype, "control")
        if name.startswith(EMBEDDED_PREFIX):
            cls = name[len(EMBEDDED_PREFIX) :]
            if datatype in (DataType.String, DataType.Text) and cls in EMBEDDED_CLASSES:
                return _Known(name, datatype, "embedded", path.topic(MessageClass(cls)))
            return _Known(name, datatype, "unsupported")
        if datatype not in STORED_TYPES:
            return _Known(name, datatype, "unsupported")
        unit = next((v for k in _UNIT_KEYS if isinstance(v := metric.properties.get(k), str)), None)
        try:
            series = path.series(metric_to_sensor(name))
        except WireError as exc:  # the name is not a valid topic level
            return _Known(name, datatype, "bad_name", problem=exc.detail[:200])
        return _Known(name, datatype, "reading", series, unit[:32] if unit else None)

    def _data(
        self,
        node: _Node,
        parsed: SparkplugTopic,
        message: Any,
        topic: str,
        payload: bytes,
        received_ms: int,
        result: HostResult,
    ) -> None:
        """NDATA/DDATA, read from the protobuf message itself (`message`): the hot path of a host."""
        device = parsed.device_id
        table = node.own if device is None else node.devices.get(device)
        if table is None:
            path = self.mapping.to_machine_path(node.group_id, node.edge_node_id, device)
            self._without_birth(path, payload_from_message(message), topic, payload, received_ms, result)
            self._rebirth(node, result, received_ms)
            return
        rejects = _Rejects()
        default_ts = message.timestamp if message.HasField("timestamp") else received_ms
        aliases, names = table.aliases, table.names
        low, high = received_ms - self.max_age_ms, received_ms + self.max_future_ms
        append = result.readings.append
        unknown = False
        for m in message.metrics:
            # The common case first, without building a `Metric`: alias (or name), value, maybe timestamp and
            # datatype, of a number or boolean of an admitted series. Anything else takes the full path below.
            alias = name = ts = datatype = None
            number_field = 0
            raw: Any = None
            plain = True
            for descriptor, field_value in m.ListFields():
                number = descriptor.number
                if number == 2:
                    alias = field_value
                elif number == 3:
                    ts = field_value
                elif 10 <= number <= 14:  # int, long, float, double, boolean value
                    number_field, raw = number, field_value
                elif number == 4:
                    datatype = field_value
                elif number == 1:
                    name = field_value
                else:  # is_historical, is_null, properties, other values: the full path
                    plain = False
                    break
            if plain and number_field:
                known = aliases.get(alias) if alias is not None else None
                if known is None and name is not None:
                    known = names.get(name)
                if known is not None and known.admitted:
                    value = value_of_field(number_field, raw, known.datatype if datatype is None else datatype)
                    number = float(value)  # type: ignore[arg-type]
                    when = default_ts if ts is None else ts
                    if low <= when <= high and math.isfinite(number):
                        append(Reading(known.series or "", when, number, known.unit))
                        continue
            metric = metric_from_message(m)
            known = aliases.get(metric.alias) if metric.alias is not None else None
            if known is None and metric.name is not None:
                known = names.get(metric.name)
            if known is None:
                unknown = True
                rejects.add("spb_unknown_alias", "metric(s) whose alias or name no birth announced", metric)
                continue
            self._value(known, metric, default_ts, received_ms, result, rejects)
        self._letters(result, topic, payload, received_ms, rejects)
        if unknown:
            self._rebirth(node, result, received_ms)

    def _without_birth(
        self,
        path: MachinePath,
        body: SparkplugPayload,
        topic: str,
        payload: bytes,
        received_ms: int,
        result: HostResult,
    ) -> None:
        """Data (or a device birth) from a node or device without a birth: metrics that carry their name and
        datatype are stored; alias-only ones are dead-lettered (`spb_no_birth`) and wait for the rebirth."""
        rejects = _Rejects()
        default_ts = body.timestamp if body.timestamp is not None else received_ms
        for metric in body.metrics:
            if metric.name is None or metric.datatype is None:
                rejects.add("spb_no_birth", "alias-only metric(s) before any birth: rebirth requested", metric)
                continue
            self._value(self._learn(path, metric), metric, default_ts, received_ms, result, rejects)
        self._letters(result, topic, payload, received_ms, rejects)

    def _value(
        self,
        known: _Known,
        metric: Metric,
        default_ts: int,
        received_ms: int,
        result: HostResult,
        rejects: _Rejects,
    ) -> None:
        kind = known.kind
        if kind == "control":
            return
        if metric.is_null:
            self.counters["spb_null"] += 1
            return
        if kind == "unsupported":
            datatype = known.datatype if metric.datatype is None else metric.datatype
            detail = f"datatype {_type_name(datatype)} is not stored (numbers and booleans are)"
            rejects.add("unsupported_type", detail, metric)
            return
        if kind == "bad_name":
            rejects.add("bad_topic", f"metric name is no sensor name: {known.problem}", metric)
            return
        value = metric.value
        if kind == "embedded":  # its JSON carries its own timestamp, checked by the decoder
            if not isinstance(value, str):
                rejects.add("bad_payload", f"{known.name} needs a String value (a wire-v1 JSON payload)", metric)
                return
            result.embedded.append((known.series or "", value.encode()))
            return
        ts = metric.timestamp if metric.timestamp is not None else default_ts
        if ts > received_ms + self.max_future_ms or ts < received_ms - self.max_age_ms:
            where = "ahead of" if ts > received_ms else "behind"
            detail = f"timestamp too far {where} the receive time (ingest.max_future_s / max_age_s)"
            rejects.add("bad_timestamp", detail, metric)
            return
        if metric.datatype is None:
            value = as_datatype(value, known.datatype)  # an alias-only metric: typed by its birth
        if value is None or isinstance(value, (str, bytes)):
            rejects.add("bad_payload", "a number or boolean metric without a number or boolean value", metric)
            return
        number = float(value)
        if not math.isfinite(number):
            rejects.add("bad_number", "NaN or infinity", metric)
            return
        series = known.series or ""
        if self.admit is not None and not known.admitted:
            refused = self.admit(series, series.rsplit("/", 2)[0])
            if refused is not None:
                rejects.add("too_many_series", f"new series refused: {refused}", metric)
                return
        known.admitted = True
        result.readings.append(Reading(series, ts, number, known.unit))

    # ------------------------------------------------------------------ dead letters

    def _letters(self, result: HostResult, topic: str, payload: bytes, received_ms: int, rejects: _Rejects) -> None:
        for reason, metrics in rejects.metrics.items():
            kept = json.dumps({"metrics": metrics}, separators=(",", ":"), ensure_ascii=False).encode()[:KEPT_BYTES]
            detail = f"{len(metrics)} metric(s) rejected, the rest of the message kept: {rejects.details[reason]}"
            result.deadletters.append(DeadLetter(received_ms, topic[:1024], reason, detail[:500], kept, len(payload)))

    def _reject(
        self, result: HostResult, topic: str, payload: bytes, received_ms: int, reason: str, detail: str
    ) -> None:
        kept = payload[: DeadLetter.MAX_KEPT_PAYLOAD]
        result.deadletters.append(DeadLetter(received_ms, topic[:1024], reason, detail[:500], kept, len(payload)))


def _bd_seq(body: SparkplugPayload) -> int | None:
    for metric in body.metrics:
        if metric.name == BDSEQ and isinstance(metric.value, int) and not isinstance(metric.value, bool):
            return metric.value
    return None


def _type_name(datatype: int | None) -> str:
    if datatype is None:
        return "(none)"
    try:
        return DataType(datatype).name
    except ValueError:
        return str(datatype)


def rebirth_request(group_id: str, edge_node_id: str, now_ms: int) -> tuple[str, bytes]:
    """The NCMD asking an edge node for a rebirth: `Node Control/Rebirth` = true (spec 3.0.0, section 6.4.20)."""
    topic = str(SparkplugTopic(group_id, MessageType.NCMD, edge_node_id))
    metric = Metric(name=REBIRTH_METRIC, timestamp=now_ms, datatype=DataType.Boolean, value=True)
    return topic, encode_payload(SparkplugPayload(timestamp=now_ms, metrics=[metric]))
