"""Each detector against a plain reference computation, and against the vectorised Monte Carlo engine."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from smartfactory.spc import design as D
from smartfactory.spc import montecarlo as M
from smartfactory.spc.baseline import Baseline
from smartfactory.spc.detect import (
    DATA_QUALITY,
    CountDetector,
    DataQualityDetector,
    Detection,
    IndividualsDetector,
    Severity,
    SubgroupDetector,
)

IND = D.design_individuals(400)  # a small ARL0 so that a few thousand readings give many signals
SUB = D.design_subgroups(200, 5)


def reference_individuals(
    x: list[float], mu: float, sd: float, phi: float, design: D.IndividualsDesign
) -> list[tuple[int, set[str]]]:
    """The detector's definition written out plainly: z (or AR residual), three statistics, restart on signal."""
    k, h, kv, hv, lim = design.mean.k, design.mean.h, design.variance.k, design.variance.h, design.shock
    cp = cn = v = 0.0
    prev = 0.0
    out = []
    for i, xi in enumerate(x):
        dev = xi - mu
        z = (dev - phi * prev) / sd
        prev = dev
        cp = max(0.0, cp + z - k)
        cn = max(0.0, cn - z - k)
        v = max(0.0, v + z * z - kv)
        fired = set()
        if abs(z) > lim:
            fired.add("shock")
        if cp > h:
            fired.add("cusum_mean")
            cp = 0.0
        if cn > h:
            fired.add("cusum_mean")
            cn = 0.0
        if v > hv:
            fired.add("cusum_var")
            v = 0.0
        if fired:
            out.append((i, fired))
    return out


def run(det: IndividualsDetector | SubgroupDetector | CountDetector, x: list[float]) -> list[tuple[int, Detection]]:
    found = []
    for i, v in enumerate(x):
        d = det.update(1000 * i, v)
        if d is not None:
            found.append((i, d))
    return found


def names(d: Detection) -> set[str]:
    return {d.detector, *d.also}


def test_individuals_detector_equals_the_reference() -> None:
    rng = np.random.default_rng(21)
    x = (10.0 + 0.5 * rng.standard_normal(6000)).tolist()
    x[3000:3400] = [v + 0.4 for v in x[3000:3400]]  # a shift of 0.8σ
    x[4000:4300] = [10.0 + (v - 10.0) * 1.6 for v in x[4000:4300]]  # variance ×2.56
    base = Baseline(10.0, 0.5)
    det = IndividualsDetector(base, IND, series="line/press/temp")
    got = run(det, x)
    want = reference_individuals(x, 10.0, 0.5, 0.0, IND)
    assert [(i, names(d)) for i, d in got] == want
    assert len(want) > 20
    assert {n for _, s in want for n in s} == {"shock", "cusum_mean", "cusum_var"}
    for _, d in got:
        assert d.series == "line/press/temp"
        assert d.alarm_class == "spc"
        assert d.value is not None
        assert d.message


def test_individuals_detector_charts_ar1_residuals() -> None:
    rng = np.random.default_rng(5)
    a = rng.standard_normal(5000) * 0.8
    x = np.empty(5000)
    x[0] = a[0]
    for t in range(1, 5000):
        x[t] = 0.6 * x[t - 1] + a[t]
    base = Baseline(0.0, 1.0, phi=0.6, sigma_e=0.8)
    det = IndividualsDetector(base, IND)
    assert det.residuals
    got = run(det, x.tolist())
    assert [(i, names(d)) for i, d in got] == reference_individuals(x.tolist(), 0.0, 0.8, 0.6, IND)
    plain = IndividualsDetector(Baseline(0.0, 1.0, phi=0.15), IND)
    assert not plain.residuals  # |φ| ≤ 0.2: the values themselves


def test_individuals_detector_equals_the_vectorised_engine() -> None:
    rng = np.random.default_rng(8)
    x = rng.standard_normal((4, 4000))
    x[2, 2000:] += 1.0
    res = M.simulate_individuals(IND, streams=4, steps=0, rng=rng, values=x)
    total = {"shock": 0, "cusum_var": 0}
    events = 0
    for r in range(4):
        got = run(IndividualsDetector(Baseline(0.0, 1.0), IND), x[r].tolist())
        events += len(got)
        for name in total:
            total[name] += sum(name in names(d) for _, d in got)
        assert res.first[r] == got[0][0] + 1
    assert res.events == events
    assert res.alarms["shock"] == total["shock"]
    assert res.alarms["cusum_var"] == total["cusum_var"]


def test_individuals_detector_survives_extreme_and_non_finite_values() -> None:
    det = IndividualsDetector(Baseline(-1e308, 1e300), IND)
    with np.errstate(all="raise"):
        d = det.update(1, 1e308)  # the deviation 2e308 overflows: a shock at z = +inf
    assert d is not None
    assert d.detector == "shock"
    assert d.statistic == math.inf
    assert d.severity == Severity.CRITICAL
    assert det.state == (0.0, 0.0, 0.0)  # every statistic that signalled restarted
    assert det.update(2, math.nan) is None
    assert det.update(3, math.inf) is None
    assert det.ignored == 2
    assert det.update(4, -1e308) is None  # at the centre again
    ar = IndividualsDetector(Baseline(0.0, 1e-300, phi=0.9), IND)
    for i, v in enumerate([1e308, -1e308, 1e308, 0.0]):
        ar.update(i, v)  # must not raise
    assert all(math.isfinite(s) for s in ar.state)


def test_reset_forgets_the_cusums() -> None:
    det = IndividualsDetector(Baseline(0.0, 1.0), IND)
    for i in range(5):
        det.update(i, 1.5)
    assert det.state[0] > 0
    det.reset()
    assert det.state == (0.0, 0.0, 0.0)


def reference_subgroups(x: np.ndarray, design: D.SubgroupDesign) -> list[tuple[int, set[str]]]:
    n = design.n
    cp = cn = 0.0
    out: dict[int, set[str]] = {}
    for g in range(x.size // n):
        part = x[g * n : (g + 1) * n]
        for j, v in enumerate(part):
            if abs(v) > design.shock:
                out.setdefault(g * n + j, set()).add("shock")
        zbar = float(np.mean(part)) * math.sqrt(n)
        s = float(np.std(part, ddof=1))
        cp = max(0.0, cp + zbar - design.mean.k)
        cn = max(0.0, cn - zbar - design.mean.k)
        end = g * n + n - 1
        if abs(zbar) > design.xbar:
            out.setdefault(end, set()).add("xbar")
        if s > design.s_limit:
            out.setdefault(end, set()).add("s")
        if cp > design.mean.h or cn > design.mean.h:
            out.setdefault(end, set()).add("cusum_mean")
        cp = 0.0 if cp > design.mean.h else cp
        cn = 0.0 if cn > design.mean.h else cn
    return sorted(out.items())


def test_subgroup_detector_equals_the_reference_and_the_engine() -> None:
    rng = np.random.default_rng(13)
    x = rng.standard_normal((3, 5000))
    x[1, 2500:] += 0.7
    x[2, 3000:] *= 1.8
    seen = set()
    for r in range(3):
        det = SubgroupDetector(Baseline(0.0, 1.0), SUB, series="filler/fill_weight")
        got = run(det, x[r].tolist())
        want = reference_subgroups(x[r], SUB)
        assert [(i, names(d)) for i, d in got] == want
        seen |= {n for _, s in want for n in s}
    assert seen == {"shock", "xbar", "s", "cusum_mean"}
    res = M.simulate_subgroups(SUB, streams=3, subgroups=0, rng=rng, values=x)
    firsts = []
    events = 0
    for r in range(3):
        got = run(SubgroupDetector(Baseline(0.0, 1.0), SUB), x[r].tolist())
        events += len(got)
        firsts.append(got[0][0] + 1)
    assert res.events == events
    assert res.first.tolist() == firsts


def test_subgroup_detector_standardises_with_the_baseline() -> None:
    det = SubgroupDetector(Baseline(500.0, 2.0), SUB)
    for i, v in enumerate([500.0, 501.0, 499.0, 500.5]):
        assert det.update(i, v) is None
    assert det.filled == 4
    d = det.update(5, 530.0)  # 15σ: a shock, and the subgroup mean and spread jump with it
    assert d is not None
    assert d.detector == "shock"
    assert d.severity == Severity.CRITICAL
    assert {"xbar", "s"} <= set(d.also)
    assert det.filled == 0
    det.update(6, 500.0)
    det.reset()
    assert det.filled == 0


@pytest.mark.parametrize(("rate", "window", "arl0"), [(0.04, 1, 1200.0), (0.04, 10, 120.0), (3.0, 1, 500.0)])
def test_count_detector_uses_the_exact_poisson_tail(rate: float, window: int, arl0: float) -> None:
    design = D.design_counts(arl0, window)
    det = CountDetector(rate, design, series="filler/reject_count")
    lam = rate * window
    u = det.limit
    assert stats.poisson.sf(u, lam) <= 1 / arl0 < stats.poisson.sf(u - 1, lam) if u > 0 else True
    assert det.arl0 >= arl0
    rng = np.random.default_rng(17)
    counts = rng.poisson(rate, 20000 * window).astype(float)
    got = run(det, counts.tolist())
    sums = counts.reshape(-1, window).sum(axis=1)
    want = [int(g) * window + window - 1 for g in np.flatnonzero(sums > u)]
    assert [i for i, _ in got] == want
    for i, d in got:
        assert d.detector == "poisson"
        assert d.statistic == sums[i // window]


def test_count_detector_ignores_what_is_not_a_count() -> None:
    det = CountDetector(0.04, D.design_counts(1200.0))
    # P(C > 1) = 1 − e^−0.04 · 1.04 = 7.8e-4 ≤ 1/1200 < P(C > 0) = 0.039: signal on 2 rejects or more
    assert det.limit == 1
    assert det.tail == pytest.approx(1 - math.exp(-0.04) * 1.04)
    assert det.update(1, -1.0) is None
    assert det.update(2, math.nan) is None
    assert det.ignored == 2
    assert det.update(3, 1.0) is None
    d = det.update(4, 2.0)
    assert d is not None
    assert d.severity == Severity.ALARM
    assert "Poisson limit 1" in d.message


def dq(interval_s: float = 1.0, stuck: int | None = 5) -> DataQualityDetector:
    return DataQualityDetector(
        D.data_quality_design(interval_s, 1e6), interval_s=interval_s, stuck_run=stuck, series="s"
    )


def test_stuck_sensor() -> None:
    det = dq()
    seq = [1.0, 1.01, 1.01, 1.01, 1.01, 1.01, 1.01, 1.02]
    got = [det.update(1000 * i, v) for i, v in enumerate(seq)]
    hits = [i for i, d in enumerate(got) if d is not None]
    assert hits == [5]  # the fifth equal reading, once per run
    d = got[5]
    assert d is not None
    assert (d.detector, d.alarm_class, d.statistic) == ("stuck", DATA_QUALITY, 5.0)
    off = dq(stuck=None)
    assert all(off.update(i, 2.0) is None for i in range(0, 50_000, 1000))


def test_silent_sensor_by_tick() -> None:
    det = dq()
    det.update(0, 1.0)
    det.update(1000, 1.1)
    assert det.tick(20_000) is None
    d = det.tick(31_000)  # 30 s without a reading
    assert d is not None
    assert d.detector == "silent"
    assert d.statistic == pytest.approx(30.0)
    assert det.tick(40_000) is None  # once per silence
    det.update(41_000, 1.2)
    assert det.tick(50_000) is None
    assert det.tick(71_000) is not None
    assert dq().tick(10**9) is None  # never heard from: nothing to miss yet


def test_heavy_dropout() -> None:
    det = dq()
    rng = np.random.default_rng(3)
    keep = rng.random(600) > 0.5  # half the readings lost
    found = [det.update(1000 * t, float(t)) for t in range(600) if keep[t]]
    drops = [d for d in found if d is not None]
    assert drops
    assert all(d.detector == "dropout" and d.severity == Severity.WARNING for d in drops)
    assert all(0.3 <= d.statistic <= 0.7 for d in drops)
    healthy = dq()
    keep = rng.random(600) > 0.05
    assert all(healthy.update(1000 * t, float(t)) is None for t in range(600) if keep[t])


def test_silence_is_not_also_reported_as_dropout() -> None:
    det = dq()
    for t in range(30):
        det.update(1000 * t, float(t))
    assert det.tick(70_000) is not None
    after = [det.update(1000 * t, float(t)) for t in range(80, 200)]
    assert all(d is None for d in after)


def test_strongest_detection_names_the_others() -> None:
    det = IndividualsDetector(Baseline(0.0, 1.0), IND)
    d = det.update(0, 30.0)
    assert d is not None
    assert d.detector == "shock"
    assert d.also == ("cusum_mean", "cusum_var")  # 30σ also overshoots both CUSUMs (ARL0 400 design: h ≈ 5)
    assert d.message.endswith("(also: cusum_mean, cusum_var)")
