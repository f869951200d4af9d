"""Signal building blocks: noise statistics, buffered draws, and every behaviour a fault can add."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smartfactory.errors import SimulatorError
from smartfactory.sim.signals import (
    AR1,
    FAULT_KINDS,
    FAULTS,
    Cycle,
    Draws,
    Drift,
    GrowingVariance,
    Shift,
    Spikes,
    Stuck,
    Variance,
    approach,
    make_behaviour,
)


def test_buffered_draws_equal_single_draws_from_the_same_seed() -> None:
    draws = Draws(np.random.default_rng(5))
    buffered = [draws.normal() for _ in range(600)]
    single = np.random.default_rng(5)
    assert buffered == [float(single.standard_normal()) for _ in range(600)]


@pytest.mark.parametrize(("phi", "sd"), [(0.0, 2.0), (0.6, 0.5)])
def test_ar1_has_the_asked_standard_deviation_and_lag_one_autocorrelation(phi: float, sd: float) -> None:
    noise = AR1(sd, phi)
    draws = Draws(np.random.default_rng(11))
    x = np.array([noise.next(draws) for _ in range(40_000)])
    # standard error of a sample sd is ~ sd / sqrt(2n) for white noise, larger with autocorrelation: 5 % is wide
    assert np.std(x) == pytest.approx(sd, rel=0.05)
    lag1 = np.corrcoef(x[:-1], x[1:])[0, 1]
    assert lag1 == pytest.approx(phi, abs=0.03)


def test_first_order_lag_reaches_63_percent_after_one_time_constant() -> None:
    assert approach(20.0, 40.0, 600.0, 600.0) == pytest.approx(20.0 + 20.0 * (1 - math.exp(-1)))
    assert approach(20.0, 40.0, 5.0, 0.0) == 40.0  # no inertia: at once
    assert approach(20.0, 40.0, 0.0, 600.0) == 20.0


def test_drift_follows_operating_time_only() -> None:
    drift = Drift(rate=0.5)
    drift.start(t_s=100.0, run_s=40.0)
    assert drift.offset(t_s=200.0, run_s=40.0) == 0.0  # 100 s passed, but the machine did not run
    assert drift.offset(t_s=300.0, run_s=50.0) == pytest.approx(5.0)


def test_shift_size_in_units_or_sigmas() -> None:
    assert make_behaviour("shift", {"size": 2.5}, sd=0.3).offset(0, 0) == 2.5
    assert make_behaviour("shift", {"sigmas": 2}, sd=0.3).offset(0, 0) == pytest.approx(0.6)
    assert make_behaviour("shift", {}, sd=0.3).offset(0, 0) == pytest.approx(0.9)  # default 3 σ


def test_drift_rates_per_second_per_hour_and_in_sigmas() -> None:
    per_s = make_behaviour("drift", {"rate": 0.01}, sd=1.0)
    per_h = make_behaviour("drift", {"per_hour": 36.0}, sd=1.0)
    sigmas = make_behaviour("drift", {"sigmas_per_hour": 18.0}, sd=2.0)
    for b in (per_s, per_h, sigmas):
        b.start(0.0, 0.0)
        assert b.offset(100.0, 100.0) == pytest.approx(1.0)


def test_variance_and_growing_variance_scale_the_noise() -> None:
    assert make_behaviour("variance", {"factor": 3}, sd=1.0).gain(0, 0) == 3.0
    growing = make_behaviour("growing_variance", {"per_hour": 2.0}, sd=1.0)
    assert isinstance(growing, GrowingVariance)
    growing.start(0.0, 10.0)
    assert growing.gain(5000.0, 10.0 + 1800.0) == pytest.approx(2.0)  # +2 per operating hour, half an hour


def test_stuck_sensor_repeats_its_first_value() -> None:
    stuck = Stuck()
    assert [stuck.post(v) for v in (3.0, 4.0, 5.5)] == [3.0, 3.0, 3.0]


def test_spikes_come_at_the_asked_rate_with_the_asked_size() -> None:
    spikes = make_behaviour("spikes", {"prob": 0.1, "size": 50.0}, sd=1.0, draws=Draws(np.random.default_rng(3)))
    out = [spikes.post(0.0) for _ in range(20_000)]
    hits = [v for v in out if v != 0.0]
    assert {abs(v) for v in hits if v is not None} == {50.0}
    assert len(hits) / len(out) == pytest.approx(0.1, abs=0.01)  # binomial sd 0.002


def test_dropout_removes_readings() -> None:
    always = make_behaviour("dropout", {}, sd=1.0)
    assert always.post(1.0) is None
    half = make_behaviour("dropout", {"prob": 0.5}, sd=1.0, draws=Draws(np.random.default_rng(9)))
    kept = sum(half.post(1.0) is not None for _ in range(10_000))
    assert 4_800 < kept < 5_200


def test_cycle_and_warmup_shapes() -> None:
    cyc = make_behaviour("cycle", {"amplitude": 2.0, "period_s": 100.0}, sd=1.0)
    cyc.start(0.0, 0.0)
    assert cyc.offset(25.0, 0.0) == pytest.approx(2.0)
    warm = make_behaviour("warmup", {"amplitude": 10.0, "tau_s": 50.0}, sd=1.0)
    warm.start(100.0, 0.0)
    assert warm.offset(100.0, 0.0) == pytest.approx(-10.0)
    assert warm.offset(150.0, 0.0) == pytest.approx(-10.0 * math.exp(-1))


def test_every_fault_kind_can_be_made_with_its_defaults() -> None:
    for kind in FAULT_KINDS:
        behaviour = make_behaviour(kind, {}, sd=1.0, draws=Draws(np.random.default_rng(0)))
        assert behaviour.kind == kind


@pytest.mark.parametrize(
    ("kind", "params", "message"),
    [
        ("wobble", {}, "unknown fault 'wobble'"),
        ("shift", {"rate": 1.0}, "takes"),
        ("shift", {"size": "big"}, "not a number"),
        ("spikes", {"prob": 2.0}, r"\[0, 1\]"),
        ("variance", {"factor": -1.0}, "≥ 0"),
    ],
)
def test_bad_faults_are_refused_with_a_reason(kind: str, params: dict[str, float | str], message: str) -> None:
    with pytest.raises(SimulatorError, match=message):
        make_behaviour(kind, params, sd=1.0)


def test_shift_is_a_plain_offset() -> None:
    shift = Shift(size=-4.0)
    assert shift.offset(1.0, 1.0) == -4.0
    assert shift.gain(1.0, 1.0) == 1.0
    assert shift.post(7.0) == 7.0


def test_every_fault_kind_is_a_behaviour_class_with_its_documented_parameters() -> None:
    assert set(FAULTS) == set(FAULT_KINDS)
    for kind, cls in FAULTS.items():
        assert cls.kind == kind
        for parameter in cls.parameters():  # every parameter a class takes is named in its description
            assert parameter in FAULT_KINDS[kind] or parameter == "sigmas_per_hour", (kind, parameter)


def test_a_declared_behaviour_begins_as_a_fresh_copy_bound_to_its_signal() -> None:
    declared = Spikes(prob=0.5, sigmas=4.0)
    first = declared.begin(t_s=10.0, run_s=5.0, sd=0.5, draws=Draws(np.random.default_rng(1)))
    second = declared.begin(t_s=20.0, run_s=9.0, sd=2.0, draws=Draws(np.random.default_rng(1)))
    assert (first.started_t_s, second.started_t_s) == (10.0, 20.0)
    assert {abs(v) for v in (first.post(0.0) for _ in range(50)) if v} == {2.0}  # 4 σ of a 0.5 sd signal
    assert {abs(v) for v in (second.post(0.0) for _ in range(50)) if v} == {8.0}
    assert declared.draws is None  # the declaration itself never draws
    warm = Cycle(sigmas=1.0, period_s=40.0).begin(t_s=0.0, run_s=0.0, sd=3.0)
    assert warm.offset(10.0, 0.0) == pytest.approx(3.0)


def test_scaling_multiplies_sizes_and_rates_but_not_probabilities_or_periods() -> None:
    assert Shift(size=2.0).scaled(3.0) == Shift(size=6.0)
    assert Spikes(prob=0.1, sigmas=2.0).scaled(2.0) == Spikes(prob=0.1, sigmas=4.0)
    assert Cycle(amplitude=1.0, period_s=60.0).scaled(2.0) == Cycle(amplitude=2.0, period_s=60.0)
    assert Variance(factor=2.0).scaled(1.5).gain(0.0, 0.0) == 3.0


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Spikes(prob=1.5), r"\[0, 1\]"),
        (lambda: Variance(factor=-1.0), "≥ 0"),
        (lambda: Cycle(period_s=0.0), "period_s must be a positive number"),
    ],
)
def test_bad_declarations_fail_when_the_simulator_file_is_loaded(make: object, message: str) -> None:
    with pytest.raises(SimulatorError, match=message):
        make()  # type: ignore[operator]
