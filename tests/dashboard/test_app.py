"""Every dashboard page, headless through AppTest, against a seeded SQLite store: what each page shows.

Expected figures are computed here from the seed (see conftest.py) with the textbook formulas, not read back
from the dashboard's own helpers.
"""

from __future__ import annotations

import html
import json
import re
from datetime import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from smartfactory.model import DeadLetter
from smartfactory.storage.sqlite import SqliteStorage
from tests.dashboard.conftest import (
    APP,
    CNC,
    CNC_CYCLE_S,
    IMM_CYCLE_S,
    MELT,
    SCRAP,
    T0,
    TEMP,
    N,
    seed_store,
)

PAGES = ["overview", "machine", "spc", "alarms", "oee", "browse"]
UNTIL = T0 + (N - 1) * 1000 + 1  # the window ends just after the newest reading
SINCE = UNTIL - 3_600_000  # default window: 1 h


def open_page(page: str, **query: str) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=60)
    for key, value in query.items():
        app.query_params[key] = value
    app.run()
    if page != "overview":
        app.switch_page(f"app_pages/{page}.py")
        app.run()
    assert not app.exception, [e.message for e in app.exception]
    return app


def metrics(app: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in app.metric}


def texts(elements: Any) -> str:
    return "\n".join(str(e.value) for e in elements)


READING = re.compile(
    r'<div class="sf-reading( sf-alarmed)?"><div class="sf-label">(?:<span[^>]*>⚠</span> )?(.*?)</div>'
    r'<div class="sf-value"[^>]*>(.*?)</div></div>'
)


def readings(app: AppTest) -> list[tuple[str, str, bool]]:
    """The overview tiles' readings (sensor, value text, alarmed) in page order, from their HTML grids."""
    bodies = [str(h.proto.body) for h in app.get("html")]
    return [(html.unescape(m[2]), html.unescape(m[3]), bool(m[1])) for body in bodies for m in READING.finditer(body)]


def figure(app: AppTest, index: int = 0) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads(app.get("plotly_chart")[index].proto.spec)
    return spec


def values_of(series: str, path: Path) -> np.ndarray:
    store = SqliteStorage(f"sqlite:///{path}")
    try:
        return store.read_series(series)["value"].to_numpy()
    finally:
        store.close()


def sigma_mr(x: np.ndarray) -> float:
    """Montgomery: σ̂ = MR̄ / d2(2), d2(2) = 1.128."""
    return float(np.abs(np.diff(x)).mean() / 1.128)


# ------------------------------------------------------------------------------------------ empty store


@pytest.mark.parametrize("page", PAGES)
def test_every_page_guides_instead_of_failing_on_an_empty_store(dashboard_store: Path, page: str) -> None:
    app = open_page(page)
    guidance = texts(app.info)
    assert "smartfactory" in guidance  # names the command that fills the store
    assert not app.error


def test_sidebar_reports_store_and_unreachable_broker(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("overview")
    status = texts(app.sidebar.caption)
    assert "3 series" in status
    assert "not reachable" in status
    assert "1 h: 2026-11-22 09:09:59 → 2026-11-22 10:09:59 UTC" in status


# ------------------------------------------------------------------------------------------ overview


def test_overview_shows_tiles_by_line_with_state_oee_readings_and_alarms(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("overview")
    assert [h.value for h in app.header] == ["Line machining/line-1", "Line moulding/line-2"]
    assert [h.value for h in app.subheader] == ["cnc-01", "imm-01"]
    shown = texts(app.markdown)
    assert ":green-background[**RUNNING**] since 10:06:00" in shown  # back from the breakdown at T0 + 360 s
    assert ":green-background[**RUNNING**] since 10:02:40" in shown  # imm-01 after its changeover
    assert "1 active alarm" in shown
    assert "spindle_temp (WE1)" in shown
    # OEE = fully productive time / planned production time (no calendar: every recorded minute is planned).
    # cnc-01: recorded the whole hour, 57 good parts × 8 s; imm-01: recorded from T0 − 600 s, 30 good × 15 s.
    cnc_oee = (60 - len(SCRAP)) * CNC_CYCLE_S / 3600
    imm_oee = 30 * IMM_CYCLE_S / ((UNTIL - (T0 - 600_000)) / 1000)
    oee_values = [m.value for m in app.metric if m.label == "OEE (window)"]
    assert oee_values == [f"{cnc_oee * 100:.1f} %", f"{imm_oee * 100:.1f} %"]
    tile = {sensor: (value, alarmed) for sensor, value, alarmed in readings(app)}
    assert tile["spindle_temp"][1]  # the alarmed sensor is marked
    assert not tile["power"][1]
    power = values_of(f"{CNC}/telemetry/power", dashboard_store)[-1]
    assert tile["power"][0] == f"{power:.4g} kW"  # power declares no decimals and no spec: four digits
    temp = values_of(TEMP, dashboard_store)[-1]
    assert tile["spindle_temp"][0] == f"{temp:.2f} °C"  # spec 58-66 °C: a hundredth of 8 °C needs 2 decimals


# ------------------------------------------------------------------------------------------ machine


def test_machine_page_draws_every_sensor_with_spec_limits_and_the_state_strip(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("machine")
    spec = figure(app)
    names = {t.get("name") for t in spec["data"]}
    assert {"power", "spindle_temp", "running", "down"} <= names
    annotations = {a["text"] for a in spec["layout"]["annotations"]}
    assert {"LSL 58", "USL 66", "LSL 19.9", "USL 20.1"} <= annotations  # sensor and part-characteristic limits
    assert {"power [kW]", "spindle_temp [°C]", "part diameter", "machine state"} <= annotations
    table = app.dataframe[0].value
    minutes = dict(zip(table["state"], table["minutes"], strict=True))
    assert minutes["down"] == pytest.approx(1.0)  # the breakdown T0 + 300 s … T0 + 360 s
    assert minutes["running"] == pytest.approx(59.0)
    assert metrics(app)["Parts made"] == "60"
    assert metrics(app)["Scrap"] == str(len(SCRAP))


def test_machine_page_follows_the_selected_machine(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("machine")
    app.selectbox(key="machine").select("acme/plant1/moulding/line-2/imm-01").run()
    names = {t.get("name") for t in figure(app)["data"]}
    assert "melt_temp" in names
    assert "setup" in names
    assert "power" not in names


# ------------------------------------------------------------------------------------------ SPC


def test_spc_opens_on_the_alarmed_series_with_the_live_monitors_limits(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("spc")
    assert app.selectbox(key="series").value == TEMP  # the series with the newest active alarm
    x = values_of(TEMP, dashboard_store)
    centre, sigma = x[:50].mean(), sigma_mr(x[:50])  # settings.spc.phase1_points = 50
    shown = metrics(app)
    # spindle_temp's spec 58-66 °C gives its values 2 decimals (a hundredth of the tolerance), statistics 3
    assert shown["Centre"] == f"{centre:.3f}"
    assert shown["σ of the chart (live monitor's)"] == f"{sigma:.3f}"
    assert "learned from the first 50 readings" in texts(app.caption)
    spec = figure(app)
    violations = next(t for t in spec["data"] if str(t.get("name", "")).startswith("violations"))
    beyond = np.flatnonzero(np.abs(x - centre) > 3 * sigma)
    assert beyond.size >= 1
    hover = "\n".join(violations["hovertext"])
    assert hover.count("WE1: 1 point beyond the 3σ limits") >= beyond.size
    assert f"70.00 is above the UCL {centre + 3 * sigma:.3f}" in hover  # says which rule and why
    assert any(str(t.get("name", "")).startswith("MR violations") for t in spec["data"])  # companion chart


def test_spc_phase_one_in_the_window_and_an_xbar_r_chart(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("spc", chart="X̄-R")
    app.radio(key="limits_mode").set_value("phase I in this window").run()
    x = values_of(TEMP, dashboard_store)
    groups = x[: 50 * 5].reshape(50, 5)  # phase I: the first 50 subgroups of 5 consecutive readings
    d2_5 = 2.326
    sigma = float(np.mean(groups.max(axis=1) - groups.min(axis=1)) / d2_5)
    shown = metrics(app)
    assert shown["Points"] == str(N // 5)
    assert shown["Centre"] == f"{groups.mean():.3f}"
    assert shown["σ of the chart (R̄/d₂)"] == f"{sigma:.3f}"
    titles = {a["text"] for a in figure(app)["layout"]["annotations"]}
    assert {"Subgroup means (X̄)", "Subgroup ranges (R)", "phase I"} <= titles


def test_spc_p_chart_of_scrap_parts(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("spc", chart="p")
    app.selectbox(key="spc_machine").select(CNC).run()
    # 5-minute buckets from the first part: [T0, T0+300 s) has 30 parts, 2 scrap; the next 30 parts, 1 scrap
    shown = metrics(app)
    assert shown["Points"] == "2"
    assert shown["Centre"] == f"{len(SCRAP) / 60:.4g}"


@pytest.mark.parametrize(("chart", "trace"), [("EWMA", "EWMA"), ("CUSUM", "C⁺")])
def test_spc_time_weighted_charts(dashboard_store: Path, chart: str, trace: str) -> None:
    seed_store(dashboard_store)
    app = open_page("spc", chart=chart)
    names = {t.get("name") for t in figure(app)["data"]}
    assert trace in names
    assert metrics(app)["Points"] == str(N)


def test_spc_capability_uses_the_plant_spec_limits(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("spc")
    x = values_of(TEMP, dashboard_store)
    cp = (66.0 - 58.0) / (6 * sigma_mr(x))  # Cp = (USL − LSL) / 6σ̂, σ̂ within = MR̄/1.128 of the window
    table = app.dataframe[-1].value
    estimates = dict(zip(table["index"], table["estimate"], strict=True))
    assert estimates["Cp"] == pytest.approx(cp, rel=1e-9)
    assert {"Cp", "Cpk", "Cpl", "Cpu", "Pp", "Ppk"} <= set(estimates)
    assert "95 % lower" in table.columns


def test_spc_part_characteristic(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("spc")
    app.radio(key="spc_source").set_value("part measurements").run()
    assert metrics(app)["Points"] == "60"
    table = app.dataframe[-1].value
    assert "Cp" in set(table["index"])  # limits 19.9 / 20.1 from the type's `quality`


# ------------------------------------------------------------------------------------------ alarms


def test_alarms_page_lists_active_and_past_alarms_and_the_detection_report(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("alarms")
    headers = [h.value for h in app.header]
    assert "Active alarms (1)" in headers
    assert "Past alarms in the window (1)" in headers
    active = app.table[0].value
    assert list(active["sensor"]) == ["spindle_temp"]
    assert list(active["status"]) == ["active"]
    shown = metrics(app)
    # shift on cnc-01 at T0 + 495 s, alarm a1 at T0 + 500 s: detected after 5 s; the drift on imm-01 was
    # repaired before a2 was raised: missed, and a2 is a false alarm
    assert (shown["Faults"], shown["Detected"], shown["Missed"]) == ("2", "1", "1")
    assert shown["Median delay"] == "5.0 s"
    assert shown["False alarms"] == "1"
    report = app.dataframe[-1].value
    assert sorted(report["detected"]) == ["missed", "yes"]


def test_alarm_rows_link_to_their_spc_chart(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("alarms")
    link = app.get("page_link")[0].proto
    query = parse_qs(link.query_string)
    assert link.page == "spc"
    assert query == {"series": ["machining/line-1 · cnc-01 · spindle_temp"]}
    spc_page = open_page("spc", series=query["series"][0])
    assert spc_page.selectbox(key="series").value == TEMP


def test_alarm_filters(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("alarms")
    app.multiselect(key="alarm_machines").select("acme/plant1/moulding/line-2/imm-01").run()
    headers = [h.value for h in app.header]
    assert "Active alarms (0)" in headers
    assert "Past alarms in the window (1)" in headers
    assert "No active alarms matching the filters." in texts(app.success)


def test_acknowledging_without_a_broker_says_what_to_do(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("alarms")
    app.button(key="ack|a1").click().run()
    assert "cannot reach the MQTT broker" in texts(app.error)


# ------------------------------------------------------------------------------------------ OEE


def test_oee_page_figures_and_pareto(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("oee")
    cnc_planned, imm_planned = 3600.0, (UNTIL - (T0 - 600_000)) / 1000
    cnc_run, imm_run = cnc_planned - 60, imm_planned - 60  # 60 s breakdown; 60 s changeover
    planned, run = cnc_planned + imm_planned, cnc_run + imm_run
    ideal_total = 60 * CNC_CYCLE_S + 30 * IMM_CYCLE_S
    ideal_good = (60 - len(SCRAP)) * CNC_CYCLE_S + 30 * IMM_CYCLE_S
    shown = metrics(app)
    assert shown["Availability (plant)"] == f"{run / planned * 100:.1f} %"
    assert shown["Performance (plant)"] == f"{ideal_total / run * 100:.1f} %"
    assert shown["Quality (plant)"] == f"{ideal_good / ideal_total * 100:.1f} %"
    assert shown["OEE (plant)"] == f"{ideal_good / planned * 100:.1f} %"
    table = app.dataframe[0].value
    machines = table[table["Level"] == "machine"].set_index("Name")
    assert machines.loc["cnc-01", "Scrap"] == str(len(SCRAP))
    assert machines.loc["cnc-01", "Run time"] == f"{cnc_run / 60:.1f} min"  # under 2 h: minutes, not 0.98 h
    assert machines.loc["cnc-01", "Breakdowns"] == "1"
    pareto = app.dataframe[-1].value
    assert set(pareto["Cause"]) == {"down: breakdown", "setup: changeover"}
    assert pareto["Time (min)"].sum() == pytest.approx(2.0)  # two 1-minute stops, in minutes
    assert pareto["Cumulative"].iloc[-1] == pytest.approx(1.0)


def test_oee_per_shift(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("oee")
    pivot = app.dataframe[1].value
    assert list(pivot.columns) == ["early 2026-11-22"]  # the whole window lies in the 06:00-14:00 shift
    assert set(pivot.index) == {"cnc-01", "imm-01"}


# ------------------------------------------------------------------------------------------ data


def test_data_page_shows_the_series_and_offers_the_csv(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("browse", data_series="machining/line-1 · cnc-01 · spindle_temp")  # bound to the label
    x = values_of(TEMP, dashboard_store)
    shown = metrics(app)
    assert shown["Rows"] == str(N)
    assert shown["Max"] == f"{x.max():.2f} °C"  # spec 58-66 °C: 2 decimals
    assert shown["Min"] == f"{x.min():.2f} °C"
    assert shown["Mean"] == f"{x.mean():.3f} °C"  # a statistic: one decimal more
    assert len(app.get("download_button")) == 1


def test_data_page_custom_range_and_dead_letters(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    store = SqliteStorage(f"sqlite:///{dashboard_store}")
    store.write_deadletters([DeadLetter(T0 + 1000, "acme/x", "bad_json", "not JSON", b"{oops", 5)])
    store.close()
    app = open_page("browse")
    app.selectbox(key="data_series").select(MELT).run()
    app.radio(key="data_range").set_value("custom range").run()
    app.time_input(key="data_t0").set_value(time(10, 0)).run()
    app.time_input(key="data_t1").set_value(time(10, 1)).run()
    assert metrics(app)["Rows"] == "61"  # 10:00:00 … 10:01:00 inclusive, one reading a second
    letters = app.dataframe[-1].value
    assert list(letters["reason"]) == ["bad_json"]


# ------------------------------------------------------------------------------------------ sidebar options


def test_window_and_projector_mode(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("spc", window="15 min", projector="true")
    assert "15 min: 2026-11-22 09:54:59 → 2026-11-22 10:09:59 UTC" in texts(app.sidebar.caption)
    assert any("[data-testid='stMetricValue']" in str(h.proto.body) for h in app.get("html"))  # larger text
    assert figure(app)["layout"]["font"]["size"] == 20


def test_all_data_window_starts_at_the_first_reading(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("browse", window="All data")
    assert "All data: 2026-11-22 10:00:00 → 2026-11-22 10:09:59 UTC" in texts(app.sidebar.caption)
    assert metrics(app)["Rows"] == str(N)
