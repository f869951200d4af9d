"""Flux query construction: every outside value is one string literal, never code."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartfactory.storage import flux
from smartfactory.storage import lineprotocol as lp
from tests.storage.lpref import read_flux_string

HOSTILE = 'x") |> drop() //'
SERIES = "acme/plant1/machining/line-1/cnc-01/telemetry/spindle_temp"
LITERAL = re.compile(r'"(?:[^"\\]|\\.)*"')


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", '"plain"'),
        (HOSTILE, '"x\\") |> drop() //"'),
        ("back\\slash", '"back\\\\slash"'),
        ("${secret}", '"\\${secret}"'),
        ("two\nlines\ttab\r", '"two\\nlines\\ttab\\r"'),
    ],
)
def test_literal(text: str, expected: str) -> None:
    assert flux.literal(text) == expected
    assert read_flux_string(expected) == text


@given(st.text(max_size=80))
def test_literal_round_trips_any_text(text: str) -> None:
    assert read_flux_string(flux.literal(text)) == text


def _literals(query: str) -> list[str]:
    return [read_flux_string(match) for match in LITERAL.findall(query)]


def _code(query: str) -> str:
    """The query with every string literal blanked out: what Flux would execute as code."""
    return LITERAL.sub('""', query)


def test_hostile_machine_stays_a_value_in_the_series_query() -> None:
    tags = lp.series_tags(f"acme/plant1/machining/line-1/{HOSTILE.replace('/', '|')}/telemetry/t")
    tags = [(key, HOSTILE if key == "machine" else value) for key, value in tags]
    query = flux.series_query('my "bucket"', tags, 1_000, 2_000, limit=10)
    assert HOSTILE in _literals(query)
    assert 'my "bucket"' in _literals(query)
    code = _code(query)
    assert "drop()" not in code  # the name's code-like text exists only inside the literal
    assert code.count("|>") == 5  # range, filter, keep, group, tail: nothing injected
    assert "range(start: time(v: 1000000000), stop: time(v: 2000000000))" in query
    assert 'r[""] == ""' in code  # tags compared as r["key"] == "value"
    assert query.rstrip().endswith("tail(n: 10)")


def test_series_query_without_bounds_spans_all_time_and_has_no_tail() -> None:
    query = flux.series_query("b", lp.series_tags(SERIES), None, None, None)
    assert "range(start: time(v: 0), stop: time(v: 9000000000000000000))" in query
    assert "tail" not in query
    literals = _literals(query)
    for expected in ("reading", "value", "enterprise", "acme", "machine", "cnc-01", "sensor", "spindle_temp"):
        assert expected in literals


def test_aggregates_query_uses_aggregate_window_aligned_to_since() -> None:
    since, until = 1_795_341_600_123, 1_795_341_700_123
    query = flux.aggregates_query("b", lp.series_tags(SERIES), since, until, width_ms=10_000)
    assert query.count("aggregateWindow(") == 1  # one helper applied four times
    assert f"every: 10000ms, offset: {since % 10_000}ms" in query
    assert 'timeSrc: "_start"' in query
    assert "createEmpty: false" in query
    for name in flux.AGGREGATES:
        assert f'agg(fn: {name}, name: "{name}")' in query
    assert 'pivot(rowKey: ["_time"], columnKey: ["agg"], valueColumn: "_value")' in query
    assert f"time(v: {since * 1_000_000})" in query
    assert f"time(v: {until * 1_000_000})" in query


def test_records_query_pivots_fields_and_filters_tags() -> None:
    query = flux.records_query("b", lp.ALARM, since_ms=5, tags=lp.machine_tags(f"a/b/c/d/{HOSTILE[:-2]}"), limit=3)
    assert 'pivot(rowKey: ["_time"], columnKey: ["_field"], valueColumn: "_value")' in query
    assert HOSTILE[:-2] in _literals(query)
    assert "limit(n: 3)" in query
    assert "time(v: 5000000)" in query


def test_last_and_count_queries() -> None:
    last = flux.last_query("b", "unit")
    assert "|> last()" in last
    assert '"unit"' in last
    assert _literals(last).count("sensor") == 1  # kept column
    assert flux.count_query("b").rstrip().endswith("|> count()")


def test_delete_predicate_names_the_measurement() -> None:
    assert flux.delete_predicate("reading") == '_measurement="reading"'
