"""The lab API (`smartfactory.open_store`) on a real SQLite store filled with records whose answers are known."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest

import smartfactory
from smartfactory.errors import ConfigError, StoreError
from smartfactory.model import Alarm, FaultEvent, PartResult, Reading, StateChange
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import MachineInfo, SignalInfo, ms_from_datetime

T0 = ms_from_datetime(datetime(2026, 11, 23, 7, 0, tzinfo=UTC))  # a Monday, inside the early shift, no break
CNC = "lab/student-07/machining/line-1/cnc-01"
FILLER = "lab/student-07/packaging/line-2/filler-01"
MIN = 60_000


@pytest.fixture
def store_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'lab.db'}"
    store = SqliteStorage(url)
    store.write_readings(
        [Reading(f"{CNC}/telemetry/spindle_temp", T0 + i * 1000, 40.0 + i, "°C") for i in range(120)]
        + [Reading(f"{FILLER}/telemetry/motor_current", T0 + i * 1000, 5.0 + i / 10, "A") for i in range(60)]
        + [Reading(f"{FILLER}/telemetry/spindle_temp", T0 + i * 1000, 1.0, "°C") for i in range(3)]
    )
    # cnc-01: running 50 min, down (breakdown) 10 min; the hour ends running
    store.write_states(
        [
            StateChange(machine=CNC, ts_ms=T0, state="running"),
            StateChange(machine=CNC, ts_ms=T0 + 20 * MIN, state="down", reason="breakdown"),
            StateChange(machine=CNC, ts_ms=T0 + 30 * MIN, state="running"),
            StateChange(machine=FILLER, ts_ms=T0, state="running"),
        ]
    )
    # 250 parts of cnc-01 in the hour, every 50th scrap (5), all after the start-up window of 10 min
    store.write_parts(
        [
            PartResult(
                machine=CNC,
                ts_ms=T0 + 11 * MIN + i * 10_000,
                part_id=f"p{i}",
                good=i % 50 != 0,
                measurements={"diameter": 25.0 + (i % 5) / 100},
            )
            for i in range(250)
        ]
        + [PartResult(machine=FILLER, ts_ms=T0 + 5 * MIN, part_id="b1", good=True, measurements={"fill_weight": 501.5})]
    )
    store.write_events(
        [
            FaultEvent(machine=CNC, ts_ms=T0 + 20 * MIN, kind="fault", fault="breakdown", params={"duration": 600}),
            FaultEvent(machine=CNC, ts_ms=T0 + 30 * MIN, kind="repair", fault="breakdown"),
        ]
    )
    store.write_alarms(
        [Alarm(alarm_id="a1", series=f"{CNC}/telemetry/spindle_temp", ts_ms=T0 + 90_000, rules=("WE1", "WE2"),
               value=130.0, message="beyond 3σ")]
    )  # fmt: skip
    signals = {"diameter": SignalInfo(kind="quality", unit="mm", lsl=24.9, usl=25.1, target=25.0)}
    store.write_machine_info(CNC, T0, MachineInfo(machine_type="cnc_mill", ideal_cycle_s=10.0, signals=signals))
    store.write_machine_info(FILLER, T0, MachineInfo(machine_type="filler", ideal_cycle_s=1.0))
    store.close()
    return url


def test_import_smartfactory_stays_light() -> None:
    code = "import sys, smartfactory; print('pandas' in sys.modules, 'smartfactory.query' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_readings_by_series_name_or_ending_with_windows(store_url: str) -> None:
    with smartfactory.open_store(store_url) as lab:
        full = lab.readings(series=f"{CNC}/telemetry/spindle_temp")
        assert list(full.columns) == ["series", "machine", "sensor", "ts", "value", "unit"]
        assert len(full) == 120
        assert full["machine"].unique().tolist() == [CNC]
        assert full["value"].tolist() == [40.0 + i for i in range(120)]
        assert str(full["ts"].dtype).startswith("datetime64")
        assert full["ts"].dt.tz is not None
        assert full["ts"].iloc[0] == pd.Timestamp(T0, unit="ms", tz="UTC")
        short = lab.readings(series="cnc-01/telemetry/spindle_temp", since=T0 + 10_000, until=T0 + 20_000)
        assert short["value"].tolist() == [50.0 + i for i in range(10)]
        # "1m" counts back from the newest stored data (the state change at T0 + 30 min), not the wall clock
        assert lab.readings(series="cnc-01/telemetry/spindle_temp", since="1m").empty
        iso = lab.readings(series="cnc-01/telemetry/spindle_temp", since="2026-11-23T07:01:50Z")
        assert iso["value"].tolist() == [150.0, 151.0, 152.0, 153.0, 154.0, 155.0, 156.0, 157.0, 158.0, 159.0]
        naive = lab.readings(series="cnc-01/telemetry/spindle_temp", since=datetime(2026, 11, 23, 7, 1, 59))
        assert naive["value"].tolist() == [159.0]
        assert lab.readings(series="cnc-01/telemetry/spindle_temp", limit=2)["value"].tolist() == [158.0, 159.0]


def test_readings_by_machine_and_sensor(store_url: str) -> None:
    with smartfactory.open_store(store_url) as lab:
        by_sensor = lab.readings(sensor="spindle_temp")
        assert sorted(by_sensor["machine"].unique()) == [CNC, FILLER]
        assert len(by_sensor) == 123
        by_machine = lab.readings(machine="filler-01")
        assert sorted(by_machine["sensor"].unique()) == ["motor_current", "spindle_temp"]
        assert len(lab.readings(machine="filler-01", sensor="motor_current")) == 60
        assert lab.readings(machine="filler-01", sensor="nothing").empty
        with pytest.raises(ConfigError, match="fits 2 series"):
            lab.readings(series="spindle_temp")  # on two machines: ambiguous
        with pytest.raises(ConfigError, match="no stored machine"):
            lab.readings(machine="press-09")
        with pytest.raises(ConfigError, match="window is empty"):
            lab.readings(since=T0 + 10, until=T0)


def test_series_machines_and_spec_limits(store_url: str) -> None:
    with smartfactory.open_store(store_url) as lab:
        series = lab.series()
        assert len(series) == 3
        assert set(series["machine"]) == {CNC, FILLER}
        assert series.set_index("series").loc[f"{CNC}/telemetry/spindle_temp", "unit"] == "°C"
        machines = lab.machines().set_index("machine")
        assert machines.loc[CNC, "ideal_cycle_s"] == 10.0
        assert machines.loc[CNC, "line"] == "machining/line-1"
        limits = lab.spec_limits("cnc-01/diameter")
        assert (limits.lsl, limits.usl, limits.target) == (24.9, 25.1, 25.0)
        assert not lab.spec_limits("cnc-01/telemetry/spindle_temp").known  # announced no limits


def test_parts_have_a_column_per_characteristic(store_url: str) -> None:
    with smartfactory.open_store(store_url) as lab:
        parts = lab.parts()
        assert list(parts.columns) == ["machine", "line", "ts", "part_id", "good", "diameter", "fill_weight"]
        assert len(parts) == 251
        assert parts["ts"].is_monotonic_increasing
        cnc = lab.parts(machine="cnc-01")
        assert len(cnc) == 250
        assert int((~cnc["good"]).sum()) == 5
        assert cnc["diameter"].max() == pytest.approx(25.04)
        assert "fill_weight" not in cnc.columns  # only the characteristics of the parts selected
        assert lab.parts(machine="filler-01")["fill_weight"].tolist() == [501.5]
        assert len(lab.parts(since=T0 + 11 * MIN, until=T0 + 11 * MIN + 100_000)) == 10


def test_states_carry_their_end_and_duration(store_url: str) -> None:
    with smartfactory.open_store(store_url) as lab:
        states = lab.states(machine="cnc-01")
        assert states["state"].tolist() == ["running", "down", "running"]
        assert states["reason"].tolist()[1] == "breakdown"
        assert states["duration_s"].tolist()[:2] == [1200.0, 600.0]
        assert pd.isna(states["duration_s"].iloc[2])
        assert pd.isna(states["end"].iloc[2])
        assert states["end"].iloc[0] == states["ts"].iloc[1]
        assert len(lab.states()) == 4
        assert lab.states(since=T0 + 25 * MIN)["state"].tolist() == ["running"]


def test_alarms_and_ground_truth(store_url: str) -> None:
    with smartfactory.open_store(store_url) as lab:
        alarms = lab.alarms()
        assert alarms["alarm_id"].tolist() == ["a1"]
        assert alarms["rules"].tolist() == ["WE1,WE2"]
        assert bool(alarms["active"].iloc[0])
        assert pd.isna(alarms["cleared"].iloc[0])
        truth = lab.truth()
        assert truth["kind"].tolist() == ["fault", "repair"]
        assert (truth["ts"].iloc[1] - truth["ts"].iloc[0]).total_seconds() == 600
        assert truth["params"].iloc[0] == {"duration": 600}
        assert lab.truth(since=T0 + 25 * MIN)["kind"].tolist() == ["repair"]


def test_oee_of_a_window_matches_the_hand_computation(store_url: str) -> None:
    with smartfactory.open_store(store_url) as lab:
        result = lab.oee(since=T0, until=T0 + 60 * MIN)
        cnc = result.report.machine(CNC)
        assert cnc.availability == pytest.approx(50 / 60)
        assert cnc.performance == pytest.approx(250 * 10 / (50 * 60))
        assert cnc.quality == pytest.approx(245 / 250)
        assert cnc.losses.breakdowns == pytest.approx(600)
        assert cnc.oee == pytest.approx((50 / 60) * (2500 / 3000) * (245 / 250))


def test_reading_only_never_creates_a_store(tmp_path: Path) -> None:
    missing = tmp_path / "nothing.db"
    with pytest.raises(StoreError, match="creates nothing"):
        smartfactory.open_store(f"sqlite:///{missing}")
    assert not missing.exists()
