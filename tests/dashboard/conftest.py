"""Dashboard fixtures: a seeded SQLite store and a private plant file.

The seeded plant (10 minutes of data ending at T0 + 599 s):

- line `machining/line-1`, machine cnc-01 (type `test_mill`; its birth announced spec limits on spindle_temp,
  ideal cycle 8 s, a `diameter` part characteristic with limits): spindle_temp with one 70 °C spike at
  T0 + 500 s, power; running since T0 − 2 h, down (breakdown) T0 + 300 s … T0 + 360 s, running again; 60 parts
  every 10 s from T0, parts 10, 20 and 30 scrap. The live monitor stored the limits it learned from the first
  50 spindle_temp readings (`spc.Limits.learn`, as ingestion does); it stored none for the other series.
- line `moulding/line-2`, machine imm-01 (type `test_moulder`; its birth announced no ideal cycle time, the plant
  file sets 15 s): melt_temp; running from T0 − 10 min, setup (changeover) T0 + 100 s … T0 + 160 s; 30 parts
  every 20 s, all good.
- alarms: `a1` active on cnc-01 spindle_temp (WE1) at T0 + 500 s, `a2` cleared on imm-01 melt_temp at T0 + 200 s.
- ground truth: a shift on cnc-01 spindle_temp at T0 + 495 s (never repaired; detected by a1 after 5 s), a drift
  on imm-01 melt_temp T0 + 50 s … T0 + 80 s (missed; a2 came after the repair, so a2 is a false alarm).
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import streamlit as st

from dashboard import link
from smartfactory.edge.broker import RunningBroker
from smartfactory.model import Alarm, FaultEvent, LimitsVersion, PartResult, Reading, StateChange
from smartfactory.spc.streaming import Limits
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import MachineInfo, SignalInfo
from tests.conftest import ROOT, free_port

APP = str(ROOT / "dashboard" / "app.py")


@pytest.fixture
def broker(private_broker: RunningBroker) -> RunningBroker:
    """A broker of this test's own, not the session's shared one: the health topics are not below a
    test's own prefix, and the acknowledgement test runs ingestion, which subscribes to `#`."""
    return private_broker


T0 = 1_795_341_600_000
N = 600
CNC = "acme/plant1/machining/line-1/cnc-01"
IMM = "acme/plant1/moulding/line-2/imm-01"
TEMP = f"{CNC}/telemetry/spindle_temp"
POWER = f"{CNC}/telemetry/power"
MELT = f"{IMM}/telemetry/melt_temp"
SPIKE_AT = 500
SCRAP = (10, 20, 30)
CNC_CYCLE_S = 8.0
IMM_CYCLE_S = 15.0

PHASE1 = 50  # settings.spc.phase1_points
#: What the machines' births announced (ingestion stores them; the dashboard reads them from the store).
MACHINE_INFO = {
    CNC: MachineInfo(
        machine_type="test_mill",
        ideal_cycle_s=CNC_CYCLE_S,
        sample_interval_s=1.0,
        signals={
            "spindle_temp": SignalInfo(kind="process", unit="°C", lsl=58.0, usl=66.0),
            "power": SignalInfo(kind="process", unit="kW"),
            "diameter": SignalInfo(kind="quality", unit="mm", target=20.0, lsl=19.9, usl=20.1),
        },
    ),
    IMM: MachineInfo(machine_type="test_moulder", signals={"melt_temp": SignalInfo(kind="process", unit="°C")}),
}
PLANT = textwrap.dedent(
    """
    [plant]
    name = "Test plant"

    [[machines]]
    area = "machining"
    line = "line-1"
    name = "cnc-01"
    type = "test_mill"

    [[machines]]
    area = "moulding"
    line = "line-2"
    name = "imm-01"
    type = "test_moulder"
    ideal_cycle_s = 15
    """
)


def seed_readings(store: SqliteStorage) -> np.ndarray:
    rng = np.random.default_rng(3)
    temps = 62.0 + rng.normal(0, 0.5, N)
    temps[SPIKE_AT] = 70.0
    store.write_readings([Reading(TEMP, T0 + i * 1000, float(v), "°C") for i, v in enumerate(temps)])
    power = 7.5 + rng.normal(0, 0.1, N)
    store.write_readings([Reading(POWER, T0 + i * 1000, float(v), "kW") for i, v in enumerate(power)])
    melt = 230.0 + rng.normal(0, 1.0, N)
    store.write_readings([Reading(MELT, T0 + i * 1000, float(v), "°C") for i, v in enumerate(melt)])
    return temps


def learned_limits(temps: np.ndarray) -> LimitsVersion:
    """The version the live monitor stores for spindle_temp: learned from its first PHASE1 readings."""
    limits = Limits.learn(temps[:PHASE1])
    ts = T0 + (PHASE1 - 1) * 1000
    return LimitsVersion(TEMP, 1, ts, limits.center, limits.sigma, limits.nsigmas, limits.n, limits.source)


def seed_machine_info(store: SqliteStorage) -> None:
    for machine, info in MACHINE_INFO.items():
        store.write_machine_info(machine, T0 - 7_200_000, info)


def seed_production(store: SqliteStorage) -> None:
    store.write_states(
        [
            StateChange(CNC, T0 - 7_200_000, "running"),
            StateChange(CNC, T0 + 300_000, "down", "breakdown"),
            StateChange(CNC, T0 + 360_000, "running"),
            StateChange(IMM, T0 - 600_000, "running"),
            StateChange(IMM, T0 + 100_000, "setup", "changeover"),
            StateChange(IMM, T0 + 160_000, "running"),
        ]
    )
    rng = np.random.default_rng(5)
    store.write_parts(
        [
            PartResult(CNC, T0 + i * 10_000, f"c{i}", i not in SCRAP, {"diameter": float(20.0 + rng.normal(0, 0.02))})
            for i in range(60)
        ]
    )
    store.write_parts([PartResult(IMM, T0 + i * 20_000, f"m{i}", True) for i in range(30)])


def seed_alarms(store: SqliteStorage) -> None:
    store.write_alarms(
        [
            Alarm("a1", TEMP, T0 + SPIKE_AT * 1000, ("WE1",), 70.0, message="WE1: 1 point beyond the 3σ limits"),
            Alarm("a2", MELT, T0 + 200_000, ("WE2",), 232.5, False, "WE2: 2 of 3 beyond 2σ", T0 + 230_000),
        ]
    )
    store.write_events(
        [
            FaultEvent(CNC, T0 + 495_000, "fault", "shift", "spindle_temp", {"size": 5.0}),
            FaultEvent(IMM, T0 + 50_000, "fault", "drift", "melt_temp", {"rate": 0.1}),
            FaultEvent(IMM, T0 + 80_000, "repair", "drift"),
        ]
    )


def seed_store(
    path: Path, *, readings: bool = True, production: bool = True, alarms: bool = True, info: bool = True
) -> None:
    store = SqliteStorage(f"sqlite:///{path}")
    if info:
        seed_machine_info(store)
    if readings:
        store.write_limits([learned_limits(seed_readings(store))])
    if production:
        seed_production(store)
    if alarms:
        seed_alarms(store)
    store.close()


@pytest.fixture
def dashboard_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point the dashboard at a fresh file and a private plant file; clear Streamlit's process-wide caches around
    it. The simulators folder holds no machine types: the dashboard reads machine facts from the store."""
    sims = tmp_path / "simulators"
    (sims / "plants").mkdir(parents=True)
    (sims / "plants" / "default.toml").write_text(PLANT)
    path = tmp_path / "dash.db"
    monkeypatch.setenv("SMARTFACTORY_STORE", f"sqlite:///{path}")
    monkeypatch.setenv("SMARTFACTORY_SIM__DIR", str(sims))
    monkeypatch.setenv("SMARTFACTORY_MQTT_URL", f"mqtt://127.0.0.1:{free_port()}")  # nothing listens there
    monkeypatch.setenv("SMARTFACTORY_SPC__PHASE1_POINTS", str(PHASE1))  # the seed's arithmetic, whatever the default
    st.cache_resource.clear()
    st.cache_data.clear()
    yield path
    link.close_all()
    st.cache_resource.clear()
    st.cache_data.clear()
