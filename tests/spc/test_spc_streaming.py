"""The streaming monitor: same flags as the batch engine, learning, configured limits, many series."""

from __future__ import annotations

import math

import numpy as np
import pytest

from smartfactory import spc
from smartfactory.spc import Limits, SeriesMonitor, StreamMonitor, Violation


def feed(mon: SeriesMonitor, values: list[float]) -> list[Violation]:
    out: list[Violation] = []
    for i, v in enumerate(values):
        out.extend(mon.update(1_000 + i, v))
    return out


def test_point_by_point_equals_batch_on_a_shifted_series() -> None:
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.normal(20, 1, 100), rng.normal(21.5, 1, 200)]).round(2)
    batch = spc.imr(x, 100).main
    mon = SeriesMonitor("line1/temp", learn=100)
    got = feed(mon, x.tolist())
    assert all(v.phase == 2 and v.series == "line1/temp" for v in got)
    by_point: dict[int, list[str]] = {}
    for v in got:
        by_point.setdefault(v.index, []).append(v.rule)
    want = {i + 1: list(r) for i, r in enumerate(batch.rules) if r and i >= 100}
    assert by_point == want
    assert len(want) > 10  # the shift is caught, so the comparison covers many rules


def test_configured_limits_flag_immediately() -> None:
    mon = SeriesMonitor("s", Limits(center=0.0, sigma=1.0), rules="we")
    assert mon.update(5, 3.5) == [Violation("s", 5, 1, 3.5, "WE1", 2)]
    assert mon.update(6, 0.1) == []
    assert mon.update(7, -0.2) == []
    assert mon.update(8, 2.5) == []  # 2.5 > 2σ, but only 1 of the last 3
    assert [v.rule for v in mon.update(9, 2.2)] == ["WE2"]


def test_learning_then_monitoring_with_primed_runs() -> None:
    seen: list[tuple[str, Limits]] = []
    mon = SeriesMonitor("s", learn=10, rules=["WE4"], on_limits=lambda s, lim: seen.append((s, lim)))
    baseline = [2.0, 0.0] * 3 + [1.5, 1.2, 1.4, 1.3]  # mean 1.14; only the last 4 points lie above it
    for i, v in enumerate(baseline):
        assert mon.learning
        assert mon.update(i, v) == []
    assert not mon.learning
    assert mon.count == 10
    assert seen == [("s", mon.limits)]
    assert mon.limits is not None
    assert mon.limits.source == "learned"
    assert mon.limits.n == 10
    assert mon.limits.center == pytest.approx(np.mean(baseline))
    assert mon.limits.sigma == pytest.approx(np.mean(np.abs(np.diff(baseline))) / 1.128)
    out = feed(mon, [1.5, 1.5, 1.5, 1.5])  # the run started in phase I: the 8th point above is the 4th new one
    assert [(v.index, v.rule) for v in out] == [(14, "WE4")]


def test_report_phase1_returns_baseline_violations_when_learning_completes() -> None:
    x = [0.0, 0.1, -0.1, 0.05, 5.0, 0.0, 0.1, -0.05]
    mon = SeriesMonitor("s", learn=8, rules="WE1", report_phase1=True)
    out = feed(mon, x)
    assert [(v.index, v.phase, v.ts_ms) for v in out] == [(5, 1, 1_004)]
    assert out == [v for v in out if v.rule == "WE1"]


def test_non_finite_readings_are_ignored() -> None:
    mon = SeriesMonitor("s", Limits(0.0, 1.0))
    assert mon.update(1, math.nan) == []
    assert mon.update(2, math.inf) == []
    assert mon.count == 0
    assert mon.update(3, 9.0)[0].index == 1


def test_set_limits_and_relearn() -> None:
    mon = SeriesMonitor("s", Limits(0.0, 1.0))
    feed(mon, [0.5] * 5)
    mon.set_limits(Limits(10.0, 1.0))
    assert mon.count == 0
    assert mon.limits == Limits(10.0, 1.0)
    mon.relearn(5)
    assert mon.learning
    assert mon.limits is None
    feed(mon, [1.0, 2.0, 1.0, 2.0, 1.0])
    assert mon.limits is not None
    assert mon.limits.center == pytest.approx(1.4)


def test_stream_monitor_keeps_series_apart() -> None:
    sm = StreamMonitor(learn=5, limits={"a": Limits(0.0, 1.0)})
    assert "a" in sm
    assert len(sm) == 1
    assert [v.rule for v in sm.update("a", 1, 4.0)] == ["WE1", "N1"]
    for i in range(5):
        assert sm.update("b", i, float(i % 2)) == []
    assert set(sm.limits()) == {"a", "b"}
    assert sm.update("b", 9, 50.0)[0].series == "b"
    sm.monitor("a", Limits(100.0, 1.0))
    assert sm.limits()["a"].center == 100.0


def test_invalid_limits_and_learning_window() -> None:
    with pytest.raises(spc.SpcError, match="finite"):
        Limits(math.nan, 1.0)
    with pytest.raises(spc.SpcError, match="at least 2"):
        SeriesMonitor("s", learn=1)
