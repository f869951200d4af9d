"""The InfluxDB read side without a Flux server: the query each read sends and how it decodes the rows InfluxDB
returns (shaped as influxdb-client hands them over: one dict per record, `_time` an aware datetime).

The same reads run for real in the contract suite when SMARTFACTORY_INFLUX_URL points at an InfluxDB 2.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from smartfactory.model import AlarmAck, Reading
from smartfactory.storage import lineprotocol as lp
from smartfactory.storage.influx import InfluxStorage
from smartfactory.wire import MachineInfo, SignalInfo
from tests.storage.lpref import parse_line

SERIES = "acme/plant1/machining/line-1/cnc-01/telemetry/spindle_temp"
TAGS = dict(lp.series_tags(SERIES))
T0 = 1_795_341_600_000


def at(ms: int, extra_ns: int = 0) -> datetime:
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms, microseconds=extra_ns // 1000)


class Stub:
    """Stands in for the server: answers queries from a list of row lists and records what was sent."""

    def __init__(self, store: InfluxStorage, answers: list[list[dict[str, Any]]]) -> None:
        self.queries: list[str] = []
        self.posted: list[str] = []
        self.answers = answers
        store._rows = self.rows  # type: ignore[method-assign]
        store._stream = lambda query: iter(self.rows(query))  # type: ignore[method-assign]
        store._post = lambda lines, precision: self.posted.extend(lines)  # type: ignore[method-assign]

    def rows(self, query: str) -> list[dict[str, Any]]:
        self.queries.append(query)
        return self.answers.pop(0)


@pytest.fixture
def store() -> InfluxStorage:
    return InfluxStorage("influxdb://127.0.0.1:9?org=o&bucket=plant", token="t")


def test_read_series_decodes_times_and_values(store: InfluxStorage) -> None:
    stub = Stub(store, [[{"_time": at(T0 + k), "_value": k / 4} for k in range(3)]])
    frame = store.read_series(SERIES, since_ms=T0, limit=3)
    assert frame["ts"].tolist() == [pd.Timestamp(T0 + k, unit="ms", tz="UTC") for k in range(3)]
    assert frame["value"].tolist() == [0.0, 0.25, 0.5]
    assert frame.dtypes["value"] == "float64"
    assert "tail(n: 3)" in stub.queries[0]
    assert '"cnc-01"' in stub.queries[0]


def test_unparsable_series_and_empty_ranges_send_no_query(store: InfluxStorage) -> None:
    stub = Stub(store, [])
    assert store.read_series("not/a/series").empty
    assert store.read_series(SERIES, T0, T0).empty
    assert store.read_aggregates(SERIES, T0, T0 - 1, 10).empty
    assert stub.queries == []


def test_aggregates_rows_become_the_common_frame(store: InfluxStorage) -> None:
    rows = [{"_time": at(T0 + 10_000 * k), "mean": 1.5, "min": 1.0, "max": 2.0, "count": 4.0} for k in range(2)]
    stub = Stub(store, [rows])
    frame = store.read_aggregates(SERIES, T0, T0 + 20_000, buckets=2)
    assert list(frame.columns) == ["ts", "mean", "min", "max", "count"]
    assert frame["count"].tolist() == [4, 4]
    assert frame.dtypes["count"] == "int64"
    assert "every: 10000ms" in stub.queries[0]


def test_latest_and_list_series_merge_the_last_unit(store: InfluxStorage) -> None:
    other = "acme/plant1/machining/line-1/cnc-02/telemetry/power"
    values = [
        {**TAGS, "_time": at(T0 + 5), "_value": 71.5},
        {**dict(lp.series_tags(other)), "_time": at(T0 + 9), "_value": 3.0},
    ]
    units = [{**TAGS, "_time": at(T0 + 5), "_value": "°C"}]
    Stub(store, [values, units, values, units])
    latest = store.latest()
    assert latest["series"].tolist() == [SERIES, other]
    assert latest["unit"].iloc[0] == "°C"
    assert pd.isna(latest["unit"].iloc[1])
    assert latest["ts"].iloc[1] == pd.Timestamp(T0 + 9, unit="ms", tz="UTC")
    infos = store.list_series()
    assert [(i.series, i.machine, i.sensor, i.unit) for i in infos] == [
        (SERIES, "cnc-01", "spindle_temp", "°C"),
        (other, "cnc-02", "power", None),
    ]


def test_iter_readings_streams_each_matching_series_in_chunks(store: InfluxStorage) -> None:
    values = [{**TAGS, "_time": at(T0), "_value": 1.0}]
    points = [{"_time": at(T0 + k), "_value": float(k)} for k in range(7)]
    stub = Stub(store, [values, [], points])
    chunks = list(store.iter_readings(machine="cnc-01", chunk=3))
    assert [len(c) for c in chunks] == [3, 3, 1]
    assert chunks[2][0] == Reading(SERIES, T0 + 6, 6.0, None)
    assert "tail" not in stub.queries[-1]


def _alarm_row(alarm_id: str, ms: int, **fields: Any) -> dict[str, Any]:
    return {
        **TAGS,
        "_time": at(ms, lp.key_offset_ns(alarm_id)),
        "alarm_id": lp.encode_text(alarm_id),
        "rules": "WE1,WE5",
        "active": True,
        "message": lp.encode_text("beyond\nUCL"),
        **fields,
    }


def test_alarms_decode_and_filter_active(store: InfluxStorage) -> None:
    rows = [_alarm_row("a1", T0, value=99.0), _alarm_row("a2", T0 + 1, active=False, cleared_ms=T0 + 9)]
    Stub(store, [rows, rows])
    first, second = store.read_alarms()
    assert (first.alarm_id, first.series, first.ts_ms, first.rules, first.value) == (
        "a1",
        SERIES,
        T0,
        ("WE1", "WE5"),
        99.0,
    )
    assert first.message == "beyond\nUCL"
    assert (second.active, second.cleared_ms, second.value, second.acked_ms) == (False, T0 + 9, None, None)
    assert [a.alarm_id for a in store.read_alarms(active_only=True)] == ["a1"]


def test_acknowledgements_merge_into_known_unacknowledged_alarms_only(store: InfluxStorage) -> None:
    rows = [_alarm_row("a1", T0), _alarm_row("a2", T0 + 1, acked_ms=T0 + 2, acked_by="first")]
    stub = Stub(store, [rows])
    store.ack_alarms(
        [
            AlarmAck("a1", SERIES, T0 + 50, "lecturer"),
            AlarmAck("a1", SERIES, T0 + 60, "late"),  # the first acknowledgement wins
            AlarmAck("a2", SERIES, T0 + 70, "again"),  # already acknowledged
            AlarmAck("zz", SERIES, T0, "x"),  # unknown alarm
            AlarmAck("a3", "not a series", T0, "x"),  # no query needed
        ]
    )
    assert len(stub.queries) == 1
    (point,) = (parse_line(line) for line in stub.posted)
    assert point.fields == {"acked_ms": T0 + 50, "acked_by": "lecturer"}
    assert point.ts == lp.alarm_ts_ns("a1", T0)  # lands on the alarm's own point
    assert point.tags == TAGS


def test_records_decode(store: InfluxStorage) -> None:
    machine_tags = dict(lp.machine_tags("acme/plant1/machining/line-1/cnc-01"))
    letters = [
        {
            "reason": "bad_json",
            "_time": at(T0, 123_456),
            "topic": "a/b",
            "detail": lp.encode_text("x\ny"),
            "payload": base64.b64encode(b"\x00{").decode(),
            "payload_size": 2,
        }
    ]
    states = [
        {**machine_tags, "_time": at(T0 + 5), "state": "down", "reason": "breakdown"},
        {**machine_tags, "_time": at(T0), "state": "running"},
    ]
    parts = [{**machine_tags, "_time": at(T0), "part_id": "p1", "good": False, "measurements": '{"d": 25.1}'}]
    events = [{**machine_tags, "kind": "fault", "_time": at(T0), "fault": "drift", "params": '{"rate": 0.5}'}]
    stub = Stub(store, [letters, states, parts, events])
    (letter,) = store.read_deadletters(limit=5)
    assert (letter.received_ms, letter.detail, letter.payload, letter.payload_size) == (T0, "x\ny", b"\x00{", 2)
    assert [(s.ts_ms, s.state, s.reason) for s in store.read_states("acme/plant1/machining/line-1/cnc-01")] == [
        (T0, "running", None),
        (T0 + 5, "down", "breakdown"),
    ]
    (part,) = store.read_parts()
    assert (part.good, part.measurements) == (False, {"d": 25.1})
    (event,) = store.read_events(since_ms=T0)
    assert (event.kind, event.fault, event.sensor, event.params) == ("fault", "drift", None, {"rate": 0.5})
    assert "limit(n: 5)" in stub.queries[0]
    assert '"cnc-01"' in stub.queries[1]


def test_delete_before_asks_the_delete_api_for_each_measurement(
    store: InfluxStorage, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []

    class DeleteApi:
        def delete(self, start: str, stop: str, predicate: str, bucket: str, org: str) -> None:
            calls.append((stop, predicate, bucket, org))

    monkeypatch.setattr(store._client, "delete_api", DeleteApi)
    assert store.delete_before(T0) is None
    assert [c[1] for c in calls] == [f'_measurement="{m}"' for m in ("reading", "deadletter", "part", "event")]
    assert {c[0] for c in calls} == {"2026-11-22T09:59:59.999999999Z"}  # T0 is 2026-11-22T10:00Z
    assert {c[2:] for c in calls} == {("plant", "o")}


def test_machine_info_is_one_string_field_per_machine_and_reads_back_newest(store: InfluxStorage) -> None:
    machine = "acme/plant1/machining/line-1/cnc-01"
    info = MachineInfo(
        machine_type='c"n\\c',
        ideal_cycle_s=30.0,
        signals={"bore": SignalInfo(kind="quality", unit="mm\n", lsl=24.95, usl=25.05)},
    )
    stub = Stub(store, [])
    store.write_machine_info(machine, T0, info)
    (point,) = (parse_line(line) for line in stub.posted)
    assert point.measurement == "machine_info"
    assert point.tags == dict(lp.machine_tags(machine))
    assert point.ts == T0 * lp.NS_PER_MS
    assert MachineInfo.from_bytes(lp.decode_text(str(point.fields["info"]))) == info
    # read: what InfluxDB returns for `last()` per machine series: its tags, time and the field value
    other = "acme/plant1/packaging/line-2/filler-01"
    rows = [
        {**dict(lp.machine_tags(machine)), "_time": at(T0), "_value": point.fields["info"]},
        {**dict(lp.machine_tags(other)), "_time": at(T0), "_value": '{"machine_type":"filler"}'},
    ]
    stub.answers.append(rows)
    assert store.read_machine_info() == {machine: info, other: MachineInfo(machine_type="filler")}
    (query,) = stub.queries
    assert 'r._measurement == "machine_info"' in query
    assert 'r._field == "info"' in query
    assert "|> last()" in query
    assert "range(start: time(v: 0)" in query  # every birth ever stored, not a recent window
