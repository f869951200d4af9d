"""The detection report (`smartfactory.query.detection`): pairing ground-truth faults with SPC alarms."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartfactory.model import Alarm, FaultEvent
from smartfactory.query.detection import detection_from_store, detection_report, fault_episodes
from smartfactory.storage.sqlite import SqliteStorage

M1 = "acme/plant1/machining/line-1/cnc-01"
M2 = "acme/plant1/machining/line-1/cnc-02"


def alarm(alarm_id: str, machine: str, sensor: str, ts: int, rules: tuple[str, ...] = ("WE1",)) -> Alarm:
    return Alarm(alarm_id, f"{machine}/telemetry/{sensor}", ts, rules, 1.0)


def test_episodes_close_at_the_matching_repair_or_stay_open() -> None:
    events = [
        FaultEvent(M1, 1000, "fault", "shift", "spindle_temp"),
        FaultEvent(M2, 1500, "fault", "drift", "power"),
        FaultEvent(M1, 2000, "repair", "shift"),
        FaultEvent(M1, 3000, "fault", "drift", None),
        FaultEvent(M1, 4000, "repair", "all"),  # `inject --clear` with no named fault closes everything
    ]
    episodes = fault_episodes(events)
    assert [(e.machine, e.fault, e.start_ms, e.end_ms) for e in episodes] == [
        (M1, "shift", 1000, 2000),
        (M2, "drift", 1500, None),
        (M1, "drift", 3000, 4000),
    ]


def test_first_matching_alarm_detects_and_the_rest_are_false_alarms() -> None:
    events = [
        FaultEvent(M1, 10_000, "fault", "shift", "spindle_temp"),
        FaultEvent(M1, 20_000, "repair", "shift"),
        FaultEvent(M2, 30_000, "fault", "breakdown", None),  # no sensor: any sensor of the machine counts
    ]
    alarms = [
        alarm("before", M1, "spindle_temp", 9_000),  # before the fault: false
        alarm("other-sensor", M1, "power", 12_000),  # wrong sensor: false
        alarm("hit", M1, "spindle_temp", 13_500, ("WE2",)),
        alarm("again", M1, "spindle_temp", 15_000),
        alarm("late", M1, "spindle_temp", 21_000),  # after the repair: false without grace
        alarm("m2", M2, "vibration_rms", 31_000),
    ]
    report = detection_report(events, alarms)
    first, second = report.detections
    assert (first.alarm_id, first.delay_ms, first.rules, first.alarms_during) == ("hit", 3_500, ("WE2",), 2)
    assert (second.alarm_id, second.delay_ms) == ("m2", 1_000)
    assert sorted(a.alarm_id for a in report.false_alarms) == ["before", "late", "other-sensor"]
    assert report.detection_rate == 1.0
    assert report.median_delay_ms == pytest.approx((3_500 + 1_000) / 2)
    with_grace = detection_report(events, alarms, grace_ms=2_000)
    assert "late" not in {a.alarm_id for a in with_grace.false_alarms}


def test_missed_faults_and_json_rows() -> None:
    report = detection_report([FaultEvent(M1, 0, "fault", "drift", "power", {"rate": 0.5})], [])
    assert (report.detected, report.missed, report.detection_rate, report.median_delay_ms) == (0, 1, 0.0, None)
    row = report.to_dict()["episodes"][0]
    assert row["detected"] is False
    assert row["delay_ms"] is None
    assert row["params"] == {"rate": 0.5}
    assert report.summary()["episodes"] == 1
    assert detection_report([], []).detection_rate is None
    with pytest.raises(ValueError, match="grace_ms"):
        detection_report([], [], grace_ms=-1)


def test_detection_from_store_reads_the_window(tmp_path: Path) -> None:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'd.db'}")
    try:
        store.write_events(
            [
                FaultEvent(M1, 1_000, "fault", "shift", "spindle_temp"),
                FaultEvent(M1, 50_000, "fault", "drift", "spindle_temp"),  # after the window
            ]
        )
        store.write_alarms([alarm("a", M1, "spindle_temp", 3_000), alarm("late", M1, "spindle_temp", 60_000)])
        stored = detection_from_store(store, None, 10_000, grace_ms=0)
    finally:
        store.close()
    assert [e.fault for e in stored.events] == ["shift"]
    assert [a.alarm_id for a in stored.alarms] == ["a"]
    (only,) = stored.report.detections
    assert (only.alarm_id, only.delay_ms) == ("a", 2_000)
