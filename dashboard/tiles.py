"""The plant overview's model: one tile per machine, grouped by line (pure: no Streamlit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from smartfactory import kpi
from smartfactory.model import Alarm
from smartfactory.query.series import line_of, machine_of, short, split_series


@dataclass(frozen=True, slots=True)
class ReadingTile:
    sensor: str
    value: float
    unit: str | None
    alarmed: bool

    @property
    def text(self) -> str:
        return f"{format_value(self.value)} {self.unit or ''}".strip()


def format_value(value: float) -> str:
    """Four significant digits, thousands separated from 1,000 on (12,000 rpm, 62.14 °C, 0.0123 mm)."""
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.4g}"


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
) -> list[LineTiles]:
    """Tiles for every machine that has readings or a state: its current state (`current`, the interval it is
    in at the window's end), its OEE over the window (`oee`, from `query.oee`), latest readings, active alarms."""
    readings: dict[str, list[ReadingTile]] = {}
    alarmed = {a.series for a in active}
    for series, value, unit in zip(latest["series"], latest["value"].astype(float), latest["unit"], strict=True):
        parts = split_series(str(series))
        if not parts.machine:
            continue  # not a machine's series (written by hand): no tile to put it on
        reading = ReadingTile(parts.sensor, float(value), unit if isinstance(unit, str) else None, series in alarmed)
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
