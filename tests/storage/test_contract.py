"""The storage contract: every backend must pass these."""

from __future__ import annotations

import pandas as pd

from smartfactory.model import Alarm, AlarmAck, DeadLetter, FaultEvent, PartResult, Reading, StateChange
from smartfactory.storage import Storage

MACHINE = "acme/plant1/machining/line-1/cnc-01"
A = f"{MACHINE}/telemetry/spindle_temp"
B = f"{MACHINE}/telemetry/power"
T0 = 1_795_341_600_000


def readings(series: str, n: int, start: int = T0, step: int = 1000) -> list[Reading]:
    return [Reading(series, start + i * step, float(i) + 0.25, "degC") for i in range(n)]


def test_write_is_idempotent(store: Storage) -> None:
    batch = readings(A, 100)
    assert store.write_readings(batch) == 100
    assert store.write_readings(batch) == 0  # a replay stores nothing new
    assert store.write_readings(batch[50:] + readings(A, 10, start=T0 + 100_000)) == 10
    assert store.count_readings() == 110


def test_read_series_range_and_limit(store: Storage) -> None:
    store.write_readings(readings(A, 100) + readings(B, 5))
    frame = store.read_series(A, since_ms=T0 + 10_000, until_ms=T0 + 20_000)
    assert list(frame.columns) == ["ts", "value"]
    assert len(frame) == 10
    assert frame["ts"].iloc[0] == pd.Timestamp(T0 + 10_000, unit="ms", tz="UTC")
    assert frame["value"].tolist() == [i + 0.25 for i in range(10, 20)]
    last = store.read_series(A, limit=3)
    assert last["value"].tolist() == [97.25, 98.25, 99.25]
    assert store.read_series("acme/x/y/z/w/telemetry/none").empty


def test_aggregates_per_bucket(store: Storage) -> None:
    store.write_readings(readings(A, 100))
    agg = store.read_aggregates(A, T0, T0 + 100_000, buckets=10)
    assert len(agg) == 10
    assert agg["count"].tolist() == [10] * 10
    assert agg["min"].iloc[0] == 0.25
    assert agg["max"].iloc[0] == 9.25
    assert abs(agg["mean"].iloc[0] - 4.75) < 1e-12


def test_latest_and_list_series(store: Storage) -> None:
    store.write_readings(readings(A, 10) + readings(B, 3))
    latest = store.latest().set_index("series")
    assert latest.loc[A, "value"] == 9.25
    assert latest.loc[B, "value"] == 2.25
    assert latest.loc[A, "unit"] == "degC"
    infos = {s.series: s for s in store.list_series()}
    assert infos[A].machine == "cnc-01"
    assert infos[A].sensor == "spindle_temp"
    assert infos[A].line == "line-1"


def test_iter_readings_streams_in_chunks(store: Storage) -> None:
    store.write_readings(readings(A, 25) + readings(B, 7))
    chunks = list(store.iter_readings(chunk=10))
    assert [len(c) for c in chunks] == [7, 10, 10, 5]  # series in name order, then time order
    only_a = [r for c in store.iter_readings(sensor="spindle_temp", since_ms=T0 + 20_000) for r in c]
    assert [r.ts_ms for r in only_a] == [T0 + i * 1000 for i in range(20, 25)]


def test_dead_letters_states_parts_events(store: Storage) -> None:
    letter = DeadLetter(T0, "a/b", "bad_json", "not valid JSON", b"{oops", 5)
    store.write_deadletters([letter])
    assert store.read_deadletters() == [letter]
    store.write_states([StateChange(MACHINE, T0, "running"), StateChange(MACHINE, T0 + 5, "down", "breakdown")])
    assert [s.state for s in store.read_states(MACHINE)] == ["running", "down"]
    part = PartResult(MACHINE, T0, "p-1", False, {"diameter": 25.1})
    store.write_parts([part, part])
    assert store.read_parts(MACHINE) == [part]
    event = FaultEvent(MACHINE, T0, "fault", "drift", "spindle_temp", {"rate": 0.1})
    store.write_events([event, event])
    assert store.read_events() == [event]


def test_alarm_lifecycle(store: Storage) -> None:
    raised = Alarm("a1", A, T0, ("WE1",), 99.0, message="beyond UCL")
    store.write_alarms([raised])
    assert [a.alarm_id for a in store.read_alarms(active_only=True)] == ["a1"]
    store.ack_alarms([AlarmAck("a1", A, T0 + 10, "lecturer"), AlarmAck("unknown", A, T0, "x")])
    store.write_alarms([Alarm("a1", A, T0, ("WE1",), 99.0, active=False, cleared_ms=T0 + 20)])
    (alarm,) = store.read_alarms()
    assert (alarm.active, alarm.cleared_ms, alarm.acked_ms, alarm.acked_by) == (
        False,
        T0 + 20,
        T0 + 10,
        "lecturer",
    )
    assert alarm.rules == ("WE1",)
    assert store.read_alarms(active_only=True) == []
