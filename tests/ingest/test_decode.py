from __future__ import annotations

import pytest

from smartfactory.ingest.decode import Decoded, Decoder
from smartfactory.model import DeadLetter, Reading

NOW = 1_795_341_600_000  # 2026-11-22T10:00:00Z
SERIES = "acme/plant1/machining/line-1/cnc-01/telemetry/spindle_temp"
MACHINE = "acme/plant1/machining/line-1/cnc-01"


def decode(topic: str, payload: bytes, decoder: Decoder | None = None) -> Decoded | DeadLetter:
    return (decoder or Decoder()).decode(topic, payload, NOW)


def test_single_reading_is_decoded_with_its_timestamp() -> None:
    out = decode(SERIES, b'{"value": 71.3, "ts": "2026-11-22T09:59:59.123Z", "unit": "degC"}')
    assert isinstance(out, Decoded)
    assert out.readings == [Reading(SERIES, NOW - 877, 71.3, "degC")]


def test_grouped_reading_fans_out_per_sensor() -> None:
    payload = b'{"ts": %d, "values": {"a": 1.5, "b": -2}, "units": {"a": "bar"}}' % NOW
    out = decode(f"{MACHINE}/telemetry", payload)
    assert isinstance(out, Decoded)
    assert out.readings == [
        Reading(f"{MACHINE}/telemetry/a", NOW, 1.5, "bar"),
        Reading(f"{MACHINE}/telemetry/b", NOW, -2.0, None),
    ]


@pytest.mark.parametrize(
    ("topic", "payload", "reason"),
    [
        (SERIES, b"{not json", "bad_json"),
        (SERIES, b"\xff\xfe\x00garbage", "not_utf8"),
        (SERIES, b'{"value": "71.3", "ts": 1795341600000}', "bad_number"),
        (SERIES, b'{"value": true, "ts": 1795341600000}', "bad_number"),
        (SERIES, b'{"value": NaN, "ts": 1795341600000}', "bad_number"),
        (SERIES, b'{"value": Infinity, "ts": 1795341600000}', "bad_number"),
        (SERIES, b'{"ts": 1795341600000}', "bad_payload"),
        (SERIES, b'{"value": 1, "ts": 1795341600000, "colour": "red"}', "bad_payload"),
        (SERIES, b"[1, 2, 3]", "bad_payload"),
        (SERIES, b'{"value": 1, "ts": "2026-11-22T10:00:00"}', "bad_timestamp"),
        (SERIES, b'{"value": 1, "ts": 1795341600}', "bad_timestamp"),  # seconds, not milliseconds
        (SERIES, b'{"value": 1, "ts": "2099-01-01T00:00:00Z"}', "bad_timestamp"),
        (SERIES, b'{"value": 1, "ts": "1970-01-02T00:00:00Z"}', "bad_timestamp"),
        ("acme/plant1/line-1/cnc-01/telemetry/x", "", "unknown_class"),
        (f"{MACHINE}/gossip", b"{}", "unknown_class"),
        ("just/a/topic", b"{}", "bad_topic"),
        (f"{MACHINE}/telemetry", b'{"ts": 1795341600000, "values": {"a/b": 1}}', "bad_topic"),
    ],
)
def test_every_bad_message_becomes_a_dead_letter_with_a_reason(topic: str, payload: bytes | str, reason: str) -> None:
    raw = payload.encode() if isinstance(payload, str) else payload
    out = decode(topic, raw)
    assert isinstance(out, DeadLetter), out
    assert out.reason == reason, out.detail
    assert out.topic == topic
    assert out.received_ms == NOW
    assert out.detail


def test_huge_payload_is_rejected_and_truncated() -> None:
    payload = b'{"value": 1, "ts": 1795341600000, "unit": "' + b"x" * 5000 + b'"}'
    out = decode(SERIES, payload, Decoder(max_payload_bytes=4096))
    assert isinstance(out, DeadLetter)
    assert out.reason == "too_large"
    assert out.payload_size == len(payload)
    assert len(out.payload) == DeadLetter.MAX_KEPT_PAYLOAD


def test_state_quality_event_and_ack_classes() -> None:
    state = decode(f"{MACHINE}/state", b'{"state": "down", "reason": "breakdown", "ts": %d}' % NOW)
    assert isinstance(state, Decoded)
    assert state.states[0].state == "down"
    part = decode(
        f"{MACHINE}/quality",
        b'{"part_id": "p1", "ts": %d, "measurements": {"d": 25.0}, "verdict": "scrap"}' % NOW,
    )
    assert isinstance(part, Decoded)
    assert part.parts[0].good is False
    event = decode(f"{MACHINE}/event", b'{"kind": "fault", "fault": "drift", "ts": %d}' % NOW)
    assert isinstance(event, Decoded)
    assert event.events[0].fault == "drift"
    ack = decode(f"{MACHINE}/ack/spindle_temp", b'{"alarm_id": "a1", "ts": %d}' % NOW)
    assert isinstance(ack, Decoded)
    assert ack.acks[0].series == SERIES
    passive = {
        f"{MACHINE}/cmd": b'{"action": "clear"}',
        f"{MACHINE}/alarm/spindle_temp": b'{"alarm_id": "a1", "active": false, "rules": [], "ts": %d}' % NOW,
    }
    for topic, body in passive.items():  # validated, not stored; garbage on them is a dead letter (issue 13)
        out = decode(topic, body)
        assert isinstance(out, Decoded)
        assert out.readings == []
        garbage = decode(topic, b"{}")
        assert isinstance(garbage, DeadLetter)
        assert garbage.reason == "bad_payload"


BIRTH = (
    b'{"status": "online", "ts": "2026-11-22T09:59:00.000Z", "info": {"machine_type": "cnc", "ideal_cycle_s": 30,'
    b' "signals": {"bore": {"kind": "quality", "unit": "mm", "lsl": 24.95, "usl": 25.05}}}}'
)


def test_a_birth_with_info_yields_the_machine_facts() -> None:
    out = decode(f"{MACHINE}/status", BIRTH)
    assert isinstance(out, Decoded)
    (record,) = out.infos
    assert record.machine == MACHINE
    assert record.ts_ms == NOW - 60_000
    assert record.info.machine_type == "cnc"
    assert record.info.ideal_cycle_s == 30.0
    assert record.info.signals["bore"].usl == 25.05
    assert (out.readings, out.states) == ([], ())


def test_status_without_info_or_time_stores_nothing_and_info_without_time_takes_the_receive_time() -> None:
    for plain in (b'{"status": "offline"}', b'{"status": "online", "ts": %d}' % NOW):
        out = decode(f"{MACHINE}/status", plain)
        assert isinstance(out, Decoded)
        assert out.infos == ()
    timeless = decode(f"{MACHINE}/status", b'{"status": "online", "info": {"machine_type": "cnc"}}')
    assert isinstance(timeless, Decoded)
    assert timeless.infos[0].ts_ms == NOW


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{}", "bad_payload"),
        (b'{"status": "sleeping"}', "bad_payload"),
        (b'{"status": "online", "info": {"machine_type": "cnc", "ideal_cycle_s": -1}}', "bad_payload"),
        (b'{"status": "online", "info": {"machine_type": "cnc", "colour": "red"}}', "bad_payload"),
        (b'{"status": "online", "ts": "2099-01-01T00:00:00Z", "info": {"machine_type": "cnc"}}', "bad_timestamp"),
    ],
)
def test_a_broken_status_is_a_dead_letter(payload: bytes, reason: str) -> None:
    """Status payloads are validated like every stored class (before births carried facts they passed unread)."""
    out = decode(f"{MACHINE}/status", payload)
    assert isinstance(out, DeadLetter)
    assert out.reason == reason, out.detail
