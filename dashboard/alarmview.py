"""Alarm tables and filters for the Alarms page (pure: no Streamlit)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

from smartfactory.model import Alarm
from smartfactory.query.detection import DetectionReport
from smartfactory.query.series import line_of, machine_of, sensor_of, short


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


def _utc(ts_ms: int | None) -> pd.Timestamp | None:
    return None if ts_ms is None else pd.Timestamp(ts_ms, unit="ms", tz="UTC")


def table(alarms: Sequence[Alarm]) -> pd.DataFrame:
    """Newest first: raised, line, machine, sensor, rules, value, status, acknowledged by, cleared, message."""
    rows = [
        {
            "raised (UTC)": _utc(a.ts_ms),
            "line": line_of(machine_of(a.series)),
            "machine": short(machine_of(a.series)),
            "sensor": sensor_of(a.series),
            "rules": ", ".join(a.rules),
            "value": a.value,
            "status": status(a),
            "acknowledged by": a.acked_by,
            "cleared (UTC)": _utc(a.cleared_ms),
            "message": a.message,
        }
        for a in sorted(alarms, key=lambda a: a.ts_ms, reverse=True)
    ]
    columns = ["raised (UTC)", "line", "machine", "sensor", "rules", "value", "status", "acknowledged by"]
    return pd.DataFrame(rows, columns=[*columns, "cleared (UTC)", "message"])


def detection_table(report: DetectionReport) -> pd.DataFrame:
    rows = []
    for d in report.detections:
        ep = d.episode
        rows.append(
            {
                "machine": short(ep.machine),
                "fault": ep.fault,
                "sensor": ep.sensor or "(any)",
                "started (UTC)": _utc(ep.start_ms),
                "repaired (UTC)": _utc(ep.end_ms),
                "detected": "yes" if d.detected else "missed",
                "delay (s)": None if d.delay_ms is None else d.delay_ms / 1000,
                "rules": ", ".join(d.rules),
                "alarm on": None if d.alarm_series is None else sensor_of(d.alarm_series),
                "alarms during": d.alarms_during,
            }
        )
    columns = ["machine", "fault", "sensor", "started (UTC)", "repaired (UTC)", "detected", "delay (s)", "rules"]
    return pd.DataFrame(rows, columns=[*columns, "alarm on", "alarms during"])
