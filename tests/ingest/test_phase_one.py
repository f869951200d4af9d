"""Phase I buffers keep every finite reading bit for bit, in 4 bytes while readings are short decimals."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from smartfactory.ingest.phase_one import MAX_PLACES, PhaseOne
from smartfactory.spc.baseline import learn_baseline


def kept(values: list[float], size: int | None = None) -> PhaseOne:
    buf = PhaseOne(len(values) + 1 if size is None else size)
    for v in values:
        buf.add(v)
    return buf


def same_bits(a: np.ndarray, b: list[float]) -> bool:
    return a.dtype == np.float64 and a.tobytes() == np.asarray(b, dtype=np.float64).tobytes()


decimals = st.builds(
    lambda q, places: round(q / 10**places, places), st.integers(-(10**9), 10**9), st.integers(0, MAX_PLACES)
)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=60))
def test_any_finite_doubles_come_back_bit_for_bit(values: list[float]) -> None:
    assert same_bits(kept(values).values(), values)


@given(st.lists(decimals, max_size=60))
def test_decimals_of_any_places_come_back_bit_for_bit(values: list[float]) -> None:
    """Places grow as values need them (the kept integers are rescaled); a value too large once scaled, or −0.0,
    switches to float64: either way nothing changes by a bit."""
    assert same_bits(kept(values).values(), values)


@given(st.integers(-(10**9), 10**9), st.lists(st.integers(-32_767, 32_767), max_size=60), st.integers(0, 3))
def test_readings_near_the_first_take_2_bytes(first: int, steps: list[int], places: int) -> None:
    """An in-control phase I: every reading within ±32,767 steps of the declared places from the first one."""
    values = [round((first + step) / 10**places, places) for step in [0, *steps]]
    buf = kept(values)
    assert buf.bytes_per_value == 2
    assert same_bits(buf.values(), values)


@given(st.lists(st.integers(-(10**8), 10**8), min_size=1, max_size=60), st.integers(0, 3))
def test_readings_of_a_sensor_with_declared_decimals_take_at_most_4_bytes(scaled: list[int], places: int) -> None:
    values = [round(q / 10**places, places) for q in scaled]
    buf = kept(values)
    assert buf.bytes_per_value <= 4
    assert same_bits(buf.values(), values)


def test_offsets_widen_and_places_grow_without_changing_a_bit() -> None:
    values = [48.1, 48.2, 47.9]
    buf = kept(values, size=10)
    assert (buf.bytes_per_value, buf.values().tolist()) == (2, values)
    values += [48.123]  # three places: the offsets are rescaled (still 2 bytes: ±32.767 around 48.1)
    buf.add(48.123)
    assert buf.bytes_per_value == 2
    values += [148.5]  # 100 units away at three places: 4 bytes
    buf.add(148.5)
    assert buf.bytes_per_value == 4
    assert same_bits(buf.values(), values)


def test_a_value_that_does_not_fit_switches_to_8_bytes_and_keeps_the_earlier_ones() -> None:
    values = [62.25, 62.5, -0.125]
    for odd in (math.pi, 2.0**40, -0.0, 1.2345678):
        buf = kept([*values, odd, 62.75])
        assert buf.bytes_per_value == 8, odd
        assert same_bits(buf.values(), [*values, odd, 62.75])
        assert math.copysign(1.0, buf.values()[3]) == math.copysign(1.0, odd)


def test_non_finite_values_are_ignored_and_size_ends_the_phase() -> None:
    buf = PhaseOne(3)
    assert [buf.add(v) for v in (1.5, float("nan"), float("inf"), 2.5, -float("inf"), 3.5, 4.5)] == [
        False, False, False, False, False, True, True,
    ]  # fmt: skip
    assert same_bits(buf.values(), [1.5, 2.5, 3.5])


def test_learned_limits_equal_those_of_the_float64_readings() -> None:
    rng = np.random.default_rng(17)
    readings = np.round(12_000 + 25 * rng.standard_normal(500), 1).tolist()  # a spindle speed, 0.1 rpm
    buf = kept(readings, size=500)
    assert buf.bytes_per_value == 2
    assert learn_baseline(buf.values(), min_points=500) == learn_baseline(np.asarray(readings), min_points=500)
