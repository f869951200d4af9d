"""The dashboard's pure modules, without Streamlit: window, SPC view, OEE tables, tiles, alarms, CSV."""

from __future__ import annotations

import csv
import io

import numpy as np
import pandas as pd
import pytest

from dashboard import alarmview, csvexport, numbers, oeeview, spcview, tiles, timewin
from smartfactory import kpi, spc
from smartfactory.ingest.monitor import MonitorStage
from smartfactory.model import Alarm, LimitsVersion, Reading, StateChange
from smartfactory.wire import SignalInfo

M = "acme/plant1/machining/line-1/cnc-01"
HOUR = 3_600_000


# ------------------------------------------------------------------------------------------ window


def test_window_ends_after_the_newest_reading() -> None:
    w = timewin.resolve("1 h", newest_ms=10 * HOUR, oldest_ms=0, now_ms=99 * HOUR)
    assert (w.since_ms, w.until_ms) == (9 * HOUR + 1, 10 * HOUR + 1)
    everything = timewin.resolve("All data", newest_ms=10 * HOUR, oldest_ms=2 * HOUR, now_ms=0)
    assert everything.since_ms == 2 * HOUR
    empty = timewin.resolve("15 min", newest_ms=None, oldest_ms=None, now_ms=5 * HOUR)
    assert empty.until_ms == 5 * HOUR
    with pytest.raises(ValueError, match="unknown window"):
        timewin.resolve("1 year", None, None, 0)
    with pytest.raises(ValueError, match="end after"):
        timewin.custom(5, 5)


# ------------------------------------------------------------------------------------------ SPC view


def monitor_version(ts: np.ndarray, x: np.ndarray, learn: int) -> LimitsVersion:
    """The limits version the ingestion monitor records for a series after its first `learn` readings."""
    stage = MonitorStage(phase1_points=learn, rules="none")
    stage.observe([Reading("s", int(t), float(v)) for t, v in zip(ts, x, strict=True)])
    (version,) = stage.take_limit_changes()
    return version


def test_stored_monitor_limits_set_the_chart() -> None:
    rng = np.random.default_rng(1)
    x = 10 + rng.normal(0, 1, 200)
    ts = np.arange(200, dtype=np.int64) * 1000
    stored = monitor_version(ts, x, 50)
    assert (stored.source, stored.n, stored.ts_ms) == ("learned", 50, 49_000)
    assert stored.center == pytest.approx(float(np.mean(x[:50])))
    # a window that starts after the learning readings: no phase I band, the stored limits unchanged
    view = spcview.variables_chart("I-MR", ts[100:], x[100:], rules=spc.WE_RULES, phase1=50, monitor=stored)
    assert view.phase1_span is None
    assert float(view.main.center) == pytest.approx(stored.center)
    assert float(view.main.ucl) == pytest.approx(stored.ucl)
    assert "as stored (version 1" in view.limits_note
    # a window that covers them: the band spans exactly the learning readings
    covering = spcview.variables_chart("I-MR", ts, x, rules=spc.WE_RULES, phase1=50, monitor=stored)
    assert covering.phase1_span == (np.datetime64(0, "ms"), np.datetime64(49_000, "ms"))
    # configured limits (no learning readings) with their own width: no band, the stored ±kσ
    configured = LimitsVersion("s", 2, 0, 11.0, 0.5, 2.5, 0, "configured")
    narrow = spcview.variables_chart("I-MR", ts, x, rules=spc.WE_RULES, phase1=50, monitor=configured)
    assert narrow.phase1_span is None
    assert (float(narrow.main.center), float(narrow.main.ucl)) == pytest.approx((11.0, 11.0 + 2.5 * 0.5))
    table = spcview.limits_table([stored, configured])
    assert list(table["version"]) == [2, 1]
    assert list(table["UCL"]) == pytest.approx([configured.ucl, stored.ucl])


def test_window_limits_say_they_are_computed_here() -> None:
    x = np.arange(30, dtype=np.float64) % 3
    view = spcview.variables_chart("I-MR", np.arange(30) * 1000, x, rules=(), phase1=20)
    assert view.limits_note == "Limits computed here from the first 20 points of the window, not the monitor's."


def test_window_phase_one_and_subgroups() -> None:
    x = np.arange(23, dtype=np.float64)
    times, groups = spcview.consecutive_subgroups(np.arange(23) * 1000, x, 5)
    assert groups.shape == (4, 5)  # the incomplete fifth subgroup is dropped
    assert times[1] == np.datetime64(5000, "ms")
    view = spcview.variables_chart("X̄-S", np.arange(23) * 1000, x, rules=(), phase1=3, subgroup=5)
    assert view.main.n == 4
    assert view.phase1_span == (np.datetime64(0, "ms"), np.datetime64(10_000, "ms"))
    with pytest.raises(spc.SpcError, match="only 1 points"):
        spcview.variables_chart("I-MR", [0], [1.0], rules=(), phase1=2)


def test_bucket_counts_and_attribute_chart() -> None:
    ts = np.array([0, 10, 20, 700, 710, 2000])
    bad = np.array([1.0, 0.0, 0.0, 1.0, 1.0, 0.0])
    times, counts, sizes = spcview.bucket_counts(ts, bad, 500)
    assert list(times.astype(np.int64)) == [0, 500, 2000]
    assert list(counts) == [1.0, 2.0, 0.0]
    assert list(sizes) == [3.0, 2.0, 1.0]
    view = spcview.attribute_chart("p", times, counts, sizes, rules=spc.WE_RULES, phase1=3)
    assert float(view.main.center) == pytest.approx(3 / 6)  # p̄ = Σ scrap / Σ parts


def test_capability_table_and_default_series() -> None:
    rng = np.random.default_rng(2)
    cap = spcview.capability_study("I-MR", 10 + rng.normal(0, 1, 300), 6.0, 14.0, None)
    table = spcview.capability_table(cap)
    assert set(table["index"]) == {"Cp", "Cpk", "Cpl", "Cpu", "Cpm", "Pp", "Ppk"}
    row = table.set_index("index").loc["Cp"]
    assert row["95 % lower"] < row["estimate"] < row["95 % upper"]
    assert spcview.default_series(["a", "b", "c"], ["c", "b"]) == 1  # the newest active alarm wins
    assert spcview.default_series(["a"], ["zzz"]) == 0


# ------------------------------------------------------------------------------------------ OEE adapters


def test_segments_and_pareto() -> None:
    line = "machining/line-1"
    changes = [
        StateChange(M, 0, "running", None, line),
        StateChange(M, 600_000, "down", "jam", line),
        StateChange(M, 660_000, "running", None, line),
        StateChange(M, 1_200_000, "setup", "changeover", line),
        StateChange(M, 1_380_000, "running", None, line),
    ]
    ivs = kpi.intervals_from_changes(changes, 1_800_000)
    pareto = oeeview.downtime_pareto(ivs, 0, 1_800_000)
    assert list(pareto["cause"]) == ["setup: changeover", "down: jam"]  # 3 minutes before 1 minute
    assert list(pareto["hours"]) == pytest.approx([3 / 60, 1 / 60])
    assert pareto["cumulative"].iloc[-1] == pytest.approx(1.0)
    clipped = oeeview.segments(ivs, 630_000, 1_250_000)
    assert list(zip(clipped["state"], clipped["start_ms"], clipped["end_ms"], strict=True)) == [
        ("down", 630_000, 660_000),
        ("running", 660_000, 1_200_000),
        ("setup", 1_200_000, 1_250_000),
    ]


def test_calendar_choices_follow_the_plant() -> None:
    plant_calendar = kpi.ShiftCalendar((kpi.Shift("day", "06:00", "18:00"),))
    assert oeeview.calendar_choices(plant_calendar) == [oeeview.PLANT_CALENDAR]  # planned time as the CLI has it
    assert oeeview.calendar_of(oeeview.PLANT_CALENDAR, plant_calendar) is plant_calendar
    choices = oeeview.calendar_choices(None)
    assert oeeview.calendar_of(choices[0], None) is oeeview.THREE_SHIFTS
    assert oeeview.calendar_of(choices[1], None) is None


def test_tiles_group_machines_by_line_and_mark_alarms() -> None:
    other = "acme/plant1/moulding/line-2/imm-01"
    latest = pd.DataFrame(
        {
            "series": [f"{M}/telemetry/speed", f"{M}/telemetry/temp", f"{other}/telemetry/melt"],
            "ts": pd.to_datetime([0, 0, 0], unit="ms", utc=True),
            "value": [12000.4, 61.234567, 230.0],
            "unit": ["rpm", "°C", None],
        }
    )
    changes = [StateChange(M, 0, "running", None, "machining/line-1")]
    changes.append(StateChange(M, 1000, "down", "breakdown", "machining/line-1"))
    current = {iv.machine: iv for iv in kpi.intervals_from_changes(changes, 2000)}  # the last one wins
    active = [Alarm("a", f"{M}/telemetry/temp", 500, ("WE1",), 70.0)]
    lines = tiles.build(latest, current, {M: 0.5}, active)
    assert [line.line for line in lines] == ["machining/line-1", "moulding/line-2"]
    cnc = lines[0].machines[0]
    assert (cnc.state, cnc.reason, cnc.state_since_ms, cnc.oee) == ("down", "breakdown", 1000, 0.5)
    assert [(r.sensor, r.text, r.alarmed) for r in cnc.readings] == [
        ("speed", "12,000 rpm", False),
        ("temp", "61.23 °C", True),
    ]
    assert [a.alarm_id for a in cnc.alarms] == ["a"]
    assert (lines[1].machines[0].state, lines[1].machines[0].oee) == (None, None)


# ------------------------------------------------------------------------------------------ alarms, CSV


def test_alarm_status_filters_and_table() -> None:
    active = Alarm("a", f"{M}/telemetry/temp", 1000, ("WE1",), 1.0)
    acked = Alarm("b", f"{M}/telemetry/power", 2000, ("WE2",), 1.0, acked_ms=2500, acked_by="ana")
    cleared = Alarm("c", "acme/plant1/moulding/line-2/imm-01/telemetry/melt", 3000, ("N3",), 1.0, False, "", 4000)
    assert [alarmview.status(a) for a in (active, acked, cleared)] == ["active", "acknowledged", "cleared"]
    assert alarmview.Filters(rules=("WE2",)).keep(acked)
    assert not alarmview.Filters(lines=("moulding/line-2",)).keep(active)
    lines, machines, rules = alarmview.options([active, cleared])
    assert (lines, rules) == (["machining/line-1", "moulding/line-2"], ["N3", "WE1"])
    assert machines == [M, "acme/plant1/moulding/line-2/imm-01"]
    assert list(alarmview.table([active, acked, cleared])["sensor"]) == ["melt", "power", "temp"]  # newest first


def test_csv_matches_the_export_format() -> None:
    frame = pd.DataFrame({"ts": pd.to_datetime([1_000, 2_500], unit="ms", utc=True), "value": [1.5, -2.0]})
    rows = list(csv.reader(io.StringIO(csvexport.readings_csv(frame, f"{M}/telemetry/temp", "°C").decode())))
    assert rows == [
        ["topic", "ts", "value", "unit"],
        [f"{M}/telemetry/temp", "1970-01-01T00:00:01.000Z", "1.5", "°C"],
        [f"{M}/telemetry/temp", "1970-01-01T00:00:02.500Z", "-2.0", "°C"],
    ]
    agg = frame.assign(mean=[1.0, 2.0], min=[0.0, 1.0], max=[2.0, 3.0], count=[3, 4]).drop(columns="value")
    lines = csvexport.aggregates_csv(agg, "s", None).decode().splitlines()
    assert lines[0] == "topic,bucket_start,mean,min,max,count,unit"
    assert lines[2] == "s,1970-01-01T00:00:02.500Z,2.0,1.0,3.0,4,"


# ------------------------------------------------------------------------------------------ readable numbers


def test_numbers_follow_the_declared_resolution_or_the_spec_width() -> None:
    assert numbers.decimals_from_spec(24.985, 25.015) == 4  # a hundredth of 0.03 mm is 0.0003 mm
    assert numbers.decimals_from_spec(495.0, 509.0) == 1  # 0.14 g
    assert numbers.decimals_from_spec(0.0, 100.0) == 0
    assert numbers.decimals_from_spec(None, 1.0) is None
    declared = SignalInfo(kind="quality", unit="mm", lsl=24.985, usl=25.015, decimals=3)
    assert numbers.resolution(declared) == 3  # what the machine says wins
    assert numbers.resolution(SignalInfo(kind="quality", lsl=24.985, usl=25.015)) == 4
    assert numbers.resolution(SignalInfo(kind="process")) is None
    assert numbers.fmt(24.99612, 4, "mm") == "24.9961 mm"
    assert numbers.fmt(25.0, 4, "mm") == "25.0000 mm"  # the resolution shows, "25 mm" hides it
    assert numbers.fmt(9000.4, 0, "rpm") == "9,000 rpm"
    assert numbers.fmt(12000.4) == "12,000"
    assert numbers.fmt(61.234567) == "61.23"  # nothing known: four significant digits
    assert numbers.fmt(-0.00004, 3) == "0.000"  # no "-0.000"
    assert numbers.fmt(None) == numbers.fmt(float("nan"), 2) == "—"
    assert numbers.fmt_stat(25.00004, 4, "mm") == "25.00004 mm"
    assert (numbers.fmt_declared(25.015), numbers.fmt_declared(495.0), numbers.fmt_declared(1e-5)) == (
        "25.015",
        "495",
        "0.00001",
    )
    assert numbers.input_decimals(4, 25.015, None) == 4
    assert numbers.input_decimals(None, 0.25) == 2
    assert numbers.input_decimals(None) is None
    assert numbers.printf(3) == "%.3f"


def test_readings_grid_and_alarm_rate() -> None:
    grid = tiles.readings_html(
        [tiles.ReadingTile("dia<meter>", 24.9961, "mm", True, 4), tiles.ReadingTile("speed", 9000.0, "rpm", False, 0)]
    )
    assert '<div class="sf-value" style="--sf-chars: 10">24.9961 mm</div>' in grid
    assert "dia&lt;meter&gt;" in grid  # escaped
    assert grid.count("sf-alarmed") == 1
    alarms = [Alarm(str(i), f"{M}/telemetry/t", ts, ("WE1",), 1.0) for i, ts in enumerate([0, 10, HOUR, 2 * HOUR])]
    rate = tiles.alarm_rate(alarms, since_ms=0, until_ms=2 * HOUR, oldest_ms=None, budget_per_hour=1.0)
    assert (rate.count, rate.hours, rate.per_hour, rate.within_budget) == (3, 2.0, 1.5, False)
    young = tiles.alarm_rate(alarms, since_ms=0, until_ms=2 * HOUR, oldest_ms=HOUR, budget_per_hour=5.0)
    assert (young.hours, young.per_hour, young.within_budget) == (1.0, 3.0, True)  # data only from 1 h on
    empty = tiles.alarm_rate([], since_ms=5, until_ms=5, oldest_ms=None, budget_per_hour=1.0)
    assert (empty.per_hour, empty.within_budget) == (None, None)


def test_oee_tables_read_like_a_report() -> None:
    assert oeeview.duration_unit([0.0556, 1.9]) == ("min", 60.0)
    assert oeeview.duration_unit([0.5, 2.0]) == ("h", 1.0)
    assert oeeview.fmt_duration(0.0556, ("min", 60.0)) == "3.3 min"
    assert oeeview.fmt_duration(None, ("h", 1.0)) == "—"
    raw = pd.DataFrame(
        [
            {"shift": "whole window", "level": "machine", "name": "cnc-01", "availability": 0.9, "performance": None,
             "quality": float("nan"), "oee": None, "parts": 0, "scrap": 0, "run_h": 0.9, "planned_h": 1.0,
             "failures": 2, "perf_capped": False},
        ]
    )  # fmt: skip
    shown = oeeview.display_table(raw)
    assert list(shown.columns) == [
        "Level", "Name", "Availability", "Performance", "Quality", "OEE", "Parts", "Scrap", "Run time",
        "Planned time", "Breakdowns",
    ]  # fmt: skip
    row = shown.iloc[0]
    assert (row["Availability"], row["Performance"], row["Quality"], row["OEE"]) == ("90.0 %", "—", "—", "—")
    assert (row["Run time"], row["Planned time"]) == ("54.0 min", "60.0 min")
    capped = oeeview.display_table(raw.assign(perf_capped=True))
    assert list(capped["Performance capped"]) == ["yes"]
    line = "machining/line-1"
    changes = [StateChange(M, 0, "running", None, line), StateChange(M, 60_000, "idle", None, line)]
    pareto = oeeview.downtime_pareto(kpi.intervals_from_changes(changes, 180_000), 0, 180_000)
    assert list(pareto["cause"]) == ["idle: no reason given"]
    table, unit = oeeview.pareto_display(pareto)
    assert unit == ("min", 60.0)
    assert list(table["Time (min)"]) == pytest.approx([2.0])


def test_alarm_table_is_text_without_none() -> None:
    cleared = Alarm("c", f"{M}/telemetry/diameter", 3000, ("WE1",), 25.00291, False, "WE1: beyond", 4000)
    active = Alarm("a", f"{M}/telemetry/temp", 5000, ("WE2",), 61.2345, message="")
    table = alarmview.table([cleared, active], lambda s: 4 if s.endswith("diameter") else None)
    assert list(table["value"]) == ["61.23", "25.0029"]
    assert list(table["message"]) == ["WE2", "WE1: beyond"]  # no message: the rule ids
    assert list(table["acknowledged by"]) == ["—", "—"]
    assert list(table["cleared (UTC)"]) == ["—", "1970-01-01 00:00:04"]
    assert alarmview.message_width(table) == round(len("WE1: beyond") * alarmview.PX_PER_CHAR + alarmview.PX_PADDING)


def test_default_series_prefers_a_part_characteristic_and_links_take_ids() -> None:
    names = ["a/temp", "b/diameter", "c/fill_weight", "d/power"]
    assert spcview.default_series(names, ["d/power"], ["b/diameter", "c/fill_weight"]) == 1  # first characteristic
    assert spcview.default_series(names, ["c/fill_weight", "d/power"], ["b/diameter", "c/fill_weight"]) == 2
    assert spcview.default_series(names, ["d/power"], []) == 3  # no characteristic: the alarmed series
    assert spcview.series_from_url("b/diameter", names) == "b/diameter"
    assert spcview.series_from_url("machining · b · diameter", names) is None  # a label: the widget reads it
    assert spcview.series_from_url(None, names) is None
