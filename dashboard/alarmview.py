"""Alarm tables and filters for the Alarms page (pure: no Streamlit).

The tables are text, cell by cell: times as `2026-11-22 10:08:20` (UTC; sorts like the time), values to their
signal's resolution (`numbers`), "—" where there is nothing (not acknowledged, not cleared), so no cell reads
"None". The message sits right after the rule ids. The page shows the newest `TABLE_ROWS` alarms in a table whose
cells wrap (a message of the live monitor runs to 150 characters, more than any screen's column), and all of
them in a dataframe whose message column is as wide as the longest message (`message_width`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from dashboard import numbers
from smartfactory.model import Alarm
from smartfactory.query.detection import DetectionReport
from smartfactory.query.series import line_of, machine_of, sensor_of, short

#: Decimals of a series' values (None: four significant digits).
Decimals = Callable[[str], int | None]
#: Pixels per character of the dataframe's font (Source Sans at 14 px: 6.2 px on average) with a margin, and
#: the column's padding; the widest message column (beyond it the grid scrolls sideways).
PX_PER_CHAR, PX_PADDING, MAX_MESSAGE_PX = 7.0, 28, 1200
MESSAGE = "message"
#: Alarms shown in the wrapping table (newest first); the rest only in the dataframe below it.
TABLE_ROWS = 50


def _no_decimals(series: str) -> int | None:
    return None


def status(alarm: Alarm) -> str:
    if alarm.active and alarm.acked_ms is None:
        return "active"
    if alarm.active:
        return "acknowledged"
    return "cleared" + (" (acknowledged)" if alarm.acked_ms is not None else "")


@dataclass(frozen=True, slots=True)
class Filters:
    lines: tuple[str, ...] = ()
    machines: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()

    def keep(self, alarm: Alarm) -> bool:
        machine = machine_of(alarm.series)
        if self.lines and line_of(machine) not in self.lines:
            return False
        if self.machines and machine not in self.machines:
            return False
        return not self.rules or bool(set(alarm.rules) & set(self.rules))


def options(alarms: Iterable[Alarm]) -> tuple[list[str], list[str], list[str]]:
    """Lines, machines and rule ids that occur in the alarms (filter choices)."""
    listed = list(alarms)
    machines = sorted({machine_of(a.series) for a in listed})
    return (
        sorted({line_of(m) for m in machines}),
        machines,
        sorted({r for a in listed for r in a.rules}),
    )


def utc_text(ts_ms: int | None) -> str:
    """`2026-11-22 10:08:20` (UTC), "—" for none."""
    return numbers.MISSING if ts_ms is None else pd.Timestamp(ts_ms, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M:%S")


def table(alarms: Sequence[Alarm], decimals: Decimals = _no_decimals) -> pd.DataFrame:
    """Newest first: raised, machine, sensor, rules, message, value, status, acknowledged by, cleared. (The line
    is in the filters; as a column it would push the table past a projector's width.)"""
    rows = [
        {
            "raised (UTC)": utc_text(a.ts_ms),
            "machine": short(machine_of(a.series)),
            "sensor": sensor_of(a.series),
            "rules": ", ".join(a.rules),
            MESSAGE: a.message or ", ".join(a.rules),
            "value": numbers.fmt(a.value, decimals(a.series)),
            "status": status(a),
            "acknowledged by": a.acked_by or numbers.MISSING,
            "cleared (UTC)": utc_text(a.cleared_ms),
        }
        for a in sorted(alarms, key=lambda a: a.ts_ms, reverse=True)
    ]
    columns = ["raised (UTC)", "machine", "sensor", "rules", MESSAGE, "value", "status", "acknowledged by"]
    return pd.DataFrame(rows, columns=[*columns, "cleared (UTC)"])


def message_width(frame: pd.DataFrame) -> int:
    """Pixels for the message column to show its longest message whole (up to `MAX_MESSAGE_PX`)."""
    longest = max((len(str(m)) for m in frame[MESSAGE]), default=10) if MESSAGE in frame else 10
    return min(MAX_MESSAGE_PX, round(longest * PX_PER_CHAR + PX_PADDING))


def detection_table(report: DetectionReport) -> pd.DataFrame:
    rows = []
    for d in report.detections:
        ep = d.episode
        rows.append(
            {
                "machine": short(ep.machine),
                "fault": ep.fault,
                "sensor": ep.sensor or "(any)",
                "started (UTC)": utc_text(ep.start_ms),
                "repaired (UTC)": utc_text(ep.end_ms) if ep.end_ms is not None else "still active",
                "detected": "yes" if d.detected else "missed",
                "delay (s)": numbers.MISSING if d.delay_ms is None else f"{d.delay_ms / 1000:.1f}",
                "rules": ", ".join(d.rules) or numbers.MISSING,
                "alarm on": numbers.MISSING if d.alarm_series is None else sensor_of(d.alarm_series),
                "alarms during": d.alarms_during,
            }
        )
    columns = ["machine", "fault", "sensor", "started (UTC)", "repaired (UTC)", "detected", "delay (s)", "rules"]
    return pd.DataFrame(rows, columns=[*columns, "alarm on", "alarms during"])
