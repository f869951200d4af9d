from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from smartfactory.errors import WireError
from smartfactory.wire import (
    MachinePath,
    MachineTelemetry,
    MessageClass,
    ReadingPayload,
    Topic,
    format_ts,
    parse_ts,
    reading_json,
)

PATH = MachinePath("acme", "plant1", "machining", "line-1", "cnc-01")


def test_topic_round_trip_and_levels() -> None:
    topic = Topic.parse("acme/plant1/machining/line-1/cnc-01/telemetry/spindle_temp")
    assert topic.path == PATH
    assert topic.cls is MessageClass.TELEMETRY
    assert topic.name == "spindle_temp"
    assert str(topic) == "acme/plant1/machining/line-1/cnc-01/telemetry/spindle_temp"


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("acme/plant1/machining/line-1/telemetry/x", "unknown_class"),
        ("a/b/c", "bad_topic"),
        ("a/b/c/d/e/f/g/h", "bad_topic"),
        ("a/b//d/e/telemetry/x", "bad_topic"),
        ("a/b/c/d/e/bogus", "unknown_class"),
        ("a/b/c/d/e/alarm", "bad_topic"),  # alarm needs the sensor level
        ("a/b/c/d/e/state/extra", "bad_topic"),
        ("_sf/deadletter/bad_json", "system_topic"),
    ],
)
def test_bad_topics_name_their_reason(topic: str, reason: str) -> None:
    with pytest.raises(WireError) as info:
        Topic.parse(topic)
    assert info.value.reason == reason


level = st.text(
    alphabet=st.characters(blacklist_characters="/+#", min_codepoint=32, blacklist_categories=("Cs", "Cc")),
    min_size=1,
    max_size=20,
)


def _no_dollar_enterprise(levels: list[str]) -> bool:
    return not levels[0].startswith("$")  # the grammar refuses a `$`-first topic (MQTT reserves it; issue 13)


@given(levels=st.lists(level, min_size=6, max_size=6).filter(_no_dollar_enterprise))
def test_any_valid_levels_round_trip(levels: list[str]) -> None:
    topic = Topic(MachinePath(*levels[:5]), MessageClass.TELEMETRY, levels[5])
    assert Topic.parse(str(topic)) == topic


def test_timestamps_iso_and_epoch_ms_agree() -> None:
    assert parse_ts("2026-11-22T10:00:00.123Z") == 1795341600123
    assert parse_ts(1795341600123) == 1795341600123
    assert parse_ts("2026-11-22T11:00:00.123+01:00") == 1795341600123
    assert format_ts(1795341600123) == "2026-11-22T10:00:00.123Z"
    for bad in ("2026-11-22T10:00:00", "yesterday", 1.5, True, None):
        with pytest.raises(ValueError):  # noqa: PT011 - message checked in decode tests
            parse_ts(bad)


@given(ms=st.integers(min_value=0, max_value=4_102_444_800_000))
def test_format_then_parse_is_identity(ms: int) -> None:
    assert parse_ts(format_ts(ms)) == ms


def test_reading_payload_rejects_bools_strings_nan_and_extras() -> None:
    ok = ReadingPayload.model_validate_json(b'{"value": 71, "ts": 5, "unit": "C", "seq": 3}')
    assert (ok.value, ok.ts, ok.unit, ok.seq) == (71.0, 5, "C", 3)
    for raw in (
        b'{"value": true, "ts": 5}',
        b'{"value": "71", "ts": 5}',
        b'{"value": NaN, "ts": 5}',
        b'{"value": Infinity, "ts": 5}',
        b'{"value": 1, "ts": 5, "extra": 1}',
        b'{"ts": 5}',
    ):
        with pytest.raises(ValidationError):
            ReadingPayload.model_validate_json(raw)


def test_reading_json_is_accepted_by_the_model() -> None:
    raw = reading_json(71.3, 1795341600123, unit="°C", seq=7)
    parsed = ReadingPayload.model_validate_json(raw)
    assert (parsed.value, parsed.ts, parsed.unit, parsed.seq) == (71.3, 1795341600123, "°C", 7)


def test_grouped_telemetry_forms() -> None:
    inline = MachineTelemetry.model_validate_json(b'{"ts": 1, "values": {"a": 1, "b": 2}}')
    assert [s.values for s in inline.samples()] == [{"a": 1.0, "b": 2.0}]
    batch = MachineTelemetry.model_validate_json(
        b'{"batch": [{"ts": 1, "values": {"a": 1}}, {"ts": 2, "values": {"a": 2}}]}'
    )
    assert [s.ts for s in batch.samples()] == [1, 2]
    with pytest.raises(ValidationError):
        MachineTelemetry.model_validate_json(b'{"ts": 1, "values": {"a": 1}, "batch": [{"ts": 1, "values": {"a": 1}}]}')
    with pytest.raises(ValidationError):
        MachineTelemetry.model_validate_json(b'{"ts": 1}')
