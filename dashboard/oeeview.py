"""Stored machine states and part results → the `kpi` engine's inputs and the tables the pages show (pure).

The storage protocol returns state *changes* and parts; `kpi` wants whole state intervals with a line, part
events and an ideal cycle time per machine. A machine is named by its path (`acme/plant1/machining/line-1/
cnc-01`), its line by `area/line` (`machining/line-1`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from smartfactory import kpi
from smartfactory.model import PartResult, StateChange

#: Three 8-hour shifts around the clock (UTC), for per-shift figures when the plant file defines no calendar.
THREE_SHIFTS = kpi.ShiftCalendar(
    (
        kpi.Shift("early", "06:00", "14:00"),
        kpi.Shift("late", "14:00", "22:00"),
        kpi.Shift("night", "22:00", "06:00"),
    )
)
#: At least this many parts are needed to estimate an ideal cycle time from the data.
MIN_PARTS_FOR_ESTIMATE = 5


def line_of(machine: str) -> str:
    levels = machine.split("/")
    return "/".join(levels[2:4]) if len(levels) >= 5 else machine


def short(machine: str) -> str:
    return machine.rsplit("/", 1)[-1]


def current_states(changes: Iterable[StateChange]) -> dict[str, StateChange]:
    """The latest change of each machine (its current state)."""
    latest: dict[str, StateChange] = {}
    for change in changes:
        known = latest.get(change.machine)
        if known is None or change.ts_ms >= known.ts_ms:
            latest[change.machine] = change
    return latest


def intervals(changes: Iterable[StateChange], until_ms: int) -> list[kpi.StateInterval]:
    """Whole state intervals (the last one open until `until_ms`); unknown states are skipped."""
    known = {s.value for s in kpi.State}
    kpi_changes = [
        kpi.StateChange(c.machine, line_of(c.machine), c.state, c.reason, c.ts_ms) for c in changes if c.state in known
    ]
    return kpi.intervals_from_changes(kpi_changes, until_ms)


def part_events(parts: Iterable[PartResult]) -> list[kpi.PartEvent]:
    return [kpi.PartEvent(p.machine, line_of(p.machine), p.ts_ms, p.good) for p in parts]


def estimate_ideal_cycle(parts: Sequence[PartResult]) -> dict[str, float]:
    """Per machine, the 10th percentile of the gaps between consecutive parts (seconds).

    A stand-in when the plant file gives no ideal cycle time: the fastest cycles the machine actually achieved,
    robust to a few outliers. Performance is then measured against the machine's own best, not its rating.
    """
    stamps: dict[str, list[int]] = {}
    for part in parts:
        stamps.setdefault(part.machine, []).append(part.ts_ms)
    out: dict[str, float] = {}
    for machine, ts in stamps.items():
        if len(ts) < MIN_PARTS_FOR_ESTIMATE:
            continue
        gaps = np.diff(np.sort(np.asarray(ts, dtype=np.int64)))
        gaps = gaps[gaps > 0]
        if gaps.size:
            out[machine] = float(np.percentile(gaps, 10)) / 1000.0
    return out


def machines_of(ivs: Iterable[kpi.StateInterval], parts: Iterable[kpi.PartEvent]) -> list[str]:
    return sorted({iv.machine for iv in ivs} | {p.machine for p in parts})


def compute(
    ivs: Sequence[kpi.StateInterval],
    parts: Sequence[kpi.PartEvent],
    ideal_cycle_s: Mapping[str, float],
    since_ms: int,
    until_ms: int,
    calendar: kpi.ShiftCalendar | None = None,
    settings: kpi.OeeSettings | None = None,
) -> kpi.OeeReport | None:
    """The OEE report for the machines that have an ideal cycle time; None when there is nothing to compute."""
    usable = {m for m in machines_of(ivs, parts) if ideal_cycle_s.get(m, 0) > 0}
    if not usable or until_ms <= since_ms:
        return None
    return kpi.compute_oee(
        [iv for iv in ivs if iv.machine in usable],
        [p for p in parts if p.machine in usable],
        {m: ideal_cycle_s[m] for m in usable},
        since_ms,
        until_ms,
        calendar=calendar,
        settings=settings,
    )


def report_table(report: kpi.OeeReport) -> pd.DataFrame:
    """One row per (machine | line | plant) × (window | shift): the four ratios (0..1) and the counts."""
    rows = [
        {
            "shift": r.shift or "whole window",
            "level": r.level.value,
            "name": short(r.name) if r.level is kpi.Level.MACHINE else r.name,
            "availability": r.availability,
            "performance": r.performance,
            "quality": r.quality,
            "oee": r.oee,
            "parts": r.total_count,
            "scrap": r.scrap_count,
            "run_h": r.run_s / 3600.0,
            "planned_h": r.planned_production_s / 3600.0,
            "failures": r.failures,
            "perf_capped": r.performance_capped,
        }
        for r in report.rows
    ]
    return pd.DataFrame(rows)


def losses_table(report: kpi.OeeReport) -> pd.DataFrame:
    """The six big losses (hours) per machine over the whole window."""
    rows = []
    for r in report.rows:
        if r.level is kpi.Level.MACHINE and r.shift is None:
            losses = r.losses
            rows.append(
                {
                    "machine": short(r.name),
                    "breakdowns": losses.breakdowns / 3600,
                    "setup & adjustments": losses.setup_adjustments / 3600,
                    "small stops": losses.small_stops / 3600,
                    "reduced speed": max(0.0, losses.reduced_speed) / 3600,
                    "start-up rejects": losses.startup_rejects / 3600,
                    "production rejects": losses.production_rejects / 3600,
                }
            )
    return pd.DataFrame(rows)


def segments(ivs: Iterable[kpi.StateInterval], since_ms: int, until_ms: int) -> pd.DataFrame:
    """State intervals clipped to the window: machine, state, reason, start_ms, end_ms."""
    rows = [
        {
            "machine": iv.machine,
            "state": str(iv.state),
            "reason": iv.reason,
            "start_ms": max(iv.start_ms, since_ms),
            "end_ms": min(iv.end_ms, until_ms),
        }
        for iv in ivs
        if iv.end_ms > since_ms and iv.start_ms < until_ms
    ]
    return pd.DataFrame(rows, columns=["machine", "state", "reason", "start_ms", "end_ms"])


def downtime_pareto(ivs: Iterable[kpi.StateInterval], since_ms: int, until_ms: int) -> pd.DataFrame:
    """Stop time in the window by `state: reason`, largest first, with the cumulative share (Pareto).

    Counts down, setup and idle time; running and planned downtime (breaks, no orders) are not losses.
    """
    seg = segments(ivs, since_ms, until_ms)
    seg = seg[seg["state"].isin(["down", "setup", "idle"])]
    if seg.empty:
        return pd.DataFrame(columns=["cause", "state", "hours", "share", "cumulative"])
    seg = seg.assign(
        cause=[f"{s}: {r or 'no reason'}" for s, r in zip(seg["state"], seg["reason"], strict=True)],
        hours=(seg["end_ms"] - seg["start_ms"]) / 3_600_000,
    )
    table = pd.DataFrame(seg.groupby(["cause", "state"], as_index=False)["hours"].sum())
    table = table.sort_values(by=["hours", "cause"], ascending=[False, True]).reset_index(drop=True)
    total = float(table["hours"].sum())
    table["share"] = table["hours"] / total if total > 0 else 0.0
    table["cumulative"] = table["share"].cumsum()
    return table


def series_label(series: str) -> str:
    """`machining/line-1 · cnc-01 · spindle_temp` for a series id."""
    machine, _, sensor = series.rpartition("/telemetry/")
    return f"{line_of(machine)} · {short(machine)} · {sensor}"
