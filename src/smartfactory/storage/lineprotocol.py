"""InfluxDB line protocol: escaping and the smartfactory schema, as plain strings (pure: no I/O library).

Escaping follows the InfluxDB 2 line-protocol reference ("Special characters" and "Escaping backslashes",
docs.influxdata.com/influxdb/v2/reference/syntax/line-protocol/):

| element                      | escaped with a backslash        |
|------------------------------|---------------------------------|
| measurement                  | comma, space, backslash         |
| tag key, tag value, field key| comma, equals sign, space, backslash |
| string field value           | double quote, backslash         |

Two backslashes read as one, so escaping the backslash itself keeps a value that ends in `\\` intact. Line
protocol has no escape for a newline or carriage return in any value. Topic levels cannot contain them (the
wire grammar forbids control characters), so a tag holding a name from a topic always round-trips; a tag value
with one is refused (`ValueError`). Free text in string fields (dead-letter details, alarm messages) goes through
`encode_text` first, which writes `\\`, newline and carriage return as the two-character sequences `\\\\`,
`\\n`, `\\r`; `decode_text` reverses it on the way back.

The schema (documented in docs/storage.md): one measurement per record kind, the plant hierarchy as tags.
"""

from __future__ import annotations

import base64
import json
import math
import zlib
from collections.abc import Iterable, Sequence

from smartfactory.errors import WireError
from smartfactory.model import Alarm, DeadLetter, FaultEvent, LimitsVersion, PartResult, Reading, StateChange
from smartfactory.wire import HIERARCHY, MachineInfo, MachinePath, SeriesId, parse_series

READING = "reading"
STATE = "state"
PART = "part"
EVENT = "event"
ALARM = "alarm"
DEADLETTER = "deadletter"
LIMITS = "limits"
MACHINE_INFO = "machine_info"
MEASUREMENTS = (READING, STATE, PART, EVENT, ALARM, DEADLETTER)

NS_PER_MS = 1_000_000
_NAME_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", " ": "\\ ", "=": "\\="})
_MEASUREMENT_ESCAPES = str.maketrans({"\\": "\\\\", ",": "\\,", " ": "\\ "})
_STRING_ESCAPES = str.maketrans({"\\": "\\\\", '"': '\\"'})
_TEXT_ENCODE = str.maketrans({"\\": "\\\\", "\n": "\\n", "\r": "\\r"})
_TEXT_DECODE = {"\\": "\\", "n": "\n", "r": "\r"}


def escape_measurement(name: str) -> str:
    _check(name, "measurement")
    return name.translate(_MEASUREMENT_ESCAPES)


def escape_name(text: str, what: str = "tag value") -> str:
    """Escape a tag key, tag value or field key. Empty text and newlines cannot be written: `ValueError`."""
    _check(text, what)
    return text.translate(_NAME_ESCAPES)


def _check(text: str, what: str) -> None:
    if not text:
        raise ValueError(f"an empty {what} cannot be written in line protocol")
    if "\n" in text or "\r" in text:
        raise ValueError(f"{what} {text[:40]!r} contains a newline, which line protocol cannot carry")


def encode_text(text: str) -> str:
    """Free text → text without newlines (backslash, newline, CR become `\\\\`, `\\n`, `\\r`)."""
    return text.translate(_TEXT_ENCODE)


def decode_text(text: str) -> str:
    """Inverse of `encode_text`."""
    if "\\" not in text:
        return text
    out: list[str] = []
    chars = iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            out.append(_TEXT_DECODE.get(following, "\\" + following))
        else:
            out.append(char)
    return "".join(out)


def string_field(text: str) -> str:
    """A quoted string field value holding `encode_text(text)`."""
    return '"' + encode_text(text).translate(_STRING_ESCAPES) + '"'


def float_field(value: float) -> str:
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number; line protocol cannot carry NaN or infinity")
    return repr(number)


def int_field(value: int) -> str:
    return f"{int(value)}i"


def bool_field(value: bool) -> str:
    return "true" if value else "false"


def line(measurement: str, tags: Iterable[tuple[str, str]], fields: Sequence[tuple[str, str]], ts: int) -> str:
    """One point. `tags` are raw (escaped here, sorted by key); `fields` are (key, already formatted value)."""
    if not fields:
        raise ValueError("a point needs at least one field")
    head = escape_measurement(measurement)
    for key, value in sorted(tags):
        head += f",{escape_name(key, 'tag key')}={escape_name(value)}"
    body = ",".join(f"{escape_name(key, 'field key')}={value}" for key, value in fields)
    return f"{head} {body} {int(ts)}"


# ------------------------------------------------------------------------------------ the smartfactory schema


def _path_tags(path: MachinePath) -> list[tuple[str, str]]:
    return [(level, getattr(path, level)) for level in HIERARCHY]


def machine_tags(machine: str) -> list[tuple[str, str]]:
    """`acme/plant1/machining/line-1/cnc-01` → the five hierarchy tags (`ValueError` for anything else)."""
    try:
        return _path_tags(MachinePath.parse(machine))
    except WireError as exc:
        raise ValueError(f"machine {machine[:200]!r} is not a path enterprise/site/area/line/machine: {exc}") from None


def series_tags(series: str) -> list[tuple[str, str]]:
    """A series id → the hierarchy tags plus `sensor` (`WireError` when it is not a series id)."""
    sid = parse_series(series)
    return [*_path_tags(sid.path), ("sensor", sid.sensor)]


def _path_from_tags(values: dict[str, object]) -> MachinePath:
    return MachinePath(*(str(values[level]) for level in HIERARCHY))


def series_from_tags(values: dict[str, object]) -> str:
    """The series id of a row that carries the hierarchy and `sensor` columns."""
    return str(SeriesId(_path_from_tags(values), str(values["sensor"])))


def machine_from_tags(values: dict[str, object]) -> str:
    """The machine path of a row that carries the hierarchy columns."""
    return str(_path_from_tags(values))


def key_offset_ns(*parts: str) -> int:
    """A stable sub-millisecond offset (0 … 999,999 ns) from a record's identity.

    Points with the same measurement, tags and timestamp overwrite each other. Adding this offset to the
    millisecond timestamp keeps two different records of the same millisecond apart, while a redelivered record
    lands on exactly its old point (and overwrites it with the same values): idempotent. Reading back, the
    millisecond is `ns // 1_000_000`, so the offset never shows.
    """
    return zlib.crc32("\x1f".join(parts).encode()) % NS_PER_MS


class ReadingLines:
    """Builds `reading` lines fast: the escaped tag prefix of each (series, unit) is computed once."""

    def __init__(self) -> None:
        self._prefixes: dict[str, str] = {}
        self._units: dict[str | None, str] = {None: ""}

    def prefix(self, series: str) -> str:
        known = self._prefixes.get(series)
        if known is None:
            head = escape_measurement(READING)
            for key, value in sorted(series_tags(series)):
                head += f",{key}={escape_name(value)}"
            known = self._prefixes[series] = head + " value="
        return known

    def lines(self, readings: Iterable[Reading]) -> list[str]:
        """Lines in millisecond precision: `reading,<tags> value=<float>[,unit="…"] <ms>`."""
        out: list[str] = []
        prefixes, units = self._prefixes, self._units
        for r in readings:
            head = prefixes.get(r.series) or self.prefix(r.series)
            unit = units.get(r.unit)
            if unit is None:
                unit = units[r.unit] = f",unit={string_field(r.unit or '')}"
            value = float(r.value)
            if not math.isfinite(value):
                raise ValueError(f"{r.series} at {r.ts_ms}: {r.value!r} is not a finite number")
            out.append(f"{head}{value!r}{unit} {r.ts_ms}")
        return out


def state_line(change: StateChange) -> str:
    fields = [("state", string_field(change.state))]
    if change.reason is not None:
        fields.append(("reason", string_field(change.reason)))
    return line(STATE, machine_tags(change.machine), fields, change.ts_ms * NS_PER_MS)


def part_line(part: PartResult) -> str:
    fields = [
        ("part_id", string_field(part.part_id)),
        ("good", bool_field(part.good)),
        ("measurements", string_field(json.dumps(part.measurements, sort_keys=True))),
    ]
    ts = part.ts_ms * NS_PER_MS + key_offset_ns(part.part_id)
    return line(PART, machine_tags(part.machine), fields, ts)


def event_line(event: FaultEvent) -> str:
    fields = [("fault", string_field(event.fault)), ("params", string_field(json.dumps(event.params, sort_keys=True)))]
    if event.sensor is not None:
        fields.append(("sensor", string_field(event.sensor)))
    if event.affects:
        fields.append(("affects", string_field(json.dumps(list(event.affects)))))
    tags = [*machine_tags(event.machine), ("kind", event.kind)]
    return line(EVENT, tags, fields, event.ts_ms * NS_PER_MS + key_offset_ns(event.kind, event.fault))


def alarm_ts_ns(alarm_id: str, ts_ms: int) -> int:
    return ts_ms * NS_PER_MS + key_offset_ns(alarm_id)


def alarm_line(alarm: Alarm) -> str:
    """An alarm point. Fields that are None (or an empty message) are left out, so a later write of the same
    alarm (a clear) keeps what the first one set, as the SQLite upsert does."""
    fields = [
        ("alarm_id", string_field(alarm.alarm_id)),
        ("rules", string_field(",".join(alarm.rules))),
        ("active", bool_field(alarm.active)),
    ]
    if alarm.message:
        fields.append(("message", string_field(alarm.message)))
    if alarm.value is not None:
        fields.append(("value", float_field(alarm.value)))
    if alarm.cleared_ms is not None:
        fields.append(("cleared_ms", int_field(alarm.cleared_ms)))
    if alarm.acked_ms is not None:
        fields.append(("acked_ms", int_field(alarm.acked_ms)))
    if alarm.acked_by is not None:
        fields.append(("acked_by", string_field(alarm.acked_by)))
    return line(ALARM, series_tags(alarm.series), fields, alarm_ts_ns(alarm.alarm_id, alarm.ts_ms))


def alarm_ack_line(alarm_id: str, series: str, alarm_ts_ms: int, acked_ms: int, by: str) -> str:
    """Only the acknowledgement fields: InfluxDB merges them into the existing alarm point."""
    fields = [("acked_ms", int_field(acked_ms)), ("acked_by", string_field(by))]
    return line(ALARM, series_tags(series), fields, alarm_ts_ns(alarm_id, alarm_ts_ms))


def deadletter_line(letter: DeadLetter) -> str:
    fields = [
        ("topic", string_field(letter.topic)),
        ("detail", string_field(letter.detail)),
        ("payload", string_field(base64.b64encode(letter.payload).decode("ascii"))),
        ("payload_size", int_field(letter.payload_size)),
    ]
    offset = key_offset_ns(letter.topic, letter.reason, letter.payload.hex())
    return line(DEADLETTER, [("reason", letter.reason)], fields, letter.received_ms * NS_PER_MS + offset)


def limits_line(limits: LimitsVersion) -> str:
    """One version of a series' control limits; the version number keeps versions apart at the same time."""
    fields = [
        ("version", int_field(limits.version)),
        ("center", float_field(limits.center)),
        ("sigma", float_field(limits.sigma)),
        ("nsigmas", float_field(limits.nsigmas)),
        ("n", int_field(limits.n)),
        ("source", string_field(limits.source)),
        ("detector", string_field(limits.detector)),
        ("params", string_field(json.dumps(limits.params, sort_keys=True))),
    ]
    return line(LIMITS, series_tags(limits.series), fields, limits.ts_ms * NS_PER_MS + limits.version % 1000)


def machine_info_line(machine: str, ts_ms: int, info: MachineInfo) -> str:
    """A machine's facts from its birth: `machine_info,<hierarchy tags> info="<MachineInfo JSON>" <ns>`.

    One series per machine; the same birth written again lands on its old point (same tags and time).
    """
    fields = [("info", string_field(info.to_bytes().decode()))]
    return line(MACHINE_INFO, machine_tags(machine), fields, int(ts_ms) * NS_PER_MS)
