"""The storage contract: every backend must pass these."""

from __future__ import annotations

import pandas as pd

from smartfactory.model import Alarm, AlarmAck, DeadLetter, FaultEvent, PartResult, Reading, StateChange
from smartfactory.storage import Storage
from smartfactory.wire import MachineInfo, SignalInfo

HOSTILE = 'x") |> drop() \\'  # quote, pipe, spaces, trailing backslash: a legal topic level

MACHINE = "acme/plant1/machining/line-1/cnc-01"
A = f"{MACHINE}/telemetry/spindle_temp"
B = f"{MACHINE}/telemetry/power"
T0 = 1_795_341_600_000


def readings(series: str, n: int, start: int = T0, step: int = 1000) -> list[Reading]:
    return [Reading(series, start + i * step, float(i) + 0.25, "degC") for i in range(n)]


def test_write_is_idempotent(store: Storage) -> None:
    batch = readings(A, 100)
    assert store.write_readings(batch) == 100
    replay = store.write_readings(batch)
    mixed = store.write_readings(batch[50:] + readings(A, 10, start=T0 + 100_000))
    if getattr(store, "reports_duplicates", True):
        assert (replay, mixed) == (0, 10)  # a replay stores nothing new
    else:
        assert (replay, mixed) == (100, 60)  # InfluxDB overwrites and cannot tell: counts what it wrote
    assert store.count_readings() == 110
    assert store.read_series(A)["value"].tolist() == [r.value for r in batch] + [
        r.value for r in readings(A, 10, start=T0 + 100_000)
    ]


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
    assert alarm.message == "beyond UCL"  # a clear without a message keeps the one it was raised with
    assert store.read_alarms(active_only=True) == []


def test_names_from_topics_are_stored_and_queried_literally(store: Storage) -> None:
    machine = f'ac me/pl,ant=1/a"rea/${{line}}/{HOSTILE}'
    series = f"{machine}/telemetry/t,e=m p"
    other = f"{MACHINE}/telemetry/{HOSTILE}"
    store.write_readings(readings(series, 20) + readings(other, 5))
    assert store.read_series(series)["value"].tolist() == [i + 0.25 for i in range(20)]
    assert len(store.read_series(other)) == 5
    assert len(store.read_aggregates(series, T0, T0 + 20_000, buckets=4)) == 4
    info = {s.series: s for s in store.list_series()}[series]
    assert (info.enterprise, info.site, info.area, info.line, info.machine, info.sensor) == (
        "ac me",
        "pl,ant=1",
        'a"rea',
        "${line}",
        HOSTILE,
        "t,e=m p",
    )
    assert set(store.latest()["series"]) == {series, other}
    only = [r for chunk in store.iter_readings(machine=HOSTILE) for r in chunk]
    assert {r.series for r in only} == {series}
    store.write_states([StateChange(machine, T0, "down", HOSTILE)])
    assert store.read_states(machine) == [StateChange(machine, T0, "down", HOSTILE)]


def test_free_text_round_trips_exactly(store: Storage) -> None:
    text = 'line one\nline "two"\r\\end\\'
    letter = DeadLetter(T0, f"bad/{text}", "bad_json", text, bytes(range(256)), 256)
    store.write_deadletters([letter])
    assert store.read_deadletters() == [letter]
    alarm = Alarm("a-1", A, T0, ("WE1", "WE2"), -1.5, message=text)
    store.write_alarms([alarm])
    assert store.read_alarms() == [alarm]
    event = FaultEvent(MACHINE, T0, "fault", text, None, {"note": text, "size": 3.0})
    store.write_events([event])
    assert store.read_events() == [event]


def test_aggregates_buckets_start_at_since_and_skip_empty_ones(store: Storage) -> None:
    store.write_readings(readings(A, 30, start=T0 + 500))
    store.write_readings(readings(A, 10, start=T0 + 100_500))
    agg = store.read_aggregates(A, T0 + 250, T0 + 150_250, buckets=15)  # 10-second buckets from T0 + 250
    assert agg["ts"].tolist() == [pd.Timestamp(T0 + 250 + k * 10_000, unit="ms", tz="UTC") for k in (0, 1, 2, 10)]
    assert agg["count"].tolist() == [10, 10, 10, 10]
    assert agg["min"].tolist() == [0.25, 10.25, 20.25, 0.25]
    assert store.read_aggregates(A, T0, T0, buckets=10).empty


def test_reads_with_ranges(store: Storage) -> None:
    store.write_readings(readings(A, 50))
    store.write_states([StateChange(MACHINE, T0 + k, "running") for k in range(5)])
    store.write_parts([PartResult(MACHINE, T0 + k, f"p{k}", k % 2 == 0) for k in range(5)])
    assert len(store.read_states(since_ms=T0 + 3)) == 2
    assert [p.part_id for p in store.read_parts(since_ms=T0 + 3)] == ["p3", "p4"]
    assert store.read_parts(machine="acme/plant1/machining/line-1/other") == []
    assert store.read_part_outcomes(T0 + 1, T0 + 4) == [(MACHINE, T0 + k, k % 2 == 0) for k in (1, 2, 3)]
    assert [machine for machine, _, _ in store.read_part_outcomes()] == [MACHINE] * 5
    other = "acme/plant1/machining/line-1/other"
    store.write_parts([PartResult(other, T0 + 10, "q10", True)])
    assert store.read_part_machines() == sorted([MACHINE, other])
    assert store.read_part_machines(T0 + 1, T0 + 10) == [MACHINE]
    assert store.read_part_machines(T0 + 5, T0 + 11) == [other]
    assert store.read_part_machines(T0 + 11) == []
    assert store.read_series(A, since_ms=T0 + 45_000, limit=2)["value"].tolist() == [48.25, 49.25]
    assert [len(c) for c in store.iter_readings(since_ms=T0 + 10_000, until_ms=T0 + 15_000)] == [5]
    assert list(store.iter_readings(sensor="nothing")) == []
    letters = [DeadLetter(T0 + k, "t", "bad_json", str(k), b"{", 1) for k in range(4)]
    store.write_deadletters(letters)
    assert store.read_deadletters(since_ms=T0 + 1, limit=2) == letters[1:3]


def test_delete_before_removes_old_readings(store: Storage) -> None:
    store.write_readings(readings(A, 100))
    store.delete_before(T0 + 60_000)
    assert store.count_readings() == 40
    assert store.read_series(A)["value"].iloc[0] == 60.25


def test_limits_are_versioned_per_series(store: Storage) -> None:
    from smartfactory.model import LimitsVersion

    first = LimitsVersion(A, 1, T0, 62.0, 0.5, 3.0, 50, "learned")
    second = LimitsVersion(A, 2, T0 + 60_000, 62.5, 0.4, 3.0, 0, "configured")
    other = LimitsVersion(B, 1, T0, 7.5, 0.2, 3.0, 50, "learned")
    store.write_limits([first, other])
    store.write_limits([second, first])  # rewriting a stored version changes nothing
    assert store.read_limits() == [other, second]  # ordered by series id: …/power before …/spindle_temp
    assert store.read_limits(A, latest_only=False) == [first, second]
    assert store.read_limits(B) == [other]
    assert store.read_limits("acme/x/y/z/w/telemetry/none") == []
    assert second.ucl == 62.5 + 3 * 0.4


def _info(machine_type: str, cycle: float | None = 30.0) -> MachineInfo:
    return MachineInfo(
        machine_type=machine_type,
        ideal_cycle_s=cycle,
        sample_interval_s=1.0,
        signals={
            "spindle_temp": SignalInfo(kind="process", unit="°C", decimals=1),
            "bore": SignalInfo(kind="quality", unit="mm", lsl=24.95, usl=25.05, target=25.0, decimals=3),
            "reject_count": SignalInfo(kind="count"),
        },
    )


def test_machine_info_newest_per_machine_wins(store: Storage) -> None:
    assert store.read_machine_info() == {}
    other = "acme/plant1/packaging/line-2/filler-01"
    store.write_machine_info(MACHINE, T0, _info("cnc"))
    store.write_machine_info(other, T0, _info("filler", cycle=None))
    store.write_machine_info(MACHINE, T0, _info("cnc"))  # a redelivered birth: no change
    assert store.read_machine_info() == {MACHINE: _info("cnc"), other: _info("filler", cycle=None)}
    store.write_machine_info(MACHINE, T0 + 60_000, _info("cnc", cycle=25.0))  # reconnected with new facts
    store.write_machine_info(MACHINE, T0 + 30_000, _info("stale"))  # an older birth arriving late loses
    found = store.read_machine_info()
    assert found[MACHINE] == _info("cnc", cycle=25.0)
    assert found[MACHINE].signals["bore"].usl == 25.05
    assert found[other].ideal_cycle_s is None


def test_machine_info_of_hostile_names_round_trips(store: Storage) -> None:
    machine = f"acme/plant 1/area,a=b/line-1/{HOSTILE}"
    info = MachineInfo(machine_type=HOSTILE, signals={HOSTILE: SignalInfo(kind="process", unit='"\\\n')})
    store.write_machine_info(machine, T0, info)
    assert store.read_machine_info() == {machine: info}


def test_a_conflicting_write_keeps_the_last_value_in_every_backend(store: Storage) -> None:
    """Same series and millisecond, another value (a corrected re-send): both backends keep the last value written,
    and a backend that can tell counts the replacement as a conflict, apart from the benign duplicates."""
    store.write_readings([Reading(A, T0, 1.0)])
    store.write_readings([Reading(A, T0, 1.0)])  # a benign duplicate: no conflict
    store.write_readings([Reading(A, T0, 2.0), Reading(A, T0 + 1, 1.0), Reading(A, T0 + 1, 3.0)])
    assert store.read_series(A)["value"].tolist() == [2.0, 3.0]
    if getattr(store, "reports_conflicts", False):
        assert getattr(store, "conflicts", None) == 2


def test_an_ack_names_its_series_and_a_dead_letter_is_stored_once(store: Storage) -> None:
    store.write_alarms([Alarm("a1", A, T0, ("WE1",), 99.0)])
    store.ack_alarms([AlarmAck("a1", B, T0 + 5, "intruder")])  # the ack's topic is another series: ignored
    assert store.read_alarms()[0].acked_by is None
    store.ack_alarms([AlarmAck("a1", A, T0 + 10, "lecturer")])
    assert store.read_alarms()[0].acked_by == "lecturer"
    letter = DeadLetter(T0, "a/b", "bad_json", "not valid JSON", b"{oops", 5)
    store.write_deadletters([letter])
    store.write_deadletters([letter])  # redelivered: the same dead letter
    assert store.read_deadletters() == [letter]
