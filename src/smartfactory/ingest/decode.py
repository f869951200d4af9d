"""Decode stage: (topic, payload bytes) → records to store, or a `DeadLetter` saying why not.

Pure apart from the clock it is given. Every rejection has a short reason code, counted by the service:

| reason          | what was wrong                                                        |
|-----------------|-----------------------------------------------------------------------|
| too_large       | payload over `max_payload_bytes`                                       |
| not_utf8        | payload bytes are not UTF-8                                            |
| bad_json        | not a JSON document                                                    |
| bad_payload     | JSON that breaks the payload schema (types, missing or extra fields)   |
| bad_number      | NaN, Infinity, or a bool/string where a number belongs                 |
| bad_timestamp   | no zone, not ISO-8601, or outside [now − max_age, now + max_future]    |
| bad_topic       | topic does not follow enterprise/site/area/line/machine/class[/name]   |
| unknown_class   | a class level this wire format does not define                         |

A duplicate (the same series and timestamp again) is not decided here: only the store knows what it already
holds, so duplicates are counted by the service after the write (see docs/ingestion.md).

Hot path (profiled on 110-byte single readings): the topic is parsed once and cached as a `_Route`; payloads are
validated with the models' compiled pydantic-core validators (`__pydantic_validator__.validate_json`, which skips
`model_validate_json`'s Python wrapper); a sensor name is checked against the topic grammar once, not per reading.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from smartfactory.errors import WireError
from smartfactory.model import AlarmAck, DeadLetter, FaultEvent, PartResult, Reading, StateChange
from smartfactory.wire import (
    AckPayload,
    EventPayload,
    MachineTelemetry,
    MessageClass,
    QualityPayload,
    ReadingPayload,
    StatePayload,
    Topic,
)

#: Classes that ingestion reads but does not store: status is shown live from the retained message; commands
#: are for simulators; alarms are stored by the monitor that raises them.
PASS_THROUGH = frozenset({MessageClass.STATUS, MessageClass.CMD, MessageClass.ALARM})
_NUMBER_ERRORS = frozenset({"float_type", "finite_number", "float_parsing", "int_type", "int_parsing"})
_CACHE_LIMIT = 100_000  # distinct topics / sensor names remembered; plants have far fewer

_validate_reading = ReadingPayload.__pydantic_validator__.validate_json
_validate_grouped = MachineTelemetry.__pydantic_validator__.validate_json


@dataclass(slots=True)
class Decoded:
    """What one message contributes to the store."""

    readings: list[Reading] = field(default_factory=list)
    states: Sequence[StateChange] = ()
    parts: Sequence[PartResult] = ()
    events: Sequence[FaultEvent] = ()
    acks: Sequence[AlarmAck] = ()


@dataclass(frozen=True, slots=True)
class _Route:
    """A parsed topic, with the strings every message on it needs."""

    topic: Topic
    cls: MessageClass
    single: bool  # telemetry with a sensor level: one ReadingPayload
    machine: str
    series_prefix: str  # "{machine}/telemetry/"
    series: dict[str, str]  # sensor → series id, for sensor names already checked against the topic grammar


class Decoder:
    def __init__(
        self,
        *,
        max_payload_bytes: int = 1_048_576,
        max_future_s: float = 86_400.0,
        max_age_s: float = 10 * 365 * 86_400.0,
    ) -> None:
        self.max_payload_bytes = max_payload_bytes
        self.max_future_ms = int(max_future_s * 1000)
        self.max_age_ms = int(max_age_s * 1000)
        self._routes: dict[str, _Route] = {}

    def decode(self, topic: str, payload: bytes, received_ms: int) -> Decoded | DeadLetter:
        if len(payload) > self.max_payload_bytes:
            return _reject(
                topic, payload, received_ms, "too_large", f"{len(payload)} bytes > limit {self.max_payload_bytes}"
            )
        route = self._routes.get(topic)
        try:
            if route is None:
                route = self._route(topic)
            if route.single:  # the common case first: one reading on …/telemetry/{sensor}
                one: Any = _validate_reading(payload)
                ts = one.ts
                if ts > received_ms + self.max_future_ms or ts < received_ms - self.max_age_ms:
                    raise self._bad_ts(ts, received_ms)
                return Decoded([Reading(topic, ts, one.value, one.unit)])
            return self._decode_other(route, payload, received_ms)
        except ValidationError as exc:
            return _reject(topic, payload, received_ms, *_explain(exc, payload))
        except WireError as exc:
            return _reject(topic, payload, received_ms, exc.reason, exc.detail)

    def _route(self, topic: str) -> _Route:
        parsed = Topic.parse(topic)
        machine = str(parsed.path)
        single = parsed.cls is MessageClass.TELEMETRY and parsed.name is not None
        route = _Route(parsed, parsed.cls, single, machine, f"{machine}/telemetry/", {})
        if len(self._routes) < _CACHE_LIMIT:
            self._routes[topic] = route
        return route

    def _bad_ts(self, ts_ms: int, received_ms: int) -> WireError:
        return WireError(
            "bad_timestamp",
            f"timestamp {ts_ms} ms is outside the accepted window around the receive time {received_ms} ms "
            "(clock wrong, or seconds sent as milliseconds?)",
        )

    def _new_series(self, route: _Route, sensor: str) -> str:
        series = route.series_prefix + sensor
        Topic.parse(series)  # sensor names become topic levels: the same rules apply
        if len(route.series) < _CACHE_LIMIT:
            route.series[sensor] = series
        return series

    def _decode_other(self, route: _Route, payload: bytes, received_ms: int) -> Decoded:
        cls = route.cls
        machine = route.machine
        low, high = received_ms - self.max_age_ms, received_ms + self.max_future_ms
        if cls is MessageClass.TELEMETRY:
            grouped: Any = _validate_grouped(payload)
            series_of = route.series
            readings: list[Reading] = []
            append = readings.append
            shared_units = grouped.units
            for sample in grouped.samples():
                ts = sample.ts
                if ts < low or ts > high:
                    raise self._bad_ts(ts, received_ms)
                units = sample.units or shared_units
                for sensor, value in sample.values.items():
                    series = series_of.get(sensor) or self._new_series(route, sensor)
                    append(Reading(series, ts, value, units.get(sensor) if units else None))
            return Decoded(readings)
        if cls in PASS_THROUGH:
            return Decoded()
        if cls is MessageClass.STATE:
            state = StatePayload.model_validate_json(payload)
            self._check_ts(state.ts, low, high, received_ms)
            return Decoded(states=[StateChange(machine, state.ts, state.state, state.reason)])
        if cls is MessageClass.QUALITY:
            part = QualityPayload.model_validate_json(payload)
            self._check_ts(part.ts, low, high, received_ms)
            good = part.verdict == "good"
            return Decoded(parts=[PartResult(machine, part.ts, part.part_id, good, part.measurements)])
        if cls is MessageClass.EVENT:
            event = EventPayload.model_validate_json(payload)
            self._check_ts(event.ts, low, high, received_ms)
            return Decoded(events=[FaultEvent(machine, event.ts, event.kind, event.fault, event.sensor, event.params)])
        if cls is MessageClass.ACK:
            ack = AckPayload.model_validate_json(payload)
            series = route.topic.path.series(route.topic.name or "")
            return Decoded(acks=[AlarmAck(ack.alarm_id, series, ack.ts, ack.by)])
        raise WireError("unknown_class", f"class {cls.value!r} is not handled")  # pragma: no cover - all handled

    def _check_ts(self, ts_ms: int, low: int, high: int, received_ms: int) -> None:
        if ts_ms < low or ts_ms > high:
            raise self._bad_ts(ts_ms, received_ms)


def _reject(topic: str, payload: bytes, received_ms: int, reason: str, detail: str) -> DeadLetter:
    kept = payload[: DeadLetter.MAX_KEPT_PAYLOAD]
    return DeadLetter(received_ms, topic[:1024], reason, detail[:500], bytes(kept), len(payload))


def _explain(exc: ValidationError, payload: bytes) -> tuple[str, str]:
    """Reason code and a one-line detail for a payload that failed validation."""
    first = exc.errors(include_url=False)[0]
    kind = first["type"]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    if kind == "json_invalid":
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError as err:
            return "not_utf8", f"payload is not UTF-8 (byte {err.start})"
        return "bad_json", f"not valid JSON: {first['msg']}"
    if kind in _NUMBER_ERRORS:
        return "bad_number", f"{where}: {first['msg']}"
    if "ts" in first["loc"]:
        return "bad_timestamp", f"{where}: {first['msg']}"
    return "bad_payload", f"{where}: {first['msg']} ({exc.error_count()} problem(s))"
