"""The plant overview's model: one tile per machine, grouped by line (pure: no Streamlit)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import oeeview
import pandas as pd

from smartfactory import kpi
from smartfactory.model import Alarm, PartResult, StateChange


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
        return oeeview.short(self.machine)


@dataclass(frozen=True, slots=True)
class LineTiles:
    line: str
    machines: tuple[MachineTile, ...] = field(default_factory=tuple)


def build(
    latest: pd.DataFrame,
    changes: Sequence[StateChange],
    parts: Sequence[PartResult],
    active: Sequence[Alarm],
    ideal_cycle_s: Mapping[str, float],
    since_ms: int,
    until_ms: int,
    settings: kpi.OeeSettings | None = None,
) -> list[LineTiles]:
    """Tiles for every machine that has readings or states; OEE over the window where it can be computed."""
    readings: dict[str, list[ReadingTile]] = {}
    alarmed = {a.series for a in active}
    for series, value, unit in zip(latest["series"], latest["value"].astype(float), latest["unit"], strict=True):
        machine, _, sensor = str(series).rpartition("/telemetry/")
        reading = ReadingTile(sensor, float(value), unit if isinstance(unit, str) else None, series in alarmed)
        readings.setdefault(machine, []).append(reading)
    current = oeeview.current_states(changes)
    ivs = oeeview.intervals(changes, until_ms)
    events = oeeview.part_events(parts)
    report = oeeview.compute(ivs, events, ideal_cycle_s, since_ms, until_ms, settings=settings)
    oee: dict[str, float | None] = {}
    if report is not None:
        oee = {r.name: r.oee for r in report.rows if r.level is kpi.Level.MACHINE and r.shift is None}
    alarms_of: dict[str, list[Alarm]] = {}
    for alarm in active:
        alarms_of.setdefault(alarm.series.rpartition("/telemetry/")[0], []).append(alarm)
    lines: dict[str, list[MachineTile]] = {}
    for machine in sorted(set(readings) | set(current)):
        change = current.get(machine)
        tile = MachineTile(
            machine=machine,
            state=None if change is None else change.state,
            reason=None if change is None else change.reason,
            state_since_ms=None if change is None else change.ts_ms,
            oee=oee.get(machine),
            readings=tuple(sorted(readings.get(machine, []), key=lambda r: r.sensor)),
            alarms=tuple(sorted(alarms_of.get(machine, []), key=lambda a: a.ts_ms)),
        )
        lines.setdefault(oeeview.line_of(machine), []).append(tile)
    return [LineTiles(line, tuple(tiles)) for line, tiles in sorted(lines.items())]
