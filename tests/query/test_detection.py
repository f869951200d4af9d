"""The detection report (`smartfactory.query.detection`): pairing ground-truth faults with the alarms on the
signals they change, checked against a counterfactual run, with false-alarm rates over a span."""

from __future__ import annotations

from pathlib import Path

import pytest

from smartfactory.model import Alarm, FaultEvent, Reading
from smartfactory.query.detection import Span, data_span, detection_from_store, detection_report, fault_episodes
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


# ------------------------------------------------------------------------------------------ counterfactual


def test_an_alarm_the_counterfactual_raised_too_is_a_coincidence_not_a_detection() -> None:
    events = [FaultEvent(M1, 10_000, "fault", "shift", "spindle_temp")]
    alarms = [
        alarm("anyway", M1, "spindle_temp", 12_000),  # also in the run without the fault: not credited
        alarm("caused", M1, "spindle_temp", 20_000),
        alarm("elsewhere", M2, "power", 25_000),  # absent without the faults, on a signal no fault declares
        alarm("false", M2, "power", 40_000),  # raised without the faults too
    ]
    counterfactual = [
        alarm("cf-1", M1, "spindle_temp", 12_000 + 1_500),  # within MATCH_MS: the same alarm
        alarm("cf-2", M2, "power", 40_000),
        alarm("cf-3", M1, "power", 20_000),  # same time, other series: says nothing about "caused"
    ]
    plain = detection_report(events, alarms)
    assert (plain.detections[0].alarm_id, plain.counterfactual) == ("anyway", False)
    checked = detection_report(events, alarms, counterfactual=counterfactual)
    (only,) = checked.detections
    assert checked.counterfactual is True
    assert (only.alarm_id, only.delay_ms, only.alarms_during, only.coincident) == ("caused", 10_000, 1, 1)
    assert [a.alarm_id for a in checked.false_alarms] == ["anyway", "false"]
    assert [a.alarm_id for a in checked.coincidences] == ["anyway"]
    assert [a.alarm_id for a in checked.knock_on] == ["elsewhere"]
    tight = detection_report(events, alarms, counterfactual=counterfactual, match_ms=1_000)
    assert tight.detections[0].alarm_id == "anyway"  # 1.5 s apart is no longer "the same alarm"


def test_a_run_scored_against_itself_credits_nothing() -> None:
    events = [
        FaultEvent(M1, 1_000, "fault", "drift", "power"),
        FaultEvent(M2, 1_000, "fault", "breakdown", None),
    ]
    alarms = [alarm(f"a{i}", M1 if i % 2 else M2, "power", 1_000 + 700 * i) for i in range(20)]
    report = detection_report(events, alarms, counterfactual=alarms)
    assert report.detected == 0
    assert len(report.false_alarms) == len(alarms)
    assert report.knock_on == ()
    assert detection_report(events, alarms).detected == 2  # without the check both would count as caught


def test_escalation_on_an_active_series_detects() -> None:
    """An escalation is a signal of its own (a new record at its time): it detects a fault that starts while
    the series is already in alarm, and the raise before the fault stays a false alarm."""
    events = [FaultEvent(M1, 50_000, "fault", "shift", "spindle_temp")]
    raised = alarm("raise", M1, "spindle_temp", 40_000, ("cusum_mean",))
    escalated = alarm("escalate", M1, "spindle_temp", 52_000, ("shock",))
    report = detection_report(events, [raised, escalated], counterfactual=[raised])
    (only,) = report.detections
    assert (only.alarm_id, only.delay_ms, only.rules) == ("escalate", 2_000, ("shock",))
    assert [a.alarm_id for a in report.false_alarms] == ["raise"]


# ------------------------------------------------------------------------------------------ rates and spans


def test_false_alarms_per_hour_per_chart_and_plant_and_no_rate_without_data() -> None:
    other_plant = "acme/plant2/machining/line-1/cnc-01"
    alarms = [
        alarm("x1", M1, "power", 1_000),
        alarm("x2", M1, "power", 2_000),
        alarm("x3", M2, "diameter", 3_000),
        alarm("x4", other_plant, "power", 4_000),
    ]
    half_hour = Span(0, 1_800_000)
    report = detection_report([], alarms, span=half_hour)
    assert report.false_alarms_per_hour == pytest.approx(8.0)
    data = report.to_dict()
    assert data["false_alarms_by_series"][f"{M1}/telemetry/power"] == {"false_alarms": 2, "per_hour": 4.0}
    assert data["false_alarms_by_plant"] == {
        "acme/plant1": {"false_alarms": 3, "per_hour": 6.0},
        "acme/plant2": {"false_alarms": 1, "per_hour": 2.0},
    }
    assert data["summary"]["window"] == {
        "since": "1970-01-01T00:00:00.000Z",
        "until": "1970-01-01T00:30:00.000Z",
        "hours": 0.5,
        "source": "given",
    }
    empty = detection_report([], alarms, span=Span(5_000, 5_000))
    assert empty.false_alarms_per_hour is None
    assert empty.to_dict()["false_alarms_by_series"][f"{M1}/telemetry/power"]["per_hour"] is None
    assert "no data" in Span(5_000, 5_000).describe()
    assert detection_report([], alarms).false_alarms_per_hour is None  # no span given: no rate


def test_span_clips_to_a_window() -> None:
    store_span = Span(1_000, 10_000, "store")
    assert store_span.clip(None, None) == store_span
    assert store_span.clip(4_000, None) == Span(4_000, 10_000, "given")
    assert store_span.clip(None, 99_000) == store_span  # a window reaching past the data counts the data only
    assert store_span.clip(20_000, 30_000).hours is None  # a window after the data holds none


def test_data_span_is_the_simulated_time_in_the_store(tmp_path: Path) -> None:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'span.db'}")
    try:
        assert data_span(store) is None
        t0 = 1_795_341_600_000
        store.write_readings([Reading(f"{M1}/telemetry/power", t0 + i * 1000, 7.0) for i in range(10)])
        store.write_events([FaultEvent(M1, t0 + 20_000, "fault", "shift", "power")])
        span = data_span(store)
    finally:
        store.close()
    assert span == Span(t0, t0 + 20_001, "store")


# ------------------------------------------------------------------------------------------ what a fault affects


def test_a_fault_is_paired_only_with_the_signals_it_affects() -> None:
    wear = FaultEvent(M1, 10_000, "fault", "tool_wear", None, {"k": 2}, ("diameter", "vibration_rms", "power"))
    shift = FaultEvent(M2, 10_000, "fault", "shift", "fill_weight")  # no affects: its sensor
    breakdown = FaultEvent(M2, 50_000, "fault", "breakdown", None)  # neither: any series of the machine
    alarms = [
        alarm("temp", M1, "spindle_temp", 11_000),  # tool wear does not change the spindle temperature
        alarm("vib", M1, "vibration_rms", 12_000),
        alarm("other", M2, "motor_current", 13_000),  # not the shifted fill weight, before the breakdown
        alarm("fill", M2, "fill_weight", 14_000),
        alarm("down", M2, "motor_current", 50_000),
    ]
    report = detection_report([wear, shift, breakdown], alarms)
    by_fault = {d.episode.fault: d for d in report.detections}
    assert by_fault["tool_wear"].episode.pairing == "affects"
    assert by_fault["tool_wear"].episode.signals == ("diameter", "vibration_rms", "power")
    assert (by_fault["tool_wear"].alarm_id, by_fault["tool_wear"].delay_ms) == ("vib", 2_000)
    assert (by_fault["shift"].episode.pairing, by_fault["shift"].alarm_id) == ("sensor", "fill")
    assert (by_fault["breakdown"].episode.pairing, by_fault["breakdown"].alarm_id) == ("machine", "down")
    assert [a.alarm_id for a in report.false_alarms] == ["temp", "other"]
    row = next(r for r in report.to_dict()["episodes"] if r["fault"] == "tool_wear")
    assert (row["affects"], row["pairing"]) == (["diameter", "vibration_rms", "power"], "affects")


def test_stored_events_keep_what_they_affect(tmp_path: Path) -> None:
    store = SqliteStorage(f"sqlite:///{tmp_path / 'a.db'}")
    try:
        store.write_events([FaultEvent(M1, 1_000, "fault", "tool_wear", None, {"k": 2.0}, ("diameter", "power"))])
        store.write_alarms([alarm("p", M1, "power", 2_000), alarm("t", M1, "spindle_temp", 1_500)])
        stored = detection_from_store(store, None, 10_000)
    finally:
        store.close()
    (only,) = stored.report.detections
    assert (only.episode.affects, only.alarm_id) == (("diameter", "power"), "p")


def test_a_stop_without_a_fault_event_is_a_stop_not_a_false_alarm() -> None:
    jam = Alarm("jam", f"{M2}/telemetry/_state", 5_000, ("state",), None, message="down (jam)")
    stuck = Alarm("dq", f"{M2}/telemetry/power", 6_000, ("stuck",), 7.0)
    report = detection_report([], [jam, stuck])
    assert [a.alarm_id for a in report.stops] == ["jam"]
    assert [a.alarm_id for a in report.false_alarms] == ["dq"]
    assert report.to_dict()["false_alarms_by_class"] == {"data_quality": 1}
    assert report.summary()["stops"] == 1
    breakdown = FaultEvent(M2, 4_000, "fault", "breakdown")
    caught = detection_report([breakdown], [jam])
    assert (caught.detections[0].alarm_id, caught.stops) == ("jam", ())
