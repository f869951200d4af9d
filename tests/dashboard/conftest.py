"""Dashboard tests: the real Streamlit app, headless through AppTest, against a seeded SQLite file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import streamlit as st

from smartfactory.model import Alarm, Reading
from smartfactory.storage.sqlite import SqliteStorage
from tests.conftest import ROOT

APP = str(ROOT / "dashboard" / "app.py")
MACHINE = "acme/plant1/machining/line-1/cnc-01"
TEMP = f"{MACHINE}/telemetry/spindle_temp"
POWER = f"{MACHINE}/telemetry/power"
T0 = 1_795_341_600_000


def seed_store(path: Path, *, with_alarm: bool = True) -> None:
    store = SqliteStorage(f"sqlite:///{path}")
    rng = np.random.default_rng(3)
    values = 62.0 + rng.normal(0, 0.5, 300)
    values[250] = 70.0  # far beyond 3σ: one rule-1 violation
    store.write_readings([Reading(TEMP, T0 + i * 1000, float(v), "°C") for i, v in enumerate(values)])
    store.write_readings([Reading(POWER, T0 + i * 1000, 7.5, "kW") for i in range(300)])
    if with_alarm:
        store.write_alarms([Alarm("a1", TEMP, T0 + 250_000, ("WE1",), 70.0, message="WE1: beyond 3σ")])
    store.close()


@pytest.fixture
def dashboard_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the dashboard at a fresh file; clear Streamlit's process-wide caches around each test."""
    path = tmp_path / "dash.db"
    monkeypatch.setenv("SMARTFACTORY_STORE", f"sqlite:///{path}")
    st.cache_resource.clear()
    st.cache_data.clear()
    yield path
    st.cache_resource.clear()
    st.cache_data.clear()
