"""Wire format v1: the topic grammar and the JSON payloads, in one place.

Every topic a machine speaks on follows the ISA-95 equipment hierarchy::

    {enterprise}/{site}/{area}/{line}/{machine}/{class}[/{name}]

| class       | name        | retained | payload model        | who publishes                      |
|-------------|-------------|----------|----------------------|------------------------------------|
| telemetry   | sensor      | no       | `ReadingPayload`     | any client: one reading            |
| telemetry   | (none)      | no       | `MachineTelemetry`   | simulators: many sensors/instants  |
| quality     | (none)      | no       | `QualityPayload`     | simulators: one result per part    |
| state       | (none)      | yes      | `StatePayload`       | simulators: running/idle/setup/... |
| status      | (none)      | yes      | `StatusPayload`      | simulators: birth + last will      |
| event       | (none)      | no       | `EventPayload`       | simulators: ground-truth faults    |
| cmd         | (none)      | no       | `CommandPayload`     | `smartfactory inject` → simulator  |
| alarm       | sensor      | yes      | `AlarmPayload`       | SPC monitor (active-alarm state)   |
| ack         | sensor      | no       | `AckPayload`         | dashboard: alarm acknowledgement   |

System topics live under `_sf/` and are never taken for machine data: `_sf/deadletter/{reason}` and
`_sf/health/{worker}`. A level is any non-empty UTF-8 text of at most 100 characters without `/`, `+`, `#`
or control characters.

Timestamps are ISO-8601 with a zone (`2026-11-22T10:00:00.123Z`) or integer epoch milliseconds. They are kept
to the millisecond. A reading is identified by (series, timestamp): the same series at the same millisecond is the
same reading, which is what makes replays and QoS 1 redeliveries idempotent.

This module is pure: it imports no I/O library.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, model_validator

from smartfactory.errors import WireError

SCHEMA_VERSION = 1
SYSTEM_ROOT = "_sf"
DEADLETTER_PREFIX = f"{SYSTEM_ROOT}/deadletter"
HEALTH_PREFIX = f"{SYSTEM_ROOT}/health"
MAX_LEVEL_LENGTH = 100
HIERARCHY = ("enterprise", "site", "area", "line", "machine")


class MessageClass(StrEnum):
    TELEMETRY = "telemetry"
    QUALITY = "quality"
    STATE = "state"
    STATUS = "status"
    EVENT = "event"
    CMD = "cmd"
    ALARM = "alarm"
    ACK = "ack"


#: Which classes carry a `{name}` level: True = required, False = forbidden, None = optional.
_NAME_RULE: dict[MessageClass, bool | None] = {
    MessageClass.TELEMETRY: None,
    MessageClass.QUALITY: False,
    MessageClass.STATE: False,
    MessageClass.STATUS: False,
    MessageClass.EVENT: False,
    MessageClass.CMD: False,
    MessageClass.ALARM: True,
    MessageClass.ACK: True,
}
RETAINED_CLASSES = frozenset({MessageClass.STATE, MessageClass.STATUS, MessageClass.ALARM})


def _level_problem(level: str) -> str | None:
    if not level:
        return "empty level"
    if len(level) > MAX_LEVEL_LENGTH:
        return f"level longer than {MAX_LEVEL_LENGTH} characters"
    if any(c in "/+#" or ord(c) < 32 or ord(c) == 127 for c in level):
        return f"level {level!r} contains '/', '+', '#' or a control character"
    return None


@dataclass(frozen=True, slots=True)
class MachinePath:
    """Where a machine sits in the plant: enterprise/site/area/line/machine."""

    enterprise: str
    site: str
    area: str
    line: str
    machine: str

    def __post_init__(self) -> None:
        for field_name in HIERARCHY:
            problem = _level_problem(getattr(self, field_name))
            if problem:
                raise WireError("bad_topic", f"{field_name}: {problem}")

    def __str__(self) -> str:
        return f"{self.enterprise}/{self.site}/{self.area}/{self.line}/{self.machine}"

    def topic(self, cls: MessageClass, name: str | None = None) -> str:
        """The topic of a message of class `cls` (and `name`, for example the sensor) from this machine."""
        return str(Topic(self, cls, name))

    def series(self, sensor: str) -> str:
        """The series id of one sensor: its single-reading telemetry topic."""
        return self.topic(MessageClass.TELEMETRY, sensor)


@dataclass(frozen=True, slots=True)
class Topic:
    """A parsed machine topic. `Topic.parse(str(t)) == t` for every valid topic."""

    path: MachinePath
    cls: MessageClass
    name: str | None = None

    def __post_init__(self) -> None:
        rule = _NAME_RULE[self.cls]
        if rule is True and self.name is None:
            raise WireError("bad_topic", f"class {self.cls.value!r} needs a name level, e.g. the sensor")
        if rule is False and self.name is not None:
            raise WireError("bad_topic", f"class {self.cls.value!r} takes no name level")
        if self.name is not None:
            problem = _level_problem(self.name)
            if problem:
                raise WireError("bad_topic", f"name: {problem}")

    def __str__(self) -> str:
        base = f"{self.path}/{self.cls.value}"
        return base if self.name is None else f"{base}/{self.name}"

    @classmethod
    def parse(cls, topic: str) -> Topic:
        """Parse a topic; raise `WireError` with reason `bad_topic` or `unknown_class`."""
        if topic.startswith(SYSTEM_ROOT + "/"):
            raise WireError("system_topic", f"{topic!r} is a system topic, not machine data")
        levels = topic.split("/")
        if len(levels) not in (6, 7):
            raise WireError(
                "bad_topic",
                f"{topic!r} has {len(levels)} levels; expected enterprise/site/area/line/machine/class[/name]",
            )
        try:
            message_class = MessageClass(levels[5])
        except ValueError:
            known = ", ".join(c.value for c in MessageClass)
            raise WireError("unknown_class", f"class {levels[5]!r} is not one of: {known}") from None
        path = MachinePath(*levels[:5])
        return cls(path, message_class, levels[6] if len(levels) == 7 else None)


def series_path(series: str) -> tuple[MachinePath, str]:
    """Split a series id (`…/machine/telemetry/sensor`) into its machine path and sensor name."""
    topic = Topic.parse(series)
    if topic.cls is not MessageClass.TELEMETRY or topic.name is None:
        raise WireError("bad_topic", f"{series!r} is not a series id (…/telemetry/sensor)")
    return topic.path, topic.name


# --------------------------------------------------------------------------------------------- timestamps


def ms_from_datetime(dt: datetime) -> int:
    """Epoch milliseconds of an aware datetime (sub-millisecond digits are cut, not rounded)."""
    return (dt - _EPOCH) // _ONE_MS


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = datetime(1970, 1, 1, 0, 0, 0, 1000, tzinfo=UTC) - _EPOCH


def format_ts(ts_ms: int) -> str:
    """ISO-8601 UTC with milliseconds, e.g. `2026-11-22T10:00:00.123Z`."""
    seconds, millis = divmod(ts_ms, 1000)
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{millis:03d}Z"


def parse_ts(value: object) -> int:
    """Epoch milliseconds from integer epoch milliseconds or ISO-8601 text with a zone; `ValueError` otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"timestamp {value[:40]!r} is not ISO-8601 (e.g. 2026-11-22T10:00:00.123Z)") from None
        if dt.tzinfo is None:
            raise ValueError(f"timestamp {value[:40]!r} has no zone: add Z for UTC")
        return ms_from_datetime(dt)
    raise ValueError("timestamp must be integer epoch milliseconds or ISO-8601 text with a zone")


#: A timestamp on the wire: integer epoch milliseconds, or ISO-8601 text with a zone. Validated into epoch ms.
Timestamp = Annotated[int, PlainValidator(parse_ts, json_schema_input_type=int | str)]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("value must be a finite number (no NaN or Infinity)")
    return value


FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False), AfterValidator(_finite)]
Label = Annotated[str, Field(min_length=1, max_length=MAX_LEVEL_LENGTH)]
Unit = Annotated[str, Field(max_length=32)]


# --------------------------------------------------------------------------------------------- payloads


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, allow_inf_nan=False)

    v: Literal[1] = 1  # SCHEMA_VERSION


class ReadingPayload(_Payload):
    """One reading on `…/telemetry/{sensor}`: `{"value": 71.3, "ts": "2026-11-22T10:00:00.123Z"}`."""

    value: FiniteFloat
    ts: Timestamp
    unit: Unit | None = None
    seq: Annotated[int, Field(strict=True, ge=0)] | None = None


class Sample(_Payload):
    """All sensors of one machine at one instant."""

    ts: Timestamp
    values: Annotated[dict[Label, FiniteFloat], Field(min_length=1, max_length=1000)]
    units: dict[Label, Unit] | None = None
    seq: Annotated[int, Field(strict=True, ge=0)] | None = None


class MachineTelemetry(_Payload):
    """Grouped readings on `…/telemetry`: either one `Sample` inline or a `batch` of them."""

    ts: Timestamp | None = None
    values: Annotated[dict[Label, FiniteFloat], Field(min_length=1, max_length=1000)] | None = None
    units: dict[Label, Unit] | None = None
    seq: Annotated[int, Field(strict=True, ge=0)] | None = None
    batch: Annotated[list[Sample], Field(min_length=1, max_length=100_000)] | None = None

    @model_validator(mode="after")
    def _one_form(self) -> MachineTelemetry:
        inline = self.ts is not None or self.values is not None
        if inline == (self.batch is not None):
            raise ValueError("give either ts+values (one instant) or batch (a list of {ts, values}), not both")
        if inline and (self.ts is None or self.values is None):
            raise ValueError("an inline sample needs both ts and values")
        return self

    def samples(self) -> list[Sample]:
        if self.batch is not None:
            return self.batch
        if self.ts is None or self.values is None:  # excluded by _one_form; keeps the types honest
            raise ValueError("inline sample without ts or values")
        return [Sample.model_construct(ts=self.ts, values=self.values, units=self.units, seq=self.seq)]


MachineState = Literal["running", "idle", "setup", "down", "planned"]


class StatePayload(_Payload):
    """Retained machine state on `…/state`. `reason` is a code such as `breakdown` or `changeover`."""

    state: MachineState
    reason: Label | None = None
    ts: Timestamp


class StatusPayload(_Payload):
    """Retained online/offline status on `…/status` (birth message and last will)."""

    status: Literal["online", "offline"]
    ts: Timestamp | None = None


class QualityPayload(_Payload):
    """One produced part and its measured quality characteristics on `…/quality`."""

    part_id: Label
    ts: Timestamp
    measurements: dict[Label, FiniteFloat] = Field(default_factory=dict)
    verdict: Literal["good", "scrap"]


class EventPayload(_Payload):
    """A ground-truth event on `…/event`: a fault starting, a repair, a scenario step."""

    kind: Literal["fault", "repair"]
    fault: Label
    sensor: Label | None = None
    params: dict[Label, float | str] = Field(default_factory=dict)
    ts: Timestamp


class CommandPayload(_Payload):
    """A command to a running simulator on `…/cmd`: inject a fault or clear all faults."""

    action: Literal["inject", "clear"]
    fault: Label | None = None
    sensor: Label | None = None
    params: dict[Label, float | str] = Field(default_factory=dict)


class AlarmPayload(_Payload):
    """Retained active-alarm state of one series on `…/alarm/{sensor}`; `active: false` clears it."""

    alarm_id: Label
    active: bool
    rules: list[Label]
    value: FiniteFloat | None = None
    ts: Timestamp
    message: str = ""


class AckPayload(_Payload):
    """An acknowledgement of an alarm on `…/ack/{sensor}`."""

    alarm_id: Label
    by: Label = "dashboard"
    ts: Timestamp


def payload_to_json(payload: _Payload) -> bytes:
    """Compact JSON bytes of a payload (the schema version `v` is left out: it defaults to 1)."""
    return payload.model_dump_json(exclude_none=True, exclude={"v"}).encode()


def reading_json(value: float, ts_ms: int, unit: str | None = None, seq: int | None = None) -> bytes:
    """The payload of one reading, built without pydantic (hot path for publishers)."""
    body: dict[str, Any] = {"value": value, "ts": format_ts(ts_ms)}
    if unit is not None:
        body["unit"] = unit
    if seq is not None:
        body["seq"] = seq
    return json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
