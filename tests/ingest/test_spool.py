"""The spool on its own: order, durability across reopen, torn writes, limits, and the batch record codec."""

from __future__ import annotations

import string
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smartfactory.ingest import batch as records
from smartfactory.ingest.batch import Batch
from smartfactory.ingest.spool import MAGIC, Spool, SpoolError, SpoolFull
from smartfactory.model import (
    Alarm,
    AlarmAck,
    DeadLetter,
    FaultEvent,
    LimitsVersion,
    MachineInfoRecord,
    PartResult,
    Reading,
    StateChange,
)
from smartfactory.wire import MachineInfo, SignalInfo


def drain(spool: Spool) -> list[bytes]:
    out: list[bytes] = []
    while spool:
        spool.replay(out.append, budget_s=5)
    return out


def test_records_come_back_in_append_order_across_segments(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=200)
    bodies = [f"record-{i:03d}".encode() * 3 for i in range(50)]
    for body in bodies:
        spool.append(body)
    assert spool.pending == 50
    assert len(list(tmp_path.glob("*.spool"))) > 5  # rotated
    assert drain(spool) == bodies
    assert spool.pending == 0
    assert list(tmp_path.glob("*.spool")) == []  # fully replayed segments are deleted
    spool.close()


def test_a_reopened_spool_continues_where_replay_stopped(tmp_path: Path) -> None:
    spool = Spool(tmp_path, segment_bytes=300)
    bodies = [f"r{i}".encode() for i in range(40)]
    for body in bodies:
        spool.append(body)
    seen: list[bytes] = []

    def take_ten(body: bytes) -> None:
        if len(seen) == 10:
            raise ConnectionError("store went away")
        seen.append(body)

    with pytest.raises(ConnectionError):
        spool.replay(take_ten, budget_s=5)
    spool.close()  # the process ends with 30 records pending

    again = Spool(tmp_path, segment_bytes=300)
    assert again.pending == 30
    assert drain(again) == bodies[10:]
    again.append(b"after")
    assert drain(again) == [b"after"]
    again.close()


def test_a_failing_handler_keeps_the_record_first_in_line(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    spool.append(b"one")
    spool.append(b"two")
    with pytest.raises(RuntimeError):
        spool.replay(lambda body: (_ for _ in ()).throw(RuntimeError("down")), budget_s=5)
    assert drain(spool) == [b"one", b"two"]
    spool.close()


@pytest.mark.parametrize("cut", [1, 4, 8, 11])
def test_a_torn_last_write_is_cut_off_and_the_rest_survives(tmp_path: Path, cut: int) -> None:
    spool = Spool(tmp_path)
    spool.append(b"complete-1")
    spool.append(b"complete-2")
    spool.append(b"torn-record")
    spool.close()
    segment = next(tmp_path.glob("*.spool"))
    data = segment.read_bytes()
    segment.write_bytes(data[: len(data) - cut])  # a crash in the middle of the last write

    again = Spool(tmp_path)
    assert again.pending == 2
    again.append(b"next")
    assert drain(again) == [b"complete-1", b"complete-2", b"next"]
    again.close()


def test_a_corrupted_frame_ends_its_segment(tmp_path: Path) -> None:
    spool = Spool(tmp_path)
    for body in (b"aaaa", b"bbbb", b"cccc"):
        spool.append(body)
    spool.close()
    segment = next(tmp_path.glob("*.spool"))
    data = bytearray(segment.read_bytes())
    data[len(MAGIC) + 8 + 4 + 8 + 1] ^= 0xFF  # flip a byte in the second body: its CRC no longer matches
    segment.write_bytes(bytes(data))
    again = Spool(tmp_path)
    assert drain(again) == [b"aaaa"]
    again.close()


def test_the_spool_refuses_to_grow_past_its_limit(tmp_path: Path) -> None:
    spool = Spool(tmp_path, max_bytes=100)
    spool.append(b"x" * 50)
    with pytest.raises(SpoolFull):
        spool.append(b"y" * 50)
    assert drain(spool) == [b"x" * 50]
    spool.append(b"y" * 50)  # room again once replayed
    assert drain(spool) == [b"y" * 50]
    spool.close()


def test_two_workers_cannot_share_a_spool(tmp_path: Path) -> None:
    first = Spool(tmp_path)
    with pytest.raises(SpoolError, match="client id"):
        Spool(tmp_path)
    first.close()
    Spool(tmp_path).close()  # free again once the first closed


# ------------------------------------------------------------------ records

names = st.text(string.ascii_letters + string.digits + "-_", min_size=1, max_size=12)
finite = st.floats(allow_nan=False, allow_infinity=False)
times = st.integers(min_value=0, max_value=2**45)


@st.composite
def batches(draw: st.DrawFn) -> Batch:
    series = draw(st.lists(names, min_size=1, max_size=4)).copy()
    return Batch(
        readings=draw(
            st.lists(
                st.builds(
                    Reading,
                    st.sampled_from([f"e/s/a/l/m/telemetry/{s}" for s in series]),
                    times,
                    finite,
                    st.none() | names,
                ),
                max_size=30,
            )
        ),
        states=draw(
            st.lists(
                st.builds(
                    StateChange,
                    machine=names,
                    ts_ms=times,
                    state=names,
                    reason=st.none() | names,
                    line=st.none() | names,
                ),
                max_size=3,
            )
        ),
        parts=draw(
            st.lists(
                st.builds(PartResult, names, times, names, st.booleans(), st.dictionaries(names, finite)), max_size=3
            )
        ),
        events=draw(
            st.lists(
                st.builds(
                    FaultEvent, names, times, names, names, st.none() | names, st.dictionaries(names, finite | names)
                ),
                max_size=3,
            )
        ),
        acks=draw(st.lists(st.builds(AlarmAck, names, names, times, names), max_size=3)),
        alarms=draw(
            st.lists(
                st.builds(
                    Alarm,
                    names,
                    names,
                    times,
                    st.lists(names, max_size=3).map(tuple),
                    st.none() | finite,
                    st.booleans(),
                    st.text(max_size=20),
                    st.none() | times,
                    st.none() | times,
                    st.none() | names,
                ),
                max_size=3,
            )
        ),
        limits=draw(
            st.lists(
                st.builds(
                    LimitsVersion, names, st.integers(1, 99), times, finite, finite, finite, st.integers(0, 999), names
                ),
                max_size=2,
            )
        ),
        infos=draw(
            st.lists(
                st.builds(
                    MachineInfoRecord,
                    machine=names,
                    ts_ms=times,
                    info=st.builds(
                        MachineInfo,
                        machine_type=names,
                        ideal_cycle_s=st.none() | st.floats(min_value=0.001, max_value=1e6),
                        signals=st.dictionaries(names, st.builds(SignalInfo, kind=st.just("process"), unit=names)),
                    ),
                ),
                max_size=2,
            )
        ),
        deadletters=draw(
            st.lists(
                st.builds(
                    DeadLetter, times, st.text(max_size=30), names, st.text(max_size=30), st.binary(max_size=40), times
                ),
                max_size=3,
            )
        ),
    )


@settings(max_examples=60, deadline=None)
@given(batches())
def test_a_batch_survives_the_spool_record_unchanged(batch: Batch) -> None:
    again = records.decode(records.encode(batch))
    for name in ("readings", "states", "parts", "events", "acks", "alarms", "limits", "infos", "deadletters"):
        assert getattr(again, name) == getattr(batch, name), name


def test_a_record_of_another_version_is_refused() -> None:
    with pytest.raises(ValueError, match="version"):
        records.decode(b'{"v": 99, "series": [], "r": []}')


def test_a_record_spooled_by_the_first_version_still_replays() -> None:
    """Spool rows are the records' `to_row()`; rows written before `StateChange.line` existed have 4 fields."""
    old = (
        b'{"v":1,"series":["e/s/a/l/m/telemetry/t"],"r":[[0,5,1.5,null]],'
        b'"s":[["e/s/a/l/m",5,"down","jam"]],"p":[["e/s/a/l/m",6,"p1",true,{"d":2.5}]],'
        b'"a":[["a1","e/s/a/l/m/telemetry/t",7,["WE1"],1.5,true,"",null,null,null]],'
        b'"d":[[8,"x/y","bad_json","oops","e30=",2]]}'
    )
    batch = records.decode(old)
    assert batch.readings == [Reading(series="e/s/a/l/m/telemetry/t", ts_ms=5, value=1.5)]
    assert batch.states == [StateChange(machine="e/s/a/l/m", ts_ms=5, state="down", reason="jam")]
    assert batch.states[0].line_id == "a/l"
    assert batch.parts == [PartResult(machine="e/s/a/l/m", ts_ms=6, part_id="p1", good=True, measurements={"d": 2.5})]
    assert batch.alarms[0].rules == ("WE1",)
    assert batch.deadletters == [
        DeadLetter(received_ms=8, topic="x/y", reason="bad_json", detail="oops", payload=b"{}", payload_size=2)
    ]
