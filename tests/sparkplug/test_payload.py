"""The Sparkplug B payload codec: round trips, datatypes, signed integers, and bytes that are not a payload."""

from __future__ import annotations

import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smartfactory.sparkplug import schema
from smartfactory.sparkplug.payload import (
    DataType,
    Metric,
    SparkplugError,
    SparkplugPayload,
    decode_payload,
    encode_payload,
)

_INT_RANGES = {
    DataType.Int8: (-(2**7), 2**7 - 1),
    DataType.Int16: (-(2**15), 2**15 - 1),
    DataType.Int32: (-(2**31), 2**31 - 1),
    DataType.Int64: (-(2**63), 2**63 - 1),
    DataType.UInt8: (0, 2**8 - 1),
    DataType.UInt16: (0, 2**16 - 1),
    DataType.UInt32: (0, 2**32 - 1),
    DataType.UInt64: (0, 2**64 - 1),
    DataType.DateTime: (0, 2**64 - 1),
}


def _float32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


@st.composite
def metrics(draw: st.DrawFn) -> Metric:
    datatype = draw(st.sampled_from([*_INT_RANGES, DataType.Float, DataType.Double, DataType.Boolean, DataType.String]))
    value: int | float | bool | str | None
    if datatype in _INT_RANGES:
        low, high = _INT_RANGES[datatype]
        value = draw(st.integers(low, high))
    elif datatype == DataType.Float:
        value = _float32(draw(st.floats(width=32, allow_nan=False)))
    elif datatype == DataType.Double:
        value = draw(st.floats(allow_nan=False))
    elif datatype == DataType.Boolean:
        value = draw(st.booleans())
    else:
        value = draw(st.text(max_size=20))
    is_null = draw(st.booleans())
    return Metric(
        name=draw(st.none() | st.text(min_size=1, max_size=30)),
        alias=draw(st.none() | st.integers(0, 2**64 - 1)),
        timestamp=draw(st.none() | st.integers(0, 2**64 - 1)),
        datatype=datatype,
        value=None if is_null else value,
        is_historical=draw(st.booleans()),
        is_transient=draw(st.booleans()),
        is_null=is_null,
        properties=draw(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8), max_size=2)),
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    timestamp=st.none() | st.integers(0, 2**64 - 1),
    seq=st.none() | st.integers(0, 255),
    body=st.lists(metrics(), max_size=4),
)
def test_round_trip(timestamp: int | None, seq: int | None, body: list[Metric]) -> None:
    payload = SparkplugPayload(timestamp=timestamp, seq=seq, metrics=body)
    assert decode_payload(encode_payload(payload)) == payload


@pytest.mark.parametrize(
    ("datatype", "raw", "expected"),
    [
        (DataType.Int8, 0xFB, -5),  # sent as 8-bit two's complement
        (DataType.Int8, 0xFFFF_FFFB, -5),  # sent as 32-bit two's complement
        (DataType.Int16, 0xFFFF_8000, -32768),
        (DataType.Int32, 0x8000_0000, -(2**31)),
        (DataType.UInt32, 0xFFFF_FFFF, 2**32 - 1),
        (DataType.UInt8, 200, 200),
    ],
)
def test_signed_ints_from_either_width(datatype: DataType, raw: int, expected: int) -> None:
    message = schema.Payload()
    metric = message.metrics.add()
    metric.datatype = datatype
    metric.int_value = raw
    assert decode_payload(message.SerializeToString()).metrics[0].value == expected


def test_negative_int64_uses_long_value_twos_complement() -> None:
    data = encode_payload(SparkplugPayload(metrics=[Metric(name="x", datatype=DataType.Int64, value=-1)]))
    message = schema.Payload.FromString(data)
    assert message.metrics[0].long_value == 2**64 - 1
    assert decode_payload(data).metrics[0].value == -1


def test_field_numbers_follow_the_specification() -> None:
    # Payload.timestamp = 1 (varint), Payload.seq = 3; Metric.name = 1, alias = 2, datatype = 4, double_value = 13.
    data = encode_payload(
        SparkplugPayload(timestamp=1, seq=2, metrics=[Metric(name="a", alias=7, datatype=DataType.Double, value=0.5)])
    )
    assert data[:2] == b"\x08\x01"  # field 1, varint, 1
    metric = b"\x0a\x01a" + b"\x10\x07" + b"\x20\x0a" + b"\x69" + struct.pack("<d", 0.5)
    assert b"\x12" + bytes([len(metric)]) + metric in data
    assert data.endswith(b"\x18\x02")


@pytest.mark.parametrize(
    "garbage",
    [
        b'{"value": 1.0, "ts": 1}',  # JSON
        b"\x00\x01\x02",  # field number 0
        b"\x12\x05\x0a\x01",  # truncated metric
        b"\xff" * 20,
        b"\x38\x01",  # a well-formed protobuf field the payload does not have (7)
    ],
)
def test_not_a_payload_is_bad_protobuf(garbage: bytes) -> None:
    with pytest.raises(SparkplugError) as caught:
        decode_payload(garbage)
    assert caught.value.reason == "bad_protobuf"


def test_empty_bytes_are_an_empty_payload() -> None:
    assert decode_payload(b"") == SparkplugPayload()


def test_dataset_and_template_values_are_not_taken_apart() -> None:
    message = schema.Payload()
    metric = message.metrics.add()
    metric.name = "table"
    metric.datatype = DataType.DataSet
    metric.dataset_value.num_of_columns = 1
    metric.dataset_value.columns.append("a")
    decoded = decode_payload(message.SerializeToString()).metrics[0]
    assert (decoded.name, decoded.datatype, decoded.value) == ("table", DataType.DataSet, None)
