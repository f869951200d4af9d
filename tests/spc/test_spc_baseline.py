"""Phase I estimation: overflow-safe for every finite input, bit-identical to the plain formulas otherwise."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smartfactory import spc
from smartfactory.spc.baseline import (
    Baseline,
    CannotLearn,
    CannotLearnError,
    Phase1,
    learn_baseline,
    learn_rate,
    scaled,
)
from smartfactory.spc.streaming import Limits, SeriesMonitor

HUGE = 1e308


def plain(x: np.ndarray) -> tuple[float, float, float, float, float]:
    """The textbook formulas, unscaled (overflow-prone), as the reference for ordinary data."""
    n = x.size
    mu = float(np.mean(x))
    dev = x - mu
    ss = float(np.sum(dev * dev))
    phi = float(np.sum(dev[1:] * dev[:-1])) / ss
    res = dev[1:] - phi * dev[:-1]
    return (
        mu,
        math.sqrt(ss / (n - 1)),
        float(np.mean(np.abs(np.diff(x)))) / 1.128,
        phi,
        math.sqrt(float(np.sum(res * res)) / (n - 2)),
    )


@pytest.mark.parametrize(("loc", "scale"), [(20.0, 0.5), (-3e5, 1e3), (1e-9, 1e-12), (0.0, 1.0)])
def test_learned_baseline_equals_the_plain_formulas(loc: float, scale: float) -> None:
    x = np.random.default_rng(7).normal(loc, scale, 500).round(12)
    b = learn_baseline(x)
    assert isinstance(b, Baseline)
    mu, sd, mr, phi, sd_e = plain(x)
    assert b.center == mu  # scaling by a power of two is exact: same bits
    assert b.sigma == pytest.approx(sd, rel=1e-14)
    assert b.sigma_mr == pytest.approx(mr, rel=1e-14)
    assert b.phi == pytest.approx(phi, rel=1e-12, abs=1e-15)
    assert b.sigma_e == pytest.approx(sd_e, rel=1e-12)
    assert (b.n, b.source) == (500, "learned")


def test_ar1_phase1_is_recognised() -> None:
    rng = np.random.default_rng(3)
    a = rng.normal(0, 0.8, 3000)
    x = np.empty_like(a)
    x[0] = a[0]
    for t in range(1, a.size):
        x[t] = 0.6 * x[t - 1] + a[t]
    b = learn_baseline(x + 50.0)
    assert isinstance(b, Baseline)
    assert b.phi == pytest.approx(0.6, abs=0.04)
    assert b.sigma_e == pytest.approx(0.8, rel=0.04)
    assert b.sigma == pytest.approx(0.8 / math.sqrt(1 - 0.36), rel=0.06)
    assert b.ratio > 1.3  # σ_overall / σ_MR betrays the autocorrelation
    assert b.uses_residuals(0.2)


@pytest.mark.filterwarnings("error")
def test_fifty_times_1e308_does_not_raise_and_says_why() -> None:
    with np.errstate(all="raise"):  # no overflow anywhere, not even a silent one
        got = learn_baseline([HUGE] * 50)
        lim = Limits.learn([HUGE] * 50)
    assert isinstance(got, CannotLearn)
    assert got.reason == "constant"
    assert "equal" in got.message
    assert (lim.center, lim.sigma) == (HUGE, 0.0)


@pytest.mark.filterwarnings("error")
def test_alternating_1e308_does_not_raise() -> None:
    x = [HUGE if i % 2 == 0 else -HUGE for i in range(50)]
    with np.errstate(all="raise"):
        got = learn_baseline(x)
        lim = Limits.learn(x)
    # perfectly alternating: |φ̂| ≈ 0.98, no stationary level to chart residuals against
    assert isinstance(got, CannotLearn)
    assert got.reason == "non-stationary"
    assert math.isfinite(lim.sigma)
    assert lim.center == 0.0
    assert lim.sigma == pytest.approx(HUGE / 1.128 * 2, rel=1e-12)
    # the same spread, not alternating: learned, finite, σ near 1e308
    rng = np.random.default_rng(1)
    y = np.where(rng.random(200) < 0.5, HUGE, -HUGE)
    b = learn_baseline(y)
    assert isinstance(b, Baseline)
    assert b.sigma == pytest.approx(HUGE, rel=0.1)
    assert abs(b.center) <= HUGE


def test_a_sigma_beyond_the_largest_double_is_a_clear_cannot_learn() -> None:
    top = 1.7e308
    rng = np.random.default_rng(2)
    y = np.where(rng.random(200) < 0.5, top, -top)
    got = learn_baseline(y)
    assert isinstance(got, Baseline)  # σ ≈ 1.7e308 is still a double
    x = [top if i % 2 == 0 else -top for i in range(40)]
    with pytest.raises(CannotLearnError) as info:
        Limits.learn(x)  # MR̄/d2 ≈ 3e308: not representable
    assert isinstance(info.value, spc.SpcError)  # callers that contain SpcError contain this too
    assert info.value.result.reason == "overflow"


def test_monitor_learning_from_huge_values_does_not_crash() -> None:
    mon = SeriesMonitor("poison", learn=50)
    for i in range(50):
        assert mon.update(i, HUGE) == []
    assert mon.limits is not None
    assert mon.limits.sigma == 0.0
    mon2 = SeriesMonitor("poison2", learn=50)
    for i in range(60):
        mon2.update(i, HUGE if i % 2 else -HUGE)
    assert mon2.limits is not None
    assert math.isfinite(mon2.limits.sigma)


def test_non_finite_values_are_dropped_and_too_few_is_reported() -> None:
    x = [1.0, math.nan, 2.0, math.inf, 1.5, -math.inf] * 10
    b = learn_baseline(x)
    assert isinstance(b, Baseline)
    assert b.n == 30
    short = learn_baseline([1.0, 2.0, math.nan] * 5)
    assert isinstance(short, CannotLearn)
    assert short.reason == "too-few"
    assert "non-finite dropped" in short.message
    with pytest.raises(CannotLearnError):
        raise short.error()
    lim = Limits.learn([1.0, math.nan, 3.0, math.inf])
    assert (lim.center, lim.n) == (2.0, 2)


def test_scaled_is_exact_and_bounded() -> None:
    x = np.array([3.0, -1e300, 5e-324, 0.0, 1.7976931348623157e308])
    y, e = scaled(x)
    assert np.all(np.abs(y) < 1.0)
    assert np.array_equal(np.ldexp(y[:2], e), x[:2])
    assert scaled(np.zeros(3))[1] == 0


def test_learn_rate_keeps_all_zero_phase1_off_zero() -> None:
    assert learn_rate([0.0] * 100) == pytest.approx(0.5 / 100)
    assert learn_rate([1.0, 0.0, 2.0, 1.0] * 10) == pytest.approx(40.5 / 40)
    neg = learn_rate([1.0, -1.0] * 20)
    assert isinstance(neg, CannotLearn)
    assert neg.reason == "negative"
    assert learn_rate([HUGE] * 40) == pytest.approx(HUGE)


def test_phase1_buffer() -> None:
    buf = Phase1(40)
    rng = np.random.default_rng(4)
    vals = rng.normal(5, 1, 45)
    full = [buf.add(float(v)) for v in vals[:39]]
    assert not any(full)
    assert buf.add(math.nan) is False  # ignored
    assert buf.add(float(vals[39])) is True
    assert buf.add(99.0) is True  # full: nothing more is kept
    assert len(buf) == 40
    b = buf.learn()
    assert isinstance(b, Baseline)
    want = learn_baseline(vals[:40])
    assert isinstance(want, Baseline)
    assert b == want
    buf.clear()
    assert len(buf) == 0
    assert isinstance(buf.learn(), CannotLearn)


def test_configured_baseline_validation() -> None:
    b = Baseline(10.0, 2.0, phi=0.6)
    assert b.sigma_e == pytest.approx(1.6)
    assert b.source == "configured"
    for bad in [(math.inf, 1.0), (0.0, 0.0), (0.0, math.nan)]:
        with pytest.raises(spc.SpcError):
            Baseline(*bad)
    with pytest.raises(spc.SpcError, match="φ"):
        Baseline(0.0, 1.0, phi=1.0)
