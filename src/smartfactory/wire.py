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

System topics live under `_sf/` and are never taken for machine data: `_sf/deadletter/{reason}`
(`DeadLetterPayload`) and `_sf/health/{worker}` (`HealthPayload`). A level is any non-empty UTF-8 text of at most
100 characters without `/`, `+`, `#` or control characters; the first level (the enterprise) must not start with
`$` (MQTT reserves such topics: a `#` subscription never receives them, so ingestion would never see the data).

Topics, machine paths and series ids are parsed here and nowhere else: `Topic.parse`, `MachinePath.parse`
(`.line_id` is the line's id, `area/line`), `parse_series` (a `SeriesId`). Every payload encodes itself with
`to_bytes()` and decodes with `Model.from_bytes()`; the hot encoders (`reading_json`, `telemetry_json`) are built
without pydantic and tested byte for byte against it. JSON naming one key twice in an object is refused however a
model's JSON is validated (`from_bytes`, `model_validate_json`, the model's `__pydantic_validator__`): see
`_UniqueKeys`. The birth (`StatusPayload.info`) carries the machine's facts
(`MachineInfo`, `SignalInfo`), which ingestion stores for every reader.

Timestamps are ISO-8601 with a zone (`2026-11-22T10:00:00.123Z`) or integer epoch milliseconds. They are kept
to the millisecond. A reading is identified by (series, timestamp): the same series at the same millisecond is the
same reading, which is what makes replays and QoS 1 redeliveries idempotent.

This module is pure: it imports no I/O library.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from smartfactory.durations import parse_duration
from smartfactory.errors import ConfigError, WireError

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
        if self.enterprise.startswith("$"):
            raise WireError(
                "bad_topic",
                f"enterprise {self.enterprise[:40]!r} starts with '$': MQTT reserves such topics and a '#' "
                "subscription (ingestion) never receives them",
            )

    def __str__(self) -> str:
        return f"{self.enterprise}/{self.site}/{self.area}/{self.line}/{self.machine}"

    @classmethod
    def parse(cls, text: str) -> MachinePath:
        """`"ent/site/area/line/machine"` -> `MachinePath`; `WireError("bad_topic")` for anything else."""
        levels = text.split("/")
        if len(levels) != len(HIERARCHY):
            raise WireError(
                "bad_topic", f"{text[:200]!r} has {len(levels)} levels; expected enterprise/site/area/line/machine"
            )
        return cls(*levels)

    @property
    def line_id(self) -> str:
        """The line's id everywhere in the project: `"area/line"`, e.g. `"machining/line-1"`.

        A bare line name is not unique: two areas may each have a `line-1`.
        """
        return f"{self.area}/{self.line}"

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


@dataclass(frozen=True, slots=True)
class SeriesId:
    """A parsed series id (`ent/site/area/line/machine/telemetry/sensor`): one sensor of one machine."""

    path: MachinePath
    sensor: str

    def __post_init__(self) -> None:
        problem = _level_problem(self.sensor)
        if problem:
            raise WireError("bad_topic", f"sensor: {problem}")

    def __str__(self) -> str:
        return f"{self.path}/{MessageClass.TELEMETRY.value}/{self.sensor}"

    @property
    def machine(self) -> str:
        """The machine's path as text, `ent/site/area/line/machine`."""
        return str(self.path)

    @property
    def line_id(self) -> str:
        """The line's id, `area/line` (see `MachinePath.line_id`)."""
        return self.path.line_id


def parse_series(series: str) -> SeriesId:
    """Parse a series id (`…/machine/telemetry/sensor`); `WireError("bad_topic")` for anything else."""
    try:
        topic = Topic.parse(series)
    except WireError as exc:
        raise WireError("bad_topic", f"{series[:200]!r} is not a series id (…/telemetry/sensor): {exc}") from None
    if topic.cls is not MessageClass.TELEMETRY or topic.name is None:
        raise WireError("bad_topic", f"{series[:200]!r} is not a series id (…/telemetry/sensor)")
    return SeriesId(topic.path, topic.name)


def alarm_id_for(series: str, ts_ms: int) -> str:
    """The id of an alarm raised on `series` at `ts_ms`: 16 hex digits of the series' BLAKE2b digest, `@`, the time.

    At most 37 characters whatever the series' length (`AlarmPayload.alarm_id` allows 100), unique per series
    and millisecond (a 64-bit digest: a collision among a plant's series is practically impossible), and the
    same in every run, so a redelivered reading raises the alarm it raised before.
    """
    digest = hashlib.blake2b(series.encode(), digest_size=8).hexdigest()
    return f"{digest}@{ts_ms}"


#: The sensor level of a machine's state alarm (`…/alarm/_state`, series `…/telemetry/_state`): stops and breakdowns
#: are alarms of the machine, signalled by the live monitor from the state record itself.
STATE_ALARM_SENSOR = "_state"
#: Alarm `rules` ids of the data-quality class (the sensor, not the process, is at fault) and of the state class.
DATA_QUALITY_RULES = frozenset({"stuck", "silent", "dropout"})
STATE_RULES = frozenset({"state"})
AlarmClass = Literal["spc", "data_quality", "state"]


def alarm_class(rules: Sequence[str]) -> AlarmClass:
    """The class of an alarm from its rule ids: `state` (a machine stop), `data_quality` (stuck, silent, dropout)
    or `spc` (every control-chart detector and run rule)."""
    if any(rule in STATE_RULES for rule in rules):
        return "state"
    if any(rule in DATA_QUALITY_RULES for rule in rules):
        return "data_quality"
    return "spc"


def series_path(series: str) -> tuple[MachinePath, str]:
    """Split a series id into its machine path and sensor name (`parse_series`, as a tuple)."""
    sid = parse_series(series)
    return sid.path, sid.sensor


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


#: A timestamp on the wire: integer epoch milliseconds, or ISO-8601 text with a zone. Validated into epoch ms;
#: written (`to_bytes`) as ISO-8601 UTC text with milliseconds.
Timestamp = Annotated[
    int,
    PlainValidator(parse_ts, json_schema_input_type=int | str),
    PlainSerializer(format_ts, return_type=str, when_used="json"),
]
#: The same input rules as `Timestamp`, written as integer epoch milliseconds: the instants of a telemetry
#: `batch` (13 bytes instead of 26 each) and the times of system payloads.
EpochMs = Annotated[int, PlainValidator(parse_ts, json_schema_input_type=int | str)]


def _finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("value must be a finite number (no NaN or Infinity)")
    if value == 0.0:
        # -0.0 reads as 0.0: a minus zero measures nothing a zero does not, and the stores disagree on it (SQLite
        # keeps 0.0, InfluxDB's line protocol -0.0), so the one value both store is decided here.
        return 0.0
    return value


FiniteFloat = Annotated[float, Field(strict=True, allow_inf_nan=False), AfterValidator(_finite)]
PositiveFloat = Annotated[float, Field(strict=True, gt=0, allow_inf_nan=False), AfterValidator(_finite)]
Label = Annotated[str, Field(min_length=1, max_length=MAX_LEVEL_LENGTH)]
Unit = Annotated[str, Field(max_length=32)]
Count = Annotated[int, Field(strict=True, ge=0)]


# --------------------------------------------------------------------------------------------- duplicate keys

JsonText = str | bytes | bytearray


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """`json.loads`'s `object_pairs_hook`: the object as a dict, or `_DuplicateKey` when a key repeats."""
    body = dict(pairs)
    if len(body) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _DuplicateKey(key)
            seen.add(key)
    return body


def find_duplicate_key(data: JsonText) -> str | None:
    """The first key some object of the JSON text `data` names twice, or None when every object's keys are
    unique (also when `data` is not JSON: that is for the parser to say). Parses the whole text again."""
    try:
        json.loads(data, object_pairs_hook=_unique_pairs)
    except _DuplicateKey as dup:
        return dup.key
    except (ValueError, TypeError, RecursionError):
        return None
    return None


#: A key's end written with blanks before its colon (`"value" :`): never in what json.dumps or pydantic write.
_SPACED_KEY_END = re.compile(rb'"[ \t\n\r]+:')
_SPACED_KEY_END_TEXT = re.compile(r'"[ \t\n\r]+:')


def _duplicate_key_error(title: str, key: str, data: JsonText) -> ValidationError:
    shown = key if len(key) <= MAX_LEVEL_LENGTH else key[:MAX_LEVEL_LENGTH] + "…"
    # Type `json_invalid`, as for a syntax error: callers (ingestion's decoder) then reject the message as a whole
    # instead of re-reading it with a parser that keeps the last of the two values.
    error = PydanticCustomError("json_invalid", "duplicate key {key}", {"key": json.dumps(shown, ensure_ascii=False)})
    return ValidationError.from_exception_data(title, [{"type": error, "loc": (), "input": data}], input_type="json")


class _UniqueKeys:
    """A payload model's validator that refuses JSON naming one key twice in an object.

    JSON parsers keep the last of two equal keys (pydantic's and Python's alike), so `{"value": 1, "value": 99}`
    would read as 99 without a word. Every `_Part` model's `__pydantic_validator__` is one of these: the wrapped
    pydantic-core validator does the work, and `validate_json` checks its result against the text:

    - every member (`"key": value`) of every object has a colon of its own, so a text has at least as many colons
      as members; when it has exactly as many as the validated model has members (`_json_members`, which counts
      a repeated key once), no key was repeated. Settles a batch with epoch-millisecond times in one byte count.
    - when a key's closing quote is followed by its colon with no blanks between (as json.dumps and pydantic
      write, checked by one regex search), every member also has a `":` of its own: the same argument with that
      pair. Settles texts whose strings hold colons, such as ISO-8601 times.
    - otherwise (a key written twice, or `":` inside a string) the text is parsed again with
      `find_duplicate_key` to be sure. That second parse is what the counts avoid: with an `object_pairs_hook`
      it costs more than pydantic's own validation of a batch (bench figures in docs/wire.md).

    A message that fails validation is parsed again too, so that a duplicate is reported as such, whatever else
    is wrong with it: ingestion would otherwise salvage the good samples of a batch with a parser that keeps the
    last of two values.

    Refused with a `ValidationError` of type `json_invalid` whose message is `duplicate key "value"`. Every other
    attribute is the wrapped validator's, as with pydantic's own `PluggableSchemaValidator`.
    """

    def __init__(self, inner: Any, title: str) -> None:
        self._inner = inner
        self._title = title
        self._validate_json = inner.validate_json
        self.validate_python = inner.validate_python  # called by every model constructor: no extra lookup

    def __getattr__(self, name: str) -> Any:
        return getattr(object.__getattribute__(self, "_inner"), name)

    def validate_json(self, data: JsonText, **options: Any) -> Any:
        try:
            result = self._validate_json(data, **options)
        except ValidationError as exc:
            if exc.error_count() > 1 or exc.errors(include_url=False)[0]["type"] != "json_invalid":
                key = find_duplicate_key(data)
                if key is not None:
                    raise _duplicate_key_error(self._title, key, data) from None
            raise
        if not isinstance(result, _Part):
            return result
        members = result._json_members()
        if isinstance(data, str):
            if data.count(":") == members or (
                data.count('":') == members and _SPACED_KEY_END_TEXT.search(data) is None
            ):
                return result
        elif data.count(b":") == members or (data.count(b'":') == members and _SPACED_KEY_END.search(data) is None):
            return result
        key = find_duplicate_key(data)
        if key is not None:
            raise _duplicate_key_error(self._title, key, data)
        return result


def _members(value: object) -> int:
    """The object members (key: value pairs) JSON of a validated value holds (see `_Part._json_members`)."""
    if isinstance(value, _Part):
        return value._json_members()
    if isinstance(value, dict):
        return len(value) + sum(_members(v) for v in value.values() if isinstance(v, _Part | dict | list))
    if isinstance(value, list):
        return sum(_members(v) for v in value if isinstance(v, _Part | dict | list))
    return 0


# --------------------------------------------------------------------------------------------- payloads


class _Part(BaseModel):
    """A strict, immutable JSON object: unknown fields are rejected. `to_bytes`/`from_bytes` encode and decode it."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=False, allow_inf_nan=False)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        if not cls.__pydantic_complete__:  # pydantic would swap in a new validator later, without the check
            raise TypeError(f"{cls.__name__} is not complete where it is defined: define what it refers to first")
        cls.__pydantic_validator__ = _UniqueKeys(cls.__pydantic_validator__, cls.__name__)  # type: ignore[assignment]

    def to_bytes(self) -> bytes:
        """Compact UTF-8 JSON; fields that are None are left out (they are the defaults)."""
        return self.__pydantic_serializer__.to_json(self, exclude_none=True)

    @classmethod
    def from_bytes(cls, data: bytes | str) -> Self:
        """Validate JSON into the model (`pydantic.ValidationError` when it breaks the schema or names a key twice
        in one object)."""
        return cls.__pydantic_validator__.validate_json(data)  # type: ignore[no-any-return]

    def _json_members(self) -> int:
        """How many object members (key: value pairs) the JSON this model was validated from holds, counting
        each key of an object once: its given fields, and the members of the objects within them.

        Never more than the text holds; fewer when a key was repeated. A model whose fields hold objects that are
        not dicts, lists or `_Part`s would count fewer too: safe (`_UniqueKeys` then parses the text again), only
        slower. The models on the hot path count themselves without the generic walk.
        """
        given = self.__pydantic_fields_set__
        return len(given) + sum(_members(getattr(self, name)) for name in given)


class _Payload(_Part):
    """A message payload: a `_Part` with the schema version `v`, accepted on input and never written (it is 1)."""

    v: Literal[1] = Field(default=1, exclude=True)  # SCHEMA_VERSION


class ReadingPayload(_Payload):
    """One reading on `…/telemetry/{sensor}`: `{"value": 71.3, "ts": "2026-11-22T10:00:00.123Z"}`."""

    value: FiniteFloat
    ts: Timestamp
    unit: Unit | None = None
    seq: Count | None = None

    def to_bytes(self) -> bytes:
        return reading_json(self.value, self.ts, self.unit, self.seq)

    def _json_members(self) -> int:
        return len(self.__pydantic_fields_set__)  # no field holds an object


class Sample(_Payload):
    """All sensors of one machine at one instant (in a `batch`, its `ts` is written as epoch milliseconds)."""

    ts: EpochMs
    values: Annotated[dict[Label, FiniteFloat], Field(min_length=1, max_length=1000)]
    units: dict[Label, Unit] | None = None
    seq: Count | None = None

    def _json_members(self) -> int:
        units = self.units
        return len(self.__pydantic_fields_set__) + len(self.values) + (len(units) if units else 0)


class MachineTelemetry(_Payload):
    """Grouped readings on `…/telemetry`: either one `Sample` inline or a `batch` of them.

    Field order is the order written: `{"ts", "values", "units", "seq"}` inline, `{"batch", "units"}` batched.
    """

    ts: Timestamp | None = None
    values: Annotated[dict[Label, FiniteFloat], Field(min_length=1, max_length=1000)] | None = None
    batch: Annotated[list[Sample], Field(min_length=1, max_length=100_000)] | None = None
    units: dict[Label, Unit] | None = None
    seq: Count | None = None

    @model_validator(mode="after")
    def _one_form(self) -> MachineTelemetry:
        inline = self.ts is not None or self.values is not None
        if inline == (self.batch is not None):
            raise ValueError("give either ts+values (one instant) or batch (a list of {ts, values}), not both")
        if inline and (self.ts is None or self.values is None):
            raise ValueError("an inline sample needs both ts and values")
        return self

    def _json_members(self) -> int:
        n = len(self.__pydantic_fields_set__) + len(self.values or ()) + len(self.units or ())
        return n + sum([sample._json_members() for sample in self.batch or ()])

    def samples(self) -> list[Sample]:
        if self.batch is not None:
            return self.batch
        if self.ts is None or self.values is None:  # excluded by _one_form; keeps the types honest
            raise ValueError("inline sample without ts or values")
        return [Sample.model_construct(ts=self.ts, values=self.values, units=self.units, seq=self.seq)]

    def to_bytes(self) -> bytes:
        if self.batch is None:
            if self.ts is None or self.values is None:  # excluded by _one_form
                raise ValueError("inline sample without ts or values")
            return telemetry_json([(self.ts, self.values)], self.units, self.seq)
        body: dict[str, Any] = {"batch": [_sample_body(s) for s in self.batch]}
        if self.units is not None:
            body["units"] = self.units
        if self.seq is not None:
            body["seq"] = self.seq
        return _dumps(body)


MachineState = Literal["running", "idle", "setup", "down", "planned"]


class StatePayload(_Payload):
    """Retained machine state on `…/state`. `reason` is a code such as `breakdown` or `changeover`."""

    state: MachineState
    ts: Timestamp
    reason: Label | None = None


#: What a signal is. `process`: a sensor sampled at a rate (telemetry); `quality`: a per-part characteristic
#: (`QualityPayload.measurements`); `count`: an event count such as `reject_count` (telemetry, integer-valued).
SignalKind = Literal["process", "quality", "count"]


class SignalInfo(_Part):
    """What a reader needs to know about one signal of a machine type: kind, unit, spec limits, resolution."""

    kind: SignalKind
    unit: Unit | None = None
    lsl: FiniteFloat | None = None
    usl: FiniteFloat | None = None
    target: FiniteFloat | None = None
    decimals: Annotated[int, Field(strict=True, ge=0, le=15)] | None = None
    #: Seconds between two readings when the signal is sampled less often than the machine (`reject_count` every 60 s).
    interval_s: PositiveFloat | None = None
    #: First-order time constant (s) in which the signal returns to its working level after a stop (a cooling spindle):
    #: the SPC monitor waits for it to settle before it charts again.
    tau_s: PositiveFloat | None = None
    #: The signal's weight in its kind's share of the SPC monitor's false-alarm budget (absent: 1).
    alarm_weight: PositiveFloat | None = None

    @model_validator(mode="after")
    def _limits_ordered(self) -> SignalInfo:
        if self.lsl is not None and self.usl is not None and self.lsl >= self.usl:
            raise ValueError(f"lsl ({self.lsl}) must be below usl ({self.usl})")
        return self


#: What a fault parameter takes: a number, a duration (`5m`, `90`: seconds) or a word (a code or a state).
ParamKind = Literal["number", "duration", "text"]


class ParamInfo(_Part):
    """One parameter of a fault: its kind, and for numbers (and durations, in seconds) the allowed range
    `min` ≤ value ≤ `max` (either may be absent); `choices` lists the words a text parameter accepts."""

    kind: ParamKind = "number"
    min: FiniteFloat | None = None
    max: FiniteFloat | None = None
    choices: Annotated[list[Label], Field(max_length=100)] | None = None

    @model_validator(mode="after")
    def _range_ordered(self) -> ParamInfo:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) must not exceed max ({self.max})")
        return self

    def problem(self, what: str, value: float | str) -> str | None:
        """Why `value` does not fit this parameter (`what` names it in the message), or None when it fits."""
        if self.kind == "text":
            if self.choices is not None and str(value) not in self.choices:
                return f"{what}: choose one of {', '.join(self.choices)}"
            return None
        if self.kind == "duration":
            try:
                number = parse_duration(value)
            except ConfigError as exc:
                return f"{what}: {exc}"
        elif isinstance(value, str):
            try:
                number = float(value)
            except ValueError:
                return f"{what}: not a number"
        else:
            number = float(value)
        if not math.isfinite(number):
            return f"{what}: not a finite number"
        low, high = self.min, self.max
        if (low is not None and number < low) or (high is not None and number > high):
            unit = " s" if self.kind == "duration" else ""
            if low is not None and high is not None:
                allowed = f"{low:g} … {high:g}{unit}"
            else:
                allowed = f"≥ {low:g}{unit}" if low is not None else f"≤ {high:g}{unit}"
            return f"{what}: out of range, allowed {allowed}"
        return None


class FaultInfo(_Part):
    """A fault the machine accepts (`smartfactory inject MACHINE FAULT`): what it does, where it acts and the
    parameters it takes. `scope` "signal": it acts on a signal (`signals` lists which, absent: any of the
    machine's); "machine": on the machine as a whole (no sensor)."""

    summary: Annotated[str, Field(max_length=500)] | None = None
    scope: Literal["signal", "machine"] = "signal"
    signals: Annotated[list[Label], Field(max_length=1000)] | None = None
    params: Annotated[dict[Label, ParamInfo], Field(max_length=100)] = Field(default_factory=dict)

    def problems(
        self, fault: str, sensor: str | None, params: Mapping[str, float | str], machine_signals: Sequence[str] = ()
    ) -> list[str]:
        """What is wrong with injecting this fault with `sensor` and `params` (empty: nothing). The one check of
        a fault command, used by `smartfactory inject` before sending and by the simulator before applying.
        `machine_signals` are the machine's signals (those a fault without `signals` may act on)."""
        found: list[str] = []
        if sensor is not None:
            allowed = list(self.signals if self.signals is not None else machine_signals)
            if self.scope == "machine":
                found.append(f"{fault} acts on the whole machine, not on a sensor: drop the sensor {sensor!r}")
            elif allowed and sensor not in allowed:
                found.append(f"{fault} acts on {', '.join(allowed)}, not on {sensor!r}")
        unknown = [key for key in params if key not in self.params]
        if unknown:
            takes = ", ".join(self.params) or "no parameters"
            about = f" ({self.summary})" if self.summary else ""
            found.append(f"{fault} takes {takes}, not {', '.join(unknown)}{about}")
        for key, value in params.items():
            param = self.params.get(key)
            if param is not None:
                problem = param.problem(f"{fault} {key}={value}", value)
                if problem:
                    found.append(problem)
        return found


class MachineInfo(_Part):
    """Machine-type facts carried in the birth: ideal cycle time, sampling interval, the signals it speaks and
    the faults it accepts (name → `FaultInfo`, so that `smartfactory inject` checks a command before sending it).

    Stored by ingestion (`Storage.write_machine_info`) so that readers need only the store.
    """

    machine_type: Label
    ideal_cycle_s: PositiveFloat | None = None
    sample_interval_s: PositiveFloat | None = None
    signals: Annotated[dict[Label, SignalInfo], Field(max_length=1000)] = Field(default_factory=dict)
    #: absent (None) from a machine that announces none, e.g. a real machine or an older simulator
    faults: Annotated[dict[Label, FaultInfo], Field(max_length=200)] | None = None


class StatusPayload(_Payload):
    """Retained online/offline status on `…/status` (birth message and last will).

    The birth (`online`) may carry `info`, the machine's facts; the last will (`offline`) carries none.
    """

    status: Literal["online", "offline"]
    ts: Timestamp | None = None
    info: MachineInfo | None = None


class QualityPayload(_Payload):
    """One produced part and its measured quality characteristics on `…/quality`."""

    part_id: Label
    ts: Timestamp
    measurements: dict[Label, FiniteFloat] = Field(default_factory=dict)
    verdict: Literal["good", "scrap"]


class EventPayload(_Payload):
    """A ground-truth event on `…/event`: a fault starting, a repair, a scenario step; `rejected` answers a
    command (or scenario step) the simulator refused, with `params["reason"]` saying why."""

    kind: Literal["fault", "repair", "rejected"]
    fault: Label
    sensor: Label | None = None
    params: dict[Label, float | str] = Field(default_factory=dict)
    ts: Timestamp
    #: The signals (sensor or characteristic names) the fault changes: what a detection may be credited to.
    #: Absent for machine-level events (a breakdown changes the state, not a signal) and for repairs.
    affects: Annotated[list[Label], Field(max_length=1000)] | None = None


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


# --------------------------------------------------------------------------------------------- system payloads


class DeadLetterPayload(_Payload):
    """A rejected message on `_sf/deadletter/{reason}` (not retained); `payload` is its start, as text."""

    MAX_PAYLOAD_CHARS: ClassVar[int] = 256

    reason: str
    detail: str
    topic: str
    received_ms: EpochMs
    payload_size: Count
    payload: str


HealthState = Literal["ok", "spooling", "stopping", "stopped", "failed", "lost"]


class HealthPayload(_Payload):
    """An ingestion worker's counters on `_sf/health/{worker}` (retained); the last will is `state: lost` alone.

    Every key is explained in `ingest/health.py` and docs/ingestion.md.
    """

    worker: str
    state: HealthState
    ts: EpochMs | None = None
    uptime_s: float | None = None
    interval_s: float | None = None
    subscription: str | None = None
    received: Count | None = None
    readings: Count | None = None
    stored: Count | None = None
    duplicates: Count | None = None
    conflicts: Count | None = None
    redelivered: Count | None = None
    rejected: dict[str, Count] | None = None
    rejected_total: Count | None = None
    rejected_again: Count | None = None
    contained: dict[str, Count] | None = None
    series: Count | None = None
    spc_disabled: Count | None = None
    spc_cannot_learn: Count | None = None
    spooled: Count | None = None
    replayed: Count | None = None
    write_errors: Count | None = None
    alarms: Count | None = None
    queue_depth: Count | None = None
    data_age_ms: int | None = None
    duplicates_known: bool | None = None
    queue_bytes: Count | None = None
    lag_ms: Count | None = None
    spool_pending: Count | None = None
    spool_bytes: Count | None = None


# --------------------------------------------------------------------------------------------- encoders

#: Every payload model, for documentation and property tests.
PAYLOADS: tuple[type[_Payload], ...] = (
    ReadingPayload,
    MachineTelemetry,
    Sample,
    StatePayload,
    StatusPayload,
    QualityPayload,
    EventPayload,
    CommandPayload,
    AlarmPayload,
    AckPayload,
    DeadLetterPayload,
    HealthPayload,
)


def payload_to_json(payload: _Part) -> bytes:
    """Compact JSON bytes of a payload: `payload.to_bytes()` (kept for callers of the first version)."""
    return payload.to_bytes()


def _dumps(body: dict[str, Any]) -> bytes:
    # The same text pydantic writes for these values: UTF-8 (not \u escapes), no spaces, floats by repr.
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def _sample_body(sample: Sample) -> dict[str, Any]:
    body: dict[str, Any] = {"ts": sample.ts, "values": sample.values}
    if sample.units is not None:
        body["units"] = sample.units
    if sample.seq is not None:
        body["seq"] = sample.seq
    return body


def reading_json(value: float, ts_ms: int, unit: str | None = None, seq: int | None = None) -> bytes:
    """The `ReadingPayload` of one reading, built without a model (the hot path of single-reading publishers)."""
    body: dict[str, Any] = {"value": float(value), "ts": format_ts(ts_ms)}
    if unit is not None:
        body["unit"] = unit
    if seq is not None:
        body["seq"] = seq
    return _dumps(body)


def telemetry_json(
    samples: Sequence[tuple[int, Mapping[str, float]]],
    units: Mapping[str, str] | None = None,
    seq: int | None = None,
) -> bytes:
    """The `MachineTelemetry` of (ts_ms, values) instants, built without a model (the simulators' hot path).

    One instant is written inline (`ts` as ISO-8601 text), several as a `batch` (each `ts` as epoch ms).
    Values must be finite floats (`ValueError` otherwise; ints are written as ints and read back as floats).
    """
    if len(samples) == 1:
        ts, values = samples[0]
        body: dict[str, Any] = {"ts": format_ts(ts), "values": values}
    else:
        if not samples:
            raise ValueError("telemetry needs at least one sample")
        body = {"batch": [{"ts": ts, "values": values} for ts, values in samples]}
    if units is not None:
        body["units"] = units
    if seq is not None:
        body["seq"] = seq
    return _dumps(body)
