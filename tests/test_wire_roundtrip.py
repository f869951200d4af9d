"""Every payload's encoder against pydantic's own: `from_bytes(m.to_bytes()) == m`, byte for byte where it is fast."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from smartfactory import wire
from smartfactory.wire import (
    AckPayload,
    AlarmPayload,
    CommandPayload,
    DeadLetterPayload,
    EventPayload,
    HealthPayload,
    MachineInfo,
    MachinePath,
    MachineTelemetry,
    MessageClass,
    QualityPayload,
    ReadingPayload,
    Sample,
    SignalInfo,
    StatePayload,
    StatusPayload,
    Topic,
    format_ts,
    reading_json,
    telemetry_json,
)

TS = st.integers(min_value=0, max_value=4_102_444_800_000)
FLOATS = st.floats(allow_nan=False, allow_infinity=False)
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
LABEL = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=20)
UNIT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=8)
COUNT = st.integers(min_value=0, max_value=2**53)
VALUES = st.dictionaries(LABEL, FLOATS, min_size=1, max_size=5)
UNITS = st.dictionaries(LABEL, UNIT, max_size=3)
PARAMS = st.dictionaries(LABEL, st.one_of(FLOATS, TEXT), max_size=3)


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def pydantic_bytes(model: BaseModel) -> bytes:
    """What pydantic itself writes for the model (the reference the hand-built encoders must match)."""
    return wire._Part.to_bytes(model)  # type: ignore[arg-type]


samples = st.builds(Sample, ts=TS, values=VALUES, units=opt(UNITS), seq=opt(COUNT))
signals = st.builds(
    SignalInfo,
    kind=st.sampled_from(["process", "quality", "count"]),
    unit=opt(UNIT),
    target=opt(FLOATS),
    decimals=opt(st.integers(0, 15)),
) | st.tuples(FLOATS, st.floats(min_value=1e-6, max_value=1e6)).map(
    lambda lw: (
        SignalInfo(kind="quality", lsl=lw[0], usl=lw[0] + lw[1])
        if lw[0] + lw[1] > lw[0]
        else SignalInfo(kind="quality")
    )
)
positive = st.floats(min_value=1e-9, max_value=1e9)
infos = st.builds(
    MachineInfo,
    machine_type=LABEL,
    ideal_cycle_s=opt(positive),
    sample_interval_s=opt(positive),
    signals=st.dictionaries(LABEL, signals, max_size=4),
)
telemetry = st.builds(MachineTelemetry, ts=TS, values=VALUES, units=opt(UNITS), seq=opt(COUNT)) | st.builds(
    MachineTelemetry, batch=st.lists(samples, min_size=1, max_size=4), units=opt(UNITS), seq=opt(COUNT)
)
PAYLOAD_STRATEGIES: dict[type[BaseModel], st.SearchStrategy[Any]] = {
    ReadingPayload: st.builds(ReadingPayload, value=FLOATS, ts=TS, unit=opt(UNIT), seq=opt(COUNT)),
    MachineTelemetry: telemetry,
    Sample: samples,
    StatePayload: st.builds(
        StatePayload, state=st.sampled_from(["running", "idle", "setup", "down", "planned"]), ts=TS, reason=opt(LABEL)
    ),
    StatusPayload: st.builds(StatusPayload, status=st.sampled_from(["online", "offline"]), ts=opt(TS), info=opt(infos)),
    QualityPayload: st.builds(
        QualityPayload,
        part_id=LABEL,
        ts=TS,
        measurements=st.dictionaries(LABEL, FLOATS, max_size=3),
        verdict=st.sampled_from(["good", "scrap"]),
    ),
    EventPayload: st.builds(
        EventPayload, kind=st.sampled_from(["fault", "repair"]), fault=LABEL, sensor=opt(LABEL), params=PARAMS, ts=TS
    ),
    CommandPayload: st.builds(
        CommandPayload, action=st.sampled_from(["inject", "clear"]), fault=opt(LABEL), sensor=opt(LABEL), params=PARAMS
    ),
    AlarmPayload: st.builds(
        AlarmPayload,
        alarm_id=LABEL,
        active=st.booleans(),
        rules=st.lists(LABEL, max_size=3),
        value=opt(FLOATS),
        ts=TS,
        message=TEXT,
    ),
    AckPayload: st.builds(AckPayload, alarm_id=LABEL, by=LABEL, ts=TS),
    DeadLetterPayload: st.builds(
        DeadLetterPayload, reason=TEXT, detail=TEXT, topic=TEXT, received_ms=TS, payload_size=COUNT, payload=TEXT
    ),
    HealthPayload: st.builds(
        HealthPayload,
        worker=TEXT,
        state=st.sampled_from(["ok", "spooling", "stopping", "stopped", "failed", "lost"]),
        ts=opt(TS),
        uptime_s=opt(FLOATS),
        received=opt(COUNT),
        rejected=opt(st.dictionaries(LABEL, COUNT, max_size=3)),
        duplicates_known=opt(st.booleans()),
        data_age_ms=opt(st.integers()),
    ),
}


def test_every_payload_model_has_a_strategy() -> None:
    assert set(PAYLOAD_STRATEGIES) == set(wire.PAYLOADS)


@pytest.mark.parametrize("model", wire.PAYLOADS, ids=lambda m: m.__name__)
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_round_trip(model: type[BaseModel], data: st.DataObject) -> None:
    payload = data.draw(PAYLOAD_STRATEGIES[model])
    raw = payload.to_bytes()
    assert model.model_validate_json(raw) == payload
    assert model.from_bytes(raw) == payload  # type: ignore[attr-defined]
    assert b'"v"' not in raw[:4]  # the schema version is never written
    assert json.loads(raw) == json.loads(pydantic_bytes(payload))


def _repr_agrees(x: float) -> bool:
    # Python writes 1e-07 where pydantic (serde) writes 1e-7: the same number, different text.
    return "e-0" not in repr(x)


@settings(max_examples=200, deadline=None)
@given(payload=PAYLOAD_STRATEGIES[ReadingPayload])
def test_fast_reading_bytes_equal_pydantic(payload: ReadingPayload) -> None:
    if _repr_agrees(payload.value):
        assert payload.to_bytes() == pydantic_bytes(payload)
    assert reading_json(payload.value, payload.ts, payload.unit, payload.seq) == payload.to_bytes()


@settings(max_examples=200, deadline=None)
@given(payload=telemetry)
def test_fast_telemetry_bytes_equal_pydantic(payload: MachineTelemetry) -> None:
    if all(_repr_agrees(v) for s in payload.samples() for v in s.values.values()):
        assert payload.to_bytes() == pydantic_bytes(payload)


@settings(max_examples=100, deadline=None)
@given(instants=st.lists(st.tuples(TS, VALUES), min_size=1, max_size=5), units=opt(UNITS), seq=opt(COUNT))
def test_telemetry_json_is_the_model(
    instants: list[tuple[int, dict[str, float]]], units: dict[str, str] | None, seq: int | None
) -> None:
    decoded = MachineTelemetry.from_bytes(telemetry_json(instants, units, seq))
    assert [(s.ts, s.values) for s in decoded.samples()] == instants
    assert decoded.units == units
    assert decoded.seq == seq
    if len(instants) == 1:
        assert decoded.batch is None  # one instant travels inline
        expected = MachineTelemetry(ts=instants[0][0], values=instants[0][1], units=units, seq=seq)
    else:
        expected = MachineTelemetry(batch=[Sample(ts=t, values=v) for t, v in instants], units=units, seq=seq)
    assert decoded == expected


def test_known_texts() -> None:
    """The exact bytes of the examples in docs/wire.md (a change here is a wire change: update the docs)."""
    ts = 1795341600123
    assert ReadingPayload(value=71.3, ts=ts, unit="°C", seq=42).to_bytes() == (
        '{"value":71.3,"ts":"2026-11-22T10:00:00.123Z","unit":"°C","seq":42}'.encode()
    )
    assert telemetry_json([(ts, {"a": 1.5})], {"a": "kW"}) == (
        b'{"ts":"2026-11-22T10:00:00.123Z","values":{"a":1.5},"units":{"a":"kW"}}'
    )
    assert telemetry_json([(ts, {"a": 1.5}), (ts + 1, {"a": 2.0})]) == (
        b'{"batch":[{"ts":1795341600123,"values":{"a":1.5}},{"ts":1795341600124,"values":{"a":2.0}}]}'
    )
    assert StatePayload(state="down", reason="breakdown", ts=ts).to_bytes() == (
        b'{"state":"down","ts":"2026-11-22T10:00:00.123Z","reason":"breakdown"}'
    )
    assert StatusPayload(status="offline").to_bytes() == b'{"status":"offline"}'
    birth = StatusPayload(
        status="online", ts=ts, info=MachineInfo(machine_type="cnc", signals={"t": SignalInfo(kind="process")})
    )
    assert birth.to_bytes() == (
        b'{"status":"online","ts":"2026-11-22T10:00:00.123Z",'
        b'"info":{"machine_type":"cnc","signals":{"t":{"kind":"process"}}}}'
    )
    assert HealthPayload(worker="w1", state="lost").to_bytes() == b'{"worker":"w1","state":"lost"}'


def test_inputs_without_the_defaults_still_validate() -> None:
    """`v` is accepted on input (also inside batch samples), and ints are accepted where floats belong."""
    parsed = MachineTelemetry.from_bytes(b'{"v":1,"batch":[{"v":1,"ts":"1970-01-01T00:00:00.005Z","values":{"a":1}}]}')
    assert parsed.samples()[0].ts == 5
    assert parsed.samples()[0].values == {"a": 1.0}


def test_fast_encoders_refuse_non_finite_numbers() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - json's message
        reading_json(float("nan"), 0)
    with pytest.raises(ValueError):  # noqa: PT011
        telemetry_json([(0, {"a": float("inf")})])
    with pytest.raises(ValueError, match="at least one"):
        telemetry_json([])


level = st.text(
    alphabet=st.characters(blacklist_characters="/+#", min_codepoint=32, blacklist_categories=("Cs", "Cc")),
    min_size=1,
    max_size=12,
)


def _no_dollar_enterprise(levels: list[str]) -> bool:
    return not levels[0].startswith("$")  # the grammar refuses a `$`-first topic (MQTT reserves it; issue 13)


@settings(max_examples=200, deadline=None)
@given(
    levels=st.lists(level, min_size=6, max_size=6).filter(_no_dollar_enterprise),
    cls=st.sampled_from(list(MessageClass)),
    named=st.booleans(),
)
def test_every_topic_class_round_trips(levels: list[str], cls: MessageClass, named: bool) -> None:
    rule = wire._NAME_RULE[cls]
    name = levels[5] if (rule is True or (rule is None and named)) else None
    topic = Topic(MachinePath(*levels[:5]), cls, name)
    assert Topic.parse(str(topic)) == topic
    if cls is MessageClass.TELEMETRY and name is not None:
        assert str(wire.parse_series(str(topic))) == str(topic)


def test_timestamps_are_written_as_iso_text() -> None:
    assert json.loads(AckPayload(alarm_id="a", ts=5).to_bytes())["ts"] == format_ts(5)
