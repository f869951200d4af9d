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
| too_many_series | a new series beyond `max_series` in all or `max_series_per_machine`    |
| internal_error  | the decoder itself failed on this message (a bug: please report it)   |

Grouped telemetry is judged value by value: a sample with a bad timestamp, or a value that is not a finite number
(or names a sensor that is not a valid topic level, or a series past the caps), is rejected on its own and the
rest of the message is kept. The rejected parts become one dead letter per reason whose payload is just those
parts (`{"batch": [{"ts": …, "values": {…}}]}`), so it stays readable however big the message was. A message
none of whose values survive is one dead letter with the message itself, as before.

An empty payload on a retained class (`state`, `status`, `alarm`) is the deletion of a retained message: nothing
to store and nothing wrong. Commands and alarms are not stored here but are validated: garbage on them is a dead
letter like any other.

A duplicate (the same series and timestamp again) is not decided here: only the store knows what it already
holds, so duplicates are counted by the service after the write (see docs/ingestion.md).

Hot path (profiled on 110-byte single readings): the topic is parsed once and cached as a `_Route`; payloads are
validated with the models' compiled pydantic-core validators (`__pydantic_validator__.validate_json`, which skips
`model_validate_json`'s Python wrapper); a sensor name is checked against the topic grammar once, not per reading.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from smartfactory.errors import WireError
from smartfactory.model import (
    AlarmAck,
    DeadLetter,
    FaultEvent,
    MachineInfoRecord,
    PartResult,
    Reading,
    StateChange,
)
from smartfactory.wire import (
    RETAINED_CLASSES,
    AckPayload,
    AlarmPayload,
    CommandPayload,
    EventPayload,
    MachineTelemetry,
    MessageClass,
    QualityPayload,
    ReadingPayload,
    Sample,
    SeriesId,
    StatePayload,
    StatusPayload,
    Topic,
    parse_ts,
)

#: Classes that ingestion reads but does not store: commands are for simulators; alarms are stored by the monitor
#: that raises them. Status is validated; of a birth only its machine facts (`info`) are stored, the online/offline
#: state itself is shown live from the retained message.
PASS_THROUGH = frozenset({MessageClass.CMD, MessageClass.ALARM})
_NUMBER_ERRORS = frozenset({"float_type", "finite_number", "float_parsing", "int_type", "int_parsing"})
#: Topics whose parse is remembered; when full the cache starts again (a bound, not an LRU: plants have far fewer).
_CACHE_LIMIT = 50_000
#: Most bytes of rejected parts kept in a partial dead letter (a whole rejected message keeps MAX_KEPT_PAYLOAD).
KEPT_PART_BYTES = 16_384
_GROUPED_KEYS = frozenset({"v", "ts", "values", "batch", "units", "seq"})
_SAMPLE_KEYS = frozenset({"v", "ts", "values", "units", "seq"})

_validate_reading = ReadingPayload.__pydantic_validator__.validate_json
_validate_grouped = MachineTelemetry.__pydantic_validator__.validate_json


@dataclass(slots=True)
class Decoded:
    """What one message contributes to the store; `deadletters` are the parts of it that were rejected."""

    readings: list[Reading] = field(default_factory=list)
    states: Sequence[StateChange] = ()
    parts: Sequence[PartResult] = ()
    events: Sequence[FaultEvent] = ()
    acks: Sequence[AlarmAck] = ()
    infos: Sequence[MachineInfoRecord] = ()
    deadletters: Sequence[DeadLetter] = ()


class SeriesCaps:
    """Which series ingestion takes: at most `max_total` in all and `per_machine` of one machine.

    Series already in the store (`known`, at start) are always taken and count against the caps; a new series
    past a cap is refused (its readings become `too_many_series` dead letters), which bounds every per-series
    structure behind the decoder (the monitor's state, the caches, the store's series table). Memory: one set
    entry per series (~100 bytes) and one counter per machine.
    """

    def __init__(self, max_total: int = 20_000, per_machine: int = 1000, known: Iterable[str] = ()) -> None:
        self.max_total = max_total
        self.per_machine = per_machine
        self._series: set[str] = set()
        self._machines: Counter[str] = Counter()
        for series in known:
            if series not in self._series:
                self._series.add(series)
                self._machines[_machine_of(series)] += 1

    def __len__(self) -> int:
        return len(self._series)

    def __contains__(self, series: object) -> bool:
        return series in self._series

    def admit(self, series: str, machine: str) -> str | None:
        """None when the series may be stored (recording it when new); otherwise why not."""
        if series in self._series:
            return None
        # The texts name the cap, not the current count: the same message gets the same dead letter (natural key).
        if len(self._series) >= self.max_total:
            return f"ingestion holds its most series (ingest.max_series = {self.max_total})"
        if self._machines[machine] >= self.per_machine:
            return f"the machine has its most series (ingest.max_series_per_machine = {self.per_machine})"
        self._series.add(series)
        self._machines[machine] += 1
        return None


def _machine_of(series: str) -> str:
    return series.rsplit("/", 2)[0]  # …/machine/telemetry/sensor


@dataclass(slots=True)
class _Route:
    """A parsed topic, with the strings every message on it needs."""

    topic: Topic
    cls: MessageClass
    single: bool  # telemetry with a sensor level: one ReadingPayload
    machine: str
    series: dict[str, str]  # sensor → series id, for admitted sensor names already checked against the grammar
    admitted: bool = False  # single-reading topics: the series passed the caps


@dataclass(slots=True)
class _Rejects:
    """The rejected parts of one grouped message, by reason: `(ts, {sensor: raw value})` or a raw sample."""

    parts: dict[str, list[Any]] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    values: Counter[str] = field(default_factory=Counter)

    def add(self, reason: str, detail: str, part: Any, values: int = 1) -> None:
        self.parts.setdefault(reason, []).append(part)
        self.details.setdefault(reason, detail)
        self.values[reason] += values


class Decoder:
    def __init__(
        self,
        *,
        max_payload_bytes: int = 1_048_576,
        max_future_s: float = 86_400.0,
        max_age_s: float = 10 * 365 * 86_400.0,
        caps: SeriesCaps | None = None,
    ) -> None:
        self.max_payload_bytes = max_payload_bytes
        self.max_future_ms = int(max_future_s * 1000)
        self.max_age_ms = int(max_age_s * 1000)
        self.caps = caps if caps is not None else SeriesCaps(10**9, 10**9)
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
                if not route.admitted:
                    refused = self.caps.admit(topic, route.machine)
                    if refused is not None:
                        raise WireError("too_many_series", f"new series {topic[:200]!r} refused: {refused}")
                    route.admitted = True
                return Decoded([Reading(topic, ts, one.value, one.unit)])
            return self._decode_other(route, payload, received_ms)
        except ValidationError as exc:
            if route is not None and route.cls is MessageClass.TELEMETRY and not route.single and _salvageable(exc):
                try:
                    return self._salvage(route, payload, received_ms, exc)
                except (ValidationError, WireError, ValueError, RecursionError):
                    pass  # nothing to salvage: the message as a whole is rejected
            return _reject(topic, payload, received_ms, *_explain(exc, payload))
        except WireError as exc:
            return _reject(topic, payload, received_ms, exc.reason, exc.detail)

    def _route(self, topic: str) -> _Route:
        parsed = Topic.parse(topic)
        machine = str(parsed.path)
        single = parsed.cls is MessageClass.TELEMETRY and parsed.name is not None
        route = _Route(parsed, parsed.cls, single, machine, {})
        if len(self._routes) >= _CACHE_LIMIT:
            self._routes.clear()  # bounded: start again (hot topics are back after one message each)
        self._routes[topic] = route
        return route

    def _bad_ts(self, ts_ms: int, received_ms: int) -> WireError:
        # No receive time in the text: the same message gets the same dead letter (its natural key) each time.
        where = "ahead of" if ts_ms > received_ms else "behind"
        return WireError(
            "bad_timestamp",
            f"timestamp {ts_ms} ms is too far {where} the receive time (ingest.max_future_s / max_age_s): "
            "clock wrong, or seconds sent as milliseconds?",
        )

    def _new_series(self, route: _Route, sensor: str) -> str:
        """The series id of a sensor of a grouped message, admitted by the caps (WireError when refused)."""
        series = str(SeriesId(route.topic.path, sensor))  # sensor names become topic levels: the same rules apply
        refused = self.caps.admit(series, route.machine)
        if refused is not None:
            raise WireError("too_many_series", f"new series {series[:200]!r} refused: {refused}")
        if len(route.series) < self.caps.per_machine:
            route.series[sensor] = series
        return series

    def _grouped(
        self, route: _Route, samples: Iterable[Any], shared_units: Any, received_ms: int, rejects: _Rejects
    ) -> list[Reading]:
        """Readings of validated samples; samples out of the time window and refused series go to `rejects`."""
        low, high = received_ms - self.max_age_ms, received_ms + self.max_future_ms
        series_of = route.series
        readings: list[Reading] = []
        append = readings.append
        for sample in samples:
            ts = sample.ts
            if ts < low or ts > high:
                rejects.add(
                    "bad_timestamp", self._bad_ts(ts, received_ms).detail, _part(ts, sample.values), len(sample.values)
                )
                continue
            units = sample.units or shared_units
            for sensor, value in sample.values.items():
                series = series_of.get(sensor)
                if series is None:
                    try:
                        series = self._new_series(route, sensor)
                    except WireError as exc:
                        rejects.add(exc.reason, exc.detail, _part(ts, {sensor: value}))
                        continue
                append(Reading(series, ts, value, units.get(sensor) if units else None))
        return readings

    def _salvage(self, route: _Route, payload: bytes, received_ms: int, error: ValidationError) -> Decoded:
        """A grouped message that failed validation as a whole: keep its good samples and values.

        Raises `error` again when the message's shape itself is wrong (not an object, unknown keys, bad units):
        then there is nothing to salvage.
        """
        body = json.loads(payload)  # the shape is known to be JSON: pydantic failed on the schema, not the syntax
        if not isinstance(body, dict) or not set(body) <= _GROUPED_KEYS or body.get("v", 1) != 1:
            raise error
        shared = _validate_units(body.get("units"), error)
        if "batch" in body:
            raw_samples = body["batch"]
            if not isinstance(raw_samples, list) or not 1 <= len(raw_samples) <= 100_000 or "values" in body:
                raise error
        else:
            raw_samples = [{"ts": body.get("ts"), "values": body.get("values")}]
        rejects = _Rejects()
        good: list[Sample] = []
        for raw in raw_samples:
            sample = _salvage_sample(raw, rejects)
            if sample is not None:
                good.append(sample)
        readings = self._grouped(route, good, shared, received_ms, rejects)
        if not readings:
            raise error
        return Decoded(readings, deadletters=self._letters(route, payload, received_ms, rejects))

    def _letters(self, route: _Route, payload: bytes, received_ms: int, rejects: _Rejects) -> list[DeadLetter]:
        topic = str(route.topic)
        letters = []
        for reason, parts in rejects.parts.items():
            kept = json.dumps({"batch": parts}, separators=(",", ":"), default=repr).encode()[:KEPT_PART_BYTES]
            detail = f"{rejects.values[reason]} value(s) of this message rejected, the rest kept: "
            letters.append(
                DeadLetter(
                    received_ms, topic[:1024], reason, (detail + rejects.details[reason])[:500], kept, len(payload)
                )
            )
        return letters

    def _decode_other(self, route: _Route, payload: bytes, received_ms: int) -> Decoded:
        cls = route.cls
        machine = route.machine
        low, high = received_ms - self.max_age_ms, received_ms + self.max_future_ms
        if not payload and cls in RETAINED_CLASSES:
            return Decoded()  # an empty retained message deletes the retained one: nothing wrong, nothing to store
        if cls is MessageClass.TELEMETRY:
            grouped: Any = _validate_grouped(payload)
            rejects = _Rejects()
            readings = self._grouped(route, grouped.samples(), grouped.units, received_ms, rejects)
            if not rejects.parts:
                return Decoded(readings)
            if not readings:  # nothing survived: the message is the dead letter
                reason = next(iter(rejects.parts))
                raise WireError(reason, rejects.details[reason])
            return Decoded(readings, deadletters=self._letters(route, payload, received_ms, rejects))
        if cls is MessageClass.CMD:
            CommandPayload.model_validate_json(payload)  # for the simulators: validated, not stored
            return Decoded()
        if cls is MessageClass.ALARM:
            AlarmPayload.model_validate_json(payload)  # the monitor stores the alarms it raises
            return Decoded()
        if cls is MessageClass.STATUS:
            status = StatusPayload.model_validate_json(payload)
            if status.info is None:
                return Decoded()
            ts = received_ms if status.ts is None else status.ts
            self._check_ts(ts, low, high, received_ms)
            return Decoded(infos=[MachineInfoRecord(machine=machine, ts_ms=ts, info=status.info)])
        if cls is MessageClass.STATE:
            state = StatePayload.model_validate_json(payload)
            self._check_ts(state.ts, low, high, received_ms)
            return Decoded(
                states=[StateChange(machine=machine, ts_ms=state.ts, state=state.state, reason=state.reason)]
            )
        if cls is MessageClass.QUALITY:
            part = QualityPayload.model_validate_json(payload)
            self._check_ts(part.ts, low, high, received_ms)
            good = part.verdict == "good"
            result = PartResult(
                machine=machine, ts_ms=part.ts, part_id=part.part_id, good=good, measurements=part.measurements
            )
            return Decoded(parts=[result])
        if cls is MessageClass.EVENT:
            event = EventPayload.model_validate_json(payload)
            self._check_ts(event.ts, low, high, received_ms)
            fault = FaultEvent(
                machine=machine,
                ts_ms=event.ts,
                kind=event.kind,
                fault=event.fault,
                sensor=event.sensor,
                params=event.params,
                affects=tuple(event.affects or ()),
            )
            return Decoded(events=[fault])
        if cls is MessageClass.ACK:
            ack = AckPayload.model_validate_json(payload)
            self._check_ts(ack.ts, low, high, received_ms)
            series = route.topic.path.series(route.topic.name or "")
            return Decoded(acks=[AlarmAck(alarm_id=ack.alarm_id, series=series, ts_ms=ack.ts, by=ack.by)])
        raise WireError("unknown_class", f"class {cls.value!r} is not handled")  # pragma: no cover - all handled

    def _check_ts(self, ts_ms: int, low: int, high: int, received_ms: int) -> None:
        if ts_ms < low or ts_ms > high:
            raise self._bad_ts(ts_ms, received_ms)


def _salvageable(exc: ValidationError) -> bool:
    """Whether the message is JSON at all (a syntax error leaves nothing to salvage)."""
    return bool(exc.errors(include_url=False)[0]["type"] != "json_invalid")


def _part(ts: int, values: Any) -> dict[str, Any]:
    return {"ts": ts, "values": values}


def _validate_units(units: Any, error: ValidationError) -> dict[str, str] | None:
    if units is None:
        return None
    if not isinstance(units, dict) or not all(
        isinstance(k, str) and 0 < len(k) <= 100 and isinstance(v, str) and len(v) <= 32 for k, v in units.items()
    ):
        raise error
    return units


def _finite(value: Any) -> float | None:
    """The value as a float if the wire format takes it as a number (int or float, finite, not bool)."""
    if type(value) is float:
        return value if math.isfinite(value) else None
    if type(value) is int:
        try:
            return float(value)
        except OverflowError:
            return None
    return None


def _salvage_sample(raw: Any, rejects: _Rejects) -> Sample | None:
    """A raw sample with its bad values taken out (recorded in `rejects`); None when nothing of it is usable."""
    if not isinstance(raw, dict) or not set(raw) <= _SAMPLE_KEYS or not isinstance(raw.get("values"), dict):
        rejects.add("bad_payload", "a sample is not {ts, values: {sensor: number}}", raw)
        return None
    values = raw["values"]
    try:
        ts = parse_ts(raw.get("ts"))
    except ValueError as exc:
        rejects.add("bad_timestamp", f"ts: {exc}", raw, len(values))
        return None
    if not 1 <= len(values) <= 1000:
        rejects.add("bad_payload", "a sample needs 1 to 1000 values", _part(ts, {}), len(values))
        return None
    kept: dict[str, float] = {}
    for sensor, value in values.items():
        number = _finite(value)
        if number is None:
            rejects.add("bad_number", f"{sensor}: {value!r:.60} is not a finite number", _part(ts, {sensor: value}))
        elif not 0 < len(sensor) <= 100:
            rejects.add("bad_topic", f"sensor name of {len(sensor)} characters", _part(ts, {sensor: value}))
        else:
            kept[sensor] = number
    if not kept:
        return None
    units = raw.get("units")
    try:
        return Sample.model_validate({"ts": ts, "values": kept, "units": units, "seq": raw.get("seq")})
    except ValidationError:
        rejects.add("bad_payload", "a sample's units or seq break the schema", _part(ts, kept), len(kept))
        return None


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
