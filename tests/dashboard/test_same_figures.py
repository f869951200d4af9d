"""The dashboard and the CLI read one way: the OEE page and `smartfactory oee` give identical figures for the same
window, and the SPC page shows the limits the live monitor stored (not limits it learns again).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from dashboard import data
from smartfactory.cli import main
from smartfactory.model import LimitsVersion
from smartfactory.query import StoredOee
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import format_ts
from tests.dashboard.conftest import CNC, IMM, MELT, PLANT, T0, TEMP, seed_store
from tests.dashboard.test_app import SINCE, UNTIL, figure, metrics, open_page, texts, values_of

CALENDAR = """
[calendar]
timezone = "UTC"
[[calendar.shifts]]
name = "early"
start = "09:30"
end = "14:00"
"""
SHIFT_START = T0 - 30 * 60_000  # 09:30 UTC: the shift row covers the window from then on
RATIOS = ("availability", "performance", "quality", "oee")


def cli_oee(store: Path) -> dict[str, Any]:
    """`smartfactory oee --format json` over the dashboard's window (the env points both at the same plant)."""
    args = ["oee", "--format", "json", "--store", f"sqlite:///{store}", "--since", format_ts(SINCE)]
    result = CliRunner().invoke(main, [*args, "--until", format_ts(UNTIL)], catch_exceptions=False)
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def page_oee() -> StoredOee:
    """What the OEE page computes for the sidebar's window (the function the page calls)."""
    window = data.window()
    assert (window.since_ms, window.until_ms) == (SINCE, UNTIL)
    result = data.oee(window.since_ms, window.until_ms, data.default_calendar())
    assert isinstance(result, StoredOee), result
    return result


def whole_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r["shift"] is None]


def with_calendar(store: Path) -> None:
    """Give the dashboard's plant file a shift calendar that starts inside the window."""
    plants = store.parent / "simulators" / "plants" / "default.toml"
    plants.write_text(PLANT.replace("[[machines]]", CALENDAR + "\n[[machines]]", 1))


@pytest.mark.parametrize("calendar", [False, True], ids=["no calendar", "plant calendar"])
def test_oee_page_and_cli_give_identical_figures(dashboard_store: Path, calendar: bool) -> None:
    if calendar:
        with_calendar(dashboard_store)
    seed_store(dashboard_store)
    cli = cli_oee(dashboard_store)
    page = page_oee()
    assert (cli["since_ms"], cli["until_ms"]) == (SINCE, UNTIL)
    assert cli["excluded"] == list(page.excluded) == []
    rows = page.report.to_dicts()
    if calendar:  # both follow the plant's calendar: every row, shift rows too, is the same
        assert rows == cli["rows"]
        assert {r["shift"] for r in rows} == {None, "early 2026-11-22"}
        cnc = next(r for r in rows if r["name"] == CNC and r["shift"] == "early 2026-11-22")
        assert cnc["planned_production_s"] == pytest.approx((UNTIL - SHIFT_START) / 1000)  # the shift from 09:30
    else:  # the page adds a per-shift breakdown; the whole-window figures are the command's
        assert whole_rows(rows) == whole_rows(cli["rows"])
    lines = {r["name"] for r in rows if r["level"] == "line"}
    assert lines == {"machining/line-1", "moulding/line-2"}  # line ids, never a bare `line-1`

    # and what the page shows (AppTest): the table and the plant metrics are the command's numbers
    app = open_page("oee")
    table = app.dataframe[0].value
    by_cli = {(r["level"], r["name"]): r for r in whole_rows(cli["rows"])}
    short = {CNC: "cnc-01", IMM: "imm-01"}
    assert len(table) == len(by_cli) == 2 + 2 + 1
    titles = dict(zip(RATIOS, ("Availability", "Performance", "Quality", "OEE"), strict=True))
    for (level, name), row in by_cli.items():
        shown = table[(table["Level"] == level) & (table["Name"] == short.get(name, name))].iloc[0]
        for ratio in RATIOS:  # the command's figure, as the page prints it (the computation is compared above)
            assert shown[titles[ratio]] == f"{row[ratio] * 100:.1f} %", (level, name, ratio)
        assert (shown["Parts"], shown["Scrap"]) == (f"{row['total_count']:,}", f"{row['scrap_count']:,}")
    plant = by_cli[("plant", "Test plant")]
    shown = metrics(app)
    assert shown["OEE (plant)"] == f"{plant['oee'] * 100:.1f} %"
    assert shown["Availability (plant)"] == f"{plant['availability'] * 100:.1f} %"


def test_a_machine_without_ideal_cycle_time_is_left_out_and_named_by_both(dashboard_store: Path) -> None:
    # no births stored: cnc-01's 8 s were only in its birth; imm-01's 15 s are in the plant file too
    seed_store(dashboard_store, info=False)
    cli = cli_oee(dashboard_store)
    page = page_oee()
    assert cli["excluded"] == list(page.excluded) == [CNC]
    assert whole_rows(page.report.to_dicts()) == whole_rows(cli["rows"])
    assert {r["name"] for r in cli["rows"] if r["level"] == "machine"} == {IMM}
    app = open_page("oee")
    warning = texts(app.warning)
    assert "No ideal cycle time for cnc-01" in warning
    assert "ideal_cycle_s" in warning
    assert set(app.dataframe[0].value["Name"]) == {"imm-01", "moulding/line-2", "Test plant"}


# ------------------------------------------------------------------------------------------ stored limits


def store_limits(path: Path, *versions: LimitsVersion) -> None:
    store = SqliteStorage(f"sqlite:///{path}")
    try:
        store.write_limits(list(versions))
    finally:
        store.close()


def test_spc_page_shows_the_limits_the_monitor_stored(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    x = values_of(TEMP, dashboard_store)
    # a second version, configured by hand after the learned one: centre 61, σ 0.25, ±2.5σ (nothing like x)
    configured = LimitsVersion(TEMP, 2, SINCE + 60_000, 61.0, 0.25, 2.5, 0, "configured")
    assert abs(float(np.mean(x[:50])) - configured.center) > 0.5
    store_limits(dashboard_store, configured)
    app = open_page("spc")
    assert app.selectbox(key="series").value == TEMP
    shown = metrics(app)
    assert shown["Centre"] == "61.000"  # spindle_temp's values carry 2 decimals (spec 58-66 °C), statistics 3
    assert shown["σ of the chart (live monitor's)"] == "0.250"
    annotations = {a["text"] for a in figure(app)["layout"]["annotations"]}
    assert {"CL 61.000", "UCL 61.625", "LCL 60.375"} <= annotations  # 61 ± 2.5 × 0.25, the stored width
    assert "as stored (version 2" in texts(app.caption)
    limits = app.dataframe[0].value  # the stored versions, newest first
    assert list(limits["version"]) == [2, 1]
    newest = limits.iloc[0]
    assert (newest["source"], newest["centre"], newest["σ"]) == ("configured", 61.0, 0.25)
    assert (newest["LCL"], newest["UCL"]) == pytest.approx((60.375, 61.625))
    flagged = int(np.sum((x < 60.375) | (x > 61.625)))
    assert int(shown["Flagged points"].replace(",", "")) >= flagged  # every point beyond the stored limits


def test_spc_page_without_stored_limits_says_so_and_labels_its_own(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("spc")
    app.selectbox(key="series").select(MELT).run()
    assert "has stored no control limits for moulding/line-2 · imm-01 · melt_temp" in texts(app.info)
    assert "smartfactory ingest" in texts(app.info)
    caption = texts(app.caption)
    assert "computed here from the first 50 points of the window, not the monitor's" in caption
    x = values_of(MELT, dashboard_store)
    assert metrics(app)["Centre"] == f"{x[:50].mean():.4g}"  # phase I: the window's first 50 readings
