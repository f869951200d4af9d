"""Issue 13: a key named twice in one JSON object is refused, never decided by the parser (which keeps the last);
and a minus zero is read as zero."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from smartfactory import wire
from smartfactory.wire import (
    EventPayload,
    MachineTelemetry,
    QualityPayload,
    ReadingPayload,
    StatusPayload,
)
from tests.test_wire_roundtrip import PAYLOAD_STRATEGIES

Decode = Callable[[type[BaseModel], bytes | str], BaseModel]

#: Every way a model's JSON is validated in the project: ingestion's decoder calls the validator itself.
DECODERS: dict[str, Decode] = {
    "from_bytes": lambda model, data: model.from_bytes(data),  # type: ignore[attr-defined]
    "model_validate_json": lambda model, data: model.model_validate_json(data),
    "pydantic_validator": lambda model, data: model.__pydantic_validator__.validate_json(data),
}


def refused_key(model: type[BaseModel], data: bytes | str, decode: Decode = DECODERS["from_bytes"]) -> str:
    """The message of the one error `data` is refused with (fails the test when it is accepted)."""
    with pytest.raises(ValidationError) as caught:
        decode(model, data)
    (error,) = caught.value.errors(include_url=False)
    assert error["type"] == "json_invalid"
    return str(error["msg"])


@pytest.mark.parametrize("decode", DECODERS.values(), ids=DECODERS.keys())
def test_a_reading_naming_value_twice_is_refused_whichever_way_it_is_decoded(decode: Decode) -> None:
    assert refused_key(ReadingPayload, b'{"ts": 5, "value": 1.0, "value": 99.0}', decode) == 'duplicate key "value"'
    assert refused_key(ReadingPayload, '{"value": 1.0, "ts": 5, "ts": 6}', decode) == 'duplicate key "ts"'


@pytest.mark.parametrize(
    ("model", "raw", "key"),
    [
        # inside a batch sample: a sensor twice, and a sample's own ts twice
        (MachineTelemetry, b'{"batch": [{"ts": 1, "values": {"a": 1}}, {"ts": 2, "values": {"a": 1, "a": 2}}]}', "a"),
        (MachineTelemetry, b'{"batch": [{"ts": 1, "ts": 2, "values": {"a": 1}}]}', "ts"),
        (MachineTelemetry, b'{"ts": 1, "values": {"a": 1}, "units": {"a": "bar", "a": "kPa"}}', "a"),
        (QualityPayload, b'{"part_id": "p", "ts": 1, "measurements": {"d": 1, "d": 2}, "verdict": "good"}', "d"),
        (EventPayload, b'{"kind": "fault", "fault": "f", "ts": 1, "params": {"why": "a:b", "why": "c"}}', "why"),
        (
            StatusPayload,
            b'{"status": "online", "info": {"machine_type": "cnc", "signals": {"t": {"kind": "process", '
            b'"unit": "C", "unit": "F"}}}}',
            "unit",
        ),
        # the same key spelt two ways, and with blanks before the colon
        (ReadingPayload, b'{"ts": 1, "value": 1.0, "\\u0076alue": 2.0}', "value"),
        (ReadingPayload, b'{"ts" : 1, "value" :1.0, "value"\n:2.0}', "value"),
        # a colon inside a string makes the counts useless: the text is parsed again
        (ReadingPayload, b'{"ts": "2026-11-22T10:00:00Z", "unit": "\\":", "value": 1, "value": 1}', "value"),
    ],
)
def test_a_key_twice_in_any_object_is_refused_and_named(model: type[BaseModel], raw: bytes, key: str) -> None:
    assert refused_key(model, raw) == f"duplicate key {json.dumps(key)}"


def test_a_duplicate_is_reported_even_when_the_message_is_wrong_otherwise() -> None:
    """The duplicate wins over the other error: ingestion would salvage the rest of a broken batch with a parser
    that keeps the last of two keys, so the message must be refused as JSON, not as a bad value."""
    raw = b'{"batch": [{"ts": 1, "values": {"a": "x"}}, {"ts": 2, "values": {"b": 1, "b": 2}}]}'
    assert refused_key(MachineTelemetry, raw) == 'duplicate key "b"'
    # without the duplicate the error is the bad value, as before
    with pytest.raises(ValidationError) as caught:
        MachineTelemetry.from_bytes(b'{"batch": [{"ts": 1, "values": {"a": "x"}}]}')
    assert caught.value.errors(include_url=False)[0]["type"] == "float_type"


def test_a_long_key_is_cut_in_the_message() -> None:
    key = "k" * 5000
    raw = json.dumps({"ts": 1, "values": {}}).replace("{}", f'{{"{key}": 1, "{key}": 2}}')
    message = refused_key(MachineTelemetry, raw)
    assert message.startswith('duplicate key "kkk')
    assert message.endswith('…"')
    assert len(message) < 200


@pytest.mark.parametrize(
    ("model", "raw"),
    [
        # the same key in different objects is no duplicate
        (MachineTelemetry, b'{"batch": [{"ts": 1, "values": {"a": 1}}, {"ts": 2, "values": {"a": 2}}]}'),
        (MachineTelemetry, b'{"ts": 1, "values": {"a": 1, "ts": 2}, "units": {"a": "a", "ts": "s"}}'),
        # colons and quote-colon pairs inside strings, escapes, blanks before the colon, pretty-printing
        (ReadingPayload, b'{"ts": "2026-11-22T10:00:00+01:00", "unit": "\\":\\":", "value": 1}'),
        (ReadingPayload, b'{"ts" : 1, "value"\t: 1, "unit"\r\n: ":"}'),
        (EventPayload, b'{"kind": "fault", "fault": "f", "ts": 1, "params": {"a:": "\\"b\\":", "\\u0061": 1}}'),
        (ReadingPayload, json.dumps({"value": 1.0, "ts": 5, "unit": "°C"}, indent=2).encode()),
        (ReadingPayload, json.dumps({"value": 1.0, "ts": 5, "unit": "°C"}, ensure_ascii=False)),
    ],
)
def test_unique_keys_are_accepted_however_the_text_is_written(model: type[BaseModel], raw: bytes | str) -> None:
    for decode in DECODERS.values():
        assert isinstance(decode(model, raw), model)


def test_every_payload_model_checks_its_keys() -> None:
    parts: tuple[type[BaseModel], ...] = (wire.MachineInfo, wire.SignalInfo, wire.FaultInfo, wire.ParamInfo)
    for model in (*wire.PAYLOADS, *parts):
        assert isinstance(model.__pydantic_validator__, wire._UniqueKeys), model.__name__


def test_find_duplicate_key() -> None:
    assert wire.find_duplicate_key(b'{"a": {"b": 1, "b": 2}}') == "b"
    assert wire.find_duplicate_key('[{"a": 1}, {"a": 1}]') is None
    assert wire.find_duplicate_key(b"{not json") is None


def _dumps_repeating(body: Any, target: int, counter: list[int]) -> str:
    """`body` as compact JSON, with the `target`-th object member (in document order) written twice."""
    if isinstance(body, dict):
        members = []
        for key, value in body.items():
            index = counter[0]
            counter[0] += 1
            member = f"{json.dumps(key)}:{_dumps_repeating(value, target, counter)}"
            members.extend([member, member] if index == target else [member])
        return "{" + ",".join(members) + "}"
    if isinstance(body, list):
        return "[" + ",".join(_dumps_repeating(item, target, counter) for item in body) + "]"
    return json.dumps(body)


def _member_count(body: Any) -> int:
    if isinstance(body, dict):
        return len(body) + sum(_member_count(v) for v in body.values())
    if isinstance(body, list):
        return sum(_member_count(v) for v in body)
    return 0


@pytest.mark.parametrize("model", wire.PAYLOADS, ids=lambda m: m.__name__)
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_any_member_of_any_payload_written_twice_is_refused(model: type[BaseModel], data: st.DataObject) -> None:
    """Valid payloads (the round-trip strategies: keys with quotes, colons and escapes included) are accepted;
    the same payload with any one of its members written twice, even with the same value, is refused."""
    payload = data.draw(PAYLOAD_STRATEGIES[model])
    body = json.loads(payload.to_bytes())
    assert model.__pydantic_validator__.validate_json(payload.to_bytes()) == payload
    members = _member_count(body)
    if not members:
        return
    target = data.draw(st.integers(0, members - 1))
    twice = _dumps_repeating(body, target, [0]).encode()
    assert refused_key(model, twice, DECODERS["pydantic_validator"]).startswith("duplicate key ")


def _sign(value: float) -> float:
    return math.copysign(1.0, value)


def test_minus_zero_is_read_as_zero() -> None:
    """Before: -0.0 came through as -0.0, which SQLite stores as 0.0 and InfluxDB's line protocol as -0.0."""
    assert _sign(ReadingPayload.from_bytes(b'{"value": -0.0, "ts": 1}').value) == 1.0
    assert _sign(ReadingPayload.from_bytes(b'{"value": -0, "ts": 1}').value) == 1.0
    batch = MachineTelemetry.from_bytes(b'{"batch": [{"ts": 1, "values": {"a": -0.0, "b": -1.5}}]}')
    assert [_sign(v) for v in batch.samples()[0].values.values()] == [1.0, -1.0]
    part = QualityPayload.from_bytes(b'{"part_id": "p", "ts": 1, "measurements": {"d": -0.0}, "verdict": "good"}')
    assert _sign(part.measurements["d"]) == 1.0
    assert ReadingPayload(value=-0.0, ts=1).to_bytes() == b'{"value":0.0,"ts":"1970-01-01T00:00:00.001Z"}'


def test_what_publishers_write_is_settled_without_a_second_parse(monkeypatch: pytest.MonkeyPatch) -> None:
    """The cheap counts decide for the texts smartfactory and json.dumps write; only odd texts are parsed again
    (that second parse is what would cost: docs/wire.md)."""

    def second_parse(data: object) -> str | None:
        raise AssertionError(f"parsed again: {data!r:.80}")

    monkeypatch.setattr(wire, "find_duplicate_key", second_parse)
    texts: list[tuple[type[BaseModel], bytes]] = [
        (ReadingPayload, wire.reading_json(71.3, 1795341600123, "°C", 3)),
        (ReadingPayload, json.dumps({"value": 71.3, "ts": "2026-11-22T10:00:00.123+01:00", "unit": "degC"}).encode()),
        (MachineTelemetry, wire.telemetry_json([(1, {"a": 1.0, "b": 2.0})], {"a": "bar"}, 4)),
        (MachineTelemetry, wire.telemetry_json([(i, {"a": 1.0, "b": 2.0}) for i in range(1000)], {"a": "bar"})),
        (QualityPayload, json.dumps({"part_id": "p", "ts": 1, "measurements": {"d": 1.0}, "verdict": "good"}).encode()),
    ]
    for model, raw in texts:
        assert isinstance(model.__pydantic_validator__.validate_json(raw), model)
    with pytest.raises(AssertionError, match="parsed again"):
        ReadingPayload.from_bytes(b'{"ts": 1, "value": 1.0, "value": 2.0}')
