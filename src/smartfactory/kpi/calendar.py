"""Shift calendar: named shifts with wall-clock start and end, days of the week and planned breaks.

A shift belongs to the day it starts on: a night shift "22:00"-"06:00" on `mon` runs from Monday 22:00 to
Tuesday 06:00. End equal to start means a 24-hour shift. Breaks are given in wall-clock time and must lie
inside their shift (a 02:00 break in that night shift is on Tuesday). Times are local to
`ShiftCalendar.timezone` (an IANA zone name, default UTC); on daylight-saving change days a shift that spans
the change is an hour shorter or longer, as the clock on the shop-floor wall says.

`planned_intervals` turns a calendar and a window into planned (shift minus break) time in UTC milliseconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from smartfactory.errors import ConfigError
from smartfactory.kpi.intervals import Span, clip, union

DAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MINUTES_PER_DAY = 24 * 60
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def parse_hhmm(text: str) -> int:
    """Minutes after midnight of a wall-clock time written "HH:MM" (00:00 to 23:59)."""
    match = _HHMM.match(text)
    if match is None:
        raise ConfigError(f"time {text!r} is not a wall-clock time: write it as HH:MM, 00:00 to 23:59")
    return int(match.group(1)) * 60 + int(match.group(2))


def _length(start: int, end: int) -> int:
    """Minutes from wall-clock `start` to the next wall-clock `end`; equal times mean a full day."""
    return (end - start) % _MINUTES_PER_DAY or _MINUTES_PER_DAY


@dataclass(frozen=True, slots=True)
class Break:
    """A planned break inside a shift, wall-clock "HH:MM" to "HH:MM"."""

    start: str
    end: str
    name: str = "break"

    def __post_init__(self) -> None:
        if parse_hhmm(self.start) == parse_hhmm(self.end):
            raise ConfigError(f"break {self.name!r} starts and ends at {self.start}: give it a length")


@dataclass(frozen=True, slots=True)
class Shift:
    """A shift that starts at `start` on each of `days` ("mon" … "sun") and ends at the next `end`."""

    name: str
    start: str
    end: str
    days: tuple[str, ...] = DAYS
    breaks: tuple[Break, ...] = ()
    # offsets in minutes from the shift start: (start, end) of each break; filled in by __post_init__
    _break_offsets: tuple[tuple[int, int], ...] = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        start = parse_hhmm(self.start)
        length = _length(start, parse_hhmm(self.end))
        unknown = [d for d in self.days if d not in DAYS]
        if unknown or not self.days:
            raise ConfigError(
                f"shift {self.name!r} has days {list(self.days)!r}: use a non-empty list of {', '.join(DAYS)}"
            )
        offsets = []
        for brk in self.breaks:
            begin = (parse_hhmm(brk.start) - start) % _MINUTES_PER_DAY
            end = begin + _length(parse_hhmm(brk.start), parse_hhmm(brk.end))
            if end > length:
                raise ConfigError(
                    f"break {brk.name!r} ({brk.start}-{brk.end}) is not inside shift {self.name!r} "
                    f"({self.start}-{self.end}): move the break or the shift"
                )
            offsets.append((begin, end))
        object.__setattr__(self, "_break_offsets", tuple(offsets))

    @property
    def length_minutes(self) -> int:
        return _length(parse_hhmm(self.start), parse_hhmm(self.end))


@dataclass(frozen=True, slots=True)
class ShiftOccurrence:
    """One shift on one day, in UTC milliseconds. `day` is the local date the shift starts on."""

    shift: str
    day: date
    start_ms: int
    end_ms: int
    breaks: tuple[Span, ...]

    @property
    def label(self) -> str:
        """A name for reports, such as "night 2024-03-04"."""
        return f"{self.shift} {self.day.isoformat()}"

    def planned(self) -> list[Span]:
        """The shift's planned production time: the shift minus its breaks."""
        pieces: list[Span] = []
        cursor = self.start_ms
        for b_start, b_end in union(self.breaks):
            if b_start > cursor:
                pieces.append((cursor, b_start))
            cursor = max(cursor, b_end)
        if cursor < self.end_ms:
            pieces.append((cursor, self.end_ms))
        return pieces


@dataclass(frozen=True, slots=True)
class ShiftCalendar:
    """The plant's shifts; times are wall-clock in `timezone` (an IANA name such as "Europe/Berlin")."""

    shifts: tuple[Shift, ...]
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ConfigError(
                f"unknown time zone {self.timezone!r}: use an IANA name such as 'UTC' or 'Europe/Berlin'"
            ) from None
        names = [s.name for s in self.shifts]
        if len(set(names)) != len(names):
            raise ConfigError(f"shift names must be unique, got {names!r}")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ShiftCalendar:
        """Build a calendar from the plant file's `calendar` section (unknown keys are an error)::

        timezone: Europe/Berlin
        shifts:
          - {name: early, start: "06:00", end: "14:00", days: [mon, tue, wed, thu, fri],
             breaks: [{start: "09:00", end: "09:15"}, {start: "11:30", end: "12:00", name: lunch}]}
        """
        _only(data, {"timezone", "shifts"}, "calendar")
        shifts = []
        for raw in data.get("shifts", []):
            _only(raw, {"name", "start", "end", "days", "breaks"}, "shift")
            breaks = []
            for b in raw.get("breaks", []):
                _only(b, {"start", "end", "name"}, "break")
                breaks.append(Break(str(b["start"]), str(b["end"]), str(b.get("name", "break"))))
            try:
                name, start, end = str(raw["name"]), str(raw["start"]), str(raw["end"])
            except KeyError as missing:
                raise ConfigError(f"shift {raw!r} lacks {missing}: give name, start and end") from None
            days = tuple(str(d).lower() for d in raw.get("days", DAYS))
            shifts.append(Shift(name, start, end, days, tuple(breaks)))
        return cls(tuple(shifts), str(data.get("timezone", "UTC")))


def _only(data: Mapping[str, Any], allowed: set[str], what: str) -> None:
    if not isinstance(data, Mapping):
        raise ConfigError(f"{what} must be a mapping of {sorted(allowed)}, got {data!r}")
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise ConfigError(f"unknown {what} key(s) {unknown}: allowed are {sorted(allowed)}")


def _to_ms(local: datetime) -> int:
    return (local - _EPOCH) // timedelta(milliseconds=1)


def shift_occurrences(calendar: ShiftCalendar, since_ms: int, until_ms: int) -> list[ShiftOccurrence]:
    """Every shift occurrence that overlaps `[since_ms, until_ms)`, whole (not clipped), in time order."""
    if until_ms <= since_ms:
        return []
    zone = ZoneInfo(calendar.timezone)
    first = datetime.fromtimestamp(since_ms / 1000, zone).date() - timedelta(days=1)
    last = datetime.fromtimestamp(until_ms / 1000, zone).date()
    found: list[ShiftOccurrence] = []
    day = first
    while day <= last:
        midnight = datetime(day.year, day.month, day.day, tzinfo=zone)
        for shift in calendar.shifts:
            if DAYS[day.weekday()] not in shift.days:
                continue
            begin = parse_hhmm(shift.start)

            def at(minutes: int, midnight: datetime = midnight) -> int:
                # wall-clock arithmetic: adding a timedelta to an aware datetime keeps the zone's local clock
                return _to_ms(midnight + timedelta(minutes=minutes))

            start_ms = at(begin)
            end_ms = max(start_ms, at(begin + shift.length_minutes))
            if start_ms < until_ms and end_ms > since_ms:
                breaks = tuple((at(begin + a), at(begin + b)) for a, b in shift._break_offsets)
                found.append(ShiftOccurrence(shift.name, day, start_ms, end_ms, breaks))
        day += timedelta(days=1)
    found.sort(key=lambda occ: (occ.start_ms, occ.shift))
    return found


def planned_intervals(calendar: ShiftCalendar, since_ms: int, until_ms: int) -> list[Span]:
    """Planned time (shifts minus breaks) inside `[since_ms, until_ms)`: sorted, disjoint, adjacent merged."""
    pieces = [p for occ in shift_occurrences(calendar, since_ms, until_ms) for p in occ.planned()]
    return clip(union(pieces), since_ms, until_ms)
