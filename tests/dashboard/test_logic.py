"""The dashboard's pure modules, without Streamlit: window, SPC view, explanations, OEE adapters, tiles, CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import alarmview
import csvexport
import explain
import numpy as np
import oeeview
import pandas as pd
import plantinfo
import pytest
import spcview
import tiles
import timewin

from smartfactory import spc
from smartfactory.model import Alarm, PartResult, StateChange
from smartfactory.settings import load_settings

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


def test_live_monitor_limits_are_the_streaming_monitors() -> None:
    rng = np.random.default_rng(1)
    x = 10 + rng.normal(0, 1, 200)
    ts = np.arange(200, dtype=np.int64) * 1000
    learned = spcview.learn_limits(ts[:50], x[:50])
    assert learned is not None
    monitor = spc.SeriesMonitor("s", learn=50)
    for t, v in zip(ts[:50], x[:50], strict=True):
        monitor.update(int(t), float(v))
    assert monitor.limits is not None
    assert learned.limits.center == pytest.approx(monitor.limits.center)
    assert learned.limits.sigma == pytest.approx(monitor.limits.sigma)
    # a window that starts after the learning readings: no phase I band, limits unchanged
    view = spcview.variables_chart("I-MR", ts[100:], x[100:], rules=spc.WE_RULES, phase1=50, learned=learned)
    assert view.phase1_span is None
    assert float(view.main.center) == pytest.approx(learned.limits.center)
    assert float(view.main.ucl) == pytest.approx(learned.limits.ucl)
    # a window that covers them: the band spans exactly the learning readings
    covering = spcview.variables_chart("I-MR", ts, x, rules=spc.WE_RULES, phase1=50, learned=learned)
    assert covering.phase1_span == (np.datetime64(0, "ms"), np.datetime64(49_000, "ms"))


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


# ------------------------------------------------------------------------------------------ explanations


def test_why_names_the_rule_and_the_numbers() -> None:
    x = np.zeros(30)
    x[::2] = 1.0
    x[1::2] = -1.0
    x[25] = 10.0
    chart = spc.imr(x, phase1=20, rules=spc.ALL_RULES).main
    reasons = explain.why(chart, 25)
    ucl = float(chart.ucl)
    assert reasons[0] == f"WE1: 1 point beyond the 3σ limits (10 is above the UCL {ucl:.4g})"
    assert explain.why(chart, 0) == []
    table = explain.violations_table(chart, np.arange(30).astype("datetime64[s]"))
    assert 25 in {int(t.timestamp()) for t in table["time (UTC)"]}


def test_why_for_runs_and_time_weighted_signals() -> None:
    x = np.concatenate([np.tile([0.5, -0.5], 10), np.full(10, 0.6)])
    chart = spc.imr(x, phase1=20, rules=("WE4",)).main
    assert explain.why(chart, 27) == [
        "WE4: 8 consecutive points on one side of the centre line (8 points in a row above the centre 0)"
    ]
    shifted = np.concatenate([np.zeros(30) + np.tile([0.1, -0.1], 15), np.full(30, 3.0)])
    cusum = spc.cusum(shifted, phase1=30)
    first = int(np.flatnonzero(cusum.signal)[0])
    assert explain.why(cusum, first)[0].startswith("CUSUM: C⁺ = ")
    ewma = spc.ewma(shifted, phase1=30)
    first = int(np.flatnonzero(ewma.signal)[0])
    assert "EWMA: z = " in explain.why(ewma, first)[0]


def test_thinning_keeps_extremes_and_every_run_start() -> None:
    rng = np.random.default_rng(3)
    y = rng.normal(0, 1, 100_000)
    y[54_321] = 50.0
    idx = explain.plot_indices(y, 2000)
    assert len(idx) <= 2002
    assert 54_321 in idx
    assert list(explain.plot_indices(y[:10], 2000)) == list(range(10))
    flagged = np.zeros(10_000, dtype=bool)
    flagged[100:5000] = True
    flagged[7000] = True
    marks = explain.marker_indices(flagged, 50)
    assert len(marks) <= 50
    assert {100, 7000} <= set(marks.tolist())


# ------------------------------------------------------------------------------------------ OEE adapters


def test_intervals_pareto_and_ideal_cycle_estimate() -> None:
    changes = [
        StateChange(M, 0, "running"),
        StateChange(M, 600_000, "down", "jam"),
        StateChange(M, 660_000, "running"),
        StateChange(M, 1_200_000, "setup", "changeover"),
        StateChange(M, 1_380_000, "running"),
        StateChange(M, 1_500_000, "bogus"),  # not a known state: skipped
    ]
    ivs = oeeview.intervals(changes, 1_800_000)
    assert [(str(iv.state), iv.start_ms, iv.end_ms) for iv in ivs][:2] == [
        ("running", 0, 600_000),
        ("down", 600_000, 660_000),
    ]
    assert ivs[0].line == "machining/line-1"
    pareto = oeeview.downtime_pareto(ivs, 0, 1_800_000)
    assert list(pareto["cause"]) == ["setup: changeover", "down: jam"]  # 3 minutes before 1 minute
    assert list(pareto["hours"]) == pytest.approx([3 / 60, 1 / 60])
    assert pareto["cumulative"].iloc[-1] == pytest.approx(1.0)
    parts = [PartResult(M, t, str(t), True) for t in (0, 10_000, 20_000, 35_000, 45_000, 55_000)]
    gaps = np.array([10, 10, 15, 10, 10], dtype=float)
    assert oeeview.estimate_ideal_cycle(parts) == {M: pytest.approx(float(np.percentile(gaps, 10)))}
    assert oeeview.estimate_ideal_cycle(parts[:4]) == {}  # too few parts to say


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
    changes = [StateChange(M, 0, "running"), StateChange(M, 1000, "down", "breakdown")]
    active = [Alarm("a", f"{M}/telemetry/temp", 500, ("WE1",), 70.0)]
    lines = tiles.build(latest, changes, [], active, {}, 0, 2000)
    assert [line.line for line in lines] == ["machining/line-1", "moulding/line-2"]
    cnc = lines[0].machines[0]
    assert (cnc.state, cnc.reason, cnc.state_since_ms, cnc.oee) == ("down", "breakdown", 1000, None)
    assert [(r.sensor, r.text, r.alarmed) for r in cnc.readings] == [
        ("speed", "12,000 rpm", False),
        ("temp", "61.23 °C", True),
    ]
    assert lines[1].machines[0].state is None


# ------------------------------------------------------------------------------------------ plant, alarms, CSV


def test_plant_info_from_the_shipped_plant_and_a_broken_one(tmp_path: Path) -> None:
    info = plantinfo.load_plant_info(load_settings())
    assert info.ideal_cycle_s  # every machine of the default plant has one (the type's or the plant file's)
    assert not info.problems
    broken = tmp_path / "sims"
    (broken / "plants").mkdir(parents=True)
    (broken / "plants" / "default.toml").write_text("this is not toml [")
    bad = plantinfo.load_plant_info(load_settings(sim={"dir": broken}))
    assert bad.problems
    assert bad.spec_for_series(f"{M}/telemetry/x") == plantinfo.SpecLimits()
    assert plantinfo.spec_of({"lsl": 1}, {"lsl": 0, "usl": 2}) == plantinfo.SpecLimits(1.0, 2.0, None)


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
