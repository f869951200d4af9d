"""The OEE page's tables (pure: no Streamlit): the rows of a `kpi.OeeReport`, the six big losses, state segments
and the downtime Pareto.

The OEE itself comes from `smartfactory.query.oee`, the read path `smartfactory oee` uses too, so the page and
the command show the same figures for the same window. A machine is named by its path (`acme/plant1/machining/
line-1/cnc-01`), its line by the line id `area/line` (`machining/line-1`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd

from smartfactory import kpi
from smartfactory.query.series import short

#: Three 8-hour shifts around the clock (UTC): per-shift figures for a plant file without a calendar. They cover
#: every hour without breaks, so the whole-window figures are the same as without a calendar.
THREE_SHIFTS = kpi.ShiftCalendar(
    (
        kpi.Shift("early", "06:00", "14:00"),
        kpi.Shift("late", "14:00", "22:00"),
        kpi.Shift("night", "22:00", "06:00"),
    )
)
PLANT_CALENDAR = "plant calendar"
SHIFT_CHOICES: dict[str, kpi.ShiftCalendar | None] = {
    "three 8-hour shifts (UTC)": THREE_SHIFTS,
    "none (whole window only)": None,
}
RATIOS = ("availability", "performance", "quality", "oee")
RATIO_NAMES = ("Availability", "Performance", "Quality", "OEE")


def calendar_choices(plant_calendar: kpi.ShiftCalendar | None) -> list[str]:
    """The plant's calendar when it has one (planned time follows it, as in `smartfactory oee`); otherwise a
    choice of per-shift breakdowns that leave the whole-window figures unchanged."""
    return [PLANT_CALENDAR] if plant_calendar is not None else list(SHIFT_CHOICES)


def calendar_of(choice: str, plant_calendar: kpi.ShiftCalendar | None) -> kpi.ShiftCalendar | None:
    return plant_calendar if choice == PLANT_CALENDAR else SHIFT_CHOICES.get(choice)


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
        cause=[f"{s}: {_reason(r)}" for s, r in zip(seg["state"], seg["reason"], strict=True)],
        hours=(seg["end_ms"] - seg["start_ms"]) / 3_600_000,
    )
    table = pd.DataFrame(seg.groupby(["cause", "state"], as_index=False)["hours"].sum())
    table = table.sort_values(by=["hours", "cause"], ascending=[False, True]).reset_index(drop=True)
    total = float(table["hours"].sum())
    table["share"] = table["hours"] / total if total > 0 else 0.0
    table["cumulative"] = table["share"].cumsum()
    return table


def _reason(reason: object) -> str:
    """A state's reason as text: pandas turns a missing one into NaN (truthy, printed "nan"), hence the check."""
    return reason if isinstance(reason, str) and reason else "no reason given"


# ------------------------------------------------------------------------------------------ what the page shows

#: Below this many hours a duration is shown in minutes (0.0556 h is "3.3 min").
MINUTES_BELOW_H = 2.0


def duration_unit(hours: Iterable[float]) -> tuple[str, float]:
    """The unit for durations of up to `max(hours)`: ("min", 60) below `MINUTES_BELOW_H`, else ("h", 1)."""
    finite = [h for h in hours if h is not None and math.isfinite(h)]
    return ("min", 60.0) if max(finite, default=0.0) < MINUTES_BELOW_H else ("h", 1.0)


def fmt_duration(hours: float | None, unit: tuple[str, float]) -> str:
    if hours is None or not math.isfinite(hours):
        return "—"
    name, factor = unit
    value = hours * factor
    return f"{value:,.1f} {name}" if value < 100 else f"{value:,.0f} {name}"


#: Column titles of the OEE tables (the report's field → what the page prints).
TITLES = {
    "shift": "Shift",
    "level": "Level",
    "name": "Name",
    "availability": "Availability",
    "performance": "Performance",
    "quality": "Quality",
    "oee": "OEE",
    "parts": "Parts",
    "scrap": "Scrap",
    "run_h": "Run time",
    "planned_h": "Planned time",
    "failures": "Breakdowns",
    "perf_capped": "Performance capped",
}


def display_table(table: pd.DataFrame, *, shifts: bool = False) -> pd.DataFrame:
    """Rows of `report_table` as the page prints them: human titles, ratios as percent, durations in minutes or
    hours (one unit per column), "—" for a figure that does not exist (a machine planned for no time has no
    availability), and where performance above 100 % was capped a column saying so. Every cell is text:
    nothing reads "nan" or "None"."""
    unit = duration_unit([*table["run_h"], *table["planned_h"]]) if not table.empty else ("h", 1.0)
    out = pd.DataFrame(
        {
            **({"Shift": table["shift"]} if shifts else {}),
            "Level": table["level"],
            "Name": table["name"],
            **{TITLES[r]: [percent(v) for v in table[r]] for r in RATIOS},
            "Parts": [f"{int(v):,}" for v in table["parts"]],
            "Scrap": [f"{int(v):,}" for v in table["scrap"]],
            "Run time": [fmt_duration(v, unit) for v in table["run_h"]],
            "Planned time": [fmt_duration(v, unit) for v in table["planned_h"]],
            "Breakdowns": [f"{int(v):,}" for v in table["failures"]],
        }
    )
    if table["perf_capped"].any():  # only when it happened: an empty column would only push others off screen
        out["Performance capped"] = ["yes" if bool(v) else "" for v in table["perf_capped"]]
    return out.reset_index(drop=True)


def shift_pivot(table: pd.DataFrame) -> pd.DataFrame:
    """OEE per machine (rows) and shift (columns) as text, "—" where a machine has no figure for a shift."""
    shifts = table[(table["shift"] != "whole window") & (table["level"] == "machine")]
    pivot = shifts.pivot_table(index="name", columns="shift", values="oee", aggfunc="first", sort=False, dropna=False)
    shown = pivot.map(percent)
    shown.index.name = "Machine"
    shown.columns.name = None
    return shown


def pareto_display(table: pd.DataFrame) -> tuple[pd.DataFrame, tuple[str, float]]:
    """The Pareto table as printed: cause, time in minutes (or hours from `MINUTES_BELOW_H` on), share, cumulative."""
    unit = duration_unit(table["hours"])
    name, factor = unit
    shown = pd.DataFrame(
        {
            "Cause": table["cause"],
            f"Time ({name})": table["hours"] * factor,
            "Share": table["share"],
            "Cumulative": table["cumulative"],
        }
    )
    return shown, unit


def whole_window(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of `report_table` over the whole window (no shift)."""
    return table[table["shift"] == "whole window"]


def percent(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value * 100:.1f} %"


def losses_unit(losses: pd.DataFrame) -> tuple[str, float]:
    """The unit for the six big losses: minutes when no machine lost `MINUTES_BELOW_H` hours in all."""
    totals = losses.drop(columns="machine").sum(axis=1) if not losses.empty else pd.Series(dtype=float)
    return duration_unit(totals)


def plant_metrics(table: pd.DataFrame) -> dict[str, str]:
    """`Availability (plant)` … `OEE (plant)` → the plant's whole-window figure as text."""
    whole = whole_window(table)
    row = whole[whole["level"] == "plant"].iloc[0]
    return {f"{name} (plant)": percent(row[key]) for key, name in zip(RATIOS, RATIO_NAMES, strict=True)}


def excluded_warning(excluded: Iterable[str], plant_source: str) -> str:
    names = ", ".join(short(m) for m in excluded)
    return (
        f"No ideal cycle time for {names}: left out of every figure below. Its birth message announced none and "
        f"{plant_source} sets none; set `ideal_cycle_s` for it there (the same rule as `smartfactory oee`)."
    )
