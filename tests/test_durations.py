"""The one duration syntax (`smartfactory.durations`): what it accepts, what it refuses and how it says so."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smartfactory.durations import UNITS_S, parse_duration
from smartfactory.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90", 90.0),
        ("1.5", 1.5),
        (" 90 ", 90.0),
        ("90s", 90.0),
        ("15m", 900.0),
        ("8h", 28_800.0),
        ("7d", 604_800.0),
        ("2w", 1_209_600.0),
        ("250ms", 0.25),
        ("1.5h", 5_400.0),
        ("1h30m", 5_400.0),
        ("1h 30m", 5_400.0),
        ("1 h 30 m", 5_400.0),
        ("1d12h", 129_600.0),
        ("2m30s500ms", 150.5),
        ("8H", 28_800.0),
        ("0s", 0.0),
    ],
)
def test_accepted_forms(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(("value", "seconds"), [(90, 90.0), (0.25, 0.25), (0, 0.0)])
def test_numbers_are_seconds(value: float, seconds: float) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "cannot read"),
        ("abc", "cannot read"),
        ("10 minutes", "cannot read"),
        ("1.h", "cannot read"),
        ("5x", "cannot read"),
        ("-5m", "cannot read"),
        ("30m1h", "largest first"),
        ("1m1m", "largest first"),
        (-5, "negative"),
        (math.inf, "not finite"),
        (math.nan, "not finite"),
        (True, "not a duration"),
        (None, "cannot read"),
        ([1], "cannot read"),
    ],
)
def test_refused_forms_say_what_to_write(value: object, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_duration(value)


def test_unit_required_refuses_bare_numbers_but_takes_durations() -> None:
    assert parse_duration("15m", unit_required=True) == 900.0
    for value in ("90", 90, "2026-11-22", "2026-11-22T10:00Z"):
        with pytest.raises(ConfigError, match="unit"):
            parse_duration(value, unit_required=True)


@given(st.lists(st.integers(min_value=0, max_value=10_000), min_size=len(UNITS_S), max_size=len(UNITS_S)))
def test_any_combination_of_parts_adds_up(counts: list[int]) -> None:
    parts = [(n, unit) for n, unit in zip(counts, UNITS_S, strict=True) if n]
    text = "".join(f"{n}{unit}" for n, unit in parts) or "0s"
    expected = sum(n * UNITS_S[unit] for n, unit in parts)
    assert parse_duration(text) == pytest.approx(expected)
