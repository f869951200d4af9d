"""The edge node session (`sparkplug/edge.py`): bdSeq, seq, aliases, births, deaths and rebirths, frame by frame.

Frames are decoded twice: with our codec, and (`_raw`) with a protobuf wire-format reader written here from the
field numbers of the Sparkplug B schema (spec 3.0.0, protobuf annex), so a mistake shared by our encoder and
decoder cannot hide.
"""

from __future__ import annotations

import struct
from typing import Any

import pytest

from smartfactory.sparkplug.edge import BDSEQ_METRIC, REBIRTH_METRIC, EdgeNodeSession, Frame, MetricDef
from smartfactory.sparkplug.host import rebirth_request
from smartfactory.sparkplug.payload import DataType, Metric, SparkplugError, SparkplugPayload, decode_payload
from smartfactory.sparkplug.payload import encode_payload as encode
from smartfactory.sparkplug.topic import SparkplugTopic

GROUP, NODE = "acme", "plant1:machining:line-1"
NOW_S = 1_800_000_000.0


def session(bd_seq: int = 0) -> EdgeNodeSession:
    s = EdgeNodeSession(GROUP, NODE, bd_seq=bd_seq, clock=lambda: NOW_S)
    s.add_device(
        "cnc-01",
        [
            MetricDef("spindle_temp", DataType.Double, {"engUnit": "°C"}),
            MetricDef("_sf/state", DataType.String),
            MetricDef("_sf/quality", DataType.String, in_births=False),
        ],
    )
    s.add_device("cnc-02", [MetricDef("spindle_temp", DataType.Double), MetricDef("load", DataType.Float)])
    return s


def decoded(frame: Frame) -> tuple[SparkplugTopic, SparkplugPayload]:
    return SparkplugTopic.parse(frame.topic), decode_payload(frame.payload)


def bd_seq_of(payload: SparkplugPayload) -> Any:
    return next(m.value for m in payload.metrics if m.name == BDSEQ_METRIC)


def connected(s: EdgeNodeSession) -> list[Frame]:
    s.will()
    return s.births()


# ------------------------------------------------------------------ bdSeq


def test_the_will_and_the_nbirth_of_a_connection_carry_one_bdseq_and_each_connection_the_next() -> None:
    s = session(bd_seq=254)
    seen = []
    for _ in range(3):
        will = s.will()
        topic, death = decoded(will)
        births = s.births()
        _, nbirth = decoded(births[0])
        assert topic.message_type == "NDEATH"
        assert bd_seq_of(death) == bd_seq_of(nbirth)
        seen.append(bd_seq_of(nbirth))
    assert seen == [254, 255, 0]  # one step per connection, wrapping at 256


def test_ndeath_holds_only_the_bdseq_metric_and_no_seq() -> None:
    s = session(bd_seq=7)
    will = s.will()
    _, death = decoded(will)
    assert death.seq is None
    assert [(m.name, m.datatype, m.value) for m in death.metrics] == [(BDSEQ_METRIC, DataType.Int64, 7)]
    s.births()
    assert s.death() == will  # the NDEATH of a clean stop is the will (same clock here)


def test_nothing_is_born_before_a_will_and_no_data_before_the_births() -> None:
    s = session()
    with pytest.raises(RuntimeError):
        s.births()
    s.will()
    with pytest.raises(RuntimeError):
        s.device_data("cnc-01", [("spindle_temp", 40.0, 1)])


# ------------------------------------------------------------------ births, aliases, seq


def test_births_announce_names_aliases_datatypes_and_units_data_carries_aliases_only() -> None:
    s = session()
    frames = connected(s)
    topics = [decoded(f)[0] for f in frames]
    assert [(t.message_type, t.device_id) for t in topics] == [
        ("NBIRTH", None),
        ("DBIRTH", "cnc-01"),
        ("DBIRTH", "cnc-02"),
    ]
    _, nbirth = decoded(frames[0])
    assert {(m.name, m.datatype, m.value) for m in nbirth.metrics} == {
        (BDSEQ_METRIC, DataType.Int64, 0),
        (REBIRTH_METRIC, DataType.Boolean, False),
    }
    aliases = []
    for frame in frames[1:]:
        _, birth = decoded(frame)
        for m in birth.metrics:
            assert m.name
            assert m.alias is not None
            assert m.datatype is not None
            assert m.timestamp is not None
            assert m.is_null  # nothing measured yet
            aliases.append(m.alias)
    assert len(set(aliases)) == len(aliases) == 5  # unique over the whole edge node
    _, dbirth = decoded(frames[1])
    assert dbirth.metrics[0].properties == {"engUnit": "°C"}

    _, data = decoded(s.device_data("cnc-02", [("spindle_temp", 41, 1000), ("load", 0.5, 1000), ("load", 0.75, 2000)]))
    assert [(m.name, m.alias, m.timestamp) for m in data.metrics] == [
        (None, s.alias("cnc-02", "spindle_temp"), 1000),
        (None, s.alias("cnc-02", "load"), 1000),
        (None, s.alias("cnc-02", "load"), 2000),
    ]
    assert data.metrics[0].value == 41.0
    assert isinstance(data.metrics[0].value, float)  # a JSON integer still goes in the double field
    assert data.metrics[0].datatype is None  # the birth said Double
    assert data.metrics[1].datatype == DataType.Float  # kept: the Float field needs it
    assert data.metrics[2].value == pytest.approx(0.75)


def test_seq_numbers_every_message_of_the_node_across_devices_and_wraps_after_255() -> None:
    s = session()
    seqs = [decoded(f)[1].seq for f in connected(s)]
    for i in range(300):
        device = "cnc-01" if i % 2 else "cnc-02"
        seqs.append(decoded(s.device_data(device, [("spindle_temp", float(i), i)]))[1].seq)
    seqs.append(decoded(s.device_death("cnc-01"))[1].seq)
    seqs.append(decoded(s.device_birth("cnc-01"))[1].seq)
    assert seqs == [i % 256 for i in range(len(seqs))]


def test_a_rebirth_ncmd_repeats_nbirth_with_the_same_bdseq_and_every_online_dbirth_with_current_values() -> None:
    s = session(bd_seq=9)
    connected(s)
    s.device_data("cnc-01", [("spindle_temp", 40.5, 1000), ("_sf/state", '{"state":"running"}', 900)])
    s.device_data("cnc-01", [("_sf/quality", '{"part_id":"p1"}', 1100)])
    s.device_data("cnc-02", [("spindle_temp", 39.0, 1000)])
    s.device_death("cnc-02")

    topic, payload = rebirth_request(GROUP, NODE, 5000)
    frames = s.command(topic, payload)
    assert [decoded(f)[0].message_type for f in frames] == ["NBIRTH", "DBIRTH"]  # cnc-02 is offline
    _, nbirth = decoded(frames[0])
    assert nbirth.seq == 0
    assert bd_seq_of(nbirth) == 9
    _, dbirth = decoded(frames[1])
    assert dbirth.seq == 1
    by_name = {m.name: m for m in dbirth.metrics}
    assert (by_name["spindle_temp"].value, by_name["spindle_temp"].timestamp) == (40.5, 1000)
    assert by_name["_sf/state"].value == '{"state":"running"}'
    assert by_name["_sf/quality"].is_null  # an event is not repeated by a rebirth
    assert {m.alias for m in dbirth.metrics} == {s.alias("cnc-01", n) for n in by_name}  # the same aliases
    assert s.rebirths == 1


@pytest.mark.parametrize(
    ("topic", "metric"),
    [
        (f"spBv1.0/{GROUP}/NCMD/{NODE}", Metric(name=REBIRTH_METRIC, datatype=DataType.Boolean, value=False)),
        (f"spBv1.0/{GROUP}/NCMD/other-node", Metric(name=REBIRTH_METRIC, datatype=DataType.Boolean, value=True)),
        (f"spBv1.0/{GROUP}/DCMD/{NODE}/cnc-01", Metric(name=REBIRTH_METRIC, datatype=DataType.Boolean, value=True)),
        (f"spBv1.0/{GROUP}/NCMD/{NODE}", Metric(name="Node Control/Reboot", datatype=DataType.Boolean, value=True)),
    ],
)
def test_other_commands_are_no_rebirth(topic: str, metric: Metric) -> None:
    s = session()
    connected(s)
    assert s.command(topic, encode(SparkplugPayload(timestamp=1, metrics=[metric]))) == []


def test_a_command_that_is_not_sparkplug_raises_the_codec_error() -> None:
    s = session()
    connected(s)
    with pytest.raises(SparkplugError):
        s.command(f"spBv1.0/{GROUP}/NCMD/{NODE}", b"\xff\xff\xff")


def test_ddeath_has_a_seq_and_no_metrics_and_stops_data_until_the_next_dbirth() -> None:
    s = session()
    connected(s)
    topic, death = decoded(s.device_death("cnc-01"))
    assert (topic.message_type, topic.device_id) == ("DDEATH", "cnc-01")
    assert death.seq == 3
    assert death.metrics == []
    with pytest.raises(RuntimeError):
        s.device_data("cnc-01", [("spindle_temp", 1.0, 1)])
    s.device_birth("cnc-01")
    assert decoded(s.device_data("cnc-01", [("spindle_temp", 1.0, 1)]))[1].seq == 5


def test_metrics_added_later_get_new_aliases_and_unknown_names_are_refused() -> None:
    s = session()
    connected(s)
    before = {s.alias(d, n) for d in s.devices for n in s.metric_names(d)}
    s.add_metrics("cnc-01", [MetricDef("coolant_flow", DataType.Double)])
    assert s.alias("cnc-01", "coolant_flow") not in before
    _, birth = decoded(s.device_birth("cnc-01"))
    assert "coolant_flow" in {m.name for m in birth.metrics}
    with pytest.raises(KeyError):
        s.device_data("cnc-01", [("no_such_sensor", 1.0, 1)])
    with pytest.raises(ValueError, match="twice"):
        s.add_metrics("cnc-01", [MetricDef("coolant_flow", DataType.Double)])


# ------------------------------------------------------------------ the bytes, read without our codec


def _varint(data: bytes, i: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[i]
        i += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i


def _fields(data: bytes) -> list[tuple[int, Any]]:
    """(field number, raw value) of a protobuf message: varints as int, 64/32-bit as bytes, lengths as bytes."""
    out: list[tuple[int, Any]] = []
    i = 0
    while i < len(data):
        key, i = _varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = _varint(data, i)
        elif wire == 1:
            value, i = data[i : i + 8], i + 8
        elif wire == 5:
            value, i = data[i : i + 4], i + 4
        elif wire == 2:
            length, i = _varint(data, i)
            value, i = data[i : i + length], i + length
        else:
            raise AssertionError(f"wire type {wire}")
        out.append((number, value))
    return out


def _raw(payload: bytes) -> dict[str, Any]:
    """Payload: timestamp = 1, metrics = 2, seq = 3. Metric: name = 1, alias = 2, timestamp = 3, datatype = 4,
    is_null = 7, properties = 9, long_value = 11, double_value = 13, boolean_value = 14, string_value = 15."""
    top = _fields(payload)
    metrics = []
    for number, body in top:
        if number != 2:
            continue
        metric: dict[str, Any] = {}
        for field, value in _fields(body):
            if field == 1:
                metric["name"] = value.decode()
            elif field == 2:
                metric["alias"] = value
            elif field == 3:
                metric["timestamp"] = value
            elif field == 4:
                metric["datatype"] = value
            elif field == 7:
                metric["is_null"] = bool(value)
            elif field == 9:
                metric["property_keys"] = [v.decode() for f, v in _fields(value) if f == 1]
            elif field == 11:
                metric["long"] = value
            elif field == 13:
                metric["double"] = struct.unpack("<d", value)[0]
            elif field == 14:
                metric["bool"] = bool(value)
            elif field == 15:
                metric["string"] = value.decode()
        metrics.append(metric)
    return {"timestamp": dict(top).get(1), "seq": dict(top).get(3), "metrics": metrics}


def test_the_bytes_follow_the_sparkplug_schema_field_numbers() -> None:
    s = session(bd_seq=3)
    will = _raw(s.will().payload)
    assert will == {
        "timestamp": int(NOW_S * 1000),
        "seq": None,
        "metrics": [{"name": "bdSeq", "datatype": DataType.Int64, "long": 3}],
    }
    nbirth, dbirth, _ = (_raw(f.payload) for f in s.births())
    assert nbirth["seq"] == 0
    assert {"name": "Node Control/Rebirth", "timestamp": int(NOW_S * 1000), "datatype": 11, "bool": False} in (
        nbirth["metrics"]
    )
    assert dbirth["metrics"][0] == {
        "name": "spindle_temp",
        "alias": 1,
        "timestamp": int(NOW_S * 1000),
        "datatype": DataType.Double,
        "is_null": True,
        "property_keys": ["engUnit"],
    }
    data = _raw(s.device_data("cnc-01", [("spindle_temp", 42.25, 1234), ("_sf/state", "{}", 1235)]).payload)
    assert data["seq"] == 3
    assert data["metrics"] == [
        {"alias": 1, "timestamp": 1234, "double": 42.25},
        {"alias": 2, "timestamp": 1235, "string": "{}"},
    ]
