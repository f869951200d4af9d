"""`smartfactory report detection` over a seeded store: windows in the store's (simulated) time, delay and rule
per fault, false alarms per hour per chart and plant, and no rate where the window holds no data."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from smartfactory.cli import main
from smartfactory.model import Alarm, FaultEvent, Reading
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import format_ts

M = "acme/plant1/machining/line-1/cnc-02"
FILLER = "acme/plant1/packaging/line-2/filler-01"
#: 2030-01-01: simulated time far ahead of the wall clock, as a scenario at --speed 5 stores it
T0 = 1_893_456_000_000


def seed(path: Path) -> str:
    url = f"sqlite:///{path}"
    store = SqliteStorage(url)
    store.write_readings([Reading(f"{M}/telemetry/power", T0 + i * 60_000, 7.2) for i in range(61)])  # T0 … T0+1h
    store.write_events(
        [
            FaultEvent(M, T0 + 60_000, "fault", "shift", "diameter", {"size": 3.0}),
            FaultEvent(M, T0 + 600_000, "repair", "shift"),
            FaultEvent(M, T0 + 3_000_000, "fault", "drift", "power", {"rate": 0.1}),
            FaultEvent(M, T0 + 3_300_000, "repair", "all"),
        ]
    )
    store.write_alarms(
        [
            Alarm("a1", f"{M}/telemetry/diameter", T0 + 64_500, ("WE1",), 25.05),  # 4.5 s after the shift
            Alarm("a2", f"{M}/telemetry/diameter", T0 + 90_000, ("WE2",), 25.04),  # same episode, not first
            Alarm("a3", f"{FILLER}/telemetry/fill_weight", T0 + 300_000, ("WE1",), 1.0),  # no fault: false
            Alarm("a4", f"{M}/telemetry/spindle_temp", T0 + 3_100_000, ("WE1",), 41.0),  # not what drift changes
        ]
    )
    store.close()
    return url


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["report", "detection", *args])
    return result.exit_code, result.output


def test_default_window_is_the_simulated_time_in_the_store(tmp_path: Path) -> None:
    url = seed(tmp_path / "r.db")
    code, out = invoke("--store", url, "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    summary = data["summary"]
    assert summary["window"] == {
        "since": format_ts(T0),
        "until": format_ts(T0 + 3_600_001),
        "hours": 1.0,
        "source": "store",
    }
    assert (summary["episodes"], summary["detected"], summary["missed"]) == (2, 1, 1)
    assert summary["counterfactual"] is False
    assert (summary["false_alarms"], summary["false_alarms_per_hour"]) == (2, 2.0)
    first = data["episodes"][0]
    assert (first["delay_ms"], first["rules"], first["pairing"]) == (4_500, ["WE1"], "sensor")
    assert data["false_alarms_by_series"][f"{FILLER}/telemetry/fill_weight"] == {"false_alarms": 1, "per_hour": 1.0}
    assert data["false_alarms_by_plant"] == {"acme/plant1": {"false_alarms": 2, "per_hour": 2.0}}

    code, table = invoke("--store", url)
    assert code == 0, table
    assert f"window: {format_ts(T0)} … {format_ts(T0 + 3_600_001)} (1.00 h; now = newest stored data" in table
    assert "caught after 4.5 s by WE1" in table
    assert "NOT DETECTED" in table
    assert "1/2 faults detected; counterfactual: not checked" in table
    assert "2 false alarms: 2.00 per hour over the 1.00 h of data" in table
    assert "plant acme/plant1: 2.00 per hour" in table


def test_relative_since_counts_back_from_the_newest_stored_timestamp(tmp_path: Path) -> None:
    """The data lie years ahead of the wall clock: `--since 30m` is the last 30 simulated minutes, not 30
    minutes before now (which would find nothing)."""
    url = seed(tmp_path / "r.db")
    code, out = invoke("--store", url, "--since", "30m", "--format", "json")
    assert code == 0, out
    data = json.loads(out)
    assert data["window"]["since"] == format_ts(T0 + 3_600_000 - 1_800_000)  # 30 min before the newest stamp
    assert data["window"]["now_is"] == "newest stored timestamp"
    assert data["summary"]["window"]["hours"] == 0.5
    assert [e["fault"] for e in data["episodes"]] == ["drift"]
    assert data["episodes"][0]["detected"] is False  # the spindle_temp alarm is not on the drifting power
    assert data["summary"]["false_alarms"] == 1


def test_a_window_without_data_has_no_rate(tmp_path: Path) -> None:
    url = seed(tmp_path / "r.db")
    later = format_ts(T0 + 10 * 3_600_000)
    code, out = invoke("--store", url, "--since", later, "--format", "json")
    assert code == 0, out
    summary = json.loads(out)["summary"]
    assert (summary["episodes"], summary["false_alarms"], summary["false_alarms_per_hour"]) == (0, 0, None)
    assert summary["window"]["hours"] is None
    code, table = invoke("--store", url, "--since", later)
    assert code == 0, table
    assert "(no data)" in table
    assert "no rate: the window holds no data" in table
    code, out = invoke("--store", url, "--since", "10m", "--until", "20m")
    assert code != 0
    assert "the window is empty" in out
