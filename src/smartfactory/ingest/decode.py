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
"""

from __future__ import annotations

from dataclasses import dataclass, field

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


@dataclass(slots=True)
class Decoded:
    """What one message contributes to the store."""

    readings: list[Reading] = field(default_factory=list)
    states: list[StateChange] = field(default_factory=list)
    parts: list[PartResult] = field(default_factory=list)
    events: list[FaultEvent] = field(default_factory=list)
    acks: list[AlarmAck] = field(default_factory=list)


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
        self._topics: dict[str, Topic] = {}  # parsed-topic cache: plants have few distinct topics

    def decode(self, topic: str, payload: bytes, received_ms: int) -> Decoded | DeadLetter:
        def reject(reason: str, detail: str) -> DeadLetter:
            kept = payload[: DeadLetter.MAX_KEPT_PAYLOAD]
            return DeadLetter(received_ms, topic[:1024], reason, detail[:500], bytes(kept), len(payload))

        if len(payload) > self.max_payload_bytes:
            return reject("too_large", f"{len(payload)} bytes > limit {self.max_payload_bytes}")
        try:
            parsed = self._parse_topic(topic)
        except WireError as exc:
            return reject(exc.reason, exc.detail)
        try:
            return self._decode_class(parsed, topic, payload, received_ms)
        except ValidationError as exc:
            return reject(*_explain(exc, payload))
        except WireError as exc:
            return reject(exc.reason, exc.detail)

    def _parse_topic(self, topic: str) -> Topic:
        parsed = self._topics.get(topic)
        if parsed is None:
            parsed = Topic.parse(topic)
            if len(self._topics) < 100_000:
                self._topics[topic] = parsed
        return parsed

    def _check_ts(self, ts_ms: int, received_ms: int) -> None:
        if ts_ms > received_ms + self.max_future_ms or ts_ms < received_ms - self.max_age_ms:
            raise WireError(
                "bad_timestamp",
                f"timestamp {ts_ms} ms is outside the accepted window around the receive time {received_ms} ms "
                "(clock wrong, or seconds sent as milliseconds?)",
            )

    def _decode_class(self, topic: Topic, raw_topic: str, payload: bytes, received_ms: int) -> Decoded:
        out = Decoded()
        machine = str(topic.path)
        cls = topic.cls
        if cls is MessageClass.TELEMETRY and topic.name is not None:
            one = ReadingPayload.model_validate_json(payload)
            self._check_ts(one.ts, received_ms)
            out.readings.append(Reading(raw_topic, one.ts, one.value, one.unit))
        elif cls is MessageClass.TELEMETRY:
            grouped = MachineTelemetry.model_validate_json(payload)
            prefix = f"{machine}/telemetry/"
            for sample in grouped.samples():
                self._check_ts(sample.ts, received_ms)
                units = sample.units or grouped.units or {}
                out.readings.extend(
                    Reading(prefix + sensor, sample.ts, value, units.get(sensor))
                    for sensor, value in sample.values.items()
                )
            for reading in out.readings:  # sensor names become topic levels: same rules apply
                Topic.parse(reading.series)
        elif cls is MessageClass.STATE:
            state = StatePayload.model_validate_json(payload)
            self._check_ts(state.ts, received_ms)
            out.states.append(StateChange(machine, state.ts, state.state, state.reason))
        elif cls is MessageClass.QUALITY:
            part = QualityPayload.model_validate_json(payload)
            self._check_ts(part.ts, received_ms)
            out.parts.append(PartResult(machine, part.ts, part.part_id, part.verdict == "good", part.measurements))
        elif cls is MessageClass.EVENT:
            event = EventPayload.model_validate_json(payload)
            self._check_ts(event.ts, received_ms)
            out.events.append(FaultEvent(machine, event.ts, event.kind, event.fault, event.sensor, event.params))
        elif cls is MessageClass.ACK:
            ack = AckPayload.model_validate_json(payload)
            series = topic.path.series(topic.name or "")
            out.acks.append(AlarmAck(ack.alarm_id, series, ack.ts, ack.by))
        return out


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
