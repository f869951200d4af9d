"""The host session: births, alias-only data, seq, deaths, rebirth requests and every rejection with its reason."""

from __future__ import annotations

import json

from smartfactory.model import Reading
from smartfactory.sparkplug.host import REBIRTH_METRIC, HostResult, HostSession
from smartfactory.sparkplug.payload import DataType, Metric, SparkplugPayload, decode_payload, encode_payload

NOW = 1_795_341_600_000
GROUP, EDGE, DEVICE = "acme", "plant1:machining:line-1", "cnc-01"
SERIES = "acme/plant1/machining/line-1/cnc-01/telemetry/"
NODE_TOPIC = f"spBv1.0/{GROUP}/{{}}/{EDGE}"
DEVICE_TOPIC = f"spBv1.0/{GROUP}/{{}}/{EDGE}/{DEVICE}"


def _frame(seq: int | None, *metrics: Metric, ts: int = NOW) -> bytes:
    return encode_payload(SparkplugPayload(timestamp=ts, seq=seq, metrics=list(metrics)))


def _nbirth(bd_seq: int = 0, seq: int = 0) -> bytes:
    return _frame(
        seq,
        Metric(name="bdSeq", datatype=DataType.Int64, value=bd_seq),
        Metric(name=REBIRTH_METRIC, datatype=DataType.Boolean, value=False),
    )


def _dbirth(seq: int = 1) -> bytes:
    return _frame(
        seq,
        Metric(name="spindle_temp", alias=1, datatype=DataType.Double, value=60.5, properties={"engUnit": "°C"}),
        Metric(name="vibration", alias=2, datatype=DataType.Float, value=0.5),
        Metric(name="reject_count", alias=3, datatype=DataType.UInt32, value=0),
        Metric(name="offset", alias=4, datatype=DataType.Int8, value=-3),
        Metric(name="door_open", alias=5, datatype=DataType.Boolean, value=False),
        Metric(name="operator", alias=6, datatype=DataType.String, value="ann"),
        Metric(name="_sf/state", alias=7, datatype=DataType.String, value='{"state":"running","ts":1795341600000}'),
    )


def _born(session: HostSession) -> None:
    assert not session.feed(NODE_TOPIC.format("NBIRTH"), _nbirth(), NOW).rebirths
    result = session.feed(DEVICE_TOPIC.format("DBIRTH"), _dbirth(), NOW)
    assert not result.rebirths


def _ddata(seq: int, *metrics: Metric, ts: int = NOW + 1000) -> tuple[str, bytes]:
    return DEVICE_TOPIC.format("DDATA"), _frame(seq, *metrics, ts=ts)


def _is_rebirth(result: HostResult) -> bool:
    assert len(result.rebirths) == 1
    topic, body = result.rebirths[0]
    assert topic == f"spBv1.0/{GROUP}/NCMD/{EDGE}"
    metric = decode_payload(body).metrics[0]
    return metric.name == REBIRTH_METRIC and metric.datatype == DataType.Boolean and metric.value is True


def test_births_are_stored_with_units_and_embedded_json_goes_to_the_decoder() -> None:
    session = HostSession()
    session.feed(NODE_TOPIC.format("NBIRTH"), _nbirth(), NOW)
    result = session.feed(DEVICE_TOPIC.format("DBIRTH"), _dbirth(), NOW)
    assert result.readings == [
        Reading(SERIES + "spindle_temp", NOW, 60.5, "°C"),
        Reading(SERIES + "vibration", NOW, 0.5),
        Reading(SERIES + "reject_count", NOW, 0.0),
        Reading(SERIES + "offset", NOW, -3.0),
        Reading(SERIES + "door_open", NOW, 0.0),
    ]
    assert result.embedded == [("acme/plant1/machining/line-1/cnc-01/state", b'{"state":"running","ts":1795341600000}')]
    [letter] = result.deadletters
    assert letter.reason == "unsupported_type"
    assert "String" in letter.detail
    assert json.loads(letter.payload)["metrics"][0]["name"] == "operator"


def test_alias_only_data_is_resolved() -> None:
    session = HostSession()
    _born(session)
    result = session.feed(
        *_ddata(
            2,
            Metric(alias=1, value=61.25),
            Metric(alias=4, value=-128),  # datatype from the birth
            Metric(alias=5, value=True),
            Metric(alias=2, value=0.75, timestamp=NOW + 500),  # its own timestamp wins
        ),
        NOW + 1000,
    )
    assert result.readings == [
        Reading(SERIES + "spindle_temp", NOW + 1000, 61.25, "°C"),
        Reading(SERIES + "offset", NOW + 1000, -128.0),
        Reading(SERIES + "door_open", NOW + 1000, 1.0),
        Reading(SERIES + "vibration", NOW + 500, 0.75),
    ]
    assert not result.deadletters
    assert not result.rebirths


def test_historical_metrics_keep_their_timestamps() -> None:
    session = HostSession()
    _born(session)
    old = [Metric(alias=1, value=50.0 + i, timestamp=NOW - 60_000 * i, is_historical=True) for i in range(3)]
    result = session.feed(*_ddata(2, *old), NOW + 1000)
    assert [(r.ts_ms, r.value) for r in result.readings] == [(NOW, 50.0), (NOW - 60_000, 51.0), (NOW - 120_000, 52.0)]


def test_data_before_any_birth_asks_for_a_rebirth_and_keeps_what_names_itself() -> None:
    session = HostSession()
    result = session.feed(
        *_ddata(17, Metric(alias=1, value=1.0), Metric(name="spindle_temp", datatype=DataType.Double, value=2.0)),
        NOW,
    )
    assert _is_rebirth(result)
    assert result.readings == [Reading(SERIES + "spindle_temp", NOW + 1000, 2.0)]
    [letter] = result.deadletters
    assert letter.reason == "spb_no_birth"
    assert session.counters["spb_rebirth_request"] == 1
    # the rebirth arrives: alias-only data from then on is stored
    _born(session)
    assert session.feed(*_ddata(2, Metric(alias=1, value=3.0)), NOW).readings[0].value == 3.0


def test_ndata_before_nbirth_asks_for_a_rebirth() -> None:
    session = HostSession()
    result = session.feed(NODE_TOPIC.format("NDATA"), _frame(3, Metric(alias=9, value=1.0)), NOW)
    assert _is_rebirth(result)
    assert result.deadletters[0].reason == "spb_no_birth"


def test_seq_gap_is_counted_and_answered_and_the_data_kept() -> None:
    session = HostSession()
    _born(session)
    assert not session.feed(*_ddata(2, Metric(alias=1, value=1.0)), NOW).rebirths
    result = session.feed(*_ddata(5, Metric(alias=1, value=2.0)), NOW)  # 3 and 4 lost
    assert _is_rebirth(result)
    assert result.readings == [Reading(SERIES + "spindle_temp", NOW + 1000, 2.0, "°C")]
    assert session.counters["spb_seq_gap"] == 1
    assert not session.feed(*_ddata(6, Metric(alias=1, value=3.0)), NOW).rebirths  # in step again


def test_a_rebirth_starts_the_seq_count_again() -> None:
    session = HostSession()
    _born(session)
    for seq in range(2, 60):
        session.feed(*_ddata(seq, Metric(alias=1, value=1.0)), NOW)
    _born(session)  # NBIRTH seq 0, DBIRTH seq 1: no gap
    assert not session.feed(*_ddata(2, Metric(alias=1, value=1.0)), NOW).rebirths
    assert session.counters["spb_seq_gap"] == 0


def test_seq_wraps_at_256() -> None:
    session = HostSession()
    _born(session)
    for seq in [*range(2, 256), 0, 1, 2]:
        assert not session.feed(*_ddata(seq, Metric(alias=1, value=1.0)), NOW).rebirths, seq
    assert session.counters["spb_seq_gap"] == 0


def test_seq_not_checked_on_a_shared_subscription() -> None:
    session = HostSession(check_seq=False)
    _born(session)
    assert not session.feed(*_ddata(9, Metric(alias=1, value=1.0)), NOW).rebirths
    assert session.counters["spb_seq_gap"] == 0


def test_unknown_alias_is_dead_lettered_and_answered() -> None:
    session = HostSession()
    _born(session)
    result = session.feed(*_ddata(2, Metric(alias=1, value=1.0), Metric(alias=99, value=2.0)), NOW)
    assert _is_rebirth(result)
    assert [r.value for r in result.readings] == [1.0]
    [letter] = result.deadletters
    assert letter.reason == "spb_unknown_alias"
    assert json.loads(letter.payload) == {"metrics": [{"alias": 99, "value": 2.0}]}


def test_unsupported_types_are_dead_lettered_not_dropped() -> None:
    session = HostSession()
    session.feed(NODE_TOPIC.format("NBIRTH"), _nbirth(), NOW)
    birth = _frame(
        1,
        Metric(name="table", alias=1, datatype=DataType.DataSet),
        Metric(name="udt", alias=2, datatype=DataType.Template),
        Metric(name="note", alias=3, datatype=DataType.Text, value="x"),
        Metric(name="temp", alias=4, datatype=DataType.Double, value=1.0),
    )
    result = session.feed(DEVICE_TOPIC.format("DBIRTH"), birth, NOW)
    assert [r.series for r in result.readings] == [SERIES + "temp"]
    [letter] = result.deadletters
    assert letter.reason == "unsupported_type"
    assert [m["name"] for m in json.loads(letter.payload)["metrics"]] == ["table", "udt", "note"]
    data = session.feed(*_ddata(2, Metric(alias=3, value="y"), Metric(alias=4, value=2.0)), NOW)
    assert [r.value for r in data.readings] == [2.0]
    assert data.deadletters[0].reason == "unsupported_type"
    assert not data.rebirths  # known aliases: nothing to ask for


def test_not_protobuf_is_dead_lettered_and_answered() -> None:
    session = HostSession()
    _born(session)
    topic, _ = _ddata(2)
    result = session.feed(topic, b'{"value": 1}', NOW)
    assert result.deadletters[0].reason == "bad_protobuf"
    assert _is_rebirth(result)
    assert not session.feed(*_ddata(7, Metric(alias=1, value=1.0)), NOW + 10).rebirths  # seq unknown: no gap


def test_rebirth_requests_are_rate_limited_per_node() -> None:
    session = HostSession(rebirth_interval_ms=5000)
    topic, _ = _ddata(2)
    assert session.feed(topic, b"\xff", NOW).rebirths
    assert not session.feed(topic, b"\xff", NOW + 4999).rebirths
    other = session.feed("spBv1.0/acme/DDATA/other-node/m", b"\xff", NOW + 1)
    assert other.rebirths[0][0] == "spBv1.0/acme/NCMD/other-node"  # another node has its own limit
    assert session.feed(topic, b"\xff", NOW + 5000).rebirths
    assert session.counters["spb_rebirth_request"] == 3
    assert session.counters["spb_rebirth_suppressed"] == 1


def test_too_large_is_dead_lettered_without_decoding() -> None:
    session = HostSession(max_payload_bytes=1_048_576)
    topic, _ = _ddata(2)
    result = session.feed(topic, b"\x00" * (1_048_577), NOW)
    assert [letter.reason for letter in result.deadletters] == ["too_large"]
    assert result.deadletters[0].payload_size == 1_048_577
    assert not result.rebirths


def test_node_death_with_the_session_bdseq_forgets_the_aliases() -> None:
    session = HostSession()
    _born(session)
    stale = session.feed(NODE_TOPIC.format("NDEATH"), _frame(None, Metric(name="bdSeq", datatype=4, value=7)), NOW)
    assert not stale.deadletters
    assert session.counters["spb_stale_death"] == 1
    assert session.feed(*_ddata(2, Metric(alias=1, value=1.0)), NOW).readings  # still alive
    session.feed(NODE_TOPIC.format("NDEATH"), _frame(None, Metric(name="bdSeq", datatype=4, value=0)), NOW)
    result = session.feed(*_ddata(3, Metric(alias=1, value=1.0)), NOW)
    assert _is_rebirth(result)
    assert not result.readings
    assert result.deadletters[0].reason == "spb_no_birth"


def test_device_death_ends_the_device() -> None:
    session = HostSession()
    _born(session)
    session.feed(DEVICE_TOPIC.format("DDEATH"), _frame(2), NOW)
    result = session.feed(*_ddata(3, Metric(alias=1, value=1.0)), NOW)
    assert _is_rebirth(result)
    assert not result.readings


def test_bad_values_and_timestamps() -> None:
    session = HostSession(max_future_ms=60_000, max_age_ms=3_600_000)
    _born(session)
    result = session.feed(
        *_ddata(
            2,
            Metric(alias=1, value=float("nan")),
            Metric(alias=1, value=1.0, timestamp=NOW + 3_600_000),
            Metric(alias=1, value=2.0, timestamp=NOW - 7_200_000),
            Metric(alias=1),  # no value, not null
            Metric(alias=2, is_null=True),
            Metric(alias=1, value=3.0),
        ),
        NOW,
    )
    assert [r.value for r in result.readings] == [3.0]
    assert sorted(letter.reason for letter in result.deadletters) == ["bad_number", "bad_payload", "bad_timestamp"]
    bad_ts = next(letter for letter in result.deadletters if letter.reason == "bad_timestamp")
    assert bad_ts.detail.startswith("2 metric(s) rejected")
    assert session.counters["spb_null"] == 1


def test_series_caps_refuse_new_series() -> None:
    allowed = {SERIES + "spindle_temp"}
    session = HostSession(admit=lambda series, machine: None if series in allowed else "cap reached")
    session.feed(NODE_TOPIC.format("NBIRTH"), _nbirth(), NOW)
    result = session.feed(DEVICE_TOPIC.format("DBIRTH"), _dbirth(), NOW)
    assert [r.series for r in result.readings] == [SERIES + "spindle_temp"]
    assert "too_many_series" in {letter.reason for letter in result.deadletters}


def test_bad_topics_commands_and_state() -> None:
    session = HostSession()
    assert session.feed("spBv1.0/acme/DDATA/node", b"", NOW).deadletters[0].reason == "bad_topic"
    assert session.feed("spBv1.0/$bad/DDATA/node/dev", _frame(0), NOW).deadletters[0].reason == "bad_topic"
    for topic in ("spBv1.0/STATE/other-host", f"spBv1.0/{GROUP}/NCMD/{EDGE}", f"spBv1.0/{GROUP}/DCMD/{EDGE}/d"):
        result = session.feed(topic, b'{"online": true}', NOW)
        assert result == HostResult()


def test_node_metrics_belong_to_the_node_device() -> None:
    session = HostSession()
    birth = _frame(
        0,
        Metric(name="bdSeq", datatype=DataType.Int64, value=0),
        Metric(name="cpu_load", alias=10, datatype=DataType.Float, value=0.25),
        Metric(name="Properties/Hardware Make", alias=11, datatype=DataType.String, value="x"),
    )
    result = session.feed(NODE_TOPIC.format("NBIRTH"), birth, NOW)
    assert result.readings == [Reading("acme/plant1/machining/line-1/_node/telemetry/cpu_load", NOW, 0.25)]
    assert not result.deadletters  # control and property metrics are no data


def test_data_with_names_or_datatypes_takes_the_same_way() -> None:
    session = HostSession()
    _born(session)
    result = session.feed(
        *_ddata(
            2,
            Metric(name="spindle_temp", value=70.0),  # by name, no alias
            Metric(alias=4, datatype=DataType.Int8, value=-7),  # datatype repeated in the data
            Metric(alias=3, datatype=DataType.UInt32, value=2**32 - 1),
            Metric(alias=1, value=71.0, is_historical=True, timestamp=NOW - 5),
        ),
        NOW + 1000,
    )
    assert [(r.series.rsplit("/", 1)[1], r.ts_ms, r.value) for r in result.readings] == [
        ("spindle_temp", NOW + 1000, 70.0),
        ("offset", NOW + 1000, -7.0),
        ("reject_count", NOW + 1000, float(2**32 - 1)),
        ("spindle_temp", NOW - 5, 71.0),
    ]
    assert not result.deadletters
