"""MachinePath.parse, line ids, series ids and the machine facts of the birth payload."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from smartfactory.errors import WireError
from smartfactory.wire import (
    MachineInfo,
    MachinePath,
    SeriesId,
    SignalInfo,
    StatusPayload,
    parse_series,
    series_path,
)

PATH = MachinePath("acme", "plant1", "machining", "line-1", "cnc-01")
SERIES = "acme/plant1/machining/line-1/cnc-01/telemetry/spindle_temp"

level = st.text(
    alphabet=st.characters(blacklist_characters="/+#", min_codepoint=32, blacklist_categories=("Cs", "Cc")),
    min_size=1,
    max_size=20,
)


def _no_dollar_enterprise(levels: list[str]) -> bool:
    return not levels[0].startswith("$")  # the grammar refuses a `$`-first topic (MQTT reserves it; issue 13)


def test_machine_path_parse_and_line_id() -> None:
    assert MachinePath.parse("acme/plant1/machining/line-1/cnc-01") == PATH
    assert PATH.line_id == "machining/line-1"
    # two areas' line-1 are two lines
    assert MachinePath.parse("acme/plant1/assembly/line-1/cnc-01").line_id != PATH.line_id


@pytest.mark.parametrize(
    "text",
    [
        "acme/plant1/machining/line-1",
        "acme/plant1/machining/line-1/cnc-01/x",
        "acme//machining/line-1/cnc-01",
        "",
        "a/b/c/d/e+",
    ],
)
def test_machine_path_parse_rejects_bad_text(text: str) -> None:
    with pytest.raises(WireError) as info:
        MachinePath.parse(text)
    assert info.value.reason == "bad_topic"


@given(levels=st.lists(level, min_size=5, max_size=5).filter(_no_dollar_enterprise))
def test_machine_path_parse_round_trips(levels: list[str]) -> None:
    path = MachinePath(*levels)
    assert MachinePath.parse(str(path)) == path
    assert path.line_id == f"{levels[2]}/{levels[3]}"


def test_parse_series_fields() -> None:
    sid = parse_series(SERIES)
    assert sid == SeriesId(PATH, "spindle_temp")
    assert sid.machine == "acme/plant1/machining/line-1/cnc-01"
    assert sid.line_id == "machining/line-1"
    assert sid.sensor == "spindle_temp"
    assert str(sid) == SERIES
    assert series_path(SERIES) == (PATH, "spindle_temp")


@pytest.mark.parametrize(
    "text",
    [
        "acme/plant1/machining/line-1/cnc-01/telemetry",  # grouped telemetry topic, not a series
        "acme/plant1/machining/line-1/cnc-01/alarm/spindle_temp",
        "acme/plant1/machining/line-1/cnc-01",
        "_sf/health/w1",
        "spindle_temp",
    ],
)
def test_parse_series_rejects_non_series(text: str) -> None:
    with pytest.raises(WireError) as info:
        parse_series(text)
    assert info.value.reason == "bad_topic"


@given(levels=st.lists(level, min_size=6, max_size=6).filter(_no_dollar_enterprise))
def test_series_round_trips(levels: list[str]) -> None:
    sid = SeriesId(MachinePath(*levels[:5]), levels[5])
    assert parse_series(str(sid)) == sid


def test_series_id_rejects_bad_sensor() -> None:
    with pytest.raises(WireError):
        SeriesId(PATH, "a/b")


BIRTH = (
    b'{"status":"online","ts":1795341600123,"info":{"machine_type":"cnc","ideal_cycle_s":30.0,'
    b'"sample_interval_s":1,"signals":{"spindle_temp":{"kind":"process","unit":"\xc2\xb0C","decimals":1},'
    b'"bore_diameter":{"kind":"quality","unit":"mm","lsl":24.95,"usl":25.05,"target":25,"decimals":3},'
    b'"reject_count":{"kind":"count"}}}}'
)


def test_birth_with_info_parses() -> None:
    status = StatusPayload.model_validate_json(BIRTH)
    assert status.info is not None
    assert status.info.machine_type == "cnc"
    assert status.info.ideal_cycle_s == 30.0
    assert status.info.sample_interval_s == 1.0
    bore = status.info.signals["bore_diameter"]
    assert (bore.kind, bore.unit, bore.lsl, bore.usl, bore.target, bore.decimals) == (
        "quality",
        "mm",
        24.95,
        25.05,
        25.0,
        3,
    )
    assert status.info.signals["reject_count"] == SignalInfo(kind="count")
    assert status.info.signals["spindle_temp"].unit == "°C"


def test_last_will_has_no_info() -> None:
    will = StatusPayload.model_validate_json(b'{"status":"offline"}')
    assert will.info is None
    assert will.ts is None


@pytest.mark.parametrize(
    "raw",
    [
        b'{"machine_type":"cnc","ideal_cycle_s":0}',
        b'{"machine_type":"cnc","ideal_cycle_s":-1}',
        b'{"machine_type":"cnc","sample_interval_s":"1"}',
        b'{"machine_type":""}',
        b'{"machine_type":"cnc","signals":{"x":{"kind":"speed"}}}',
        b'{"machine_type":"cnc","signals":{"x":{"kind":"process","lsl":2,"usl":1}}}',
        b'{"machine_type":"cnc","signals":{"x":{"kind":"process","decimals":-1}}}',
        b'{"machine_type":"cnc","signals":{"x":{"kind":"process","decimals":1.5}}}',
        b'{"machine_type":"cnc","signals":{"x":{"kind":"process","usl":NaN}}}',
        b'{"machine_type":"cnc","extra":1}',
        b'{"ideal_cycle_s":1}',
    ],
)
def test_machine_info_rejects_bad_facts(raw: bytes) -> None:
    with pytest.raises(ValidationError):
        MachineInfo.model_validate_json(raw)
