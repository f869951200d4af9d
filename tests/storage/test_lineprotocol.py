"""Line-protocol escaping and the InfluxDB schema, checked with an independent reference parser."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartfactory.model import Alarm, DeadLetter, FaultEvent, PartResult, Reading, StateChange
from smartfactory.storage import lineprotocol as lp
from tests.storage.lpref import parse_line

HOSTILE = 'x") |> drop() //'
MACHINE = "acme/plant1/machining/line-1/cnc-01"
SERIES = f"{MACHINE}/telemetry/spindle_temp"
names = st.text(min_size=1, max_size=40).filter(lambda s: "\n" not in s and "\r" not in s)


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("a,b", "a\\,b"),
        ("a b", "a\\ b"),
        ("a=b", "a\\=b"),
        ("back\\slash", "back\\\\slash"),
        ("ends\\", "ends\\\\"),
        ('say "hi"', 'say\\ "hi"'),  # quotes need no escape in tags
        (HOSTILE, 'x")\\ |>\\ drop()\\ //'),
    ],
)
def test_escape_name(raw: str, escaped: str) -> None:
    assert lp.escape_name(raw) == escaped


def test_measurement_escapes_comma_space_backslash_only() -> None:
    assert lp.escape_measurement("a b,c=d\\") == "a\\ b\\,c=d\\\\"


@pytest.mark.parametrize("bad", ["", "two\nlines", "cr\rhere"])
def test_unwritable_names_are_refused(bad: str) -> None:
    with pytest.raises(ValueError, match="line protocol"):
        lp.escape_name(bad)


def test_string_field_escapes_quotes_backslashes_and_encodes_newlines() -> None:
    text = 'line one\nsaid "C:\\temp"\r'
    field = lp.string_field(text)
    assert "\n" not in field
    assert "\r" not in field
    point = parse_line(f"m f={field} 1")
    assert lp.decode_text(str(point.fields["f"])) == text


@given(names, names, st.text(max_size=60))
def test_any_name_and_text_round_trip(tag: str, field_key: str, text: str) -> None:
    line = lp.line("meas ure,ment", [("t,a g", tag)], [(field_key, lp.string_field(text))], 123)
    point = parse_line(line)
    assert point.measurement == "meas ure,ment"
    assert point.tags == {"t,a g": tag}
    assert lp.decode_text(str(point.fields[field_key])) == text
    assert point.ts == 123


@given(st.text(max_size=60))
def test_encode_text_inverts(text: str) -> None:
    encoded = lp.encode_text(text)
    assert "\n" not in encoded
    assert "\r" not in encoded
    assert lp.decode_text(encoded) == text


def test_hostile_machine_name_is_one_tag_value() -> None:
    point = parse_line(lp.line("reading", [("machine", HOSTILE), ("sensor", "a,b=c d")], [("value", "1.5")], 7))
    assert point.tags == {"machine": HOSTILE, "sensor": "a,b=c d"}
    assert point.fields == {"value": 1.5}


def test_reading_lines_carry_every_tag_value_unit_and_millisecond() -> None:
    builder = lp.ReadingLines()
    series = 'ac me/pl,ant/a=rea/line "1"/m\\/telemetry/spin dle'
    lines = builder.lines([Reading(series, 1_795_000_000_123, 0.1 + 0.2, "°C"), Reading(SERIES, 5, 1e-300)])
    first, second = (parse_line(line) for line in lines)
    assert first.measurement == "reading"
    assert first.tags == {
        "enterprise": "ac me",
        "site": "pl,ant",
        "area": "a=rea",
        "line": 'line "1"',
        "machine": "m\\",
        "sensor": "spin dle",
    }
    assert first.fields == {"value": 0.1 + 0.2, "unit": "°C"}  # repr keeps every bit of the float
    assert first.ts == 1_795_000_000_123
    assert second.fields == {"value": 1e-300}  # no unit field when there is no unit


def test_non_finite_values_are_refused() -> None:
    with pytest.raises(ValueError, match="finite"):
        lp.ReadingLines().lines([Reading(SERIES, 1, float("nan"))])


def test_record_lines() -> None:
    state = parse_line(lp.state_line(StateChange(MACHINE, 1000, "down", "breakdown")))
    assert state.measurement == "state"
    assert state.tags["machine"] == "cnc-01"
    assert state.tags["enterprise"] == "acme"
    assert state.fields == {"state": "down", "reason": "breakdown"}
    assert state.ts == 1000 * lp.NS_PER_MS

    part = parse_line(lp.part_line(PartResult(MACHINE, 2000, "p-1", True, {"d": 25.01})))
    assert part.fields["good"] is True
    assert part.fields["part_id"] == "p-1"
    assert part.ts // lp.NS_PER_MS == 2000

    event = parse_line(lp.event_line(FaultEvent(MACHINE, 3000, "fault", "drift", "temp", {"rate": 0.1})))
    assert event.tags["kind"] == "fault"
    assert event.fields["fault"] == "drift"

    letter = DeadLetter(4000, "bad/\ntopic", "bad_json", "Expecting value:\n line 1", b"\x00{oops", 6)
    dead = parse_line(lp.deadletter_line(letter))
    assert dead.tags == {"reason": "bad_json"}
    assert lp.decode_text(str(dead.fields["topic"])) == "bad/\ntopic"
    assert base64.b64decode(str(dead.fields["payload"])) == b"\x00{oops"
    assert dead.fields["payload_size"] == 6


def test_alarm_updates_land_on_the_same_point_and_carry_only_known_fields() -> None:
    raised = parse_line(lp.alarm_line(Alarm("a1", SERIES, 5000, ("WE1", "WE2"), 99.5, message="beyond UCL")))
    cleared = parse_line(lp.alarm_line(Alarm("a1", SERIES, 5000, ("WE1", "WE2"), 99.5, False, "", 6000)))
    acked = parse_line(lp.alarm_ack_line("a1", SERIES, 5000, 5500, "lecturer"))
    assert raised.ts == cleared.ts == acked.ts  # InfluxDB merges the fields of one point
    assert raised.tags == cleared.tags == acked.tags
    assert raised.fields["rules"] == "WE1,WE2"
    assert raised.fields["active"] is True
    assert "cleared_ms" not in raised.fields
    assert "acked_ms" not in cleared.fields
    assert cleared.fields["cleared_ms"] == 6000
    assert cleared.fields["active"] is False
    assert "message" not in cleared.fields  # an empty message keeps the one the alarm was raised with
    assert acked.fields == {"acked_ms": 5500, "acked_by": "lecturer"}


def test_key_offsets_separate_records_of_one_millisecond_but_repeat_for_the_same_record() -> None:
    one = lp.part_line(PartResult(MACHINE, 2000, "p-1", True))
    assert lp.part_line(PartResult(MACHINE, 2000, "p-1", True)) == one
    other = lp.part_line(PartResult(MACHINE, 2000, "p-2", True))
    assert parse_line(one).ts != parse_line(other).ts
    assert parse_line(one).ts // lp.NS_PER_MS == parse_line(other).ts // lp.NS_PER_MS == 2000


def test_machine_must_be_a_five_level_path() -> None:
    with pytest.raises(ValueError, match="enterprise/site/area/line/machine"):
        lp.machine_tags("acme/cnc-01")
