"""Numbers a lecture hall can read (issue 16), headless through AppTest on the seeded store plus a part
characteristic: values to their resolution, human tables without nan/None, the SPC page's labels, fonts and
links, the alarms page's window, the plant's alarm rate against its budget, and the minimal toolbar.

The layout itself (nothing cut off at 1280 px and up) needs a real browser: tests/browser/test_readability.py.
"""

from __future__ import annotations

import itertools
import json
import re
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from dashboard import alarmview, charts, spcview
from smartfactory import services, spc
from smartfactory.model import Alarm, FaultEvent, Reading, StateChange
from smartfactory.settings import Settings
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import MachineInfo, SignalInfo
from tests.conftest import ROOT
from tests.dashboard.conftest import IMM, MELT, T0, TEMP, seed_store
from tests.dashboard.test_app import UNTIL, figure, metrics, open_page, readings, texts

CNC2 = "acme/plant1/machining/line-1/cnc-02"
DIAMETER = f"{CNC2}/telemetry/diameter"
#: cnc-02 measures one part a minute; its birth declares the diameter a quality characteristic with 4 decimals
DIAMETER_INFO = SignalInfo(kind="quality", unit="mm", lsl=24.985, usl=25.015, target=25.0, decimals=4)
LOW, HIGH = 24.9961, 25.0029


def diameters() -> np.ndarray:
    """Ten diameters from 24.9961 to 25.0029 mm (the issue's example), the last one the largest."""
    values = np.round(np.linspace(LOW, HIGH, 10), 4)
    values[[0, 1]] = values[[1, 0]]
    return values


def add_part_characteristic(path: Path) -> np.ndarray:
    """cnc-02 on line 1 with its diameter series (one reading per part, as the simulator publishes it)."""
    store = SqliteStorage(f"sqlite:///{path}")
    try:
        store.write_machine_info(
            CNC2, T0 - 7_200_000, MachineInfo(machine_type="mill", signals={"diameter": DIAMETER_INFO})
        )
        values = diameters()
        store.write_readings([Reading(DIAMETER, T0 + 60_000 * i, float(v), "mm") for i, v in enumerate(values)])
        store.write_states([StateChange(CNC2, T0 - 600_000, "running")])
        return values
    finally:
        store.close()


def every_cell(app: AppTest) -> list[str]:
    """Every dataframe cell, column title and metric on the page, as text."""
    out: list[str] = []
    for frame in app.dataframe:
        value: pd.DataFrame = frame.value
        out += [str(c) for c in value.columns] + [str(i) for i in value.index]
        out += [str(v) for v in value.to_numpy().ravel()]
    out += [f"{m.label} {m.value}" for m in app.metric]
    return out


# ------------------------------------------------------------------------------------------ precision


def test_every_value_carries_its_characteristics_resolution(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    values = add_part_characteristic(dashboard_store)

    overview = open_page("overview")
    shown = {sensor: value for sensor, value, _ in readings(overview)}
    assert shown["diameter"] == "25.0029 mm"  # not "25 mm": its 4 declared decimals

    data = open_page("browse", data_series="machining/line-1 · cnc-02 · diameter")
    m = metrics(data)
    assert (m["Min"], m["Max"]) == ("24.9961 mm", "25.0029 mm")
    assert m["Mean"] == f"{values.mean():.5f} mm"  # a statistic: one decimal more

    page = open_page("spc")  # opens on the part characteristic (below)
    assert page.selectbox(key="series").value == DIAMETER
    capability = figure(page, 1)
    assert {"LSL 24.985", "USL 25.015", "target 25"} <= {a["text"] for a in capability["layout"]["annotations"]}
    assert re.fullmatch(r"2[45]\.\d{5}", metrics(page)["Centre"])  # a statistic of 4-decimal values: 5 decimals

    machine = open_page("machine", machine="machining/line-1 · cnc-02")  # bound to the label
    labels = {a["text"] for a in figure(machine)["layout"]["annotations"]}
    assert {"LSL 24.985", "USL 25.015"} <= labels  # spec lines as declared, not 24.98 / 25.02


def test_spc_opens_on_a_part_characteristic_even_when_a_process_signal_is_alarmed(dashboard_store: Path) -> None:
    seed_store(dashboard_store)  # spindle_temp (a process signal) has the active alarm
    assert open_page("spc").selectbox(key="series").value == TEMP
    add_part_characteristic(dashboard_store)
    st.cache_data.clear()  # the series list is cached for 2 s
    assert open_page("spc").selectbox(key="series").value == DIAMETER


# ------------------------------------------------------------------------------------------ SPC page


def test_spc_link_with_the_full_series_id(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("spc", series=MELT)  # the id, as a script or the CLI writes it (not the display label)
    assert app.selectbox(key="series").value == MELT
    app.run()  # and it stays there on the next rerun
    assert app.selectbox(key="series").value == MELT
    assert "imm-01 · melt_temp" in texts(app.subheader)


def test_projector_mode_scales_every_text_of_the_charts(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    for page, index in (("spc", 0), ("spc", 1), ("machine", 0), ("oee", 0)):
        app = open_page(page, projector="true")
        layout = figure(app, index)["layout"]
        axes = [k for k in layout if k.startswith(("xaxis", "yaxis"))]
        assert len(axes) >= 2
        for axis in axes:
            assert layout[axis]["tickfont"]["size"] == 20, (page, axis)
        for annotation in layout.get("annotations", []):
            assert annotation["font"]["size"] == 20, (page, annotation["text"])


def test_the_two_sigmas_on_the_spc_page_say_which_is_which(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = open_page("spc")
    assert "σ of the chart (live monitor's)" in metrics(app)
    caption = texts(app.caption)
    assert "**σ within**" in caption
    assert "MR̄/d₂" in caption
    assert "**σ overall**" in caption
    assert "sample standard deviation" in caption
    assert "the control chart above uses the live monitor's σ" in caption
    names = {t.get("name", "") for t in figure(app, 1)["data"]}
    assert any(n.startswith("normal, σ within = ") for n in names)
    assert any(n.startswith("normal, σ overall = ") for n in names)


def control_view(x: np.ndarray) -> spcview.ChartView:
    return spcview.variables_chart("I-MR", np.arange(x.size, dtype=np.int64) * 1000, x, rules=spc.WE_RULES, phase1=50)


def violation_traces(fig: Any) -> list[Any]:
    return [t for t in fig.data if "violations" in str(t.name)]


def test_rule_labels_do_not_print_over_each_other() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(0.0, 1.0, 300)
    x[100:140] += 1.2  # a sustained shift: WE4 (and WE2/WE3) on many consecutive points
    view = control_view(x)
    main = violation_traces(charts.control_chart(view, projector=False))[0]
    flagged = np.asarray(main.x).astype("datetime64[ms]").astype(np.int64)
    texts_ = list(main.text)
    assert len(texts_) == flagged.size > 20  # every flagged point keeps its ring
    shown = [(int(t), s) for t, s in zip(flagged, texts_, strict=True) if s]
    assert 0 < len(shown) < flagged.size / 3
    span = 299_000
    for (t0, a), (t1, b) in itertools.pairwise(shown):
        assert t1 - t0 >= span * (max(len(a), len(b)) + 1) / 80 * 0.999, (a, b)  # room for the longer label


def test_moving_range_violations_carry_their_rule_label() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(0.0, 1.0, 200)
    x[120:140] = 0.5  # a stuck value: 19 moving ranges of 0 in a row, below the MR centre (WE4 on the MR chart)
    (companion,) = [
        t for t in violation_traces(charts.control_chart(control_view(x), projector=False)) if "MR" in t.name
    ]
    flagged_zero = [i for i, y in enumerate(companion.y) if y == 0.0]
    assert flagged_zero  # the zero moving ranges are flagged ...
    assert "text" in companion.mode  # ... and labelled with their rule (the first of each run) on the chart
    labels = [s for s in companion.text if s]
    assert labels
    assert all(re.fullmatch(r"WE\d(, WE\d)*", s) for s in labels)
    assert "WE4" in companion.text[flagged_zero[0]] or any(companion.text[: flagged_zero[0]])


# ------------------------------------------------------------------------------------------ OEE


def test_oee_page_has_human_labels_minutes_and_no_nan_or_none(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    store = SqliteStorage(f"sqlite:///{dashboard_store}")
    store.write_states([StateChange(IMM, T0 + 400_000, "idle"), StateChange(IMM, T0 + 430_000, "running")])
    store.close()
    app = open_page("oee")
    for cell in every_cell(app):
        assert not {"nan", "NaN", "None", "run_h", "planned_h", "perf_capped"} & set(re.split(r"[\s:,()]+", cell)), cell
    pareto = app.dataframe[-1].value
    assert "idle: no reason given" in set(pareto["Cause"])
    assert "Time (min)" in pareto.columns  # 2.5 minutes of stops in all: minutes, not 0.0417 h
    table = app.dataframe[0].value
    assert {"Run time", "Planned time", "Breakdowns"} <= set(table.columns)
    assert all(cell.endswith(" min") for cell in table["Run time"])


# ------------------------------------------------------------------------------------------ alarms


def test_alarms_page_detection_report_counts_the_pages_window(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    store = SqliteStorage(f"sqlite:///{dashboard_store}")
    old = T0 - 3 * 3_600_000  # long before the 1 h window
    store.write_alarms([Alarm("old", MELT, old, ("WE1",), 240.0, False, "WE1: old", old + 10_000)])
    store.write_events([FaultEvent(IMM, old - 5_000, "fault", "shift", "melt_temp", {"size": 3.0})])
    store.close()
    app = open_page("alarms")
    shown = metrics(app)
    # the window holds the seed's two faults and two alarms (a1 detects the cnc shift; a2 is false), not the old ones
    assert (shown["Faults"], shown["Detected"], shown["False alarms"]) == ("2", "1", "1")
    assert "Past alarms in the window (1)" in [h.value for h in app.header]
    assert "2 alarms raised in the window" in texts(app.caption)


def test_alarm_tables_show_the_whole_message(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    long = "escalated (a higher severity; episode since 10:08:20): mean shifted up: CUSUM 14.7 > h 12.8 (tuned " + (
        "for a 1σ shift)"
    )
    store = SqliteStorage(f"sqlite:///{dashboard_store}")
    store.write_alarms([Alarm(f"m{i}", MELT, T0 + 1000 * i, ("cusum_mean",), 231.0, False, long, T0 + 1000 * i + 500)
                        for i in range(alarmview.TABLE_ROWS + 5)])  # fmt: skip
    store.close()
    app = open_page("alarms")
    active: pd.DataFrame = app.table[0].value  # a table: its cells wrap, a long message is read whole
    columns = list(active.columns)
    assert columns.index("message") == columns.index("rules") + 1  # beside the rule ids, not off screen
    assert list(active["message"]) == ["WE1: 1 point beyond the 3σ limits"]
    past: pd.DataFrame = app.table[1].value
    assert len(past) == alarmview.TABLE_ROWS  # the newest; every one of them in the dataframe below
    assert set(past["message"]) == {long, "WE2: 2 of 3 beyond 2σ"}  # the seed's a2 and the newest long ones
    every = next(d for d in app.dataframe if len(d.value) == alarmview.TABLE_ROWS + 5 + 1)
    width = json.loads(every.proto.columns)["message"]["width"]
    assert width >= 7 * len(long)  # about 6.2 px a character at 14 px: the column holds the longest message
    for frame in app.table:
        assert not [c for c in frame.value.to_numpy().ravel() if str(c) in ("None", "nan")]


# ------------------------------------------------------------------------------------------ overview


def test_overview_shows_the_alarm_rate_beside_the_budget(
    dashboard_store: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed_store(dashboard_store)
    hours = (UNTIL - T0) / 3_600_000  # the store starts inside the 1 h window: its 10 minutes count
    rate = 2 / hours  # a1 and a2
    budget = float(getattr(Settings().spc, "budget_per_hour", 1.0))  # the settings' default (1.0 without one)
    assert rate > budget
    app = open_page("overview")
    shown = {m.label: m for m in app.metric}
    assert shown["Alarm rate (window)"].value == f"{rate:.1f} / h"
    assert shown["Alarm budget"].value == f"{budget:.1f} / h"
    assert shown["Alarm rate (window)"].proto.delta == "over the budget"
    assert shown["Alarms raised (window)"].value == "2"
    monkeypatch.setenv("SMARTFACTORY_SPC__BUDGET_PER_HOUR", "20")
    st.cache_resource.clear()  # the settings are read once per process
    relaxed = {m.label: m for m in open_page("overview").metric}
    assert relaxed["Alarm budget"].value == "20.0 / h"
    assert relaxed["Alarm rate (window)"].proto.delta == "within the budget"


# ------------------------------------------------------------------------------------------ toolbar


def test_toolbar_is_minimal_for_every_way_the_dashboard_starts() -> None:
    config = tomllib.loads((ROOT / "dashboard" / ".streamlit" / "config.toml").read_text())
    assert config["client"]["toolbarMode"] == "minimal"  # read beside the main script, whatever the cwd
    command = services.dashboard_command(Settings())
    assert command[command.index("run") + 1] == str(ROOT / "dashboard" / "app.py")
    assert "--client.toolbarMode" not in command  # nothing overrides the file for `smartfactory demo`
