from __future__ import annotations

from pathlib import Path

import numpy as np
from streamlit.testing.v1 import AppTest

from smartfactory.storage.sqlite import SqliteStorage
from tests.dashboard.conftest import APP, TEMP, seed_store


def run(page: str | None = None) -> AppTest:
    app = AppTest.from_file(APP, default_timeout=30)
    app.run()
    if page is not None:
        app.switch_page(page)
        app.run()
    assert not app.exception, app.exception
    return app


def test_overview_shows_latest_values_with_units_and_alarm_marker(dashboard_store: Path) -> None:
    seed_store(dashboard_store)
    app = run()
    assert app.title[0].value == "Plant overview"
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["power"] == "7.5 kW"
    assert "🔴 spindle_temp" in metrics  # the active alarm marks its sensor
    assert any("cnc-01" in h.value for h in app.subheader)


def test_overview_guides_when_the_store_is_empty(dashboard_store: Path) -> None:
    app = run()
    assert any("smartfactory simulate" in info.value for info in app.info)


def test_spc_page_draws_the_chart_and_counts_the_violation(dashboard_store: Path) -> None:
    seed_store(dashboard_store, with_alarm=False)
    app = run("app_pages/spc.py")
    assert app.title[0].value == "Statistical process control"
    app.selectbox[0].select(TEMP).run()
    charts = app.get("plotly_chart")
    assert len(charts) == 1
    # Expected count by the textbook formulas, computed here: phase I = first 50 points (the page default),
    # centre = mean, sigma = mean moving range / 1.128, violation = strictly beyond centre ± 3 sigma.
    values = SqliteStorage(f"sqlite:///{dashboard_store}").read_series(TEMP)["value"].to_numpy()
    base = values[:50]
    centre, sigma = base.mean(), np.abs(np.diff(base)).mean() / 1.128
    expected = int(np.sum(np.abs(values - centre) > 3 * sigma))
    assert expected >= 1  # the seeded 70 °C spike
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Points beyond the 3σ limits (rule 1)"] == str(expected)


def test_spc_page_guides_when_empty(dashboard_store: Path) -> None:
    app = run("app_pages/spc.py")
    assert any("smartfactory simulate" in info.value for info in app.info)
