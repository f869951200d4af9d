"""The plant overview's model: one tile per machine, grouped by line, and the plant's alarm rate (pure: no
Streamlit).

A tile's readings are drawn as one HTML grid (`readings_html`) rather than as Streamlit metrics: a metric cuts
a value that does not fit its column with an ellipsis ("25 …", "9,0…"), the very digits projector mode enlarges.
The grid puts as many readings side by side as fit (CSS `auto-fill`), and each value shrinks to its cell's width
only when it would not fit at full size (a container query, `theme.page_css`), so no value is ever cut.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from dashboard import numbers
from smartfactory import kpi
from smartfactory.model import Alarm
from smartfactory.query.detection import Span, per_hour
from smartfactory.query.series import line_of, machine_of, short, split_series

#: Decimals of a series' values (None: unknown, four significant digits).
Decimals = Callable[[str], int | None]


def _unknown(series: str) -> int | None:
    return None


@dataclass(frozen=True, slots=True)
class ReadingTile:
    sensor: str
    value: float
    unit: str | None
    alarmed: bool
    decimals: int | None = None

    @property
    def text(self) -> str:
        return numbers.fmt(self.value, self.decimals, self.unit)


def format_value(value: float, decimals: int | None = None) -> str:
    """The value to `decimals` decimals, or four significant digits (12,000 rpm, 62.14 °C, 0.0123 mm)."""
    return numbers.fmt(value, decimals)


@dataclass(frozen=True, slots=True)
class MachineTile:
    machine: str
    state: str | None
    reason: str | None
    state_since_ms: int | None
    oee: float | None
    readings: tuple[ReadingTile, ...]
    alarms: tuple[Alarm, ...]

    @property
    def name(self) -> str:
        return short(self.machine)


@dataclass(frozen=True, slots=True)
class LineTiles:
    line: str
    machines: tuple[MachineTile, ...] = field(default_factory=tuple)


def machine_oee(report: kpi.OeeReport | None) -> dict[str, float | None]:
    """Whole-window OEE per machine of a report (none without one)."""
    if report is None:
        return {}
    return {r.name: r.oee for r in report.rows if r.level is kpi.Level.MACHINE and r.shift is None}


def build(
    latest: pd.DataFrame,
    current: Mapping[str, kpi.StateInterval],
    oee: Mapping[str, float | None],
    active: Sequence[Alarm],
    decimals: Decimals = _unknown,
) -> list[LineTiles]:
    """Tiles for every machine that has readings or a state: its current state (`current`, the interval it is
    in at the window's end), its OEE over the window (`oee`, from `query.oee`), latest readings (each to the
    decimals `decimals(series)` of its signal), active alarms."""
    readings: dict[str, list[ReadingTile]] = {}
    alarmed = {a.series for a in active}
    for series, value, unit in zip(latest["series"], latest["value"].astype(float), latest["unit"], strict=True):
        parts = split_series(str(series))
        if not parts.machine:
            continue  # not a machine's series (written by hand): no tile to put it on
        unit_ = unit if isinstance(unit, str) else None
        reading = ReadingTile(parts.sensor, float(value), unit_, series in alarmed, decimals(str(series)))
        readings.setdefault(parts.machine, []).append(reading)
    alarms_of: dict[str, list[Alarm]] = {}
    for alarm in active:
        alarms_of.setdefault(machine_of(alarm.series), []).append(alarm)
    lines: dict[str, list[MachineTile]] = {}
    for machine in sorted(set(readings) | set(current)):
        state = current.get(machine)
        tile = MachineTile(
            machine=machine,
            state=None if state is None else str(state.state),
            reason=None if state is None else state.reason,
            state_since_ms=None if state is None else state.start_ms,
            oee=oee.get(machine),
            readings=tuple(sorted(readings.get(machine, []), key=lambda r: r.sensor)),
            alarms=tuple(sorted(alarms_of.get(machine, []), key=lambda a: a.ts_ms)),
        )
        lines.setdefault(line_of(machine), []).append(tile)
    return [LineTiles(line, tuple(tiles)) for line, tiles in sorted(lines.items())]


# ------------------------------------------------------------------------------------------ the readings grid

#: CSS class names the page's style sheet (`theme.page_css`) knows.
GRID, CELL, LABEL, VALUE, ALARMED = "sf-readings", "sf-reading", "sf-label", "sf-value", "sf-alarmed"


def readings_html(readings: Iterable[ReadingTile]) -> str:
    """The readings of one tile as an HTML grid: sensor name above its value; a warning sign on alarmed ones.

    Each value carries its length in characters (`--sf-chars`), from which the style sheet computes the largest
    font that fits the cell (`theme.page_css`)."""
    cells = []
    for r in readings:
        text = r.text
        mark = '<span class="sf-mark" title="active alarm">⚠</span> ' if r.alarmed else ""
        classes = f"{CELL} {ALARMED}" if r.alarmed else CELL
        cells.append(
            f'<div class="{classes}"><div class="{LABEL}">{mark}{html.escape(r.sensor)}</div>'
            f'<div class="{VALUE}" style="--sf-chars: {max(len(text), 4)}">{html.escape(text)}</div></div>'
        )
    return f'<div class="{GRID}">{"".join(cells)}</div>'


# ------------------------------------------------------------------------------------------ the alarm rate


@dataclass(frozen=True, slots=True)
class AlarmRate:
    """Alarms raised in the window, per hour of it, against the plant's alarm budget (alarms per hour)."""

    count: int
    hours: float | None
    budget_per_hour: float

    @property
    def per_hour(self) -> float | None:
        return None if self.hours is None else self.count / self.hours

    @property
    def within_budget(self) -> bool | None:
        rate = self.per_hour
        return None if rate is None else rate <= self.budget_per_hour


def alarm_rate(
    alarms: Iterable[Alarm], since_ms: int, until_ms: int, oldest_ms: int | None, budget_per_hour: float
) -> AlarmRate:
    """The alarms raised in `[since_ms, until_ms)` per hour of it, the hours counted from the first stored reading
    when the store starts inside the window (a 1 h window on 10 minutes of data is 10 minutes). The same rate
    `smartfactory report detection` prints (`query.detection.per_hour`)."""
    start = since_ms if oldest_ms is None else max(since_ms, oldest_ms)
    span = Span(start, max(start, until_ms))
    count = sum(1 for a in alarms if since_ms <= a.ts_ms < until_ms)
    rate = per_hour(count, span)
    return AlarmRate(count, None if rate is None else span.hours, budget_per_hour)
