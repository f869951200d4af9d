"""`smartfactory report detection` over a seeded store: delay, rule, false alarms per hour."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from smartfactory.cli import main
from smartfactory.model import Alarm, FaultEvent
from smartfactory.storage.sqlite import SqliteStorage
from smartfactory.wire import format_ts

M = "acme/plant1/machining/line-1/cnc-02"
T0 = 1_795_341_600_000  # 2026-11-22T10:00:00Z


def seed(path: Path) -> str:
    url = f"sqlite:///{path}"
    store = SqliteStorage(url)
    store.write_events(
        [
            FaultEvent(M, T0 + 60_000, "fault", "shift", "diameter", {"size": 3.0}),
            FaultEvent(M, T0 + 600_000, "repair", "shift"),
            FaultEvent(M, T0 + 1_200_000, "fault", "drift", "power", {"rate": 0.1}),
            FaultEvent(M, T0 + 1_500_000, "repair", "all"),
        ]
    )
    store.write_alarms(
        [
            Alarm("a1", f"{M}/telemetry/diameter", T0 + 64_500, ("WE1",), 25.05),  # 4.5 s after the shift
            Alarm("a2", f"{M}/telemetry/diameter", T0 + 90_000, ("WE2",), 25.04),  # same episode, not first
            Alarm("a3", "acme/plant1/packaging/line-2/filler-01/telemetry/fill_weight", T0 + 300_000, ("WE1",), 1.0),
        ]
    )
    store.close()
    return url


def test_detection_report_json_and_table(tmp_path: Path) -> None:
    url = seed(tmp_path / "r.db")
    until = format_ts(T0 + 3_600_000)
    since = format_ts(T0)
    runner = CliRunner()
    result = runner.invoke(
        main, ["report", "detection", "--store", url, "--since", since, "--until", until, "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    summary = data["summary"]
    assert (summary["episodes"], summary["detected"], summary["missed"]) == (2, 1, 1)
    assert summary["false_alarms"] == 1
    assert summary["window_hours"] == 1.0
    assert summary["false_alarms_per_hour"] == 1.0
    first = data["episodes"][0]
    assert first["delay_ms"] == 4_500
    assert first["rules"] == ["WE1"]
    table = runner.invoke(main, ["report", "detection", "--store", url, "--since", since, "--until", until])
    assert "caught after 4.5 s by WE1" in table.output
    assert "NOT DETECTED" in table.output
    assert "1/2 faults detected; 1 false alarms (1.0 per hour" in table.output
